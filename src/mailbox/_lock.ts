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
// `isPidAlive(holder)` is false — and, beyond the runtime's promise, only
// after the dead holder kept the lock for TAKEOVER_GRACE_MS more: measured
// on Deno 2.9.6, a terminated child's thread ran on for up to 168 ms after
// its end was recorded (1 round in 20). A holder still finishing its copy
// in that time releases the lock itself and is never overtaken.
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

/** The most cells one change may write, by default. */
export const JOURNAL_PAIRS = 8;
/** Cells a lock takes, with a journal of `pairs` writes. */
export function lockCells(pairs = JOURNAL_PAIRS): number {
  return JOURNAL + 2 * pairs;
}
/** Cells a lock with the default journal takes. */
export const LOCK_CELLS = lockCells();

/** How long a dead holder must keep the lock before it is taken over. */
const TAKEOVER_GRACE_MS = 500;

/** When this process first saw each lock held by a dead holder. */
const deadSince = new Map<
  number,
  { cells: Int32Array; holder: number; at: number }
>();

/**
 * Whether the lock at `base`, held by the dead `holder`, may be taken over
 * now: the holder has kept it for the grace period since first seen dead.
 */
function graceOver(cells: Int32Array, base: number, holder: number): boolean {
  const seen = deadSince.get(base);
  const now = performance.now();
  if (
    seen === undefined || seen.cells.buffer !== cells.buffer ||
    seen.holder !== holder
  ) {
    deadSince.set(base, { cells, holder, at: now });
    return false;
  }
  return now - seen.at >= TAKEOVER_GRACE_MS;
}

/** Spins before a waiter checks its holder's liveness and parks. */
const SPINS = 128;
/** A parked waiter re-checks its holder this often (ms): holds are µs. */
const PARK_MS = 1;

/** What {@linkcode acquire} returns when a `brief` wait gave up. */
export const BUSY: unique symbol = Symbol("busy");

/**
 * The longest a `brief` acquire waits for a live holder (ms). A copy under
 * the lock takes µs; a holder that keeps it longer is copying megabytes,
 * descheduled, or dead but not yet known to be: the runtime records a
 * process's end in its parent's event loop, so a caller that may be that
 * parent must not block its thread waiting for it (see Mailbox.wait).
 */
const BRIEF_MS = 1;

/**
 * Takes the lock at `base`, waiting while a live process holds it — with
 * `brief`, at most {@linkcode BRIEF_MS}, then returns {@linkcode BUSY}.
 * Returns `true` when it took the lock over from a dead holder (after
 * replaying its journal): the caller then repairs what the journal cannot
 * (see _ring.ts); `false` when it took a free lock.
 */
export function acquire(
  cells: Int32Array,
  base: number,
  brief = false,
): boolean | typeof BUSY {
  const me = currentIdentity().pid;
  if (Atomics.compareExchange(cells, base + HOLDER, 0, me) === 0) return false;
  let until = 0;
  for (let spins = 0;; spins++) {
    const holder = Atomics.compareExchange(cells, base + HOLDER, 0, me);
    if (holder === 0) return false;
    if (holder === me) {
      throw new Error(
        "mailbox lock taken twice by one process (a bug of this module)",
      );
    }
    if (spins < SPINS) continue;
    if (!isPidAlive(holder) && graceOver(cells, base, holder)) {
      if (
        Atomics.compareExchange(cells, base + HOLDER, holder, me) === holder
      ) {
        deadSince.delete(base);
        replay(cells, base);
        return true;
      }
      continue;
    }
    if (brief) {
      const now = performance.now();
      if (until === 0) until = now + BRIEF_MS;
      else if (now >= until) return BUSY;
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
  if (!graceOver(cells, base, holder)) return "busy";
  if (Atomics.compareExchange(cells, base + HOLDER, holder, me) !== holder) {
    return "busy";
  }
  deadSince.delete(base);
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
 * journal of the lock at `base` (of `pairs` writes); returns `n + 1`.
 * Nothing is changed yet.
 */
export function stage(
  cells: Int32Array,
  base: number,
  n: number,
  index: number,
  value: number,
  pairs = JOURNAL_PAIRS,
): number {
  if (n >= pairs) {
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
  apply(cells, base, n);
  Atomics.store(cells, base + COMMITTED, 0);
}

function apply(cells: Int32Array, base: number, n: number): void {
  // Plain stores: the lock's release (an atomic store) publishes them to
  // the next holder, and the few cells read without the lock (a ring's
  // count, an end's total) are single Int32s, whose reads never tear. The
  // atomic stores of the commit count around them keep their order for a
  // takeover: a holder that dies leaves what it stored in memory.
  for (let i = 0, at = base + JOURNAL; i < n; i++, at += 2) {
    cells[cells[at]] = cells[at + 1];
  }
}

/**
 * Whether the lock at `base` is held and may not be taken over yet: a
 * brief acquire that returned {@linkcode BUSY} waits until this turns
 * false.
 */
export function heldByLive(cells: Int32Array, base: number): boolean {
  const holder = Atomics.load(cells, base + HOLDER);
  if (holder === 0) return false;
  return isPidAlive(holder) || !graceOver(cells, base, holder);
}
