// The one park/wake primitive under every wait of the module — locks,
// semaphores, conditions, events, barriers, mailboxes, the pool's lanes,
// the manager's calls, joins — as Go's sync parks every primitive through
// runtime_Semacquire/Semrelease. Nothing else in the module calls
// `Atomics.wait`, `Atomics.waitAsync` or `Atomics.notify` (a test greps).
//
// A waiter watches one Int32 cell that its waker changes and then wakes:
// it re-checks its condition, spins briefly (one adaptive policy, below),
// then parks — the thread in `Atomics.wait`, or only the caller in
// `Atomics.waitAsync` — in slices of at most SLICE_MS, after each of which
// it re-checks what nobody notifies about (a peer that ended, a deadline).
//
// Why slices of 250 ms: a parked waiter then wakes 4 times a second on its
// own, ≈ 0.01% of a core (200 parked processes ≈ 2%), and notices a dead
// lock owner or peer within a quarter of a second.
//
// Why a timer beside every async park: a pending `Atomics.waitAsync` does
// not keep Deno's event loop alive (the program would end under an awaited
// acquire), and in a worker its settlement can wait for the event loop to
// turn (shared/DENO_FACTS.md). A ref'd timer of the slice's length keeps the
// loop alive and bounds a late settlement to one slice.

import { checkedSignal } from "./wait.ts";

/** What one park returned, as `Atomics.wait` says it. */
export type ParkResult = "ok" | "not-equal" | "timed-out";

/** The longest a waiter sleeps before it re-checks its condition itself. */
export const SLICE_MS = 250;

// The spin policy --------------------------------------------------------------

/**
 * How long this thread spins before it parks (ms), adapted as an adaptive
 * mutex does: doubled after a spin that saw the change, halved after one
 * that did not. A ping-pong between two busy processes keeps spinning (a
 * hand-off caught spinning costs ~1 µs, a park and wake 10–150 µs); an idle
 * wait, or a machine with no free core (where spinning only delays the
 * peer), soon parks at once.
 */
let spinMs = 0.02;
const MAX_SPIN_MS = 0.05;
const MIN_SPIN_MS = 0.001;

/**
 * Spins until `cells[index]` differs from `seen` or this thread's spin
 * budget passes; returns whether it changed.
 */
function spin(cells: Int32Array, index: number, seen: number): boolean {
  const end = performance.now() + spinMs;
  let i = 0;
  while (Atomics.load(cells, index) === seen) {
    if ((++i & 63) === 0 && performance.now() > end) {
      spinMs = Math.max(MIN_SPIN_MS, spinMs / 2);
      return false;
    }
  }
  spinMs = Math.min(MAX_SPIN_MS, spinMs * 2);
  return true;
}

// Parking ------------------------------------------------------------------------

/**
 * Parks this thread while `cells[index] === expected`, at most `ms` (and at
 * most one slice). The caller re-checks and loops.
 */
export function parkSync(
  cells: Int32Array,
  index: number,
  expected: number,
  ms: number,
): ParkResult {
  return Atomics.wait(cells, index, expected, Math.min(ms, SLICE_MS));
}

/** One Int32 cell of a shared buffer. */
export interface Cell {
  readonly cells: Int32Array;
  readonly index: number;
}

/** How one wait parks, beside its cell and deadline. */
export interface ParkOptions {
  /**
   * The longest an async park sleeps before its waiter re-checks on its own
   * (ms; {@linkcode SLICE_MS} by default). Each wake-up of an idle worker
   * costs ≈ 0.15–0.25 ms of CPU (measured: 200 workers parked in 250 ms
   * slices took 12–19% of a core, in 2 s slices ≈ 2%), so a wait that
   * nothing un-notified can end should pass a long one.
   */
  slice?: number;
  /**
   * A second cell whose change also wakes the waiter, such as the cell a
   * process's end changes (runtime/_context.ts `endingsCell`): a waiter that
   * must notice a peer's death then learns it at once instead of polling.
   * One watcher per cell per process serves every waiter on it.
   */
  also?: Cell;
}

/**
 * Parks the caller (not the thread) while `cells[index] === expected`, at
 * most `ms` (and at most one slice). With `signal`, resolves `"ok"` as soon
 * as it aborts: the caller re-checks and sees the abort.
 */
export function park(
  cells: Int32Array,
  index: number,
  expected: number,
  ms: number,
  signal?: AbortSignal,
  options?: ParkOptions,
): Promise<ParkResult> {
  return parkWith(cells, index, expected, ms, signal, options?.slice);
}

function parkWith(
  cells: Int32Array,
  index: number,
  expected: number,
  ms: number,
  signal: AbortSignal | undefined,
  sliceMs: number | undefined,
  also?: Cell,
  alsoSeen?: number,
): Promise<ParkResult> {
  const slice = Math.min(ms, sliceMs ?? SLICE_MS);
  const result = Atomics.waitAsync(cells, index, expected, slice);
  if (!result.async) return Promise.resolve(result.value);
  return new Promise((resolve) => {
    let settled = false;
    const done = (value: ParkResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(keepAlive);
      signal?.removeEventListener("abort", onAbort);
      if (also !== undefined) unwatch(also, onAlso);
      resolve(value);
    };
    const onAbort = () => done("ok");
    const onAlso = () => done("ok");
    const keepAlive = setTimeout(done, slice + 1, "timed-out");
    signal?.addEventListener("abort", onAbort, { once: true });
    if (also !== undefined) watch(also, alsoSeen!, onAlso);
    result.value.then(done);
  });
}

