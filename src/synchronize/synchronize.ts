/**
 * Python's synchronization primitives across processes: `Lock`, `RLock`,
 * `Semaphore`, `BoundedSemaphore`, `Event`, `Condition` and `Barrier`.
 *
 * Each one is a few `Int32` cells in a `SharedArrayBuffer`: it crosses into
 * a process by reference (as an argument at any depth, or a field of a
 * `Process` subclass) and every copy works on the same cells. Waits come in
 * two forms: `acquire()`/`wait()` resolve a promise and never block the
 * event loop; `acquireSync()`/`waitSync()` block the thread (a process
 * blocked there still ends at once on `terminate()`). Timeouts are in
 * milliseconds.
 *
 * @module
 */

import { currentIdentity, isPidAlive } from "../runtime/_context.ts";
import {
  CHECK_MS,
  deadlineOf,
  park,
  type ParkResult,
  parkSync,
  slice,
  SPINS,
  until,
  untilSync,
  wakeAll,
} from "../core/_futex.ts";
import {
  BrokenBarrierError,
  LockOwnerDiedError,
  ProcessError,
  TimeoutError,
} from "../errors.ts";
import { registerReducer } from "../core/reduction.ts";
import { describe } from "../core/describe.ts";
import {
  locateTarget,
  resolveTarget,
  type TargetLocator,
} from "../runtime/targets.ts";

/**
 * Options of `acquire()` and `acquireSync()`, as Python's arguments.
 *
 * @example
 * ```ts
 * import { type AcquireOptions, Lock } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const tryOnce: AcquireOptions = { block: false };
 * const briefly: AcquireOptions = { timeout: 10 };
 * const lock = new Lock();
 * assert.equal(lock.acquireSync(tryOnce), true);
 * assert.equal(lock.acquireSync(tryOnce), false); // held: no waiting
 * assert.equal(await lock.acquire(briefly), false); // gave up after 10 ms
 * lock.release();
 * ```
 */
export interface AcquireOptions {
  /** `false` tries once and returns at once; `true` by default. */
  block?: boolean;
  /** Gives up after this many milliseconds; no limit by default. */
  timeout?: number;
}

/**
 * What `hold()` and `holdSync()` return: releases on scope exit with
 * `using`, so that a throw never leaves the primitive held.
 *
 * @example
 * ```ts
 * import { type Held, Semaphore } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const sem = new Semaphore(1);
 * {
 *   using held: Held = await sem.hold();
 *   assert.equal(sem.getValue(), 0);
 *   held.release(); // early: the scope's exit then gives nothing back
 *   assert.equal(sem.getValue(), 1);
 * }
 * assert.equal(sem.getValue(), 1);
 * ```
 */
export interface Held extends Disposable {
  /** Releases now; the scope's exit then does nothing. */
  release(): void;
}

// Revival: a reducer's revive() builds an instance with `new` over the
// received cells. The cells travel through this variable rather than a
// constructor parameter, so constructors keep Python's signatures and
// their private fields.
let adopting: unknown = undefined;

function adopt<T>(state: unknown, make: () => T): T {
  adopting = state;
  try {
    return make();
  } finally {
    adopting = undefined;
  }
}

function takeAdopted<T>(): T | undefined {
  const state = adopting as T | undefined;
  adopting = undefined;
  return state;
}

function me(): number {
  return currentIdentity().pid;
}

