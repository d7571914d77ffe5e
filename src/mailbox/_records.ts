// The record of a Queue or a Pipe in the shared heap: its rings, and who
// holds a copy of each of its ends.
//
// Python's close semantics rest on copies: `close()` closes only the calling
// process's copy, and a pipe's reader sees EOF only once no process holds a
// copy of the writer end. So each end keeps a list of (pid, copies) slots,
// and a running total, changed under the record's lock with its journal:
// - creating a Pipe or Queue gives its creator one copy of each end;
// - reducing an end into a message adds a copy, counted for the receiving
//   process when the channel knows it (a process's start message), else for
//   the sender until the receiver revives it and takes it over;
// - closing a copy, or its garbage collection, removes one;
// - a process that ended holds nothing: its slots are ignored and released
//   by whoever looks (liveness comes from the runtime's pid table, which
//   says "ended" only once the thread stopped).
// An end whose total is 0 is closed for good (a copy revived after that is
// born closed). A record none of whose ends is held by a live process is
// freed — by the process that dropped the last copy, or, when the last
// holders died, by the sweep that every new record runs over two others.
// Records are type-stable (see _heap.ts), so a stale reference still finds
// a lock and a generation to check.

import { currentIdentity, isPidAlive } from "../runtime/_context.ts";
import { type Heap, RECORD_CELLS, RECORD_NEXT } from "./_heap.ts";
import {
  acquire,
  BUSY,
  commit,
  LOCK_CELLS,
  release,
  stage,
  tryAcquire,
} from "./_lock.ts";
import { dispose, RING_CELLS } from "./_ring.ts";

const LOCK = 0;
const GEN = LOCK_CELLS; // bumped when the record is freed
const KIND = GEN + 1; // 0: free
/** A Queue's maxsize (0: unbounded). */
export const MAXSIZE = GEN + 3; // GEN + 2 is RECORD_NEXT
const ENDS = GEN + 4;

// Cells of an end, from its base.
const TOTAL = 0; // copies held, in all slots
const OVERFLOW = 1; // a block of more slots (0: none)
const OVERFLOW_SLOTS = 2;
const SLOTS_GROWING = 3;
const SLOTS_FREEING = 4;
const INLINE = 5; // INLINE_SLOTS (pid, copies) pairs
const INLINE_SLOTS = 4;
const END_CELLS = INLINE + 2 * INLINE_SLOTS;
const FIRST_OVERFLOW = 8;

const RINGS = ENDS + 2 * END_CELLS;

/** The kinds of record. */
export const QUEUE = 1;
export const PIPE = 2;

if (RECORD_NEXT !== GEN + 2 || RINGS + 2 * RING_CELLS > RECORD_CELLS) {
  throw new Error("mailbox record layout does not fit (a bug of this module)");
}

/** A reference to a record, valid while its generation matches. */
export interface RecordRef {
  record: number;
  gen: number;
}

/** The base cell of ring `i` of a record. */
export function ringOf(record: number, i: number): number {
  return record + RINGS + i * RING_CELLS;
}

function endBase(record: number, end: number): number {
  return record + ENDS + end * END_CELLS;
}

function endsOf(kind: number): number {
  return kind === PIPE ? 2 : 1;
}

/**
 * Creates a record of `kind` whose creator holds one copy of each end.
 * Runs a step of the sweep first.
 */
export function createRecord(heap: Heap, kind: number, maxsize = 0): RecordRef {
  sweep(heap, 2);
  const me = currentIdentity().pid;
  const record = heap.allocateRecord((cells, record) => {
    for (let end = 0; end < endsOf(kind); end++) {
      const base = endBase(record, end);
      cells[base + TOTAL] = 1;
      cells[base + INLINE] = me;
      cells[base + INLINE + 1] = 1;
    }
    return [record + KIND, kind, record + MAXSIZE, maxsize];
  });
  return { record, gen: heap.cells[record + GEN] };
}

/** Whether the record is still the one `ref` names. */
export function isCurrent(heap: Heap, ref: RecordRef): boolean {
  heap.reach(ref.record + RECORD_CELLS);
  return Atomics.load(heap.cells, ref.record + GEN) === ref.gen &&
    Atomics.load(heap.cells, ref.record + KIND) !== 0;
}

/** Copies of `end` held now, dead holders included until released. */
export function totalOf(heap: Heap, ref: RecordRef, end: number): number {
  return Atomics.load(heap.cells, endBase(ref.record, end) + TOTAL);
}

/** Takes the record's lock; `false`: busy (a `brief` wait gave up). */
function lockRecord(heap: Heap, record: number, brief = false): boolean {
  heap.reach(record + RECORD_CELLS);
  const taken = acquire(heap.cells, record + LOCK, brief);
  if (taken === BUSY) return false;
  if (taken) repairSlots(heap, record);
  return true;
}

function unlockRecord(heap: Heap, record: number): void {
  release(heap.cells, record + LOCK);
}

/**
 * Runs `change` under the record's lock if the record is still `ref`'s;
 * returns `undefined` (running nothing) when it was freed.
 */
