// A tiny lock in shared memory that survives the death of its holder, with
// a redo journal that makes every change made under it all-or-nothing.
//
// A process can be stopped at any instruction (runtime/_child_entry.ts), so
// a holder may die half-way through a change of several cells. A change is
// therefore staged first — (cell, value) pairs written into the journal,
// which nobody reads — then committed by ONE store of the pair count, then
// applied, then the count is cleared. Whoever takes over the lock of a dead
// holder replays a committed journal (values are absolute, so applying
// twice is harmless) and ignores an uncommitted one: the cells are then
// either as before the change or as after it, never in between.
//
// The lock word holds its holder's pid. It is taken over only once
// `isPidAlive(holder)` is false, which the runtime sets only after the
// holder's thread stopped (a terminated process really stops): a live but
// slow holder is waited for, never overtaken.
//
// Cells of a lock, from its base index:
//   +0 holder pid (0: free), +1 parked waiters, +2 committed pair count,
//   +3 … the journal: JOURNAL_PAIRS (cell, value) pairs.

import { currentIdentity, isPidAlive } from "../runtime/_context.ts";
import { parkSync, wake } from "../core/park.ts";

const HOLDER = 0;
const WAITERS = 1;
const COMMITTED = 2;
const JOURNAL = 3;

/** The most cells one change may write. */
export const JOURNAL_PAIRS = 8;
/** Cells a lock takes. */
export const LOCK_CELLS = JOURNAL + 2 * JOURNAL_PAIRS;

/** Spins before a waiter checks its holder's liveness and parks. */
const SPINS = 128;
/** A parked waiter re-checks its holder this often (ms): holds are µs. */
const PARK_MS = 1;

/**
 * Takes the lock at `base`, waiting while a live process holds it. Returns
 * `true` when it took the lock over from a dead holder (after replaying its
 * journal): the caller then repairs what the journal cannot (see _ring.ts).
 */
export function acquire(cells: Int32Array, base: number): boolean {
  const me = currentIdentity().pid;
  if (Atomics.compareExchange(cells, base + HOLDER, 0, me) === 0) return false;
  for (let spins = 0;; spins++) {
    const holder = Atomics.compareExchange(cells, base + HOLDER, 0, me);
    if (holder === 0) return false;
    if (holder === me) {
      throw new Error(
        "mailbox lock taken twice by one process (a bug of this module)",
      );
    }
    if (spins < SPINS) continue;
    if (!isPidAlive(holder)) {
      if (
        Atomics.compareExchange(cells, base + HOLDER, holder, me) === holder
      ) {
        replay(cells, base);
        return true;
      }
      continue;
    }
    Atomics.add(cells, base + WAITERS, 1);
    parkSync(cells, base + HOLDER, holder, PARK_MS);
    Atomics.sub(cells, base + WAITERS, 1);
  }
}

/**
 * Takes the lock only if it is free now (or held by a dead process, which
 * is taken over as {@linkcode acquire} does). Returns `false` when a live
 * process holds it, else whether it took it over.
 */
export function tryAcquire(
  cells: Int32Array,
  base: number,
): "busy" | "taken" | "taken over" {
  const me = currentIdentity().pid;
  const holder = Atomics.compareExchange(cells, base + HOLDER, 0, me);
  if (holder === 0) return "taken";
  if (holder === me || isPidAlive(holder)) return "busy";
  if (Atomics.compareExchange(cells, base + HOLDER, holder, me) !== holder) {
    return "busy";
  }
  replay(cells, base);
  return "taken over";
}

/** Releases the lock at `base`. */
export function release(cells: Int32Array, base: number): void {
  Atomics.store(cells, base + HOLDER, 0);
  if (Atomics.load(cells, base + WAITERS) > 0) wake(cells, base + HOLDER, 1);
}

/**
 * Stages the `n`-th write of a change (`cells[index] = value`) in the
 * journal of the lock at `base`; returns `n + 1`. Nothing is changed yet.
 */
export function stage(
  cells: Int32Array,
  base: number,
  n: number,
  index: number,
  value: number,
): number {
  if (n >= JOURNAL_PAIRS) {
    throw new Error("mailbox journal overflow (a bug of this module)");
  }
  const at = base + JOURNAL + 2 * n;
  cells[at] = index;
  cells[at + 1] = value;
  return n + 1;
}

/**
 * Commits and applies the `n` writes staged in the journal of the lock at
 * `base`: from the one store of `n` on, the change counts as made.
 */
export function commit(cells: Int32Array, base: number, n: number): void {
  Atomics.store(cells, base + COMMITTED, n);
  apply(cells, base, n);
  Atomics.store(cells, base + COMMITTED, 0);
}

/** Makes the journal's committed writes, if any (after a takeover). */
function replay(cells: Int32Array, base: number): void {
  const n = Atomics.load(cells, base + COMMITTED);
  if (n <= 0) return;
  apply(cells, base, Math.min(n, JOURNAL_PAIRS));
  Atomics.store(cells, base + COMMITTED, 0);
}

function apply(cells: Int32Array, base: number, n: number): void {
  for (let i = 0, at = base + JOURNAL; i < n; i++, at += 2) {
    // Atomic stores: some of these cells are read without the lock.
    Atomics.store(cells, cells[at], cells[at + 1]);
  }
}

/** Whether a live process other than this one holds the lock at `base`. */
export function heldByOther(cells: Int32Array, base: number): boolean {
  const holder = Atomics.load(cells, base + HOLDER);
  return holder !== 0 && holder !== currentIdentity().pid &&
    isPidAlive(holder);
}

/** The pid holding the lock at `base` (0: free). */
export function holderOf(cells: Int32Array, base: number): number {
  return Atomics.load(cells, base + HOLDER);
}