function acquireEnd(method: string, options: AcquireOptions | undefined) {
  if (options === undefined) return Infinity;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${method} expected options such as { block, timeout }, received ${
        describe(options)
      }`,
    );
  }
  const { block = true, timeout } = options;
  if (typeof block !== "boolean") {
    throw new TypeError(
      `${method} expected options.block to be a boolean, received ${
        describe(block)
      }`,
    );
  }
  // Python ignores the timeout of a non-blocking acquire.
  if (!block) return -Infinity;
  return deadlineOf(`${method} options.timeout`, timeout);
}

function held(release: () => void): Held {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    release();
  };
  return { release: once, [Symbol.dispose]: once };
}

function timedOut(what: string, options?: AcquireOptions): TimeoutError {
  return new TimeoutError(
    `${what} was not acquired within ${options?.timeout ?? 0} ms`,
  );
}

// Lock cells -----------------------------------------------------------------
//
// A lock is a compare-and-swap word holding the owner's pid, with Go's
// sync.Mutex answer to fairness: barging is allowed (a process re-acquiring
// right after its release pays one CAS; a strict hand-off would pay a park
// and a wake, ~10 µs, on every contended release), but a waiter that waited
// longer than STARVE_MS puts the lock in hand-off mode, where a release
// gives the lock to the longest-parked waiter (Atomics' wait list is FIFO)
// instead of freeing it. So no process starves, and the common case stays
// fast.

const STATE = 0; // 0 free, GRANT handed to a notified waiter, else owner pid
const WAITERS = 1; // waiters spinning or parked
const PARKED = 2; // waiters parked in Atomics.wait/waitAsync
const STARVING = 3; // waiters that waited longer than STARVE_MS
const COUNT = 4; // RLock's recursion level
const WOKEN = 5; // 1 while a woken waiter is on its way: no need to wake another
const LOCK_CELLS = 6;

const GRANT = -1;
const STARVE_MS = 1;

type Step =
  | { kind: "done"; died?: number }
  | { kind: "park"; seen: number; ms: number }
  | { kind: "timeout" };

/** One waiter's progress through the slow path of an acquire. */
class LockWaiter {
  started = performance.now();
  starving = false;
  notified = false;
  woken = false;
  grantAged = false;
  spins = 0;
  constructor(
    readonly cells: Int32Array,
    readonly pid: number,
    readonly end: number,
  ) {
    Atomics.add(cells, WAITERS, 1);
  }

  next(): Step {
    const cells = this.cells;
    for (;;) {
      const s = Atomics.load(cells, STATE);
      if (s === 0) {
        if (Atomics.compareExchange(cells, STATE, 0, this.pid) === 0) {
          return { kind: "done" };
        }
        continue;
      }
      if (s === GRANT) {
        // Only the waiter the release woke takes a grant, or anyone once it
        // has sat unclaimed for a whole check period (its waiter died).
        if (this.notified || this.grantAged) {
          if (
            Atomics.compareExchange(cells, STATE, GRANT, this.pid) === GRANT
          ) {
            return { kind: "done" };
          }
          continue;
        }
      } else if (!isPidAlive(s)) {
        if (Atomics.compareExchange(cells, STATE, s, this.pid) === s) {
          Atomics.store(cells, COUNT, 0);
          return { kind: "done", died: s };
        }
        continue;
      }
      // Spin first, reading no clock: most holds end within the spin.
      if (this.spins < SPINS) {
        this.spins++;
        continue;
      }
      this.spins = 0;
      this.notified = false;
      const now = performance.now();
      const ms = Math.min(CHECK_MS, this.end - now);
      if (ms <= 0) return { kind: "timeout" };
      if (!this.starving && now - this.started > STARVE_MS) {
        this.starving = true;
        Atomics.add(cells, STARVING, 1);
      }
      this.#unwoken();
      Atomics.add(cells, PARKED, 1);
      return { kind: "park", seen: s, ms };
    }
  }

  #unwoken(): void {
    if (this.woken) {
      this.woken = false;
      Atomics.store(this.cells, WOKEN, 0);
    }
  }

  parked(result: ParkResult, seen: number, ms: number): void {
    Atomics.sub(this.cells, PARKED, 1);
    this.notified = result === "ok";
    // A release that woke us set WOKEN; we clear it when we park again or
    // leave, so releases meanwhile need not wake anyone else.
    if (this.notified) this.woken = true;
    this.grantAged = seen === GRANT && result === "timed-out" &&
      ms >= CHECK_MS;
  }

  leave(): void {
    this.#unwoken();
    Atomics.sub(this.cells, WAITERS, 1);
    if (this.starving) Atomics.sub(this.cells, STARVING, 1);
  }
}

/** Returns 0 on success, -1 on timeout, or the pid of a dead owner. */
function lockSync(cells: Int32Array, pid: number, end: number): number {
  if (Atomics.compareExchange(cells, STATE, 0, pid) === 0) return 0;
  if (end === -Infinity) return -1;
  const waiter = new LockWaiter(cells, pid, end);
  try {
    for (;;) {
      const step = waiter.next();
      if (step.kind === "done") return step.died ?? 0;
      if (step.kind === "timeout") return -1;
      waiter.parked(
        parkSync(cells, STATE, step.seen, step.ms),
        step.seen,
        step.ms,
      );
    }
  } finally {
    waiter.leave();
  }
}

async function lockAsync(
  cells: Int32Array,
  pid: number,
  end: number,
): Promise<number> {
  const waiter = new LockWaiter(cells, pid, end);
  try {
    for (;;) {
      const step = waiter.next();
      if (step.kind === "done") return step.died ?? 0;
      if (step.kind === "timeout") return -1;
      waiter.parked(
        await park(cells, STATE, step.seen, step.ms),
        step.seen,
        step.ms,
      );
    }
  } finally {
    waiter.leave();
  }
}

function unlock(cells: Int32Array): void {
  // Hand over only to a parked waiter: spinning ones take a free lock by
  // themselves, and a grant nobody is woken for would cost a notify.
  if (
    Atomics.load(cells, STARVING) > 0 && Atomics.load(cells, PARKED) > 0
  ) {
    Atomics.store(cells, STATE, GRANT);
    if (Atomics.notify(cells, STATE, 1) === 0) {
      // Nobody parked to take it (the waiters are spinning): free it.
      Atomics.compareExchange(cells, STATE, GRANT, 0);
      Atomics.notify(cells, STATE, 1);
    }
    return;
  }
  Atomics.store(cells, STATE, 0);
  if (
    Atomics.load(cells, PARKED) > 0 && Atomics.load(cells, WOKEN) === 0 &&
    Atomics.compareExchange(cells, WOKEN, 0, 1) === 0
  ) {
    if (Atomics.notify(cells, STATE, 1) === 0) Atomics.store(cells, WOKEN, 0);
  }
}

/** Frees a held lock's cells: one store when nobody waits. */
function releaseCells(cells: Int32Array): void {
  // A plain read first: a fresh process runs this interpreted, where each
  // Atomics call costs tens of ns. A stale 0 is caught by the atomic
  // re-check after the store; a stale non-zero only takes the slow path.
  if (cells[WAITERS] === 0) {
    Atomics.store(cells, STATE, 0);
    if (Atomics.load(cells, WAITERS) === 0) return;
    // A waiter arrived meanwhile: it may have parked on our pid.
    if (Atomics.load(cells, PARKED) > 0) Atomics.notify(cells, STATE, 1);
    return;
  }
  unlock(cells);
}

function ownerDied(what: string, pid: number): LockOwnerDiedError {
  return new LockOwnerDiedError(
    `${what}'s owner (process ${pid}) ended while holding it; this process now owns it: repair the data it guards, then release() it`,
  );
}

function lockCells(buffer: unknown): Int32Array {
  if (
    !(buffer instanceof SharedArrayBuffer) ||
    buffer.byteLength < LOCK_CELLS * 4
  ) {
    throw new TypeError(`received a lock state without its shared cells`);
  }
  return new Int32Array(buffer, 0, LOCK_CELLS);
}

/**
 * A lock shared by processes (Python's `multiprocessing.Lock`): one holder
 * at a time; any process may release it; releasing it while unlocked
 * throws.
 *
 * **Beyond Python: a robust lock.** The lock records its owner's pid. When
 * the owner ends (or is terminated) while holding it, the next waiter takes
 * it over within ~50 ms: its `acquire()` rejects (its `acquireSync()`
 * throws) with {@linkcode LockOwnerDiedError}, and it **owns the lock** —
 * repair what the lock guards, then `release()` it. Python would deadlock.
 *
 * **Fairness.** Barging keeps uncontended and lightly contended use fast;
 * a waiter that waits over 1 ms switches the lock to FIFO hand-off until it
 * is served, so no process starves.
 *
 * **Scoped use.** `using held = await lock.hold()` (or `lock.holdSync()`)
 * releases at the end of the scope, even when it throws. `hold()` throws
 * {@linkcode TimeoutError} when its `timeout` passes, since there is then
 * nothing to release.
 *
 * @example Guarding a shared value in scope
 * ```ts
 * import { Lock } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const lock = new Lock();
 * {
 *   using _held = await lock.hold();
 *   assert.equal(lock.locked(), true);
 * }
 * assert.equal(lock.locked(), false);
 * assert.equal(await lock.acquire({ timeout: 10 }), true);
 * assert.equal(lock.acquireSync({ block: false }), false);
 * lock.release();
 * ```
 */
export class Lock {
  readonly #cells: Int32Array;

  /** Creates an unlocked lock. */
  constructor() {
    const buffer = takeAdopted<SharedArrayBuffer>();
    this.#cells = buffer === undefined
      ? new Int32Array(new SharedArrayBuffer(LOCK_CELLS * 4))
      : lockCells(buffer);
  }

  /** The shared cells; what crosses into processes. */
  get buffer(): SharedArrayBuffer {
    return this.#cells.buffer as SharedArrayBuffer;
  }

