/**
 * `SimpleQueue`: Python's `multiprocessing.SimpleQueue`, an unbounded
 * queue with `put`, `get`, `empty` and `close` only.
 *
 * @module
 */

import { registerReducer } from "../core/reduction.ts";
import type { SharedEnd } from "../mailbox/_mailbox.ts";
import { Adoption, reviveQueueBox } from "./_queue_box.ts";
import { boxOf, Queue } from "./queue.ts";

/**
 * A plain unbounded queue (Python's `multiprocessing.SimpleQueue`): `put`,
 * `get`, `empty`, `close`, without sizes or timeouts.
 *
 * @example
 * ```ts
 * import { SimpleQueue } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const q = new SimpleQueue<string>();
 * await q.put("hello");
 * assert.equal(q.empty(), false);
 * assert.equal(await q.get(), "hello");
 * ```
 */
export class SimpleQueue<T = unknown> {
  readonly #queue: Queue<T>;

  /** An empty queue. */
  constructor() {
    const adopted = arguments[0] as unknown;
    this.#queue = new Queue<T>(
      (adopted instanceof Adoption ? adopted : 0) as number,
    );
  }

  /** Puts `item` at the end; never waits (the queue is unbounded). */
  put(item: T): Promise<void> {
    return this.#queue.put(item);
  }

  /** The blocking form of {@linkcode SimpleQueue.put} (it never blocks). */
  putSync(item: T): void {
    this.#queue.putSync(item);
  }

  /** Removes and returns the first item, waiting for one if need be. */
  get(): Promise<T> {
    return this.#queue.get();
  }

  /** The blocking form of {@linkcode SimpleQueue.get}. */
  getSync(): T {
    return this.#queue.getSync();
  }

  /** Whether the queue is empty now. */
  empty(): boolean {
    return this.#queue.empty();
  }

  /** This process uses the queue no more (its copy is dropped). */
  close(): void {
    this.#queue.close();
  }

  /** Closes the queue in this process (`using q = new SimpleQueue()`). */
  [Symbol.dispose](): void {
    this.close();
  }

  static {
    registerReducer<SimpleQueue<unknown>, SharedEnd>({
      name: "SimpleQueue",
      type: SimpleQueue,
      reduce: (q, context) => boxOf(q.#queue).share(context),
      revive: (state) =>
        new (SimpleQueue as unknown as new (a: Adoption) => SimpleQueue)(
          reviveQueueBox("SimpleQueue", state, false),
        ),
    });
  }
}
