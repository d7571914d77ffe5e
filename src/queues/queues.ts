/**
 * `Queue`, `SimpleQueue` and `JoinableQueue`: Python's process queues, as
 * mailboxes in shared memory that any number of processes put into and get
 * from directly.
 *
 * A queue crosses into a process by reference when it is an argument (at any
 * depth, or a field of a `Process` subclass, or an argument of a `Pool`
 * task). Every item is delivered exactly once, in FIFO order per producer.
 * `put` has written the item to shared memory when it returns (there is no
 * feeder thread), so a producer can always end, and nothing it put is lost.
 *
 * @module
 */

import { decode, encode, outbox, Scratch } from "../mailbox/_codec.ts";
import {
  AGAIN,
  GET_WAITERS,
  GETS,
  Mailbox,
  type MailboxState,
  PUT_WAITERS,
  PUTS,
  retry,
  retrySync,
  USER_0,
  USER_1,
  USER_1_WAITERS,
  waitOf,
} from "../mailbox/_mailbox.ts";
import { Empty, Full, ProcessError } from "../errors.ts";
import { registerReducer } from "../core/reduction.ts";
import { describe } from "../core/describe.ts";

/** The received record is decoded from here, before any await. */
const inbox = new Scratch();

interface QueueState extends MailboxState {
  maxsize: number;
}

/** Set while a reducer revives a queue around existing buffers. */
let reviving: QueueState | undefined;

let boxOf: (queue: Queue<unknown>) => Mailbox;

function checkMaxsize(method: string, maxsize: unknown): number {
  if (typeof maxsize !== "number" || !Number.isInteger(maxsize)) {
    throw new TypeError(
      `${method} expected maxsize to be an integer number of items, received ${
        describe(maxsize)
      }`,
    );
  }
  if (maxsize < 0) {
    throw new RangeError(
      `${method} expected maxsize ≥ 0 (0 means no limit), received ${maxsize}`,
    );
  }
  return maxsize;
}

/** Copies the record just encoded into `outbox`, to keep it across awaits. */
function keep(length: number): Scratch {
  const copy = new Scratch();
  copy.reserve(length);
  copy.bytes.set(outbox.bytes.subarray(0, length));
  copy.length = length;
  return copy;
}

/**
 * The options of a queue's `put` and `get` (Python's `block` and
 * `timeout` arguments, with the timeout in milliseconds).
 *
 * @example
 * ```ts
 * import { Empty, Queue } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const q = new Queue<number>();
 * await assert.rejects(q.get({ block: true, timeout: 5 }), Empty);
 * ```
 */
export interface BlockOptions {
  /** Whether to wait (`true`, the default) or raise at once. */
  block?: boolean;
  /** The longest wait in milliseconds; no limit by default. */
  timeout?: number;
}

