// Rows of `deno task bench:compare` for Pipe and Queue: a round trip, items
// per second one to one and two to two, and a 64 MiB buffer moved through a
// Pipe against a plain postMessage transfer.
//
// Process start is kept out of the timings: every child says it is ready
// and waits for a "go" cell before it moves anything.

import { Worker } from "node:worker_threads";
import {
  type Connection,
  Pipe,
  Process,
  Queue,
  registerTargets,
} from "../mod.ts";
import { type CompareCase, median } from "./_compare.ts";

/** Says it is ready, then waits for `go[0]` to become 1. */
async function ready(go: Int32Array): Promise<void> {
  Atomics.add(go, 1, 1);
  Atomics.notify(go, 1);
  // A pending waitAsync alone does not keep a process alive: hold a timer.
  const keepAlive = setInterval(() => {}, 1000);
  while (Atomics.load(go, 0) === 0) {
    await Atomics.waitAsync(go, 0, 0, 100).value;
  }
  clearInterval(keepAlive);
}

/** Answers every message until EOF, blocking its thread between them. */
export function echoBack(conn: Connection): void {
  try {
    while (true) conn.send(conn.recvSync());
  } catch { /* EOF */ }
}

/** Puts `n` small numbers, then one `null` per consumer. */
export async function producer(
  q: Queue<number | null>,
  go: Int32Array,
  n: number,
  sentinels: number,
): Promise<void> {
  await ready(go);
  for (let i = 0; i < n; i++) await q.put(i);
  for (let i = 0; i < sentinels; i++) await q.put(null);
}

/** Gets until `null`, then reports how many items it got. */
export async function consumer(
  q: Queue<number | null>,
  go: Int32Array,
  done: Queue<number>,
): Promise<void> {
  await ready(go);
  let count = 0;
  while ((await q.get()) !== null) count++;
  await done.put(count);
}

/** Says it is ready, then answers every message with `await recv()`. */
export async function asyncEcho(conn: Connection, go: Int32Array) {
  Atomics.add(go, 1, 1);
  try {
    while (true) conn.send(await conn.recv());
  } catch { /* EOF */ }
}

/** Says it is ready, waits for "go", then `await q.put()`s `n` numbers. */
export async function awaitPutter(
  q: Queue<number>,
  go: Int32Array,
  n: number,
): Promise<void> {
  await ready(go);
  for (let i = 0; i < n; i++) await q.put(i);
}

/** Answers each array it receives with its length, until EOF. */
export async function bigReceiver(conn: Connection): Promise<void> {
  try {
    while (true) conn.send((await conn.recv() as Float64Array).length ?? 0);
  } catch { /* EOF */ }
}

registerTargets(import.meta, {
  echoBack,
  producer,
  consumer,
  bigReceiver,
  asyncEcho,
  awaitPutter,
});

async function whenReady(go: Int32Array, n: number): Promise<void> {
  const keepAlive = setInterval(() => {}, 1000);
  while (Atomics.load(go, 1) < n) {
    await Atomics.waitAsync(go, 1, Atomics.load(go, 1), 100).value;
  }
  clearInterval(keepAlive);
}

async function queueRate(
  producers: number,
  consumers: number,
  items: number,
): Promise<number> {
  const q = new Queue<number | null>();
  const done = new Queue<number>();
  const go = new Int32Array(new SharedArrayBuffer(8));
  const per = items / producers;
  const ps = [
    ...Array.from(
      { length: producers },
      (_, i) =>
        new Process({
          target: producer,
          args: [
            q,
            go,
            per,
            // Each consumer needs one sentinel; the first producers send them.
            i < consumers ? Math.ceil(consumers / producers) : 0,
          ],
        }),
    ),
    ...Array.from(
      { length: consumers },
      () => new Process({ target: consumer, args: [q, go, done] }),
    ),
  ];
  for (const p of ps) p.start();
  await whenReady(go, ps.length);
  const t = performance.now();
  Atomics.store(go, 0, 1);
  Atomics.notify(go, 0);
  let got = 0;
  for (let i = 0; i < consumers; i++) got += await done.get();
  const seconds = (performance.now() - t) / 1000;
  await Promise.all(ps.map((p) => p.join()));
  if (got !== items) throw new Error(`lost items: ${got} of ${items}`);
  return items / seconds;
}

const BIG = 64 * 2 ** 20;

async function postMessageTransfer(): Promise<number> {
  const code = `import { parentPort } from "node:worker_threads";
parentPort.on("message", (b) => parentPort.postMessage(b.byteLength / 8));`;
  const worker = new Worker(
    new URL(`data:text/javascript,${encodeURIComponent(code)}`),
  );
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const array = new Float64Array(BIG / 8);
    array[1] = 1; // touch it, as the Pipe case does
    const t = performance.now();
    // The bare buffer: Deno's postMessage of a Float64Array is far slower
    // (~1 s for 64 MiB) even when its buffer is transferred.
    worker.postMessage(array.buffer, [array.buffer]);
    await new Promise((resolve) => worker.once("message", resolve));
    times.push(performance.now() - t);
  }
  await worker.terminate();
  return median(times);
}

