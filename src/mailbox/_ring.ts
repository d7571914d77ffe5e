// The ring under every Queue and every direction of a Pipe: length-prefixed
// records in a data block of the shared heap, guarded by a tiny robust lock
// (see _lock.ts) held only while a record is copied in or out (encoding and
// decoding happen outside it, in private buffers).
//
// Crash consistency: a record is written into free space first, where no
// reader looks, and published by one journaled commit of (TAIL, USED,
// COUNT); a take copies a record out, then commits (HEAD, USED, COUNT). A
// process stopped anywhere — mid-copy, holding the lock, mid-grow — leaves
// either the record wholly published or not at all: survivors see FIFO per
// producer, no duplicate, no torn record. Growing allocates a bigger block
// into the ring's GROWING cell (so it always has an owner), copies the
// records in, and commits the switch together with FREEING = old block;
// whoever takes the lock over from a dead holder frees what GROWING or
// FREEING still hold, so nothing leaks and nothing grows without bound.

import type { Writer } from "../core/codec.ts";
import type { Heap } from "./_heap.ts";
import { MAX_BLOCK_BYTES } from "./_heap.ts";
import {
  acquire,
  BUSY,
  commit,
  LOCK_CELLS,
  release,
  stage,
  tryAcquire,
} from "./_lock.ts";

export { BUSY };
import { wake } from "../core/park.ts";

// Cells of a ring, from its base.
const LOCK = 0;
const HEAD = LOCK_CELLS; // byte offset of the oldest record in the data
/** Byte offset in the data where the next record goes. */
export const TAIL = HEAD + 1;
const USED = HEAD + 2; // bytes in use
/** Records in the ring (read without the lock). */
export const COUNT = HEAD + 3;
const CAP = HEAD + 4; // bytes of the data block (0: none yet)
/** The data block's first cell. */
export const DATA = HEAD + 5;
/** A bigger block being filled by a grow (0: none). */
export const GROWING = HEAD + 6;
/** The size of the GROWING block (bytes). */
export const GROWING_CAP = HEAD + 7;
/** The block a grow replaced, until it is freed (0: none). */
export const FREEING = HEAD + 8;
/** The size of the FREEING block (bytes). */
export const FREEING_CAP = HEAD + 9;
/** Bumped after every put (and to wake readers): readers wait on it. */
export const PUTS = HEAD + 10;
/** Bumped after every take: producers of a bounded queue wait on it. */
export const GETS = HEAD + 11;
/** Readers parked on PUTS (a put skips the wake when there is none). */
export const GET_WAITERS = HEAD + 12;
/** Producers parked on GETS. */
export const PUT_WAITERS = HEAD + 13;
/** A JoinableQueue's unfinished tasks (changed only under the lock). */
export const TASKS = HEAD + 14;
/** Bumped when TASKS reaches 0: `join()` waits on it. */
export const TASKS_DONE = HEAD + 15;
/** Waiters parked on TASKS_DONE. */
export const JOIN_WAITERS = HEAD + 16;
/** Cells of a ring. */
export const RING_CELLS = HEAD + 17;

/** The first data block: most Pipes and Queues carry little. */
const FIRST_BYTES = 256;
/** A record's header: its length, and this flag. */
export const SIDE_FLAG = 1 << 30;
const LENGTH_MASK = SIDE_FLAG - 1;
/** The longest record (bytes). */
export const MAX_RECORD = Math.min(LENGTH_MASK, MAX_BLOCK_BYTES / 2) - 4;

/** What {@linkcode take} returns when the ring is empty. */
export const EMPTY = -1;
/** What {@linkcode take} returns when `accept` refused the next record. */
export const REFUSED = -2;
/** What a brief {@linkcode take} returns when the lock stayed busy. */
export const TAKE_BUSY = -3;

function sizeOf(length: number): number {
  return 4 + ((length + 3) & ~3); // records stay 4-byte aligned
}

/** Takes the ring's lock (see _lock.ts); `false`: busy (a brief wait). */
function lock(heap: Heap, ring: number, brief = false): boolean {
  const taken = acquire(heap.cells, ring + LOCK, brief);
  if (taken === BUSY) return false;
  if (taken) repair(heap, ring);
  return true;
}

/**
 * After taking the lock over from a dead holder (its committed journal
 * replayed): frees the block of a grow that never committed, and the old
 * block of one that committed but was not freed yet.
 */
