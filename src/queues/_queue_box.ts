// What Queue, JoinableQueue and SimpleQueue share: a process's handle on a
// queue's record (one ring in the shared heap), its put and get, and how it
// crosses into another process.
//
// A queue crosses by reference: its state is the record's address, plain
// numbers, so it travels as a process's argument, a pool task's argument,
// inside a message on a Pipe or as an item of another Queue. Each handle
// owns one copy of the record (see mailbox/_records.ts): closing it (or its
// garbage collection, or its process's end) drops the copy, and the queue's
// memory goes once no live process holds one.

import { decode, encode, type EncodeOptions, Writer } from "../core/codec.ts";
import type { ReduceContext } from "../core/reduction.ts";
import { describe } from "../core/describe.ts";
import { type Wait, waitOf } from "../core/wait.ts";
import { Empty, Full, ProcessError } from "../errors.ts";
import {
  AGAIN,
  BUSY,
  createMailboxes,
  dropWhenCollected,
  keepWhenCollected,
  type Mailbox,
  reviveMailbox,
  type SharedEnd,
} from "../mailbox/_mailbox.ts";
import { QUEUE } from "../mailbox/_records.ts";
import {
  COUNT,
  EMPTY,
  GET_WAITERS,
  GETS,
  JOIN_WAITERS,
  lengthOf,
  put,
  PUT_WAITERS,
  PUTS,
  take,
  TAKE_BUSY,
  taskDone,
  TASKS,
  TASKS_DONE,
  wakeAll,
} from "../mailbox/_ring.ts";

/** Items are encoded here, then put at once. */
let outbox = new Writer();
/** A taken item is copied here, then decoded at once. */
let inbox = new Writer();
/** Larger scratch buffers are dropped after use rather than kept. */
const SCRATCH_KEPT = 1 << 20;

/** The wait of a call without options: no limit. */
const NO_LIMIT: Wait = Object.freeze({ deadline: Infinity });

/** Stands for the state of a queue being revived, in place of `maxsize`. */
export class Adoption {
  constructor(readonly box: QueueBox) {}
}

/** A process's handle on a queue. */
export class QueueBox {
  readonly name: string;
  readonly maxsize: number;
  readonly joinable: boolean;
  /** `null`: born closed (its last holders closed it while it travelled). */
  readonly #box: Mailbox | null;
  readonly #encoding: EncodeOptions;
  #closed: boolean;
  #collect: object | undefined;

  constructor(
    name: string,
    box: Mailbox | null,
    maxsize: number,
    joinable: boolean,
  ) {
    this.name = name;
    this.#box = box;
    this.maxsize = maxsize;
    this.joinable = joinable;
    this.#closed = box === null;
    this.#encoding = { path: "item", bytesOnly: `a ${name}` };
  }

  /** Makes the handle's copy drop when `owner` is garbage-collected. */
  ownedBy(owner: object): void {
    if (this.#box !== null) this.#collect = dropWhenCollected(owner, this.#box);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #ring(): number {
    return this.#box!.ring(0);
  }

  #checkOpen(method: string): Mailbox {
    if (this.#closed) {
      throw new ProcessError(
        `Cannot ${method}(): this ${this.name} is closed in this process`,
      );
    }
    return this.#box!;
  }

  /** Items in the queue now (approximate while others act). */
  count(): number {
    if (this.#box === null) return 0;
    return Atomics.load(this.#box.heap.cells, this.#ring() + COUNT);
  }

  /** Puts the encoded item; `false` when full; `BUSY` (brief only). */
  #tryPut(
    method: string,
    bytes: Uint8Array,
    length: number,
    brief: boolean,
  ): boolean | typeof BUSY {
    const box = this.#checkOpen(method);
    return put(
      box.heap,
      this.#ring(),
      bytes,
      length,
      0,
      this.maxsize,
      this.joinable,
      brief,
    );
  }

  /** Encodes `item` into the outbox; returns its length. */
  #encode(method: string, item: unknown): number {
    this.#checkOpen(method);
    encode(item, outbox, this.#encoding);
    return outbox.length;
  }

  #full(timeout: number | undefined): Full {
    return new Full(
      timeout === undefined
        ? `the queue is full (maxsize ${this.maxsize})`
        : `the queue stayed full (maxsize ${this.maxsize}) for ${timeout} ms`,
    );
  }