/**
 * A process-shared FIFO queue (Python's `multiprocessing.Queue`). `put`
 * blocks while a bounded queue is full and `get` while the queue is empty;
 * both are promises, with synchronous variants (`putSync`, `getSync`) for a
 * process that may block its own thread.
 *
 * Items are primitives, strings, arrays, plain objects, dates, typed arrays
 * (a fast path: ~1 µs an item), or any other structured-cloneable value
 * (slower). A value that cannot cross is refused by `put` with a
 * `TypeError` naming its path.
 *
 * @example One producer process, one consumer
 * ```ts
 * import { Process, Queue } from "@seed/multiprocessing";
 * import { produce } from "../../tests/fixtures/mailboxes.ts";
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
  #box: Mailbox;
  #maxsize: number;
  #closed = false;

  static {
    boxOf = (queue) => queue.#box;
  }

  /**
   * A queue holding at most `maxsize` items (`0`, the default: no limit;
   * an unbounded queue's `put` never blocks).
   */
  constructor(maxsize = 0) {
    const state = reviving;
    reviving = undefined;
    if (state !== undefined) {
      this.#box = new Mailbox(state);
      this.#maxsize = state.maxsize;
      return;
    }
    this.#maxsize = checkMaxsize(`new ${new.target.name}()`, maxsize);
    this.#box = new Mailbox();
  }

  /** The most items the queue holds (0: no limit). */
  get maxsize(): number {
    return this.#maxsize;
  }

  /**
   * Puts `item` at the end of the queue. When the queue is full, waits for
   * room up to `timeout` ms (no limit by default), then rejects with
   * `Full`; with `{ block: false }` rejects with `Full` at once.
   */
  put(item: T, options?: BlockOptions): Promise<void> {
    try {
      const ms = waitOf("put()", options);
      const length = this.#encode(item);
      if (this.#tryPut(outbox, length)) return Promise.resolve();
      if (ms === 0) throw this.#full(undefined);
      const record = keep(length);
      return retry(
        this.#box.ctrl,
        GETS,
        PUT_WAITERS,
        ms,
        () => this.#tryPut(record, length) ? undefined : AGAIN,
        () => {
          throw this.#full(ms);
        },
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The blocking form of {@linkcode Queue.put}: blocks this thread. */
  putSync(item: T, options?: BlockOptions): void {
    const ms = waitOf("putSync()", options);
    const length = this.#encode(item);
    if (this.#tryPut(outbox, length)) return;
    if (ms === 0) throw this.#full(undefined);
    retrySync(
      this.#box.ctrl,
      GETS,
      PUT_WAITERS,
      ms,
      () => this.#tryPut(outbox, length) ? undefined : AGAIN,
      () => {
        throw this.#full(ms);
      },
    );
  }

  /** Puts `item` or throws `Full` at once (Python's `put_nowait`). */
  putNowait(item: T): void {
    this.putSync(item, { block: false });
  }

  /**
   * Removes and returns the first item. When the queue is empty, waits up
   * to `timeout` ms (no limit by default), then rejects with `Empty`; with
   * `{ block: false }` rejects with `Empty` at once.
   */
  get(options?: BlockOptions): Promise<T> {
    try {
      const ms = waitOf("get()", options);
      this.#checkOpen("get");
      const length = this.#box.take(inbox);
      if (length >= 0) return Promise.resolve(this.#decode(length));
      if (ms === 0) throw new Empty("the queue is empty");
      return retry(
        this.#box.ctrl,
        PUTS,
        GET_WAITERS,
        ms,
        () => this.#tryGet(),
        () => {
          throw new Empty(`the queue stayed empty for ${ms} ms`);
        },
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The blocking form of {@linkcode Queue.get}: blocks this thread. */
  getSync(options?: BlockOptions): T {
    const ms = waitOf("getSync()", options);
    this.#checkOpen("getSync");
    const length = this.#box.take(inbox);
    if (length >= 0) return this.#decode(length);
    if (ms === 0) throw new Empty("the queue is empty");
    return retrySync(
      this.#box.ctrl,
      PUTS,
      GET_WAITERS,
      ms,
      () => this.#tryGet(),
      () => {
        throw new Empty(`the queue stayed empty for ${ms} ms`);
      },
    );
  }

  /** Returns the first item or throws `Empty` at once (`get_nowait`). */
  getNowait(): T {
    return this.getSync({ block: false });
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
    return this.#maxsize > 0 && this.#box.count() >= this.#maxsize;
  }

  /**
   * This process puts and gets no more (Python's `close()`). Items already
   * put stay in the queue for the other processes; other processes holding
   * the queue are not affected.
   */
  close(): void {
    this.#closed = true;
  }

  /**
   * Python waits here for the feeder thread to flush; there is none (every
   * `put` has reached shared memory when it returns), so this resolves at
   * once. Like Python, it must follow `close()`.
   */
  joinThread(): Promise<void> {
    if (!this.#closed) {
      return Promise.reject(
        new ProcessError(
          "joinThread() needs the queue closed first: call close() before joinThread()",
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

  /** `Queue { size, maxsize }` for `console.log`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `${this.constructor.name} { qsize: ${this.qsize()}, maxsize: ${this.#maxsize}${
      this.#closed ? ", closed" : ""
    } }`;
  }

  #checkOpen(method: string): void {
    if (this.#closed) {
      throw new ProcessError(
        `cannot ${method}: this ${this.constructor.name} is closed in this process`,
      );
    }
  }

  #encode(item: unknown): number {
    this.#checkOpen("put");
    return encode(item, outbox, "item");
  }

  #tryPut(record: Scratch, length: number): boolean {
    beforePut(this);
    let put = false;
    try {
      put = this.#box.put(record, length, this.#maxsize);
    } finally {
      if (!put) undoPut(this);
    }
    return put;
  }

  #tryGet(): T | typeof AGAIN {
    const length = this.#box.take(inbox);
    return length >= 0 ? this.#decode(length) : AGAIN;
  }

  #decode(length: number): T {
    return decode(inbox, length) as T;
  }

  #full(ms: number | undefined): Full {
    return new Full(
      ms === undefined
        ? `the queue is full (maxsize ${this.#maxsize})`
        : `the queue stayed full (maxsize ${this.#maxsize}) for ${ms} ms`,
    );
  }
}

// JoinableQueue counts unfinished tasks in the mailbox's first user cell.
const joinable = new WeakSet<object>();

function beforePut(queue: Queue<unknown>): void {
  // Counted before the item is visible, so a fast consumer's taskDone()
  // can never find the count below zero (Python does the same).
  if (joinable.has(queue)) Atomics.add(boxOf(queue).ctrl, USER_0, 1);
}

function undoPut(queue: Queue<unknown>): void {
  if (!joinable.has(queue)) return;
  const ctrl = boxOf(queue).ctrl;
  if (Atomics.sub(ctrl, USER_0, 1) === 1) wakeJoiners(ctrl);
}

function wakeJoiners(ctrl: Int32Array): void {
  Atomics.add(ctrl, USER_1, 1);
  if (Atomics.load(ctrl, USER_1_WAITERS) > 0) Atomics.notify(ctrl, USER_1);
}

/**
 * A `Queue` that counts unfinished tasks (Python's
 * `multiprocessing.JoinableQueue`): each `put` adds one, each `taskDone()`
 * removes one, and `join()` waits until none is left.
 *
 * @example A worker marks each item done
 * ```ts
 * import { JoinableQueue, Process } from "@seed/multiprocessing";
 * import { doTasks } from "../../tests/fixtures/mailboxes.ts";
 *
 * const q = new JoinableQueue<number>();
 * for (let i = 0; i < 5; i++) await q.put(i);
 * const worker = new Process({ target: doTasks, args: [q, 5], daemon: true });
 * worker.start();
 * await q.join(); // every item was taken and marked done
 * await worker.join();
 * ```
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /** A joinable queue holding at most `maxsize` items (0: no limit). */
  constructor(maxsize = 0) {
    super(maxsize);
    joinable.add(this);
  }

  /**
   * Marks one item taken with `get` as processed. Called more times than
   * items were put, it throws a `ProcessError` (Python's `ValueError`:
   * a runtime condition, not a bad argument).
   */
  taskDone(): void {
    const ctrl = boxOf(this).ctrl;
    while (true) {
      const left = Atomics.load(ctrl, USER_0);
      if (left <= 0) {
        throw new ProcessError(
          "taskDone() called too many times: more than items were put",
        );
      }
      if (Atomics.compareExchange(ctrl, USER_0, left, left - 1) === left) {
        if (left === 1) wakeJoiners(ctrl);
        return;
      }
    }
  }

  /** Resolves once every item put has been marked with `taskDone()`. */
  join(): Promise<void> {
    const ctrl = boxOf(this).ctrl;
    return retry(
      ctrl,
      USER_1,
      USER_1_WAITERS,
      Infinity,
      () => Atomics.load(ctrl, USER_0) === 0 ? undefined : AGAIN,
      () => undefined,
    );
  }

  /** The blocking form of {@linkcode JoinableQueue.join}. */
  joinSync(): void {
    const ctrl = boxOf(this).ctrl;
    retrySync(
      ctrl,
      USER_1,
      USER_1_WAITERS,
      Infinity,
      () => Atomics.load(ctrl, USER_0) === 0 ? undefined : AGAIN,
      () => undefined,
    );
  }
}

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
  #queue: Queue<T>;

  /** An empty queue. */
  constructor() {
    this.#queue = new Queue<T>();
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

  /** This process uses the queue no more. */
  close(): void {
    this.#queue.close();
  }

  static {
    registerReducer<SimpleQueue<unknown>, QueueState>({
      name: "SimpleQueue",
      type: SimpleQueue,
      reduce: (q) => ({ ...boxOf(q.#queue).state, maxsize: 0 }),
      revive: (state) => {
        reviving = state; // consumed by the inner Queue's constructor
        return new SimpleQueue();
      },
    });
  }
}

/** Queues cross as their mailbox's state; the constructor adopts it. */
function registerQueue(name: string, type: typeof Queue): void {
  registerReducer<Queue<unknown>, QueueState>({
    name,
    type,
    reduce: (q) => ({ ...boxOf(q).state, maxsize: q.maxsize }),
    revive: (state) => {
      reviving = state; // consumed by the constructor
      return new type();
    },
  });
}

registerQueue("Queue", Queue);
registerQueue("JoinableQueue", JoinableQueue);
