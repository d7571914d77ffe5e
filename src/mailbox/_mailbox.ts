// The mailbox under every Pipe and Queue: a ring of length-prefixed records
// in a growable SharedArrayBuffer, plus a small Int32 control block.
//
// Every process that holds a mailbox maps the same memory (the buffers cross
// by reference through `registerReducer`), so a message goes straight from
// the sender's thread to the receiver's: nothing relays through a parent,
// and `put` has finished with the message when it returns (no feeder
// thread: a producer's exit never waits for a consumer, python/cpython#73983).
//
// Many producers and consumers share one ring under a tiny lock held only
// while a record is copied in or out (encoding and decoding happen outside
// it, in private scratch buffers); that gives exactly-once delivery and FIFO
// order. The lock word holds its owner's pid, so a process terminated while
// holding it (a copy is a few µs) cannot wedge the others: they take it over
// once `isPidAlive` says the owner ended. State (head, tail, count) is
// updated only after a copy completes, so a taken-over lock finds it whole.
//
// Waits spin briefly (a hand-off between two spinning threads is ~1 µs),
// then park in `Atomics.wait` (sync) or `Atomics.waitAsync` (async, ~9 µs to
// wake) on a sequence word bumped by every put (or get), so no wake-up is
// lost; a waiter count lets the other side skip `notify` when nobody waits.
// Parked waits are cut in slices so a waiter re-checks conditions no one
// notifies about (a peer process that died).

import { currentIdentity, isPidAlive } from "../runtime/_context.ts";
import type { Scratch } from "./_codec.ts";
import { validateTimeout } from "../core/_async.ts";
import { describe } from "../core/describe.ts";
import type { BlockOptions } from "../queues/queues.ts";
import { park as futexPark } from "../core/_futex.ts";

/** Control cells (Int32 indexes). */
const LOCK = 0; // 0 free, else owner pid - Deno.pid + 1
const LOCK_WAITERS = 1;
const HEAD = 2; // byte offset of the oldest record
const TAIL = 3; // byte offset where the next record goes
const USED = 4; // bytes in use
const CAP = 5; // the ring's logical size (≤ the buffer's byteLength)
/** Items in the mailbox. */
export const COUNT = 6;
/** Bumped after every put and on close: consumers wait on it. */
export const PUTS = 7;
/** Bumped after every get: producers of a bounded queue wait on it. */
export const GETS = 8;
/** Consumers parked on PUTS. */
export const GET_WAITERS = 9;
/** Producers parked on GETS. */
export const PUT_WAITERS = 10;
/** Free for the user of the mailbox (JoinableQueue: unfinished tasks). */
export const USER_0 = 11;
/** Free for the user of the mailbox (JoinableQueue: bumped at 0 tasks). */
export const USER_1 = 12;
/** Waiters parked on USER_1. */
export const USER_1_WAITERS = 13;
const CELLS = 16;

/** Start small: a queue that carries little costs little. */
const INITIAL_BYTES = 64 * 1024;
/**
 * The ring grows (doubling) up to this size. A growable SharedArrayBuffer
 * only reserves address space up front (measured: 50 rings with an 8 GiB
 * maximum add < 1 MiB RSS), and memory is committed as the ring grows.
 * 1 GiB keeps every offset within the Int32 control cells.
 */
const MAX_BYTES = 2 ** 30;

/** Parked waits re-check their condition at least this often (ms). */
export const SLICE_MS = 50;
/** The longest a waiter spins before parking (ms). */
const SPIN_MS = 0.05;

/** The structured-cloneable state of a mailbox: its two buffers. */
export interface MailboxState {
  ctrl: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

const myToken = () => currentIdentity().pid - Deno.pid + 1;

/** A multi-producer, multi-consumer ring of byte records in shared memory. */
export class Mailbox {
  readonly ctrl: Int32Array;
  readonly #buffer: SharedArrayBuffer;
  /** Length-tracking: sees the buffer grow in any thread. */
  readonly #data: Uint8Array;

  constructor(state?: MailboxState) {
    const ctrl = state?.ctrl ?? new SharedArrayBuffer(CELLS * 4);
    this.#buffer = state?.data ??
      new SharedArrayBuffer(INITIAL_BYTES, { maxByteLength: MAX_BYTES });
    this.ctrl = new Int32Array(ctrl);
    this.#data = new Uint8Array(this.#buffer);
    if (state === undefined) this.ctrl[CAP] = INITIAL_BYTES;
  }

