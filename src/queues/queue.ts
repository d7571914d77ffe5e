/**
 * `Queue`: Python's `multiprocessing.Queue`, a ring in the program's shared
 * heap that any number of processes put into and get from directly.
 *
 * A queue crosses into a process by reference when it is an argument (at
 * any depth, or a field of a `Process` subclass, or an argument of a `Pool`
 * task, or inside a message). Every item is delivered exactly once, in FIFO
 * order per producer, even when a producer or a consumer is terminated
 * mid-call. `put` has written the item to shared memory when it returns
 * (there is no feeder thread), so a producer can always end, and nothing
 * it put is lost.
 *
 * @module
 */

import type { WaitOptions } from "../core/wait.ts";
import { ProcessError } from "../errors.ts";
import { registerReducer } from "../core/reduction.ts";
import type { SharedEnd } from "../mailbox/_mailbox.ts";
import {
  Adoption,
  checkMaxsize,
  createQueueBox,
  type QueueBox,
  reviveQueueBox,
} from "./_queue_box.ts";

/**
 * The options of a queue's `put` and `get` (Python's `block` and
 * `timeout` arguments, with the timeout in milliseconds): the module's
 * {@linkcode WaitOptions}, under the name earlier versions used.
 *
 * @example
 * ```ts
 * import { type BlockOptions, Empty, Queue } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const q = new Queue<number>();
 * const options: BlockOptions = { block: true, timeout: 5 };
 * await assert.rejects(q.get(options), Empty);
 * ```
 */
export type BlockOptions = WaitOptions;

const boxes = new WeakMap<object, QueueBox>();

/** The handle of a Queue (or JoinableQueue, or SimpleQueue's inner one). */
export function boxOf(queue: object): QueueBox {
  return boxes.get(queue)!;
}

/**
 * A process-shared FIFO queue (Python's `multiprocessing.Queue`). `put`
 * waits while a bounded queue is full and `get` while the queue is empty;
 * both are promises, with synchronous variants (`putSync`, `getSync`) for a
 * process that may block its own thread. Both take `{ block, timeout,
 * signal }`.
 *
 * Items arrive as `structuredClone` would make them (primitives, strings,
 * arrays, plain objects, dates and typed arrays take a fast path), and
 * Queues and Pipe ends cross by reference. A value that cannot cross — a
 * function, a `SharedArrayBuffer`, a `Lock` (a Queue carries bytes only:
 * give those to a process as arguments) — is refused by `put` with a
 * `TypeError` naming its path.
 *
 * @example One producer process, one consumer
 * ```ts
 * import { Process, Queue } from "@seed/multiprocessing";
 * import { produce } from "../../tests/queues/_fixtures/targets.ts";
 * import assert from "node:assert/strict";
 *
 * const q = new Queue<number>();
 * const p = new Process({ target: produce, args: [q, 3] });
 * p.start();
 * assert.deepEqual([await q.get(), await q.get(), await q.get()], [0, 1, 2]);
 * await p.join();
 * ```
 *
 * @example Timeouts and non-blocking calls
 * ```ts
 * import { Empty, Full, Queue } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const q = new Queue<string>(1);
 * q.putNowait("a");
 * assert.throws(() => q.putNowait("b"), Full);
 * assert.equal(q.getNowait(), "a");
 * await assert.rejects(q.get({ timeout: 10 }), Empty);
 * ```
 */
export class Queue<T = unknown> {
  readonly #box: QueueBox;

  /**
   * A queue holding at most `maxsize` items (`0`, the default: no limit;
   * an unbounded queue's `put` never waits).
   */
  constructor(maxsize = 0) {
    const adopted = maxsize as unknown;
    this.#box = adopted instanceof Adoption ? adopted.box : createQueueBox(
      new.target.name,
      checkMaxsize(new.target.name, maxsize),
      new.target !== Queue && isJoinable(new.target),
    );
    this.#box.ownedBy(this);
    boxes.set(this, this.#box);
  }

