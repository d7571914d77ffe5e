// Targets for the Queue tests and the doc examples: a module other than the
// main one, so it registers its targets.

import {
  type JoinableQueue,
  Pipe,
  Process,
  Queue,
  registerTargets,
  type SimpleQueue,
} from "../../../mod.ts";

/** Puts `0 … n-1` into `queue`. */
export async function produce(queue: Queue<number>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await queue.put(i);
}

/** Gets `n` items, marking each done. */
export async function doTasks(
  queue: JoinableQueue<number>,
  n: number,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    await queue.get();
    queue.taskDone();
  }
}

/** Puts `n` strings of `size` characters and returns without waiting. */
export function fillAndReturn(queue: Queue<string>, n: number, size: number) {
  for (let i = 0; i < n; i++) queue.putSync(String(i).padEnd(size, "."));
}

/** Blocks in `getSync` on an empty queue (to be terminated). */
export function blockInGet(queue: Queue<unknown>, started: Int32Array): void {
  Atomics.store(started, 0, 1);
  queue.getSync();
}

/** Gets from a SimpleQueue and puts back doubled, until `null`. */
export async function doubler(
  input: SimpleQueue<number | null>,
  output: SimpleQueue<number>,
): Promise<void> {
  while (true) {
    const x = await input.get();
    if (x === null) return;
    await output.put(x * 2);
  }
}

/** Puts `[id, i]` for i < n (the stress test's producer). */
export async function stressProduce(
  queue: Queue<[number, number] | null>,
  id: number,
  n: number,
): Promise<void> {
  for (let i = 0; i < n; i++) await queue.put([id, i]);
}

/**
 * Gets `[id, i]` items until `null`; reports `[count, sum of i, FIFO
 * violations]` (an item older than one already seen from the same id).
 */
export async function stressConsume(
  queue: Queue<[number, number] | null>,
  results: Queue<[number, number, number]>,
): Promise<void> {
  const last = new Map<number, number>();
  let count = 0;
  let sum = 0;
  let violations = 0;
  while (true) {
    const item = await queue.get();
    if (item === null) break;
    const [id, i] = item;
    if (i <= (last.get(id) ?? -1)) violations++;
    last.set(id, i);
    count++;
    sum += i;
  }
  await results.put([count, sum, violations]);
}

/** Puts `items`, then closes the queue in this process and returns. */
export async function putThenClose(
  queue: Queue<unknown>,
  items: unknown[],
): Promise<void> {
  for (const item of items) await queue.put(item);
  queue.close();
  await queue.joinThread();
}

/** Gets one item and puts it, as it arrived, into `out`. */
export async function forwardOne(
  input: Queue<unknown>,
  out: Queue<unknown>,
): Promise<void> {
  await out.put(await input.get());
}

/** Holds a queue in a field: a Process subclass. */
export class QueueFieldProcess extends Process {
  constructor(readonly holder: { queue: Queue<string> }) {
    super();
  }
  override async run(): Promise<void> {
    await this.holder.queue.put("from a field");
  }
}

/** A pool task: puts the square of `x` into a queue it received as an argument. */
export async function putSquare(
  queue: Queue<number>,
  x: number,
): Promise<number> {
  await queue.put(x * x);
  return x;
}

/**
 * Puts `[id, i, payload]` for i < n with `putSync` (or `put` when `useAsync`),
 * counting in `done[id]` how many returned; is terminated at a random
 * point by the crash test. The payload's length varies with i, so records
 * wrap around the ring and make it grow.
 */
export async function putUntilKilled(
  queue: Queue<[number, number, string] | null>,
  id: number,
  n: number,
  useAsync: boolean,
  done: Int32Array,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    const item: [number, number, string] = [id, i, "x".repeat(i % 97)];
    if (useAsync) await queue.put(item);
    else queue.putSync(item);
    Atomics.store(done, id, i + 1);
  }
}

registerTargets(import.meta, {
  produce,
  doTasks,
  fillAndReturn,
  blockInGet,
  doubler,
  stressProduce,
  stressConsume,
  putThenClose,
  forwardOne,
  QueueFieldProcess,
  putSquare,
  putUntilKilled,
});

/**
 * Takes items with `getSync` until `null`, checking that each producer's
 * items come in order and whole; reports `[next index per producer…,
 * problems]` into `results`.
 */
export function checkSync(
  queue: Queue<[number, number, string] | null>,
  producers: number,
  results: Queue<number[]>,
): void {
  const next = new Array(producers).fill(0);
  let problems = 0;
  for (;;) {
    const item = queue.getSync();
    if (item === null) break;
    const [id, i, payload] = item;
    if (i !== next[id] || payload !== "x".repeat(i % 97)) problems++;
    next[id] = i + 1;
  }
  results.putSync([...next, problems]);
}

registerTargets(import.meta, { checkSync });

/** Makes `n` queues it never closes, and returns: its end drops them. */
export function makeQueuesAndEnd(n: number, made: Int32Array): void {
  const keep = [];
  for (let i = 0; i < n; i++) keep.push(new Queue());
  Atomics.store(made, 0, keep.length);
}

/** Puts one end of a new Pipe into `out` and returns: it holds the other. */
export async function putPipeEndAndEnd(out: Queue<unknown>): Promise<void> {
  const [, far] = Pipe();
  await out.put(far);
}

registerTargets(import.meta, { makeQueuesAndEnd, putPipeEndAndEnd });

/** Forwards every item from `input` to `output` until `input` is closed. */
export async function forwardAll(
  input: Queue<unknown>,
  output: Queue<unknown>,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) await output.put(await input.get());
}

registerTargets(import.meta, { forwardAll });