  /**
   * Puts an item, waiting for room as `options` allow. Never blocks the
   * thread for long: a ring lock that stays held is waited out async.
   */
  put(item: unknown, options: unknown): Promise<void> {
    try {
      const wait = options === undefined ? NO_LIMIT : waitOf("put", options);
      const length = this.#encode("put", item);
      const bytes = outbox.bytes;
      let first: boolean | typeof BUSY;
      try {
        first = this.#tryPut("put", bytes, length, true);
      } finally {
        if (outbox.bytes.length > SCRATCH_KEPT) outbox = new Writer();
      }
      if (first === true) return Promise.resolve();
      if (first === false && wait.deadline <= performance.now()) {
        throw this.#full(undefined);
      }
      wait.signal?.throwIfAborted();
      const kept = bytes.slice(0, length); // the outbox is reused meanwhile
      return this.#box!.wait(
        0,
        GETS,
        PUT_WAITERS,
        wait,
        () => {
          const done = this.#tryPut("put", kept, length, true);
          return done === BUSY ? BUSY : done ? undefined : AGAIN;
        },
        () => {
          throw this.#full(timeoutOf(options));
        },
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The blocking form of {@linkcode QueueBox.put}. */
  putSync(item: unknown, options: unknown): void {
    const wait = options === undefined ? NO_LIMIT : waitOf("putSync", options);
    const length = this.#encode("putSync", item);
    const bytes = outbox.bytes;
    try {
      if (this.#tryPut("putSync", bytes, length, false)) return;
      if (wait.deadline <= performance.now()) throw this.#full(undefined);
      this.#box!.waitSync(
        0,
        GETS,
        PUT_WAITERS,
        wait.deadline,
        () => this.#tryPut("putSync", bytes, length, false) ? undefined : AGAIN,
        () => {
          throw this.#full(timeoutOf(options));
        },
      );
    } finally {
      if (outbox.bytes.length > SCRATCH_KEPT) outbox = new Writer();
    }
  }

  /** Takes and decodes an item, or `AGAIN`, or `BUSY` (brief only). */
  #tryGet(method: string, brief: boolean): unknown {
    const box = this.#checkOpen(method);
    const header = take(box.heap, this.#ring(), inbox, undefined, brief);
    if (header === EMPTY) return AGAIN;
    if (header === TAKE_BUSY) return BUSY;
    try {
      return decode(inbox.bytes.subarray(0, lengthOf(header)));
    } finally {
      if (inbox.bytes.length > SCRATCH_KEPT) inbox = new Writer();
    }
  }

  /** Takes the first item, waiting for one as `options` allow. */
  get(options: unknown): Promise<unknown> {
    try {
      const wait = options === undefined ? NO_LIMIT : waitOf("get", options);
      const first = this.#tryGet("get", true);
      if (first !== AGAIN && first !== BUSY) return Promise.resolve(first);
      if (first === AGAIN && wait.deadline <= performance.now()) {
        throw new Empty("the queue is empty");
      }
      wait.signal?.throwIfAborted();
      return this.#box!.wait(
        0,
        PUTS,
        GET_WAITERS,
        wait,
        () => this.#tryGet("get", true),
        () => {
          throw new Empty(
            `the queue stayed empty for ${timeoutOf(options)} ms`,
          );
        },
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The blocking form of {@linkcode QueueBox.get}. */
  getSync(options: unknown): unknown {
    const wait = options === undefined ? NO_LIMIT : waitOf("getSync", options);
    const first = this.#tryGet("getSync", false);
    if (first !== AGAIN) return first;
    if (wait.deadline <= performance.now()) {
      throw new Empty("the queue is empty");
    }
    return this.#box!.waitSync(
      0,
      PUTS,
      GET_WAITERS,
      wait.deadline,
      () => this.#tryGet("getSync", false),
      () => {
        throw new Empty(`the queue stayed empty for ${timeoutOf(options)} ms`);
      },
    );
  }

  /** Marks one task done (JoinableQueue). */
  taskDone(): void {
    const box = this.#checkOpen("taskDone");
    if (taskDone(box.heap, this.#ring()) === -1) {
      throw new ProcessError(
        "taskDone() called too many times: more than items were put",
      );
    }
  }

  #tasksLeft(): boolean {
    const box = this.#box!;
    return Atomics.load(box.heap.cells, this.#ring() + TASKS) > 0;
  }

  /** Waits until every task is done (JoinableQueue). */
  join(options: unknown): Promise<void> {
    try {
      const wait = waitOf("join", options);
      this.#checkOpen("join");
      return this.#box!.wait(
        0,
        TASKS_DONE,
        JOIN_WAITERS,
        wait,
        () => this.#tasksLeft() ? AGAIN : true,
        () => false,
      ).then((done) => {
        if (!done) {
          throw new Empty(
            `the queue still had unfinished tasks after ${
              timeoutOf(options)
            } ms`,
          );
        }
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The blocking form of {@linkcode QueueBox.join}. */
  joinSync(options: unknown): void {
    const wait = waitOf("joinSync", options);
    this.#checkOpen("joinSync");
    const done = this.#box!.waitSync(
      0,
      TASKS_DONE,
      JOIN_WAITERS,
      wait.deadline,
      () => this.#tasksLeft() ? AGAIN : true,
      () => false,
    );
    if (!done) {
      throw new Empty(
        `the queue still had unfinished tasks after ${timeoutOf(options)} ms`,
      );
    }
  }

  /** Closes this handle: its copy drops, its pending waits reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const box = this.#box!;
    if (this.#collect !== undefined) keepWhenCollected(this.#collect);
    box.drop(); // wakes pending gets: they see the close
    // This process's pending puts and joins re-check too. The record may
    // be free already: its cells stay a record's, a wake is harmless.
    wakeAll(box.heap, box.ring(0), GETS);
    wakeAll(box.heap, box.ring(0), TASKS_DONE);
  }

  /** The state that stands for the queue in a message. */
  share(context: ReduceContext): SharedEnd {
    if (this.#closed) {
      throw new TypeError(
        `Cannot send ${context.path}: it is a ${this.name} closed in this process`,
      );
    }
    return this.#box!.share(context);
  }
}

function timeoutOf(options: unknown): number | undefined {
  return (options as { timeout?: number } | undefined)?.timeout;
}

/** Checks `maxsize` as `new Queue(maxsize)` takes it. */
export function checkMaxsize(name: string, maxsize: unknown): number {
  if (typeof maxsize !== "number" || !Number.isInteger(maxsize)) {
    throw new TypeError(
      `Cannot make a ${name} as 'maxsize' must be an integer number of items (0 for no limit): current value is ${
        describe(maxsize)
      }`,
    );
  }
  if (maxsize < 0 || maxsize > 0x7fff_ffff) {
    throw new RangeError(
      `Cannot make a ${name} as 'maxsize' must be from 0 (no limit) to 2147483647: current value is ${maxsize}`,
    );
  }
  return maxsize;
}

/** A new queue's handle: this process holds its one copy. */
export function createQueueBox(
  name: string,
  maxsize: number,
  joinable: boolean,
): QueueBox {
  const [box] = createMailboxes(QUEUE, 1, maxsize);
  return new QueueBox(name, box, maxsize, joinable);
}

/** The handle for a queue that crossed into this process. */
export function reviveQueueBox(
  name: string,
  state: SharedEnd,
  joinable: boolean,
): Adoption {
  const box = reviveMailbox(state, QUEUE) ?? null;
  const maxsize = box?.maxsize ?? 0;
  return new Adoption(new QueueBox(name, box, maxsize, joinable));
}
