// Run by idle_test.ts as its own program (under `deno test --parallel`
// every test module shares one OS process): parks children in async waits
// and prints what they cost, per worker thread and for the whole program,
// as JSON.
//
//   deno run -A idle.ts one [settle ms]   # three children: get, recv, poll
//   deno run -A idle.ts 200 [settle ms]   # 200 children parked in get

import { Pipe, Process, Queue } from "../../../mod.ts";
import { parkInGet, parkInPoll, parkInRecv, parkInTimer } from "./parked.ts";

const WINDOW_MS = 2000;
const MAX_WINDOWS = 10;

interface Window {
  programPercent: number;
  workers: { name: string; corePercent: number; wakeupsPerSecond: number }[];
}

/**
 * Whether a window shows what the test requires: each of a few parked
 * processes idle, or 200 together under 5% of a core.
 */
function idle(window: Window, many: boolean): boolean {
  if (many) return window.programPercent < 5;
  return window.workers.every((w) =>
    w.corePercent <= 0.1 && w.wakeupsPerSecond < 20
  );
}

/** The cost of each worker thread, and of the program, over `ms`. */
async function measure(ms: number): Promise<Window> {
  const before = threads();
  const ticks0 = ticks();
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const seconds = (performance.now() - start) / 1000;
  const ticks1 = ticks();
  const after = threads();
  const workers = [];
  for (const [tid, end] of after) {
    const begin = before.get(tid);
    if (begin === undefined || !end.name.startsWith("worker-")) continue;
    workers.push({
      name: end.name,
      corePercent: (end.ns - begin.ns) / 1e9 / seconds * 100,
      wakeupsPerSecond: (end.slices - begin.slices) / seconds,
    });
  }
  return { programPercent: (ticks1 - ticks0) / 100 / seconds * 100, workers };
}

interface Thread {
  name: string;
  ns: number;
  slices: number;
}

function threads(): Map<string, Thread> {
  const all = new Map<string, Thread>();
  for (const task of Deno.readDirSync("/proc/self/task")) {
    try {
      const dir = `/proc/self/task/${task.name}`;
      const name = Deno.readTextFileSync(`${dir}/comm`).trim();
      const [ns, , slices] = Deno.readTextFileSync(`${dir}/schedstat`)
        .trim().split(" ").map(Number);
      all.set(task.name, { name, ns, slices });
    } catch { /* the thread ended */ }
  }
  return all;
}

/** utime + stime of the whole program, in clock ticks (1/100 s). */
function ticks(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]
    .split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

if (import.meta.main) {
  const mode = Deno.args[0];
  const cells = new Int32Array(new SharedArrayBuffer(4));
  const queue = new Queue<number>();
  const [reader, writer] = Pipe(false);
  const [pollReader, pollWriter] = Pipe(false);
  const children = mode === "one"
    ? [
      new Process({ target: parkInGet, args: [queue, cells] }),
      new Process({ target: parkInRecv, args: [reader, cells] }),
      new Process({ target: parkInPoll, args: [pollReader, cells] }),
    ]
    : mode === "timers"
    ? Array.from(
      { length: 200 },
      () => new Process({ target: parkInTimer, args: [cells], daemon: true }),
    )
    : Array.from(
      { length: Number(mode) },
      () => new Process({ target: parkInGet, args: [queue, cells] }),
    );
  for (const child of children) child.start();
  reader.close();
  pollReader.close();
  while (Atomics.load(cells, 0) < children.length) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // The steady state: after many workers started, each child's thread is
  // busy for seconds with things that are not its waits — measured: 200
  // bare workers that only hold a Web Lock (as every child does, so that
  // terminate() stops it) wake up to 11 times a second for 3–15 s after
  // the last one took its lock, longer on a busy machine; without the lock,
  // never. So windows are measured until one shows the idle cost (or
  // MAX_WINDOWS have passed), and the last one is reported.
  let windows = 1;
  let window = await measure(WINDOW_MS);
  const series = [Math.round(window.programPercent * 10) / 10];
  while (windows < MAX_WINDOWS && !idle(window, mode !== "one")) {
    window = await measure(WINDOW_MS);
    series.push(Math.round(window.programPercent * 10) / 10);
    windows++;
  }
  for (let i = 0; i < children.length; i++) queue.putNowait(i);
  writer.close();
  pollWriter.close();
  if (mode === "timers") { for (const child of children) child.terminate(); }
  await Promise.all(children.map((child) => child.join()));
  console.log(
    JSON.stringify({
      children: children.length,
      windows,
      series,
      ...window,
    }),
  );
}