  /** The most items the queue holds (0: no limit). */
  get maxsize(): number {
    return this.#box.maxsize;
  }

  /**
   * Puts `item` at the end of the queue. When the queue is full, waits for
   * room up to `timeout` ms (no limit by default), then rejects with
   * `Full`; with `{ block: false }` rejects with `Full` at once.
   */
  put(item: T, options?: WaitOptions): Promise<void> {
    return this.#box.put(item, options);
  }

  /** The blocking form of {@linkcode Queue.put}: blocks this thread. */
  putSync(item: T, options?: Omit<WaitOptions, "signal">): void {
    this.#box.putSync(item, options);
  }

  /** Puts `item` or throws `Full` at once (Python's `put_nowait`). */
  putNowait(item: T): void {
    this.#box.putSync(item, { block: false });
  }

  /**
   * Removes and returns the first item. When the queue is empty, waits up
   * to `timeout` ms (no limit by default), then rejects with `Empty`; with
   * `{ block: false }` rejects with `Empty` at once.
   */
  get(options?: WaitOptions): Promise<T> {
    return this.#box.get(options) as Promise<T>;
  }

  /** The blocking form of {@linkcode Queue.get}: blocks this thread. */
  getSync(options?: Omit<WaitOptions, "signal">): T {
    return this.#box.getSync(options) as T;
  }

  /** Returns the first item or throws `Empty` at once (`get_nowait`). */
  getNowait(): T {
    return this.#box.getSync({ block: false }) as T;
  }

  /** The number of items in the queue now (approximate while others act). */
  qsize(): number {
    return this.#box.count();
  }

  /** Whether the queue is empty now. */
  empty(): boolean {
    return this.#box.count() === 0;
  }

  /** Whether a bounded queue is full now. */
  full(): boolean {
    return this.#box.maxsize > 0 && this.#box.count() >= this.#box.maxsize;
  }

  /**
   * This process puts and gets no more (Python's `close()`): its copy of
   * the queue is dropped. Items already put stay in the queue for the
   * other processes holding it; they are not affected.
   */
  close(): void {
    this.#box.close();
  }

  /**
   * Python waits here for the feeder thread to flush; there is none (every
   * `put` has reached shared memory when it returns), so this resolves at
   * once. As in Python, it must follow `close()`.
   */
  joinThread(): Promise<void> {
    if (!this.#box.closed) {
      return Promise.reject(
        new ProcessError(
          "Cannot joinThread(): close the queue first (Python's join_thread() must follow close())",
        ),
      );
    }
    return Promise.resolve();
  }

  /**
   * Python uses it to let a process end without flushing its queue; here a
   * process's end never waits for its queue, so there is nothing to cancel.
   */
  cancelJoinThread(): void {}

  /** Closes the queue in this process (`using q = new Queue()`). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `Queue { qsize, maxsize }` for `console.log`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `${this.constructor.name} { qsize: ${this.qsize()}, maxsize: ${this.maxsize}${
      this.#box.closed ? ", closed" : ""
    } }`;
  }
}

const joinableTypes = new WeakSet<object>();

/** Marks a Queue subclass whose puts count tasks (JoinableQueue). */
export function countsTasks(type: typeof Queue): void {
  joinableTypes.add(type);
}

function isJoinable(type: object): boolean {
  for (let t = type; t !== null && t !== Queue; t = Object.getPrototypeOf(t)) {
    if (joinableTypes.has(t)) return true;
  }
  return false;
}

/** Registers how a Queue class crosses into processes, by reference. */
export function registerQueue(name: string, type: typeof Queue): void {
  registerReducer<Queue<unknown>, SharedEnd>({
    name,
    type,
    reduce: (q, context) => boxOf(q).share(context),
    revive: (state) =>
      new type(
        reviveQueueBox(type.name, state, isJoinable(type)) as unknown as number,
      ),
  });
}

registerQueue("Queue", Queue);