function repair(heap: Heap, ring: number): void {
  heap.free(ring + GROWING, heap.cells[ring + GROWING_CAP]);
  heap.free(ring + FREEING, heap.cells[ring + FREEING_CAP]);
}

/**
 * Appends the record `source[0, length)` (with `flags`); returns `false`
 * without writing when the ring already holds `maxItems` records (0: no
 * limit). With `countTask`, the JoinableQueue's task count rises in the
 * same commit (so a taker never sees the item before its count). With
 * `brief`, returns {@linkcode BUSY} (writing nothing) rather than wait long
 * for the lock.
 */
export function put(
  heap: Heap,
  ring: number,
  source: Uint8Array,
  length: number,
  flags: number,
  maxItems: number,
  countTask: boolean,
  brief = false,
): boolean | typeof BUSY {
  if (length > MAX_RECORD) {
    throw new RangeError(
      `Cannot send a message of ${length} bytes: a Pipe or Queue carries at most ${MAX_RECORD} bytes per message (move large data with SharedMemory or send(obj, { transfer }))`,
    );
  }
  const size = sizeOf(length);
  if (!lock(heap, ring, brief)) return BUSY;
  try {
    let cells = heap.cells;
    if (maxItems > 0 && cells[ring + COUNT] >= maxItems) return false;
    if (cells[ring + CAP] - cells[ring + USED] < size) {
      grow(heap, ring, size);
      cells = heap.cells;
    }
    const cap = cells[ring + CAP];
    const data = cells[ring + DATA];
    heap.reach(data + (cap >> 2));
    cells = heap.cells;
    const tail = cells[ring + TAIL];
    cells[data + (tail >> 2)] = length | flags;
    let at = tail + 4;
    if (at === cap) at = 0;
    const bytes = heap.bytes;
    const base = data << 2;
    const first = Math.min(length, cap - at);
    bytes.set(source.subarray(0, first), base + at);
    if (first < length) bytes.set(source.subarray(first, length), base);
    // The commit: until here no reader can see the record.
    let n = stage(cells, ring, 0, ring + TAIL, (tail + size) % cap);
    n = stage(cells, ring, n, ring + USED, cells[ring + USED] + size);
    n = stage(cells, ring, n, ring + COUNT, cells[ring + COUNT] + 1);
    if (countTask) {
      n = stage(cells, ring, n, ring + TASKS, cells[ring + TASKS] + 1);
    }
    commit(cells, ring, n);
  } finally {
    release(heap.cells, ring + LOCK);
  }
  const cells = heap.cells;
  Atomics.add(cells, ring + PUTS, 1);
  if (Atomics.load(cells, ring + GET_WAITERS) > 0) wake(cells, ring + PUTS);
  return true;
}

/**
 * Moves the oldest record into `into` (from offset 0) and returns its
 * header (length | flags); {@linkcode EMPTY} when there is none. With
 * `accept`, a record it refuses (given its header and first byte) stays in
 * place and {@linkcode REFUSED} is returned. With `brief`,
 * {@linkcode TAKE_BUSY} rather than a long wait for the lock.
 */
export function take(
  heap: Heap,
  ring: number,
  into: Writer,
  accept?: (header: number, first: number) => boolean,
  brief = false,
): number {
  if (Atomics.load(heap.cells, ring + COUNT) === 0) return EMPTY;
  let header: number;
  if (!lock(heap, ring, brief)) return TAKE_BUSY;
  try {
    let cells = heap.cells;
    if (cells[ring + COUNT] === 0) return EMPTY;
    const cap = cells[ring + CAP];
    const data = cells[ring + DATA];
    heap.reach(data + (cap >> 2));
    cells = heap.cells;
    const head = cells[ring + HEAD];
    header = cells[data + (head >> 2)];
    const length = header & LENGTH_MASK;
    let from = head + 4;
    if (from === cap) from = 0;
    const bytes = heap.bytes;
    const base = data << 2;
    if (accept !== undefined && !accept(header, bytes[base + from])) {
      return REFUSED;
    }
    into.length = 0;
    into.reserve(length);
    const first = Math.min(length, cap - from);
    into.bytes.set(bytes.subarray(base + from, base + from + first), 0);
    if (first < length) {
      into.bytes.set(bytes.subarray(base, base + length - first), first);
    }
    into.length = length;
    const size = sizeOf(length);
    const used = cells[ring + USED] - size;
    let n = stage(cells, ring, 0, ring + USED, used);
    if (used === 0) {
      // An empty ring restarts at 0, so most records never wrap.
      n = stage(cells, ring, n, ring + HEAD, 0);
      n = stage(cells, ring, n, ring + TAIL, 0);
    } else {
      n = stage(cells, ring, n, ring + HEAD, (head + size) % cap);
    }
    n = stage(cells, ring, n, ring + COUNT, cells[ring + COUNT] - 1);
    commit(cells, ring, n);
  } finally {
    release(heap.cells, ring + LOCK);
  }
  const cells = heap.cells;
  Atomics.add(cells, ring + GETS, 1);
  if (Atomics.load(cells, ring + PUT_WAITERS) > 0) wake(cells, ring + GETS);
  return header;
}

