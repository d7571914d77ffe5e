// Waiting on a shared Int32 cell, the one blocking operation under every
// primitive of synchronize.ts: a sync form that parks the thread
// (`Atomics.wait`) and an async form that parks only the caller
// (`Atomics.waitAsync`), both in bounded slices so that the caller re-checks
// what no notifier can signal (an owner that died, a deadline).

import { validateTimeout } from "./_async.ts";

/** What one park returned, as `Atomics.wait` says it. */
export type ParkResult = "ok" | "not-equal" | "timed-out";

/**
 * The longest a waiter sleeps before it re-checks on its own. A process
 * that dies while it holds a lock never notifies; its waiters notice within
 * this period. Short enough to feel prompt, long enough to cost nothing
 * (one wake-up per waiter per 50 ms).
 */
export const CHECK_MS = 50;

/**
 * Busy re-checks before a waiter parks. A critical section guarded across
 * two threads is usually shorter than a park + wake (~10 µs), so a short
 * spin (64 rounds of a few atomic loads: ~1-2 µs here) catches most
 * releases without a park.
 */
export const SPINS = 64;

/** `performance.now()` at which a timeout in ms (validated) expires. */
export function deadlineOf(name: string, timeout: unknown): number {
  const ms = validateTimeout(name, timeout);
  return ms === undefined ? Infinity : performance.now() + ms;
}

/** Milliseconds left before `end`, capped at {@linkcode CHECK_MS}. */
export function slice(end: number): number {
  return Math.max(0, Math.min(CHECK_MS, end - performance.now()));
}

/** Parks this thread while `cells[index] === expected`, at most `ms`. */
export function parkSync(
  cells: Int32Array,
  index: number,
  expected: number,
  ms: number,
): ParkResult {
  return Atomics.wait(cells, index, expected, ms);
}

/**
 * Parks the caller (not the thread) while `cells[index] === expected`, at
 * most `ms`. A pending `Atomics.waitAsync` does not keep Deno's event loop
 * alive (the program would end under an awaited acquire), so a timer of the
 * same length stands beside it.
 */
export function park(
  cells: Int32Array,
  index: number,
  expected: number,
  ms: number,
): ParkResult | Promise<ParkResult> {
  const result = Atomics.waitAsync(cells, index, expected, ms);
  if (!result.async) return result.value;
  const keepAlive = setInterval(noop, TICK_MS);
  return result.value.then((value) => {
    clearInterval(keepAlive);
    return value;
  });
}

function noop(): void {}

/**
 * How often a parked async waiter's event loop turns. In a worker, Deno
 * does not always wake the event loop for the task that settles an
 * `Atomics.waitAsync` (seen on 2.9.6: a worker parked on a cell that was
 * notified stays parked for good, its own timeout included, unless some
 * timer turns the loop). A turn every TICK_MS bounds that delay; when the
 * wake-up does arrive, it is immediate.
 */
const TICK_MS = 4;

/** Wakes every waiter parked on `cells[index]`. */
export function wakeAll(cells: Int32Array, index: number): void {
  Atomics.notify(cells, index);
}

/**
 * Waits (sync) until `ready()` returns true or `end` passes; the waker
 * changes `cells[index]` and notifies it. Returns whether `ready()` held.
 */
export function untilSync(
  cells: Int32Array,
  index: number,
  end: number,
  ready: () => boolean,
): boolean {
  for (;;) {
    const seen = Atomics.load(cells, index);
    if (ready()) return true;
    const ms = slice(end);
    if (ms <= 0) return false;
    Atomics.wait(cells, index, seen, ms);
  }
}

/** The async form of {@linkcode untilSync}: never blocks the event loop. */
export async function until(
  cells: Int32Array,
  index: number,
  end: number,
  ready: () => boolean,
): Promise<boolean> {
  for (;;) {
    const seen = Atomics.load(cells, index);
    if (ready()) return true;
    const ms = slice(end);
    if (ms <= 0) return false;
    await park(cells, index, seen, ms);
  }
}
