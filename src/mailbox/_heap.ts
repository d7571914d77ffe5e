// The program's shared heap: the one memory every Queue and Pipe lives in.
//
// Why one heap: a growable SharedArrayBuffer costs two memory mappings
// whatever its size, and the kernel allows 65,530 per program (measured: a
// ring per growable buffer ended the program with a fatal V8 OOM at ~16k
// Pipes), while a buffer object received by another thread maps nothing
// new. So the runtime creates one growable buffer (8 GiB of address space,
// memory committed as it grows) and hands it to every worker at boot
// (runtime/_context.ts): a ring created by any process, or grown by any
// process, is then reachable by every process at once — no buffer is ever
// handed around, and no directory is asked.
//
// Addresses are Int32 cell indexes. Two kinds of blocks:
// - general blocks, power-of-two sizes from 64 B to 1 GiB, for ring data
//   and holder lists, kept on one free list per size;
// - records (see _records.ts), RECORD_CELLS each, allocated in chunks and
//   type-stable: a freed record is only ever reused as a record, so its lock
//   and generation cells stay meaningful for whoever still holds a stale
//   reference (a copy of an end revived after the pipe died).
// Every change is made under the heap's lock with its journal (see
// _lock.ts), so a process that dies mid-allocation leaves the heap whole:
// a block is allocated and recorded in its owner's cell in one commit, and
// freed and cleared from it in one commit.

import { programHeap } from "../runtime/_context.ts";
import { acquire, commit, lockCells, release, stage } from "./_lock.ts";

// Header cells.
const MAGIC = 0;
const ID = 1; // two cells
const TOP = 3; // the first cell never handed out
const RECORD_FREE = 4; // head of the free records
const CHUNKS = 5; // head of the record chunks
const SWEEP_CHUNK = 6; // the sweep's cursor (see _records.ts)
const SWEEP_INDEX = 7;
const LOCK = 8;
/** The heap's journal holds a split: a pop and a push per size class. */
const PAIRS = 40;
const FREE = LOCK + lockCells(PAIRS); // one free-list head per size class
const MIN_CLASS = 6; // 64 B
const MAX_CLASS = 30; // 1 GiB
const HEADER_CELLS = FREE + MAX_CLASS + 1;

const MAGIC_VALUE = 0x6d70_6870; // "mphp"
const INITIALIZING = -1;

/** Cells of a record. */
export const RECORD_CELLS = 128;
/** The cell of a record that links it into the free records. */
export const RECORD_NEXT = lockCells() + 2;
/** Records per chunk: a chunk is one 32 KiB block. */
const CHUNK_RECORDS = 63;
const CHUNK_HEADER = 4; // +0: next chunk
const CHUNK_CELLS = CHUNK_HEADER + CHUNK_RECORDS * RECORD_CELLS;
const CHUNK_BYTES = 2 ** 15;

/** The largest block (bytes): a ring's data, so the largest message. */
export const MAX_BLOCK_BYTES = 2 ** MAX_CLASS;

/** The size class of a block of at least `bytes` bytes. */
export function sizeClass(bytes: number): number {
  if (bytes > MAX_BLOCK_BYTES) {
    throw new RangeError(
      `Cannot allocate ${bytes} bytes in the shared heap: a message must fit in ${
        MAX_BLOCK_BYTES / 2 ** 20
      } MiB`,
    );
  }
  return Math.max(MIN_CLASS, Math.ceil(Math.log2(bytes)));
}