  /** What crosses into another process. */
  get state(): MailboxState {
    return { ctrl: this.ctrl.buffer as SharedArrayBuffer, data: this.#buffer };
  }

  /** Items in the mailbox now. */
  count(): number {
    return Atomics.load(this.ctrl, COUNT);
  }

  /** The bytes the ring holds now (its memory). */
  capacity(): number {
    return Atomics.load(this.ctrl, CAP);
  }

  /**
   * Appends the record `source.bytes[0, length)`; returns `false` without
   * writing when the mailbox already holds `maxItems` items (0: no limit).
   */
  put(source: Scratch, length: number, maxItems: number): boolean {
    const ctrl = this.ctrl;
    const size = 4 + ((length + 3) & ~3); // records stay 4-byte aligned
    this.#lock();
    try {
      if (maxItems > 0 && ctrl[COUNT] >= maxItems) return false;
      if (ctrl[CAP] - ctrl[USED] < size) this.#grow(size);
      const cap = ctrl[CAP];
      const data = this.#data;
      let tail = ctrl[TAIL];
      data[tail] = length;
      data[tail + 1] = length >>> 8;
      data[tail + 2] = length >>> 16;
      data[tail + 3] = length >>> 24;
      tail += 4;
      if (tail === cap) tail = 0;
      const first = Math.min(length, cap - tail);
      data.set(source.bytes.subarray(0, first), tail);
      if (first < length) data.set(source.bytes.subarray(first, length), 0);
      ctrl[TAIL] = (ctrl[TAIL] + size) % cap;
      ctrl[USED] += size;
      Atomics.add(ctrl, COUNT, 1);
    } finally {
      this.#unlock();
    }
    Atomics.add(ctrl, PUTS, 1);
    if (Atomics.load(ctrl, GET_WAITERS) > 0) Atomics.notify(ctrl, PUTS);
    return true;
  }

  /**
   * Moves the oldest record into `into` (from offset 0) and returns its
   * length; -1 when the mailbox is empty. With `onlyTag`, a record whose
   * first byte differs is left in place and -2 is returned.
   */
  take(into: Scratch, onlyTag = -1): number {
    const ctrl = this.ctrl;
    if (Atomics.load(ctrl, COUNT) === 0) return -1;
    let length: number;
    this.#lock();
    try {
      if (ctrl[COUNT] === 0) return -1;
      const cap = ctrl[CAP];
      const data = this.#data;
      const head = ctrl[HEAD];
      length = data[head] | (data[head + 1] << 8) | (data[head + 2] << 16) |
        (data[head + 3] << 24);
      let from = head + 4;
      if (from === cap) from = 0;
      if (onlyTag !== -1 && data[from] !== onlyTag) return -2;
      into.length = 0;
      into.reserve(length);
      const first = Math.min(length, cap - from);
      into.bytes.set(data.subarray(from, from + first), 0);
      if (first < length) {
        into.bytes.set(data.subarray(0, length - first), first);
      }
      const size = 4 + ((length + 3) & ~3);
      const used = ctrl[USED] - size;
      ctrl[USED] = used;
      // An empty ring restarts at 0, so most records never wrap.
      if (used === 0) ctrl[HEAD] = ctrl[TAIL] = 0;
      else ctrl[HEAD] = (head + size) % cap;
      Atomics.sub(ctrl, COUNT, 1);
    } finally {
      this.#unlock();
    }
    Atomics.add(ctrl, GETS, 1);
    if (Atomics.load(ctrl, PUT_WAITERS) > 0) Atomics.notify(ctrl, GETS);
    return length;
  }

  /** Wakes everyone parked on `cell` (after a state change such as close). */
  wake(cell: number): void {
    Atomics.add(this.ctrl, cell, 1);
    Atomics.notify(this.ctrl, cell);
  }

  /** Doubles the ring until `size` more bytes fit, keeping record order. */
  #grow(size: number): void {
    const ctrl = this.ctrl;
    const cap = ctrl[CAP];
    const used = ctrl[USED];
    let next = cap * 2;
    while (next - used < size) next *= 2;
    if (next > MAX_BYTES) {
      throw new RangeError(
        `a message of ${size - 4} bytes does not fit in the mailbox (${
          MAX_BYTES / 2 ** 20
        } MiB at most, ${used} bytes in use)`,
      );
    }
    if (this.#buffer.byteLength < next) this.#buffer.grow(next);
    const head = ctrl[HEAD];
    const tail = ctrl[TAIL];
    if (used > 0 && tail <= head) {
      // Wrapped: records run head..cap, then 0..tail. Move 0..tail after
      // the old end (next ≥ 2 * cap, so it fits) to make them contiguous.
      this.#data.copyWithin(cap, 0, tail);
      ctrl[TAIL] = (cap + tail) % next;
    }
    ctrl[CAP] = next;
  }

  #lock(): void {
    const ctrl = this.ctrl;
    const me = myToken();
    if (Atomics.compareExchange(ctrl, LOCK, 0, me) === 0) return;
    let spins = 0;
    while (true) {
      const owner = Atomics.compareExchange(ctrl, LOCK, 0, me);
      if (owner === 0) return;
      if (++spins < 200) continue;
      // The owner may have been terminated while holding the lock.
      if (!isPidAlive(owner - 1 + Deno.pid)) {
        if (Atomics.compareExchange(ctrl, LOCK, owner, me) === owner) return;
        continue;
      }
      Atomics.add(ctrl, LOCK_WAITERS, 1);
      Atomics.wait(ctrl, LOCK, owner, 1);
      Atomics.sub(ctrl, LOCK_WAITERS, 1);
    }
  }