/** The length in a header {@linkcode take} returned. */
export function lengthOf(header: number): number {
  return header & LENGTH_MASK;
}

/**
 * Replaces the data block by one where `size` more bytes fit (doubling),
 * keeping the records in order (lock held).
 */
function grow(heap: Heap, ring: number, size: number): void {
  let cells = heap.cells;
  const cap = cells[ring + CAP];
  const used = cells[ring + USED];
  let next = Math.max(FIRST_BYTES, cap * 2);
  while (next - used < size) next *= 2;
  if (next > MAX_BLOCK_BYTES) {
    throw new RangeError(
      `Cannot send a message of ${
        size - 4
      } bytes: it does not fit in the ring (${
        MAX_BLOCK_BYTES / 2 ** 20
      } MiB at most, ${used} bytes in use): drain it first`,
    );
  }
  // The bigger block is owned by GROWING from its allocation on.
  Atomics.store(cells, ring + GROWING_CAP, next);
  const block = heap.allocate(next, ring + GROWING);
  heap.reach(block + (next >> 2));
  cells = heap.cells;
  const old = cells[ring + DATA];
  if (used > 0) {
    heap.reach(old + (cap >> 2));
    cells = heap.cells;
    const bytes = heap.bytes;
    const from = old << 2;
    const to = block << 2;
    const head = cells[ring + HEAD];
    const first = Math.min(used, cap - head);
    bytes.copyWithin(to, from + head, from + head + first);
    if (first < used) bytes.copyWithin(to + first, from, from + used - first);
  }
  let n = stage(cells, ring, 0, ring + DATA, block);
  n = stage(cells, ring, n, ring + CAP, next);
  n = stage(cells, ring, n, ring + HEAD, 0);
  n = stage(cells, ring, n, ring + TAIL, used % next);
  n = stage(cells, ring, n, ring + GROWING, 0);
  n = stage(cells, ring, n, ring + FREEING, old);
  n = stage(cells, ring, n, ring + FREEING_CAP, cap);
  commit(cells, ring, n);
  heap.free(ring + FREEING, cap);
}

/**
 * Marks one task of a JoinableQueue done; returns the tasks left, or -1
 * (changing nothing) when none was unfinished.
 */
export function taskDone(heap: Heap, ring: number): number {
  let left: number;
  lock(heap, ring);
  try {
    const cells = heap.cells;
    left = cells[ring + TASKS];
    if (left <= 0) return -1;
    Atomics.store(cells, ring + TASKS, --left); // one store: its own commit
  } finally {
    release(heap.cells, ring + LOCK);
  }
  if (left === 0) {
    const cells = heap.cells;
    Atomics.add(cells, ring + TASKS_DONE, 1);
    if (Atomics.load(cells, ring + JOIN_WAITERS) > 0) {
      wake(cells, ring + TASKS_DONE);
    }
  }
  return left;
}

/** Bumps `cell` of the ring and wakes its waiters (a state change). */
export function wakeAll(heap: Heap, ring: number, cell: number): void {
  Atomics.add(heap.cells, ring + cell, 1);
  wake(heap.cells, ring + cell);
}

/** The bytes of data the ring holds now (its memory). */
export function capacity(heap: Heap, ring: number): number {
  return Atomics.load(heap.cells, ring + CAP);
}

/**
 * Frees the ring's memory and clears its cells, once no live process can
 * use it (the record is dying). Returns `false` if a live process holds its
 * lock (then nothing is done).
 */
export function dispose(heap: Heap, ring: number): boolean {
  const taken = tryAcquire(heap.cells, ring + LOCK);
  if (taken === "busy") return false;
  if (taken === "taken over") repair(heap, ring);
  heap.free(ring + DATA, heap.cells[ring + CAP]);
  repair(heap, ring);
  heap.cells.fill(0, ring + HEAD, ring + RING_CELLS);
  release(heap.cells, ring + LOCK);
  return true;
}