function locked<R>(heap: Heap, ref: RecordRef, change: () => R): R | undefined {
  lockRecord(heap, ref.record);
  try {
    if (!isCurrent(heap, ref)) return undefined;
    return change();
  } finally {
    unlockRecord(heap, ref.record);
  }
}

/**
 * Adds `delta` copies of `end` for `pid` (lock held). A slot of a process
 * that ended is reused, its copies dropped.
 */
function addCopies(
  heap: Heap,
  record: number,
  end: number,
  pid: number,
  delta: number,
): void {
  const base = endBase(record, end);
  let slot = findSlot(heap, base, pid);
  let dropped = 0;
  if (slot === -1) {
    slot = freeSlot(heap, base);
    if (slot === -1) slot = growSlots(heap, record, end);
    const cells = heap.cells;
    if (cells[slot] !== 0 && !isPidAlive(cells[slot])) {
      dropped = cells[slot + 1];
    }
  }
  const cells = heap.cells;
  const had = cells[slot] === pid ? cells[slot + 1] : 0;
  let n = stage(cells, record, 0, slot, pid);
  n = stage(cells, record, n, slot + 1, had + delta);
  n = stage(
    cells,
    record,
    n,
    base + TOTAL,
    cells[base + TOTAL] + delta - dropped,
  );
  commit(cells, record, n);
}

/** Removes up to `delta` copies of `end` held by `pid` (lock held). */
function removeCopies(
  heap: Heap,
  record: number,
  end: number,
  pid: number,
  delta: number,
): void {
  const base = endBase(record, end);
  const slot = findSlot(heap, base, pid);
  if (slot === -1) return;
  const cells = heap.cells;
  const removed = Math.min(delta, cells[slot + 1]);
  if (removed === 0) return;
  let n = stage(cells, record, 0, slot + 1, cells[slot + 1] - removed);
  n = stage(cells, record, n, base + TOTAL, cells[base + TOTAL] - removed);
  commit(cells, record, n);
}

/** The slots of an end: its inline ones, then its overflow block's. */
function slotsOf(heap: Heap, base: number): number[] {
  const cells = heap.cells;
  const slots: number[] = [];
  for (let i = 0; i < INLINE_SLOTS; i++) slots.push(base + INLINE + 2 * i);
  const overflow = cells[base + OVERFLOW];
  if (overflow !== 0) {
    const count = cells[base + OVERFLOW_SLOTS];
    heap.reach(overflow + 2 * count);
    for (let i = 0; i < count; i++) slots.push(overflow + 2 * i);
  }
  return slots;
}

function findSlot(heap: Heap, base: number, pid: number): number {
  for (const slot of slotsOf(heap, base)) {
    if (heap.cells[slot] === pid) return slot;
  }
  return -1;
}

function freeSlot(heap: Heap, base: number): number {
  for (const slot of slotsOf(heap, base)) {
    const cells = heap.cells;
    if (
      cells[slot] === 0 || cells[slot + 1] === 0 || !isPidAlive(cells[slot])
    ) return slot;
  }
  return -1;
}

/** Doubles an end's overflow slots; returns a free slot in them. */
function growSlots(heap: Heap, record: number, end: number): number {
  const base = endBase(record, end);
  let cells = heap.cells;
  const old = cells[base + OVERFLOW];
  const count = cells[base + OVERFLOW_SLOTS];
  const next = old === 0 ? FIRST_OVERFLOW : count * 2;
  const block = heap.allocate(next * 8, base + SLOTS_GROWING);
  heap.reach(block + 2 * next);
  cells = heap.cells;
  cells.fill(0, block, block + 2 * next);
  if (old !== 0) cells.copyWithin(block, old, old + 2 * count);
  let n = stage(cells, record, 0, base + OVERFLOW, block);
  n = stage(cells, record, n, base + OVERFLOW_SLOTS, next);
  n = stage(cells, record, n, base + SLOTS_GROWING, 0);
  n = stage(cells, record, n, base + SLOTS_FREEING, old);
  commit(cells, record, n);
  if (old !== 0) heap.free(base + SLOTS_FREEING, count * 8);
  return block + 2 * (old === 0 ? 0 : count);
}

/** After a takeover of the record's lock: frees half-done slot growths. */
function repairSlots(heap: Heap, record: number): void {
  for (let end = 0; end < 2; end++) {
    const base = endBase(record, end);
    const cells = heap.cells;
    const count = cells[base + OVERFLOW_SLOTS];
    const next = cells[base + OVERFLOW] === 0 ? FIRST_OVERFLOW : count * 2;
    if (cells[base + SLOTS_GROWING] !== 0) {
      heap.free(base + SLOTS_GROWING, next * 8);
    }
    if (heap.cells[base + SLOTS_FREEING] !== 0) {
      heap.free(base + SLOTS_FREEING, count * 4);
    }
  }
}

/**
 * Releases the copies of `end` held by processes that ended, and returns
 * the copies live processes hold (lock held).
 */