export const cases: CompareCase[] = [
  {
    name: "Pipe round trip of a small value between two processes",
    unit: "µs",
    better: "lower",
    goal: "≤ 0.1× Python",
    python: [{ label: "fork", script: "mailbox_cases.py", case: "pipe_rtt" }],
    async deno() {
      const [here, there] = Pipe<number>();
      const p = new Process({ target: echoBack, args: [there] });
      p.start();
      here.send(-1);
      await here.recv(); // the child is up
      const rounds: number[] = [];
      for (let r = 0; r < 20; r++) {
        const t = performance.now();
        for (let i = 0; i < 2000; i++) {
          here.send(i);
          await here.recv();
        }
        rounds.push((performance.now() - t) * 1000 / 2000);
      }
      here.close();
      await p.join();
      return median(rounds);
    },
  },
  {
    name:
      "Pipe round trip, await recv() on both sides, timed from the first call",
    unit: "µs",
    better: "lower",
    python: [{
      label: "fork",
      script: "mailbox_cases.py",
      case: "pipe_rtt_first",
    }],
    async deno() {
      // As users write it: no warm-up round; the child is up (it said so
      // through shared memory), and the first timed call is the first.
      const [here, there] = Pipe<number>();
      const go = new Int32Array(new SharedArrayBuffer(8));
      const p = new Process({ target: asyncEcho, args: [there, go] });
      p.start();
      there.close();
      await whenReady(go, 1);
      const t = performance.now();
      for (let i = 0; i < 2000; i++) {
        here.send(i);
        await here.recv();
      }
      const us = (performance.now() - t) * 1000 / 2000;
      here.close();
      await p.join();
      return us;
    },
  },
  {
    name:
      "Queue 1 → 1, await put() in a process, await get() here, from the first call",
    unit: "items/s",
    better: "higher",
    python: [{
      label: "fork",
      script: "mailbox_cases.py",
      case: "queue_await_first",
    }],
    async deno() {
      const n = 200_000;
      const q = new Queue<number>();
      const go = new Int32Array(new SharedArrayBuffer(8));
      const p = new Process({ target: awaitPutter, args: [q, go, n] });
      p.start();
      await whenReady(go, 1);
      const t = performance.now();
      Atomics.store(go, 0, 1);
      Atomics.notify(go, 0);
      for (let i = 0; i < n; i++) {
        if (await q.get() !== i) throw new Error("out of order");
      }
      const rate = n / ((performance.now() - t) / 1000);
      await p.join();
      return rate;
    },
  },
  {
    name: "Queue, 1 producer process → 1 consumer process, small values",
    unit: "items/s",
    better: "higher",
    goal: "≥ 10× Python",
    python: [{ label: "fork", script: "mailbox_cases.py", case: "queue_1_1" }],
    async deno() {
      const runs: number[] = [];
      for (let r = 0; r < 3; r++) runs.push(await queueRate(1, 1, 1_000_000));
      return median(runs);
    },
  },
  {
    name: "Queue, 2 producer processes → 2 consumer processes, small values",
    unit: "items/s",
    better: "higher",
    goal: "≥ 5× Python",
    python: [{ label: "fork", script: "mailbox_cases.py", case: "queue_2_2" }],
    async deno() {
      const runs: number[] = [];
      for (let r = 0; r < 3; r++) runs.push(await queueRate(2, 2, 1_000_000));
      return median(runs);
    },
  },
  {
    name:
      "64 MiB Float64Array through a Pipe with transfer, to a process + ack",
    unit: "ms",
    better: "lower",
    goal: "≤ 2× postMessage row",
    python: [{ label: "fork", script: "mailbox_cases.py", case: "pipe_64mib" }],
    async deno() {
      const [here, there] = Pipe();
      const p = new Process({ target: bigReceiver, args: [there] });
      p.start();
      here.send([]);
      await here.recv(); // the child is up
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        const array = new Float64Array(BIG / 8);
        array[1] = 1;
        const t = performance.now();
        here.send(array, { transfer: [array.buffer] });
        if (await here.recv() !== BIG / 8) throw new Error("wrong length");
        times.push(performance.now() - t);
      }
      here.close();
      await p.join();
      return median(times);
    },
  },
  {
    name: "64 MiB ArrayBuffer by plain postMessage transfer + ack (reference)",
    unit: "ms",
    better: "lower",
    deno: postMessageTransfer,
  },
];
