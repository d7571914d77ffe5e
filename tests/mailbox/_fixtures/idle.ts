// Run by idle_test.ts as its own program (under `deno test --parallel`
// every test module shares one OS process): parks children in async waits
// and prints what they cost, per worker thread and for the whole program,
// as JSON.
//
//   deno run -A idle.ts one     # three children: get, recv, poll
//   deno run -A idle.ts 200     # 200 children parked in get

import { Pipe, Process, Queue } from "../../../mod.ts";
import { parkInGet, parkInPoll, parkInRecv } from "./parked.ts";

const WINDOW_MS = 3000;

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
  await new Promise((resolve) => setTimeout(resolve, 500)); // settle
  const before = threads();
  const ticks0 = ticks();
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
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
  const programPercent = (ticks1 - ticks0) / 100 / seconds * 100;
  for (let i = 0; i < children.length; i++) queue.putNowait(i);
  writer.close();
  pollWriter.close();
  await Promise.all(children.map((child) => child.join()));
  console.log(
    JSON.stringify({ children: children.length, programPercent, workers }),
  );
}