  #unlock(): void {
    Atomics.store(this.ctrl, LOCK, 0);
    if (Atomics.load(this.ctrl, LOCK_WAITERS) > 0) {
      Atomics.notify(this.ctrl, LOCK, 1);
    }
  }
}

// Waiting -------------------------------------------------------------------

/**
 * How long this thread spins before parking (ms), adapted as an adaptive
 * mutex does: it doubles after a spin that caught the change and halves
 * after one that did not. A ping-pong keeps spinning (a hand-off caught
 * spinning costs ~1 µs, a parked one ~9 µs); an idle wait or a busy
 * machine (where a spinner only steals the peer's CPU, and the scheduler
 * then favours threads that slept) soon parks at once.
 */
let spinMs = SPIN_MS;
const MIN_SPIN_MS = 0.002;

/**
 * Spins until `ctrl[cell]` differs from `seen` or the spin budget passes;
 * returns whether it changed.
 */
export function spin(ctrl: Int32Array, cell: number, seen: number): boolean {
  const end = performance.now() + spinMs;
  let i = 0;
  while (Atomics.load(ctrl, cell) === seen) {
    if ((++i & 63) === 0 && performance.now() > end) {
      spinMs = Math.max(MIN_SPIN_MS, spinMs / 2);
      return false;
    }
  }
  spinMs = Math.min(SPIN_MS, spinMs * 2);
  return true;
}

/**
 * Blocks the thread until `ctrl[cell]` differs from `seen`, `ms` passes or a
 * slice ends (the caller loops). `waiters` counts parked threads.
 */
export function parkSync(
  ctrl: Int32Array,
  cell: number,
  seen: number,
  waiters: number,
  ms: number,
): void {
  Atomics.add(ctrl, waiters, 1);
  try {
    Atomics.wait(ctrl, cell, seen, Math.min(ms, SLICE_MS));
  } finally {
    Atomics.sub(ctrl, waiters, 1);
  }
}

/**
 * The async form of {@linkcode parkSync}, through the shared futex park
 * (`_futex.ts`), whose ticking timer bounds how late a notified waiter
 * wakes in a worker (Deno may not settle an `Atomics.waitAsync` until its
 * event loop turns) and keeps the event loop alive while parked.
 */
export async function park(
  ctrl: Int32Array,
  cell: number,
  seen: number,
  waiters: number,
  ms: number,
): Promise<void> {
  Atomics.add(ctrl, waiters, 1);
  try {
    await futexPark(ctrl, cell, seen, Math.min(ms, SLICE_MS));
  } finally {
    Atomics.sub(ctrl, waiters, 1);
  }
}

// Arguments -----------------------------------------------------------------

/**
 * Checks a timeout in milliseconds as Python's queues do: `undefined`,
 * `null` and `Infinity` mean no limit; `NaN` and negatives are a
 * `RangeError` (Python's `ValueError`).
 */
export function checkTimeout(name: string, value: unknown): number {
  return validateTimeout(name, value) ?? Infinity;
}

/** Checks `{ block, timeout }` and returns the wait in ms (0: none). */
export function waitOf(method: string, options: unknown): number {
  if (options === undefined) return Infinity;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${method} expected an options object such as { block, timeout }, received ${
        describe(options)
      }`,
    );
  }
  const { block, timeout } = options as BlockOptions;
  if (block !== undefined && typeof block !== "boolean") {
    throw new TypeError(
      `${method} expected options.block to be a boolean, received ${
        describe(block)
      }`,
    );
  }
  const ms = checkTimeout(`${method} options.timeout`, timeout);
  return block === false ? 0 : ms;
}

/** What an attempt returns when it must wait and try again. */
export const AGAIN: unique symbol = Symbol("again");

/**
 * Retries `attempt` until it returns something other than {@linkcode AGAIN},
 * waiting between tries for `ctrl[cell]` to change (spin, then park). After
 * `ms` it returns `onTimeout()`.
 */
export async function retry<R>(
  ctrl: Int32Array,
  cell: number,
  waiters: number,
  ms: number,
  attempt: () => R | typeof AGAIN,
  onTimeout: () => R,
): Promise<R> {
  const end = performance.now() + ms;
  while (true) {
    const seen = Atomics.load(ctrl, cell);
    const result = attempt();
    if (result !== AGAIN) return result;
    const left = end - performance.now();
    if (left <= 0) return onTimeout();
    if (!spin(ctrl, cell, seen)) await park(ctrl, cell, seen, waiters, left);
  }
}

/** The blocking form of {@linkcode retry}. */
export function retrySync<R>(
  ctrl: Int32Array,
  cell: number,
  waiters: number,
  ms: number,
  attempt: () => R | typeof AGAIN,
  onTimeout: () => R,
): R {
  const end = performance.now() + ms;
  while (true) {
    const seen = Atomics.load(ctrl, cell);
    const result = attempt();
    if (result !== AGAIN) return result;
    const left = end - performance.now();
    if (left <= 0) return onTimeout();
    if (!spin(ctrl, cell, seen)) parkSync(ctrl, cell, seen, waiters, left);
  }
}