// Watching a second cell: one pending waitAsync per cell per process, which
// wakes every local waiter registered on it when the cell changes.

interface Watch {
  waiters: Set<() => void>;
  armed: boolean;
}

const watches = new Map<Int32Array, Map<number, Watch>>();

function watch(cell: Cell, seen: number, wake: () => void): void {
  let byIndex = watches.get(cell.cells);
  if (byIndex === undefined) watches.set(cell.cells, byIndex = new Map());
  let entry = byIndex.get(cell.index);
  if (entry === undefined) {
    byIndex.set(cell.index, entry = { waiters: new Set(), armed: false });
  }
  entry.waiters.add(wake);
  if (entry.armed) return;
  entry.armed = true;
  const fire = () => {
    entry.armed = false;
    const waiters = [...entry.waiters];
    entry.waiters.clear();
    for (const waiter of waiters) waiter();
  };
  // Armed with the value the waiter saw before it checked its condition:
  // a change since then fires at once.
  const result = Atomics.waitAsync(cell.cells, cell.index, seen);
  if (result.async) result.value.then(fire);
  else queueMicrotask(fire);
}

function unwatch(cell: Cell, wake: () => void): void {
  watches.get(cell.cells)?.get(cell.index)?.waiters.delete(wake);
}

/** Wakes up to `count` waiters parked on `cells[index]` (all by default). */
export function wake(cells: Int32Array, index: number, count?: number): number {
  return Atomics.notify(cells, index, count);
}

/** Adds `delta` to `cells[index]` and wakes everyone parked on it. */
export function bump(cells: Int32Array, index: number, delta = 1): void {
  Atomics.add(cells, index, delta);
  Atomics.notify(cells, index);
}

const napCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks this thread for `ms` (a pause no one can cut short). */
export function napSync(ms: number): void {
  Atomics.wait(napCell, 0, 0, ms);
}

// Waiting for a condition ------------------------------------------------------

/**
 * Waits (blocking the thread) until `ready()` holds or `deadline` (a
 * `performance.now()` time, `Infinity` for none) passes; the waker changes
 * `cells[index]` and wakes it. Returns whether `ready()` held.
 */
export function waitUntilSync(
  cells: Int32Array,
  index: number,
  ready: () => boolean,
  deadline: number,
): boolean {
  for (let spun = false;;) {
    const seen = Atomics.load(cells, index);
    if (ready()) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    if (!spun) {
      spun = true;
      if (spin(cells, index, seen)) continue;
    }
    Atomics.wait(cells, index, seen, Math.min(left, SLICE_MS));
  }
}

/**
 * The async form of {@linkcode waitUntilSync}: parks only the caller. An
 * aborted `signal` rejects with its reason.
 */
export async function waitUntil(
  cells: Int32Array,
  index: number,
  ready: () => boolean,
  deadline: number,
  signal?: AbortSignal,
  options?: ParkOptions,
): Promise<boolean> {
  checkedSignal(signal)?.throwIfAborted();
  const also = options?.also;
  for (let spun = false;;) {
    const seen = Atomics.load(cells, index);
    const alsoSeen = also && Atomics.load(also.cells, also.index);
    if (ready()) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    if (!spun) {
      spun = true;
      if (spin(cells, index, seen)) continue;
    }
    await parkWith(
      cells,
      index,
      seen,
      left,
      signal,
      options?.slice,
      also,
      alsoSeen,
    );
    signal?.throwIfAborted();
  }
}

/**
 * Retries `attempt` until it returns something other than `AGAIN`, waiting
 * for `cells[index]` to change between tries. Returns `onTimeout()` once
 * `deadline` passes. The shape of every "try, else wait" operation (a get
 * from an empty queue, a put into a full one).
 */
export async function retry<R>(
  cells: Int32Array,
  index: number,
  deadline: number,
  attempt: () => R | typeof AGAIN,
  onTimeout: () => R,
  signal?: AbortSignal,
  options?: ParkOptions,
): Promise<R> {
  let result: R | typeof AGAIN = AGAIN;
  const ok = await waitUntil(
    cells,
    index,
    () => (result = attempt()) !== AGAIN,
    deadline,
    signal,
    options,
  );
  return ok ? result as R : onTimeout();
}

/** The blocking form of {@linkcode retry}. */
export function retrySync<R>(
  cells: Int32Array,
  index: number,
  deadline: number,
  attempt: () => R | typeof AGAIN,
  onTimeout: () => R,
): R {
  let result: R | typeof AGAIN = AGAIN;
  const ok = waitUntilSync(
    cells,
    index,
    () => (result = attempt()) !== AGAIN,
    deadline,
  );
  return ok ? result as R : onTimeout();
}

/** What an attempt returns when it must wait and try again. */
export const AGAIN: unique symbol = Symbol("again");