/** This process's view of the shared heap. */
export class Heap {
  readonly buffer: SharedArrayBuffer;
  /** Cells [0, length): refreshed when another process grew the heap. */
  cells: Int32Array;
  /** The same memory as bytes. */
  bytes: Uint8Array;

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    // Fixed-length views: Atomics on a length-tracking view of a growable
    // buffer measured 4× slower (68 vs 16 ns).
    this.cells = new Int32Array(buffer, 0, buffer.byteLength >> 2);
    this.bytes = new Uint8Array(buffer, 0, buffer.byteLength);
    this.#initialize();
  }

  /** The heap's identity: two random cells. */
  get id(): [number, number] {
    return [this.cells[ID], this.cells[ID + 1]];
  }

  /** Makes the views cover cells below `end` (grown by any process). */
  reach(end: number): void {
    if (end <= this.cells.length) return;
    this.#refresh();
    if (end > this.cells.length) {
      throw new RangeError(
        `Cannot reach cell ${end} of the shared heap: it has ${this.cells.length} (a stale reference)`,
      );
    }
  }

  #refresh(): void {
    const length = this.buffer.byteLength;
    this.cells = new Int32Array(this.buffer, 0, length >> 2);
    this.bytes = new Uint8Array(this.buffer, 0, length);
  }

  #initialize(): void {
    const cells = this.cells;
    const magic = Atomics.compareExchange(cells, MAGIC, 0, INITIALIZING);
    if (magic === 0) {
      const id = crypto.getRandomValues(new Int32Array(2));
      cells[ID] = id[0];
      cells[ID + 1] = id[1];
      cells[TOP] = align(HEADER_CELLS, 16);
      Atomics.store(cells, MAGIC, MAGIC_VALUE);
      return;
    }
    while (Atomics.load(cells, MAGIC) !== MAGIC_VALUE) {
      // Another thread initializes it (a few stores away).
    }
  }

  /**
   * Allocates a block of at least `bytes` bytes and returns its first cell;
   * `into` (a cell the caller owns under its own lock, 0 until now)
   * receives the address in the same commit, so the block always has an
   * owner. (A dead holder's allocation into a cell whose owner has moved on
   * is overwritten here: that block leaks, once per such death.)
   */
  allocate(bytes: number, into: number): number {
    const c = sizeClass(bytes);
    this.#lock();
    try {
      let n = 0;
      let block = 0;
      // The smallest free block that fits, halved down to the size asked:
      // the unused halves go to their free lists in the same commit.
      for (let k = c; k <= MAX_CLASS && block === 0; k++) {
        const head = this.cells[FREE + k];
        if (head === 0) continue;
        this.reach(head + 2 ** (k - 2));
        const cells = this.cells;
        n = stage(cells, LOCK, n, FREE + k, cells[head], PAIRS);
        for (let half = k - 1; half >= c; half--) {
          const rest = head + 2 ** (half - 2);
          cells[rest] = cells[FREE + half]; // unreachable until the commit
          n = stage(cells, LOCK, n, FREE + half, rest, PAIRS);
        }
        block = head;
      }
      if (block === 0) {
        block = this.#bump(2 ** (c - 2));
        n = stage(this.cells, LOCK, n, TOP, block + 2 ** (c - 2), PAIRS);
      }
      n = stage(this.cells, LOCK, n, into, block, PAIRS);
      commit(this.cells, LOCK, n);
      return block;
    } finally {
      release(this.cells, LOCK);
    }
  }

  /**
   * Frees the block whose address the cell `owner` holds (`bytes` bytes,
   * as allocated), and clears `owner` in the same commit. The address is
   * read under the heap's lock: a dead holder's free that the takeover
   * replays has cleared it already, and nothing is freed twice.
   */
  free(owner: number, bytes: number): void {
    const c = sizeClass(bytes);
    this.#lock();
    try {
      const block = this.cells[owner];
      if (block === 0) return;
      this.reach(block + 1);
      const cells = this.cells;
      cells[block] = cells[FREE + c]; // unreachable until the commit
      let n = stage(cells, LOCK, 0, FREE + c, block, PAIRS);
      n = stage(cells, LOCK, n, owner, 0, PAIRS);
      commit(cells, LOCK, n);
    } finally {
      release(this.cells, LOCK);
    }
  }

  /**
   * Takes a free record and makes it live. `init(cells, record)` may write
   * the free record's cells (nobody reads a free record's cells but its
   * lock and generation) and returns the writes (flat cell, value pairs:
   * its kind) that make it live, committed with its removal from the free
   * list: a record is never live without its creator's copies, so the
   * sweep may free any live record that no live process holds.
   */
  allocateRecord(
    init: (cells: Int32Array, record: number) => number[],
  ): number {
    this.#lock();
    try {
      let record = this.cells[RECORD_FREE];
      if (record === 0) record = this.#addChunk();
      this.reach(record + RECORD_CELLS);
      const cells = this.cells;
      let n = stage(
        cells,
        LOCK,
        0,
        RECORD_FREE,
        cells[record + RECORD_NEXT],
        PAIRS,
      );
      const writes = init(cells, record);
      for (let i = 0; i < writes.length; i += 2) {
        n = stage(cells, LOCK, n, writes[i], writes[i + 1], PAIRS);
      }
      commit(cells, LOCK, n);
      return record;
    } finally {
      release(this.cells, LOCK);
    }
  }

  /**
   * Returns a record (whose other cells the caller has already cleared) to
   * the free records, with the `writes` (flat cell, value pairs: its new
   * generation and state) in the same commit.
   */
  freeRecord(record: number, writes: number[]): void {
    this.#lock();
    try {
      const cells = this.cells;
      cells[record + RECORD_NEXT] = cells[RECORD_FREE];
      let n = stage(cells, LOCK, 0, RECORD_FREE, record, PAIRS);
      for (let i = 0; i < writes.length; i += 2) {
        n = stage(cells, LOCK, n, writes[i], writes[i + 1], PAIRS);
      }
      commit(cells, LOCK, n);
    } finally {
      release(this.cells, LOCK);
    }
  }

  /**
   * The next record for the sweep to look at (any record, live or free),
   * advancing the shared cursor; 0 when there is none. Concurrent sweeps
   * may look at one record twice or skip one: the next round finds it.
   */
  nextSwept(): number {
    const cells = this.cells;
    let chunk = Atomics.load(cells, SWEEP_CHUNK);
    let index = Atomics.load(cells, SWEEP_INDEX);
    if (chunk === 0 || index >= CHUNK_RECORDS) {
      if (chunk !== 0) this.reach(chunk + 1);
      chunk = chunk === 0 ? 0 : Atomics.load(this.cells, chunk);
      if (chunk === 0) chunk = Atomics.load(cells, CHUNKS);
      index = 0;
    }
    if (chunk === 0) return 0;
    Atomics.store(cells, SWEEP_CHUNK, chunk);
    Atomics.store(cells, SWEEP_INDEX, index + 1);
    const record = chunk + CHUNK_HEADER + index * RECORD_CELLS;
    this.reach(record + RECORD_CELLS);
    return record;
  }

  /** Cells handed out so far (the heap's high-water mark). */
  get top(): number {
    return Atomics.load(this.cells, TOP);
  }

  #lock(): void {
    // Held for a few stores at a time: a patient wait.
    acquire(this.cells, LOCK);
    // A dead holder's committed journal was replayed; an uncommitted one
    // changed nothing (blocks past TOP are unreachable), so nothing more
    // is to repair.
  }

  /** Makes a chunk of free records; returns its first record. */
  #addChunk(): number {
    const cells0 = this.cells;
    const c = sizeClass(CHUNK_BYTES);
    let chunk = cells0[FREE + c];
    let n = 0;
    if (chunk !== 0) {
      this.reach(chunk + 1);
      n = stage(this.cells, LOCK, n, FREE + c, this.cells[chunk]);
    } else {
      chunk = this.#bump(CHUNK_BYTES >> 2);
      n = stage(this.cells, LOCK, n, TOP, chunk + (CHUNK_BYTES >> 2));
    }
    this.reach(chunk + CHUNK_CELLS);
    const cells = this.cells;
    // Unreachable until the commit: a death here leaves nothing behind.
    cells.fill(0, chunk, chunk + CHUNK_CELLS);
    cells[chunk] = cells[CHUNKS];
    const first = chunk + CHUNK_HEADER;
    for (let i = 0; i < CHUNK_RECORDS; i++) {
      const record = first + i * RECORD_CELLS;
      cells[record + RECORD_NEXT] = i + 1 < CHUNK_RECORDS
        ? record + RECORD_CELLS
        : cells[RECORD_FREE];
    }
    n = stage(cells, LOCK, n, CHUNKS, chunk);
    n = stage(cells, LOCK, n, RECORD_FREE, first);
    commit(cells, LOCK, n);
    return first;
  }

  /**
   * The address of `size` new cells past TOP, growing the buffer if need
   * be (the caller commits the new TOP).
   */
  #bump(size: number): number {
    const block = this.cells[TOP];
    const end = block + size;
    if (end > this.buffer.byteLength >> 2) {
      const max = this.buffer.maxByteLength;
      const want = Math.min(max, Math.max(end * 4, this.buffer.byteLength * 2));
      if (end * 4 > max) {
        throw new RangeError(
          `Cannot grow the shared heap of Queues and Pipes past ${
            max / 2 ** 30
          } GiB (${
            size * 4
          } more bytes were needed): drain them, or move large data with SharedMemory`,
        );
      }
      this.buffer.grow(align(want, 65536));
    }
    this.reach(end);
    return block;
  }
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

let local: Heap | undefined;

/** This process's view of the program's heap. */
export function heap(): Heap {
  return local ??= new Heap(programHeap());
}