function releaseDead(heap: Heap, record: number, end: number): number {
  const base = endBase(record, end);
  for (const slot of slotsOf(heap, base)) {
    const cells = heap.cells;
    const pid = cells[slot];
    const copies = cells[slot + 1];
    if (pid === 0 || copies === 0 || isPidAlive(pid)) continue;
    let n = stage(cells, record, 0, slot + 1, 0);
    n = stage(cells, record, n, base + TOTAL, cells[base + TOTAL] - copies);
    commit(cells, record, n);
  }
  return heap.cells[base + TOTAL];
}

/**
 * Counts one more copy of `end` for the process that will receive it:
 * `receiver` when known, else this process (until the receiver takes it
 * over). Returns `false` (counting nothing) when the end is closed for good
 * or the record was freed.
 */
export function addCopy(
  heap: Heap,
  ref: RecordRef,
  end: number,
  receiver: number | undefined,
): boolean {
  return locked(heap, ref, () => {
    if (heap.cells[endBase(ref.record, end) + TOTAL] === 0) return false;
    addCopies(heap, ref.record, end, receiver ?? currentIdentity().pid, 1);
    return true;
  }) ?? false;
}

/**
 * This process revives a copy of `end` counted for `sender`: takes it
 * over. Returns `false` when the end is closed for good (the copy is born
 * closed), or the record was freed.
 */
export function takeOverCopy(
  heap: Heap,
  ref: RecordRef,
  end: number,
  sender: number,
): boolean {
  const me = currentIdentity().pid;
  if (sender === me) return isCurrent(heap, ref) && totalOf(heap, ref, end) > 0;
  return locked(heap, ref, () => {
    // A dead sender's copy went with it: only live holders keep it open.
    if (releaseDead(heap, ref.record, end) === 0) return false;
    // Mine first, then the sender's: the total never passes through 0.
    addCopies(heap, ref.record, end, me, 1);
    removeCopies(heap, ref.record, end, sender, 1);
    return true;
  }) ?? false;
}

/**
 * Drops one copy of `end` held by this process. Frees the record when no
 * live process holds any of its ends any more. Returns whether `end` is
 * closed for good now.
 */
export function dropCopy(heap: Heap, ref: RecordRef, end: number): boolean {
  const me = currentIdentity().pid;
  return locked(heap, ref, () => {
    removeCopies(heap, ref.record, end, me, 1);
    const closed = releaseDead(heap, ref.record, end) === 0;
    freeIfUnheld(heap, ref.record);
    return closed;
  }) ?? true;
}

/**
 * Whether a live process holds a copy of `end` (dead holders released on
 * the way). An end found closed stays closed. When the record's lock stays
 * busy (its holder may have died, unknown yet), answers `true`: the caller
 * waits, and asks again when woken (by a drop, or a process's end).
 */
export function isHeld(heap: Heap, ref: RecordRef, end: number): boolean {
  if (totalOf(heap, ref, end) === 0) return false;
  if (!lockRecord(heap, ref.record, true)) return true;
  try {
    if (!isCurrent(heap, ref)) return false;
    return releaseDead(heap, ref.record, end) > 0;
  } finally {
    unlockRecord(heap, ref.record);
  }
}

/** Frees the record if no live process holds any end (lock held). */
function freeIfUnheld(heap: Heap, record: number): boolean {
  const kind = heap.cells[record + KIND];
  for (let end = 0; end < endsOf(kind); end++) {
    if (releaseDead(heap, record, end) > 0) return false;
  }
  for (let i = 0; i < endsOf(kind); i++) {
    if (!dispose(heap, ringOf(record, i))) return false; // in use: later
  }
  for (let end = 0; end < 2; end++) {
    const base = endBase(record, end);
    const cells = heap.cells;
    if (cells[base + OVERFLOW] !== 0) {
      heap.free(base + OVERFLOW, cells[base + OVERFLOW_SLOTS] * 8);
    }
  }
  // Unreachable once KIND is 0: cleared for the next user, then freed.
  const gen = heap.cells[record + GEN];
  heap.cells.fill(0, record + MAXSIZE, record + RINGS);
  heap.freeRecord(record, [record + GEN, (gen + 1) | 0, record + KIND, 0]);
  return true;
}

/**
 * One step of the sweep: looks at the next `count` records and frees those
 * that only processes that ended hold (their last holders died before they
 * could drop them).
 */
export function sweep(heap: Heap, count: number): void {
  for (let i = 0; i < count; i++) {
    const record = heap.nextSwept();
    if (record === 0) return;
    if (Atomics.load(heap.cells, record + KIND) === 0) continue;
    const taken = tryAcquire(heap.cells, record + LOCK);
    if (taken === "busy") continue;
    try {
      if (taken === "taken over") repairSlots(heap, record);
      if (heap.cells[record + KIND] !== 0) freeIfUnheld(heap, record);
    } finally {
      unlockRecord(heap, record);
    }
  }
}

/** The kind of the record (0 once freed). */
export function kindOf(heap: Heap, ref: RecordRef): number {
  return isCurrent(heap, ref) ? heap.cells[ref.record + KIND] : 0;
}