  /**
   * Acquires the lock; resolves `true` once held, or `false` when
   * `block: false` finds it held or `timeout` ms pass first. Never blocks
   * the event loop. Rejects with {@linkcode LockOwnerDiedError} (holding the
   * lock) when its previous owner died holding it.
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    const cells = this.#cells;
    const pid = currentIdentity().pid;
    // Fast path without an async frame: one CAS, one resolved promise.
    if (
      options === undefined &&
      Atomics.compareExchange(cells, STATE, 0, pid) === 0
    ) return TRUE;
    const end = acquireEnd("Lock.acquire()", options);
    if (Atomics.compareExchange(cells, STATE, 0, pid) === 0) return TRUE;
    if (end === -Infinity) return this.#tryDead(pid);
    return lockAsync(cells, pid, end).then((r) => this.#result(r));
  }

  /**
   * Acquires the lock, blocking this thread meanwhile; returns as
   * {@linkcode Lock.acquire} resolves, and throws where it rejects.
   */
  acquireSync(options?: AcquireOptions): boolean {
    // The uncontended case in a few bytecodes: a fresh process runs it
    // interpreted before the JIT warms up, so every call saved counts.
    const pid = currentIdentity().pid;
    if (
      options === undefined &&
      Atomics.compareExchange(this.#cells, STATE, 0, pid) === 0
    ) return true;
    const end = acquireEnd("Lock.acquireSync()", options);
    return this.#result(lockSync(this.#cells, pid, end));
  }

  #tryDead(pid: number): Promise<boolean> {
    try {
      return Promise.resolve(
        this.#result(lockSync(this.#cells, pid, -Infinity)),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #result(r: number): boolean {
    if (r === 0) return true;
    if (r === -1) {
      // A non-blocking try also takes over a dead owner's lock.
      const s = Atomics.load(this.#cells, STATE);
      if (s > 0 && !isPidAlive(s)) {
        if (Atomics.compareExchange(this.#cells, STATE, s, me()) === s) {
          throw ownerDied("Lock", s);
        }
      }
      return false;
    }
    throw ownerDied("Lock", r);
  }

  /** Releases the lock; throws {@linkcode ProcessError} if it is not held. */
  release(): void {
    const cells = this.#cells;
    if (cells[STATE] <= 0) { // plain read; confirmed atomically below
      const s = Atomics.load(cells, STATE);
      if (s === 0 || s === GRANT) {
        throw new ProcessError("cannot release an unlocked Lock");
      }
    }
    releaseCells(cells);
  }

  /** Whether some process holds the lock now. */
  locked(): boolean {
    const s = Atomics.load(this.#cells, STATE);
    return s !== 0;
  }

  /** Acquires and returns a disposable that releases: `using h = await lock.hold()`. */
  async hold(options?: AcquireOptions): Promise<Held> {
    if (!await this.acquire(options)) throw timedOut("Lock", options);
    return held(() => this.release());
  }

  /** The blocking form of {@linkcode Lock.hold}: `using h = lock.holdSync()`. */
  holdSync(options?: AcquireOptions): Held {
    if (!this.acquireSync(options)) throw timedOut("Lock", options);
    return held(() => this.release());
  }

  /** Whether the current process holds it (for `Condition`). */
  _isOwned(): boolean {
    return Atomics.load(this.#cells, STATE) === me();
  }

  /** Releases fully and returns what `_acquireRestore` needs. */
  _releaseSave(): number {
    this.release();
    return 1;
  }

  /** Re-acquires after a `Condition` wait. */
  async _acquireRestore(_saved: number): Promise<void> {
    await this.acquire();
  }

  /** Re-acquires after a `Condition` wait, blocking. */
  _acquireRestoreSync(_saved: number): void {
    this.acquireSync();
  }

  /** `Lock { locked }`. */
  [Symbol.for("Deno.customInspect")](): string {
    const s = Atomics.load(this.#cells, STATE);
    return `${this.constructor.name} { ${
      s === 0 ? "unlocked" : s === GRANT ? "handing over" : `owner: ${s}`
    } }`;
  }
}

const TRUE = Promise.resolve(true);

/**
 * A reentrant lock (Python's `multiprocessing.RLock`): the process that
 * holds it may acquire it again, and must release it as many times. Only
 * the owner (by `getpid()`) may release it. Ownership is per process: two
 * async tasks of one process share it. Robust as {@linkcode Lock} is.
 *
 * @example
 * ```ts
 * import { RLock } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const lock = new RLock();
 * await lock.acquire();
 * await lock.acquire(); // again, from the same process
 * lock.release();
 * assert.equal(lock.locked(), true);
 * lock.release();
 * assert.equal(lock.locked(), false);
 * ```
 */
export class RLock {
  readonly #cells: Int32Array;

  /** Creates an unlocked reentrant lock. */
  constructor() {
    const buffer = takeAdopted<SharedArrayBuffer>();
    this.#cells = buffer === undefined
      ? new Int32Array(new SharedArrayBuffer(LOCK_CELLS * 4))
      : lockCells(buffer);
  }

  /** The shared cells; what crosses into processes. */
  get buffer(): SharedArrayBuffer {
    return this.#cells.buffer as SharedArrayBuffer;
  }

  /** Acquires (again, if this process holds it); as {@linkcode Lock.acquire}. */
  acquire(options?: AcquireOptions): Promise<boolean> {
    const cells = this.#cells;
    const pid = currentIdentity().pid;
    // Fast path without an async frame, as Lock.acquire().
    if (
      options === undefined &&
      Atomics.compareExchange(cells, STATE, 0, pid) === 0
    ) {
      cells[COUNT] = 1;
      return TRUE;
    }
    const end = acquireEnd("RLock.acquire()", options);
    try {
      if (Atomics.load(cells, STATE) === pid) {
        cells[COUNT]++;
        return TRUE;
      }
      if (end === -Infinity) {
        return Promise.resolve(this.#result(lockSync(cells, pid, end)));
      }
      if (Atomics.compareExchange(cells, STATE, 0, pid) === 0) {
        cells[COUNT] = 1;
        return TRUE;
      }
      return lockAsync(cells, pid, end).then((r) => this.#result(r));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The blocking form of {@linkcode RLock.acquire}. */
  acquireSync(options?: AcquireOptions): boolean {
    const cells = this.#cells;
    const pid = currentIdentity().pid;
    // COUNT is written only by the owner, under the lock: plain accesses
    // suffice (the lock's atomics order them), and save a locked
    // instruction on every acquire and release.
    if (options === undefined) {
      if (Atomics.compareExchange(cells, STATE, 0, pid) === 0) {
        cells[COUNT] = 1;
        return true;
      }
    }
    const end = acquireEnd("RLock.acquireSync()", options);
    if (Atomics.load(cells, STATE) === pid) {
      cells[COUNT]++;
      return true;
    }
    return this.#result(lockSync(cells, pid, end));
  }

  #result(r: number): boolean {
    if (r === -1) {
      const s = Atomics.load(this.#cells, STATE);
      if (s > 0 && !isPidAlive(s)) {
        if (Atomics.compareExchange(this.#cells, STATE, s, me()) === s) {
          r = s;
        } else return false;
      } else return false;
    }
    this.#cells[COUNT] = 1;
    if (r !== 0) throw ownerDied("RLock", r);
    return true;
  }

  /**
   * Releases one level; throws {@linkcode ProcessError} if this process
   * does not hold it.
   */
  release(): void {
    const cells = this.#cells;
    // A plain read suffices: only this process writes its own pid there,
    // and it always sees its own last write.
    const s = cells[STATE];
    if (s !== me()) {
      throw new ProcessError(
        s === 0 || s === GRANT
          ? "cannot release an un-acquired RLock"
          : `cannot release an RLock held by process ${s} from process ${me()}`,
      );
    }
    if (--cells[COUNT] > 0) return;
    releaseCells(cells);
  }

  /** Whether some process holds it now. */
  locked(): boolean {
    return Atomics.load(this.#cells, STATE) !== 0;
  }

  /** Acquires and returns a disposable that releases one level. */
  async hold(options?: AcquireOptions): Promise<Held> {
    if (!await this.acquire(options)) throw timedOut("RLock", options);
    return held(() => this.release());
  }

  /** The blocking form of {@linkcode RLock.hold}. */
  holdSync(options?: AcquireOptions): Held {
    if (!this.acquireSync(options)) throw timedOut("RLock", options);
    return held(() => this.release());
  }

  /** Whether the current process holds it (for `Condition`). */
  _isOwned(): boolean {
    return Atomics.load(this.#cells, STATE) === me();
  }

  /** Releases every level and returns the count to restore. */
  _releaseSave(): number {
    if (!this._isOwned()) {
      throw new ProcessError("cannot release an un-acquired RLock");
    }
    const count = Atomics.load(this.#cells, COUNT);
    Atomics.store(this.#cells, COUNT, 1);
    this.release();
    return count;
  }

  /** Re-acquires and restores the count after a `Condition` wait. */
  async _acquireRestore(saved: number): Promise<void> {
    try {
      await this.acquire();
    } finally {
      if (this._isOwned()) Atomics.store(this.#cells, COUNT, saved);
    }
  }

  /** Blocking form of `_acquireRestore`. */
  _acquireRestoreSync(saved: number): void {
    try {
      this.acquireSync();
    } finally {
      if (this._isOwned()) Atomics.store(this.#cells, COUNT, saved);
    }
  }

  /** `RLock { owner, count }`. */
  [Symbol.for("Deno.customInspect")](): string {
    const s = Atomics.load(this.#cells, STATE);
    return s === 0
      ? "RLock { unlocked }"
      : `RLock { owner: ${s}, count: ${Atomics.load(this.#cells, COUNT)} }`;
  }
}

// Semaphore cells --------------------------------------------------------------
//
// The same scheme as the lock's: takers barge while nobody starves; once a
// waiter has waited over STARVE_MS, releases hand units to parked waiters
// (GRANTS) instead of adding them to VALUE, in FIFO order.

const VALUE = 0;
// WAITERS = 1, PARKED = 2, STARVING = 3 as for locks
const GRANTS = 4;
const INITIAL = 5;
const SEM_CELLS = 6;

/** One waiter's progress through a semaphore acquire. */
class SemWaiter {
  started = performance.now();
  starving = false;
  notified = false;
  grantAged = false;
  spins = 0;
  constructor(readonly cells: Int32Array, readonly end: number) {
    Atomics.add(cells, WAITERS, 1);
  }

  next(): { kind: "done" } | { kind: "timeout" } | {
    kind: "park";
    seen: number;
    ms: number;
  } {
    const cells = this.cells;
    for (;;) {
      // A woken waiter takes its grant first, so that none is left behind.
      const g = Atomics.load(cells, GRANTS);
      if (g > 0 && (this.notified || this.grantAged)) {
        if (Atomics.compareExchange(cells, GRANTS, g, g - 1) === g) {
          return { kind: "done" };
        }
        continue;
      }
      const v = Atomics.load(cells, VALUE);
      if (v > 0) {
        if (Atomics.compareExchange(cells, VALUE, v, v - 1) === v) {
          return { kind: "done" };
        }
        continue;
      }
      this.notified = false;
      const ms = slice(this.end);
      if (ms <= 0) return { kind: "timeout" };
      if (this.spins < SPINS) {
        this.spins++;
        continue;
      }
      if (!this.starving && performance.now() - this.started > STARVE_MS) {
        this.starving = true;
        Atomics.add(cells, STARVING, 1);
      }
      Atomics.add(cells, PARKED, 1);
      return { kind: "park", seen: v, ms };
    }
  }

  parked(result: ParkResult, ms: number): void {
    const cells = this.cells;
    Atomics.sub(cells, PARKED, 1);
    this.notified = result === "ok";
    this.grantAged = result === "timed-out" && ms >= CHECK_MS &&
      Atomics.load(cells, GRANTS) > 0;
  }

  leave(): void {
    const cells = this.cells;
    if (this.starving) Atomics.sub(cells, STARVING, 1);
    if (Atomics.sub(cells, WAITERS, 1) === 1) {
      // The last waiter gone: grants nobody will claim return to the pool.
      for (let g = Atomics.load(cells, GRANTS); g > 0;) {
        const seen = Atomics.compareExchange(cells, GRANTS, g, 0);
        if (seen === g) {
          Atomics.add(cells, VALUE, g);
          Atomics.notify(cells, VALUE, g);
          break;
        }
        g = seen;
      }
    }
  }
}

function semTry(cells: Int32Array): boolean {
  for (;;) {
    const v = Atomics.load(cells, VALUE);
    if (v <= 0) return false;
    if (Atomics.compareExchange(cells, VALUE, v, v - 1) === v) return true;
  }
}

function semSync(cells: Int32Array, end: number): boolean {
  if (semTry(cells)) return true;
  if (end === -Infinity) return false;
  const waiter = new SemWaiter(cells, end);
  try {
    for (;;) {
      const step = waiter.next();
      if (step.kind !== "park") return step.kind === "done";
      waiter.parked(parkSync(cells, VALUE, step.seen, step.ms), step.ms);
    }
  } finally {
    waiter.leave();
  }
}

async function semAsync(cells: Int32Array, end: number): Promise<boolean> {
  const waiter = new SemWaiter(cells, end);
  try {
    for (;;) {
      const step = waiter.next();
      if (step.kind !== "park") return step.kind === "done";
      waiter.parked(await park(cells, VALUE, step.seen, step.ms), step.ms);
    }
  } finally {
    waiter.leave();
  }
}

function semRelease(cells: Int32Array, n: number): void {
  if (Atomics.load(cells, STARVING) > 0 && Atomics.load(cells, WAITERS) > 0) {
    Atomics.add(cells, GRANTS, n);
    const woken = Atomics.notify(cells, VALUE, n);
    // Units nobody parked was woken for go back to the common pool.
    for (let left = n - woken; left > 0;) {
      const g = Atomics.load(cells, GRANTS);
      if (g <= 0) break;
      const take = Math.min(g, left);
      if (Atomics.compareExchange(cells, GRANTS, g, g - take) === g) {
        Atomics.add(cells, VALUE, take);
        Atomics.notify(cells, VALUE, take);
        left -= take;
      }
    }
    return;
  }
  Atomics.add(cells, VALUE, n);
  if (Atomics.load(cells, PARKED) > 0) Atomics.notify(cells, VALUE, n);
}

function checkCount(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(
      `${name} must be an integer, received ${describe(value)}`,
    );
  }
  if (value < 0 || value > 0x3fffffff) {
    throw new RangeError(
      `${name} must be between 0 and ${0x3fffffff}, received ${value}`,
    );
  }
  return value;
}

/**
 * A counting semaphore shared by processes (Python's
 * `multiprocessing.Semaphore`): `acquire()` takes a unit, waiting while
 * there is none; `release()` gives one back. Fair as {@linkcode Lock} is.
 *
 * @example Two units
 * ```ts
 * import { Semaphore } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const sem = new Semaphore(2);
 * assert.equal(await sem.acquire(), true);
 * assert.equal(sem.acquireSync(), true);
 * assert.equal(await sem.acquire({ timeout: 5 }), false);
 * sem.release();
 * assert.equal(sem.getValue(), 1);
 * ```
 */
export class Semaphore {
  readonly #cells: Int32Array;

  /** Creates a semaphore with `value` units (1 by default); `value ≥ 0`. */
  constructor(value: number = 1) {
    const buffer = takeAdopted<SharedArrayBuffer>();
    if (buffer !== undefined) {
      if (buffer.byteLength < SEM_CELLS * 4) {
        throw new TypeError("received a semaphore state without its cells");
      }
      this.#cells = new Int32Array(buffer);
      return;
    }
    const initial = checkCount(`new ${new.target.name}() value`, value);
    this.#cells = new Int32Array(new SharedArrayBuffer(SEM_CELLS * 4));
    this.#cells[VALUE] = initial;
    this.#cells[INITIAL] = initial;
  }

  /** The shared cells; what crosses into processes. */
  get buffer(): SharedArrayBuffer {
    return this.#cells.buffer as SharedArrayBuffer;
  }

  /**
   * Takes a unit; resolves `true`, or `false` when `block: false` finds none
   * or `timeout` ms pass first. Never blocks the event loop.
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    const end = acquireEnd(`${this.constructor.name}.acquire()`, options);
    const cells = this.#cells;
    if (semTry(cells)) return TRUE;
    if (end === -Infinity) return FALSE;
    return semAsync(cells, end);
  }

  /** The blocking form of {@linkcode Semaphore.acquire}. */
  acquireSync(options?: AcquireOptions): boolean {
    const end = acquireEnd(`${this.constructor.name}.acquireSync()`, options);
    return semSync(this.#cells, end);
  }

  /** Gives a unit back, waking a waiter. */
  release(): void {
    semRelease(this.#cells, 1);
  }

  /**
   * The number of units available now (Python's `get_value()`), counting
   * units a release handed to a waiter that has not woken yet.
   */
  getValue(): number {
    return Atomics.load(this.#cells, VALUE) +
      Atomics.load(this.#cells, GRANTS);
  }

  /** Takes a unit and returns a disposable that gives it back. */
  async hold(options?: AcquireOptions): Promise<Held> {
    if (!await this.acquire(options)) {
      throw timedOut(this.constructor.name, options);
    }
    return held(() => this.release());
  }

  /** The blocking form of {@linkcode Semaphore.hold}. */
  holdSync(options?: AcquireOptions): Held {
    if (!this.acquireSync(options)) {
      throw timedOut(this.constructor.name, options);
    }
    return held(() => this.release());
  }

  /** The initial value (what a bounded semaphore may not exceed). */
  protected get _initial(): number {
    return Atomics.load(this.#cells, INITIAL);
  }

  /** `Semaphore { value }`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `${this.constructor.name} { value: ${this.getValue()} }`;
  }
}

const FALSE = Promise.resolve(false);

/**
 * A semaphore that may not be released above its initial value (Python's
 * `multiprocessing.BoundedSemaphore`): such a `release()` throws
 * {@linkcode ProcessError}, catching a release without its acquire.
 *
 * @example
 * ```ts
 * import { BoundedSemaphore, ProcessError } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const sem = new BoundedSemaphore(1);
 * await sem.acquire();
 * sem.release();
 * assert.throws(() => sem.release(), ProcessError);
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  /** Gives a unit back; throws if that would exceed the initial value. */
  override release(): void {
    const view = new Int32Array(this.buffer);
    if (
      Atomics.load(view, VALUE) + Atomics.load(view, GRANTS) >= this._initial
    ) {
      throw new ProcessError(
        `cannot release a BoundedSemaphore above its initial value ${this._initial}`,
      );
    }
    super.release();
  }
}

// Event ------------------------------------------------------------------------

const FLAG = 0;

/**
 * A flag shared by processes (Python's `multiprocessing.Event`): `wait()`
 * blocks until some process calls `set()`.
 *
 * @example
 * ```ts
 * import { Event } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const ready = new Event();
 * assert.equal(await ready.wait(5), false);
 * ready.set();
 * assert.equal(ready.isSet(), true);
 * assert.equal(await ready.wait(), true);
 * ```
 */
export class Event {
  readonly #cells: Int32Array;

  /** Creates an event that is not set. */
  constructor() {
    const buffer = takeAdopted<SharedArrayBuffer>();
    this.#cells = new Int32Array(buffer ?? new SharedArrayBuffer(4));
  }

  /** The shared cell; what crosses into processes. */
  get buffer(): SharedArrayBuffer {
    return this.#cells.buffer as SharedArrayBuffer;
  }

  /** Whether the flag is set. */
  isSet(): boolean {
    return Atomics.load(this.#cells, FLAG) === 1;
  }

  /** Sets the flag and wakes every waiter. */
  set(): void {
    Atomics.store(this.#cells, FLAG, 1);
    wakeAll(this.#cells, FLAG);
  }

  /** Clears the flag. */
  clear(): void {
    Atomics.store(this.#cells, FLAG, 0);
  }

  /**
   * Resolves `true` once the flag is set, or `false` after `timeoutMs`
   * (Python's `wait(timeout)`). Never blocks the event loop.
   */
  wait(timeoutMs?: number): Promise<boolean> {
    const end = deadlineOf("Event.wait() timeoutMs", timeoutMs);
    if (this.isSet()) return TRUE;
    return until(this.#cells, FLAG, end, () => this.isSet());
  }

  /** The blocking form of {@linkcode Event.wait}. */
  waitSync(timeoutMs?: number): boolean {
    const end = deadlineOf("Event.waitSync() timeoutMs", timeoutMs);
    return untilSync(this.#cells, FLAG, end, () => this.isSet());
  }

  /** `Event { set }`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `Event { ${this.isSet() ? "set" : "unset"} }`;
  }
}

// Condition --------------------------------------------------------------------
//
// Every change of the waiter table happens under the condition's lock, so a
// plain table suffices: a waiter enters [id, pid] in a free slot before it
// releases the lock; notify(n) marks the n oldest live entries (negating the
// id) and bumps SEQ; the waiter, woken on SEQ, sees its mark. A waiter that
// times out re-takes the lock and then looks at its mark once more, so a
// notification is never lost between the timeout and the lock.

const SEQ = 0;
const NEXT_ID = 1;
const SLOTS = 2;
/** Most processes (or tasks) waiting on one condition at once. */
const CONDITION_CAPACITY = 256;
const COND_CELLS = SLOTS + 2 * CONDITION_CAPACITY;

/**
 * A lock a `Condition` can use.
 *
 * @example
 * ```ts
 * import { Condition, type ConditionLock, Lock } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const lock: ConditionLock = new Lock();
 * const cond = new Condition(lock);
 * assert.equal(cond.lock, lock);
 * {
 *   using _held = await cond.hold();
 *   assert.equal(lock.locked(), true); // holding the condition holds the lock
 * }
 * assert.equal(lock.locked(), false);
 * ```
 */
export type ConditionLock = Lock | RLock;

/**
 * A condition variable shared by processes (Python's
 * `multiprocessing.Condition`): over a `Lock` or `RLock` (a new `RLock` by
 * default), `wait()` releases the lock until another process calls
 * `notify()`, then takes it again. Waiters are notified oldest first. At
 * most 256 waiters at once.
 *
 * @example
 * ```ts
 * import { Condition } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const cond = new Condition();
 * using _held = await cond.hold();
 * assert.equal(await cond.wait(5), false); // nobody notified
 * cond.notifyAll();
 * ```
 */
export class Condition {
  readonly #lock: ConditionLock;
  readonly #cells: Int32Array;

  /** Creates a condition over `lock`, or over a new `RLock`. */
  constructor(lock?: ConditionLock) {
    const buffer = takeAdopted<SharedArrayBuffer>();
    if (
      lock !== undefined && !(lock instanceof Lock) && !(lock instanceof RLock)
    ) {
      throw new TypeError(
        `new Condition() expected a Lock or an RLock, received ${
          describe(lock)
        }`,
      );
    }
    this.#lock = lock ?? new RLock();
    this.#cells = new Int32Array(
      buffer ?? new SharedArrayBuffer(COND_CELLS * 4),
    );
  }

  /** The shared cells; what crosses into processes (with the lock). */
  get buffer(): SharedArrayBuffer {
    return this.#cells.buffer as SharedArrayBuffer;
  }

  /** The lock this condition uses. */
  get lock(): ConditionLock {
    return this.#lock;
  }

  /** Acquires the underlying lock. */
  acquire(options?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(options);
  }

  /** Acquires the underlying lock, blocking. */
  acquireSync(options?: AcquireOptions): boolean {
    return this.#lock.acquireSync(options);
  }

  /** Releases the underlying lock. */
  release(): void {
    this.#lock.release();
  }

  /** Acquires the lock for a `using` scope. */
  hold(options?: AcquireOptions): Promise<Held> {
    return this.#lock.hold(options);
  }

  /** Acquires the lock for a `using` scope, blocking. */
  holdSync(options?: AcquireOptions): Held {
    return this.#lock.holdSync(options);
  }

  #enter(method: string): { slot: number; id: number; saved: number } {
    if (!this.#lock._isOwned()) {
      throw new ProcessError(
        `cannot ${method} on a Condition whose lock this process does not hold: acquire it first`,
      );
    }
    const cells = this.#cells;
    const id = (Atomics.add(cells, NEXT_ID, 1) & 0x3fffffff) + 1;
    for (let i = 0; i < CONDITION_CAPACITY; i++) {
      const slot = SLOTS + 2 * i;
      if (Atomics.load(cells, slot) === 0) {
        Atomics.store(cells, slot + 1, me());
        Atomics.store(cells, slot, id);
        return { slot, id, saved: this.#lock._releaseSave() };
      }
    }
    throw new ProcessError(
      `a Condition holds at most ${CONDITION_CAPACITY} waiters at once`,
    );
  }

  #leave(slot: number, id: number): boolean {
    const notified = Atomics.load(this.#cells, slot) === -id;
    Atomics.store(this.#cells, slot, 0);
    return notified;
  }

  /**
   * Releases the lock, waits until notified or `timeoutMs` passes, then
   * re-takes the lock; resolves `true` when notified, `false` on timeout.
   * The caller must hold the lock.
   */
  async wait(timeoutMs?: number): Promise<boolean> {
    const end = deadlineOf("Condition.wait() timeoutMs", timeoutMs);
    const { slot, id, saved } = this.#enter("wait");
    let notified = false;
    try {
      await until(
        this.#cells,
        SEQ,
        end,
        () => Atomics.load(this.#cells, slot) === -id,
      );
    } finally {
      try {
        await this.#lock._acquireRestore(saved);
      } finally {
        notified = this.#leave(slot, id);
      }
    }
    return notified;
  }

  /** The blocking form of {@linkcode Condition.wait}. */
  waitSync(timeoutMs?: number): boolean {
    const end = deadlineOf("Condition.waitSync() timeoutMs", timeoutMs);
    const { slot, id, saved } = this.#enter("waitSync");
    let notified = false;
    try {
      untilSync(
        this.#cells,
        SEQ,
        end,
        () => Atomics.load(this.#cells, slot) === -id,
      );
    } finally {
      try {
        this.#lock._acquireRestoreSync(saved);
      } finally {
        notified = this.#leave(slot, id);
      }
    }
    return notified;
  }

  /**
   * Waits until `predicate()` is truthy, re-checking after each
   * notification; returns its last value (Python's `wait_for`). The caller
   * must hold the lock.
   */
  async waitFor<T>(predicate: () => T, timeoutMs?: number): Promise<T> {
    if (typeof predicate !== "function") {
      throw new TypeError(
        `Condition.waitFor() expected a predicate function, received ${
          describe(predicate)
        }`,
      );
    }
    const end = deadlineOf("Condition.waitFor() timeoutMs", timeoutMs);
    let result = predicate();
    while (!result) {
      const left = end - performance.now();
      if (left <= 0) break;
      await this.wait(left === Infinity ? undefined : left);
      result = predicate();
    }
    return result;
  }

  /** The blocking form of {@linkcode Condition.waitFor}. */
  waitForSync<T>(predicate: () => T, timeoutMs?: number): T {
    if (typeof predicate !== "function") {
      throw new TypeError(
        `Condition.waitForSync() expected a predicate function, received ${
          describe(predicate)
        }`,
      );
    }
    const end = deadlineOf("Condition.waitForSync() timeoutMs", timeoutMs);
    let result = predicate();
    while (!result) {
      const left = end - performance.now();
      if (left <= 0) break;
      this.waitSync(left === Infinity ? undefined : left);
      result = predicate();
    }
    return result;
  }

  /** Wakes the `n` oldest waiters (1 by default); the caller holds the lock. */
  notify(n: number = 1): void {
    if (n !== Infinity) checkCount("Condition.notify() n", n);
    if (!this.#lock._isOwned()) {
      throw new ProcessError(
        "cannot notify on a Condition whose lock this process does not hold: acquire it first",
      );
    }
    const cells = this.#cells;
    const live: [number, number][] = [];
    for (let i = 0; i < CONDITION_CAPACITY; i++) {
      const slot = SLOTS + 2 * i;
      const id = Atomics.load(cells, slot);
      if (id <= 0) continue;
      if (!isPidAlive(Atomics.load(cells, slot + 1))) {
        Atomics.store(cells, slot, 0); // a waiter that died
        continue;
      }
      live.push([id, slot]);
    }
    if (live.length === 0) return;
    live.sort((a, b) => a[0] - b[0]);
    for (const [id, slot] of live.slice(0, n)) {
      Atomics.store(cells, slot, -id);
    }
    Atomics.add(cells, SEQ, 1);
    wakeAll(cells, SEQ);
  }

  /** Wakes every waiter; the caller holds the lock. */
  notifyAll(): void {
    this.notify(Infinity);
  }

  /** `Condition { lock }`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `Condition { lock: ${this.#lock.constructor.name} }`;
  }
}

// Barrier ------------------------------------------------------------------------
//
// Python's threading.Barrier, over a Condition whose state lives in shared
// cells: FILLING while parties arrive, DRAINING while they leave, RESETTING
// while a reset waits for them to leave, BROKEN after abort or timeout.

// Set by Barrier's static block: the reducer's access to private state.
let barrierState: (barrier: Barrier) => BarrierState;
let preloadAction: (barrier: Barrier) => void;

const FILLING = 0;
const DRAINING = 1;
const RESETTING = -1;
const BROKEN = -2;
const PENDING = 2; // all arrived; the action waits for a party that can run it
const B_STATE = 0;
const B_COUNT = 1;
const B_PARTIES = 2;

/**
 * Options of `new Barrier(parties, options)`.
 *
 * @example
 * ```ts
 * import { Barrier, type BarrierOptions } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * let actions = 0;
 * const options: BarrierOptions = { action: () => actions++, timeout: 1000 };
 * const barrier = new Barrier(1, options);
 * assert.equal(await barrier.wait(), 0);
 * assert.equal(actions, 1); // run once all parties had arrived
 * ```
 */
export interface BarrierOptions {
  /**
   * Called by one of the parties when all have arrived, before any is
   * released. It crosses into processes as a target does: export it from
   * the main module or register it with `registerTargets`.
   */
  action?: () => unknown;
  /** The default timeout of `wait()`, in ms. */
  timeout?: number;
}

/**
 * A barrier for a fixed number of parties (Python's
 * `multiprocessing.Barrier`): each `wait()` blocks until `parties`
 * processes have called it, then all go on. `abort()` or a timeout breaks
 * it: waiters then throw {@linkcode BrokenBarrierError}.
 *
 * @example
 * ```ts
 * import { Barrier, BrokenBarrierError } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const barrier = new Barrier(1);
 * assert.equal(await barrier.wait(), 0);
 * barrier.abort();
 * assert.equal(barrier.broken, true);
 * await assert.rejects(barrier.wait(), BrokenBarrierError);
 * ```
 */
export class Barrier {
  readonly #cond: Condition;
  readonly #cells: Int32Array;
  readonly #timeout: number | undefined;
  #action: (() => unknown) | undefined;
  readonly #locator: TargetLocator | undefined = undefined;

  /** Creates a barrier for `parties` processes. */
  constructor(parties: number, options: BarrierOptions = {}) {
    const state = takeAdopted<RevivedBarrier>();
    if (state !== undefined) {
      this.#cond = state.cond;
      this.#cells = new Int32Array(state.cells);
      this.#timeout = state.timeout;
      this.#locator = state.action;
      return;
    }
    if (
      typeof parties !== "number" || !Number.isInteger(parties) || parties < 1
    ) {
      throw new (typeof parties === "number" ? RangeError : TypeError)(
        `new Barrier() parties must be an integer ≥ 1, received ${
          describe(parties)
        }`,
      );
    }
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `new Barrier() expected options such as { action, timeout }, received ${
          describe(options)
        }`,
      );
    }
    if (options.action !== undefined && typeof options.action !== "function") {
      throw new TypeError(
        `new Barrier() options.action must be a function, received ${
          describe(options.action)
        }`,
      );
    }
    deadlineOf("new Barrier() options.timeout", options.timeout);
    this.#timeout = options.timeout;
    this.#action = options.action;
    this.#cond = new Condition(new Lock());
    this.#cells = new Int32Array(new SharedArrayBuffer(16));
    this.#cells[B_PARTIES] = parties;
  }

  static {
    // What crosses into a process, reachable from the reducer below without
    // a public method.
    barrierState = (barrier) => ({
      lock: barrier.#cond.lock.buffer,
      cond: barrier.#cond.buffer,
      cells: barrier.#cells.buffer as SharedArrayBuffer,
      timeout: barrier.#timeout,
      action: barrier.#locator ??
        (barrier.#action === undefined
          ? undefined
          : locateTarget(barrier.#action, "Barrier action")),
    });
    // Starts importing a received action, so that waitSync() can run it.
    preloadAction = (barrier) => {
      const locator = barrier.#locator;
      if (locator === undefined || barrier.#action !== undefined) return;
      resolveTarget(locator).then((action) => {
        barrier.#action ??= action as () => unknown;
      }, () => {/* wait() imports it again and reports the failure */});
    };
  }

  /** How many processes must call `wait()` to pass. */
  get parties(): number {
    return Atomics.load(this.#cells, B_PARTIES);
  }

  /** How many processes are waiting now. */
  get nWaiting(): number {
    return Atomics.load(this.#cells, B_STATE) === FILLING
      ? Atomics.load(this.#cells, B_COUNT)
      : 0;
  }

  /** Whether the barrier is broken (aborted, or a wait timed out). */
  get broken(): boolean {
    return Atomics.load(this.#cells, B_STATE) === BROKEN;
  }

  #state(): number {
    return Atomics.load(this.#cells, B_STATE);
  }

  #set(state: number): void {
    Atomics.store(this.#cells, B_STATE, state);
  }

  async #runAction(): Promise<void> {
    if (this.#action === undefined && this.#locator !== undefined) {
      this.#action = await resolveTarget(this.#locator) as () => unknown;
    }
    await this.#action?.();
  }

  #runActionSync(): void {
    if (this.#action === undefined && this.#locator !== undefined) {
      throw new TypeError(
        "this process has not loaded the Barrier's action yet: use await barrier.wait() here (it imports the action's module)",
      );
    }
    const result = this.#action?.();
    if (result instanceof Promise) {
      throw new TypeError(
        "the Barrier's action returned a promise, which waitSync() cannot wait for: use await barrier.wait()",
      );
    }
  }

  #break(): void {
    this.#set(BROKEN);
    this.#cond.notifyAll();
  }

  /**
   * Waits until all parties have arrived; resolves to this party's arrival
   * index (0 … parties − 1), or rejects with {@linkcode BrokenBarrierError}
   * when the barrier is (or becomes) broken or `timeoutMs` passes.
   */
  async wait(timeoutMs?: number): Promise<number> {
    const timeout = validateWait(timeoutMs ?? this.#timeout);
    using _held = await this.#cond.hold();
    while (this.#passing()) await this.#cond.wait();
    if (this.#state() < 0) throw broken();
    const index = Atomics.add(this.#cells, B_COUNT, 1);
    try {
      if (index + 1 !== this.parties) {
        const passed = await this.#cond.waitFor(
          () => this.#state() !== FILLING,
          timeout,
        );
        if (!passed) {
          this.#break();
          throw broken();
        }
        if (this.#state() < 0) throw broken();
        if (this.#state() !== PENDING) return index;
      }
      // The last to arrive runs the action, or the first woken async party
      // when the last one (a waitSync()) could not load it.
      try {
        await this.#runAction();
        this.#set(DRAINING);
        this.#cond.notifyAll();
      } catch (error) {
        this.#break();
        throw error;
      }
      return index;
    } finally {
      this.#exit();
    }
  }

  /** The blocking form of {@linkcode Barrier.wait}. */
  waitSync(timeoutMs?: number): number {
    const timeout = validateWait(timeoutMs ?? this.#timeout);
    using _held = this.#cond.holdSync();
    while (this.#passing()) this.#cond.waitSync();
    if (this.#state() < 0) throw broken();
    const index = Atomics.add(this.#cells, B_COUNT, 1);
    try {
      if (index + 1 === this.parties) {
        if (!this.#canRunSync()) {
          // The action's module is still loading in this process: leave
          // the action to a party that can run it.
          this.#set(PENDING);
          this.#cond.notifyAll();
        } else {
          this.#runLast();
          return index;
        }
      }
      const passed = this.#cond.waitForSync(() => {
        const state = this.#state();
        return state !== FILLING &&
          (state !== PENDING || this.#canRunSync());
      }, timeout);
      if (!passed) {
        this.#break();
        throw broken();
      }
      if (this.#state() < 0) throw broken();
      if (this.#state() === PENDING) this.#runLast();
      return index;
    } finally {
      this.#exit();
    }
  }

  #runLast(): void {
    try {
      this.#runActionSync();
      this.#set(DRAINING);
      this.#cond.notifyAll();
    } catch (error) {
      this.#break();
      throw error;
    }
  }

  #canRunSync(): boolean {
    return this.#action !== undefined || this.#locator === undefined;
  }

  /** Whether the previous round is still leaving (or resetting). */
  #passing(): boolean {
    const state = this.#state();
    return state === DRAINING || state === RESETTING || state === PENDING;
  }

  #exit(): void {
    if (Atomics.sub(this.#cells, B_COUNT, 1) === 1) {
      const state = this.#state();
      if (state === RESETTING || state === DRAINING) {
        this.#set(FILLING);
        this.#cond.notifyAll();
      }
    }
  }

  /**
   * Returns the barrier to its initial state; parties waiting now reject
   * with {@linkcode BrokenBarrierError}.
   */
  async reset(): Promise<void> {
    using _held = await this.#cond.hold();
    this.#resetLocked();
  }

  /** The blocking form of {@linkcode Barrier.reset}. */
  resetSync(): void {
    using _held = this.#cond.holdSync();
    this.#resetLocked();
  }

  #resetLocked(): void {
    if (Atomics.load(this.#cells, B_COUNT) > 0) {
      const state = this.#state();
      if (state === FILLING || state === BROKEN || state === PENDING) {
        this.#set(RESETTING);
      }
    } else this.#set(FILLING);
    this.#cond.notifyAll();
  }

  /**
   * Breaks the barrier: current and future waiters reject with
   * {@linkcode BrokenBarrierError} until `reset()`.
   */
  abort(): void {
    using _held = this.#cond.holdSync();
    this.#break();
  }

  /** `Barrier { parties, nWaiting, broken }`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `Barrier { parties: ${this.parties}, nWaiting: ${this.nWaiting}${
      this.broken ? ", broken" : ""
    } }`;
  }
}

/** What a `Barrier` crosses as. */
interface BarrierState {
  lock: SharedArrayBuffer;
  cond: SharedArrayBuffer;
  cells: SharedArrayBuffer;
  timeout: number | undefined;
  action: TargetLocator | undefined;
}

function validateWait(timeout: unknown): number | undefined {
  deadlineOf("Barrier.wait() timeoutMs", timeout);
  return timeout as number | undefined;
}

function broken(): BrokenBarrierError {
  return new BrokenBarrierError(
    "the barrier is broken (aborted, reset or timed out)",
  );
}

interface RevivedBarrier {
  cond: Condition;
  cells: SharedArrayBuffer;
  timeout: number | undefined;
  action: TargetLocator | undefined;
}

// Crossing into processes -------------------------------------------------------

/** The state a `Lock` or `RLock` crosses as. */
export interface LockState {
  /** The lock's cells. */
  b: SharedArrayBuffer;
  /** Whether it is an `RLock`. */
  r: boolean;
}

/** Reduces a `Lock` or `RLock` (for objects that hold one). */
export function reduceLock(lock: Lock | RLock): LockState {
  return { b: lock.buffer, r: lock instanceof RLock };
}

/** Revives what {@linkcode reduceLock} returned. */
export function reviveLock(state: LockState): Lock | RLock {
  return adopt(state.b, () => state.r ? new RLock() : new Lock());
}

function reviveCondition(
  lock: LockState,
  cells: SharedArrayBuffer,
): Condition {
  const revivedLock = reviveLock(lock);
  return adopt(cells, () => new Condition(revivedLock));
}

registerReducer({
  name: "multiprocessing.Lock",
  type: Lock,
  reduce: (lock) => lock.buffer,
  revive: (buffer: SharedArrayBuffer) => adopt(buffer, () => new Lock()),
});
registerReducer({
  name: "multiprocessing.RLock",
  type: RLock,
  reduce: (lock) => lock.buffer,
  revive: (buffer: SharedArrayBuffer) => adopt(buffer, () => new RLock()),
});
registerReducer({
  name: "multiprocessing.Semaphore",
  type: Semaphore,
  reduce: (sem) => sem.buffer,
  revive: (buffer: SharedArrayBuffer) => adopt(buffer, () => new Semaphore()),
});
registerReducer({
  name: "multiprocessing.BoundedSemaphore",
  type: BoundedSemaphore,
  reduce: (sem) => sem.buffer,
  revive: (buffer: SharedArrayBuffer) =>
    adopt(buffer, () => new BoundedSemaphore()),
});
registerReducer({
  name: "multiprocessing.Event",
  type: Event,
  reduce: (event) => event.buffer,
  revive: (buffer: SharedArrayBuffer) => adopt(buffer, () => new Event()),
});
registerReducer({
  name: "multiprocessing.Condition",
  type: Condition,
  reduce: (cond) => ({ lock: reduceLock(cond.lock), cells: cond.buffer }),
  revive: (state: { lock: LockState; cells: SharedArrayBuffer }) =>
    reviveCondition(state.lock, state.cells),
});
registerReducer({
  name: "multiprocessing.Barrier",
  type: Barrier,
  reduce: (barrier) => barrierState(barrier),
  revive: (state: BarrierState) => {
    const cond = reviveCondition({ b: state.lock, r: false }, state.cond);
    const barrier = adopt(
      {
        cond,
        cells: state.cells,
        timeout: state.timeout,
        action: state.action,
      },
      () => new Barrier(1),
    );
    preloadAction(barrier);
    return barrier;
  },
});
