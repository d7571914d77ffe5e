// A process's handle on one end of a record (a Queue, or an end of a Pipe):
// the record's rings, the copy this handle owns, how it crosses into
// another process, and how its waits park (through core/park.ts).

import { isMainThread } from "node:worker_threads";
import type { ReduceContext } from "../core/reduction.ts";
import { AGAIN, retrySync, waitUntil } from "../core/park.ts";
import type { Wait } from "../core/wait.ts";
import { currentIdentity, endingsCell } from "../runtime/_context.ts";
import { type Heap, heap as programHeap } from "./_heap.ts";
import { PUTS, wakeAll } from "./_ring.ts";
import { BUSY, heldByLive } from "./_lock.ts";
import {
  addCopy,
  createRecord,
  dropCopy,
  isCurrent,
  isHeld,
  kindOf,
  MAXSIZE,
  PIPE,
  type RecordRef,
  ringOf,
  takeOverCopy,
  totalOf,
} from "./_records.ts";

export { AGAIN, BUSY };

/**
 * How long an async wait sleeps before it re-checks on its own. Everything
 * a wait here depends on is notified (a put, a take, a close, a process's
 * end through the runtime's endings cell), so the slice only bounds a
 * missed wake-up; each wake-up of an idle worker costs ≈ 0.2 ms of CPU
 * (measured: 200 workers parked in 250 ms slices took 12–19% of a core).
 */
const IDLE_SLICE_MS = 5000;
/** How often a wait re-checks a ring lock whose holder keeps it (ms). */
const BUSY_SLICE_MS = 2;

/** What a handle's state is when it crosses into another process. */
export interface SharedEnd {
  /** The heap's identity: a record is meaningful in its own heap only. */
  heap: [number, number];
  record: number;
  gen: number;
  end: number;
  /** 0: the copy is counted for the receiver; else for this sender pid. */
  sender: number;
}

/** One end of a record, as one handle of this process holds it. */
export class Mailbox {
  readonly heap: Heap;
  readonly ref: RecordRef;
  readonly end: number;
  readonly kind: number;

  constructor(heap: Heap, ref: RecordRef, end: number, kind: number) {
    this.heap = heap;
    this.ref = ref;
    this.end = end;
    this.kind = kind;
  }

  /** The base cell of ring `i` of the record. */
  ring(i: number): number {
    return ringOf(this.ref.record, i);
  }

  /** The record's maxsize cell (a Queue's bound). */
  get maxsize(): number {
    return this.heap.cells[this.ref.record + MAXSIZE];
  }

  /** Whether the record is still alive (it is, while this handle holds it). */
  get current(): boolean {
    return isCurrent(this.heap, this.ref);
  }

  /** Whether a live process holds a copy of `end` of the record. */
  held(end: number): boolean {
    return isHeld(this.heap, this.ref, end);
  }

  /** Copies of `end` counted now, dead holders included until released. */
  total(end: number): number {
    return totalOf(this.heap, this.ref, end);
  }

  /**
   * Drops this handle's copy, and wakes the record's readers (a reader of
   * the other end may see EOF now). Returns whether its end is closed for
   * good. The record may be free afterwards: its cells stay a record's
   * (type-stable), so the wake is harmless.
   */
  drop(): boolean {
    const closed = dropCopy(this.heap, this.ref, this.end);
    for (let i = 0; i < this.rings; i++) wakeAll(this.heap, this.ring(i), PUTS);
    return closed;
  }

  /** How many rings the record has. */
  get rings(): number {
    return this.kind === PIPE ? 2 : 1;
  }

  /**
   * The state that stands for this end in a message: counts one more copy
   * (for the receiver when the channel names it).
   */
  share(context: ReduceContext): SharedEnd {
    const receiver = context.receiver;
    if (!addCopy(this.heap, this.ref, this.end, receiver)) {
      throw new TypeError(
        `Cannot send ${context.path}: its end is closed in every process`,
      );
    }
    return {
      heap: this.heap.id,
      record: this.ref.record,
      gen: this.ref.gen,
      end: this.end,
      sender: receiver === undefined ? currentIdentity().pid : 0,
    };
  }

  /**
   * Waits (parking the caller) until `attempt` returns something other
   * than `AGAIN`; the wakers change `cell` of ring `i`. `onTimeout` gives
   * the result once the deadline passes. A `deathAware` wait also wakes
   * when any process of the program ends (a reader waiting for EOF).
   *
   * An attempt returns `BUSY` when the ring's lock stayed held by a
   * process the runtime still counts alive (see _lock.ts): the wait then
   * watches the lock, and the endings cell, without blocking the thread —
   * this thread's event loop may be the one that records the holder's end.
   */
  async wait<R>(
    i: number,
    cell: number,
    waiters: number,
    wait: Wait,
    attempt: () => R | typeof AGAIN | typeof BUSY,
    onTimeout: () => R,
    deathAware = false,
  ): Promise<R> {
    const cells = this.heap.cells;
    const ring = this.ring(i);
    const options = {
      slice: IDLE_SLICE_MS,
      also: deathAware ? endingsCell() : undefined,
    };
    Atomics.add(cells, ring + waiters, 1);
    try {
      for (;;) {
        let result: R | typeof AGAIN | typeof BUSY = AGAIN;
        const ready = await waitUntil(
          cells,
          ring + cell,
          () => (result = attempt()) !== AGAIN,
          wait.deadline,
          wait.signal,
          options,
        );
        if (!ready) return onTimeout();
        if ((result as unknown) !== BUSY) return result as R;
        if (!await this.lockFree(i, wait)) return onTimeout();
      }
    } finally {
      Atomics.sub(cells, ring + waiters, 1);
    }
  }

  /**
   * Waits, without blocking the thread, until ring `i`'s lock is free or
   * its holder is known to have ended; `false` at the deadline.
   */
  lockFree(i: number, wait: Wait): Promise<boolean> {
    const cells = this.heap.cells;
    const ring = this.ring(i);
    return waitUntil(
      cells,
      ring, // the lock's holder cell: it changes on release
      () => !heldByLive(cells, ring),
      wait.deadline,
      wait.signal,
      { slice: BUSY_SLICE_MS, also: endingsCell() },
    );
  }

  /** The blocking form of {@linkcode Mailbox.wait}: parks the thread. */
  waitSync<R>(
    i: number,
    cell: number,
    waiters: number,
    deadline: number,
    attempt: () => R | typeof AGAIN,
    onTimeout: () => R,
  ): R {
    const cells = this.heap.cells;
    const ring = this.ring(i);
    Atomics.add(cells, ring + waiters, 1);
    try {
      // Sync parks keep park.ts's short slices: a dead peer is noticed
      // within one, and a thread's own wake-up costs little.
      return retrySync(cells, ring + cell, deadline, attempt, onTimeout);
    } finally {
      Atomics.sub(cells, ring + waiters, 1);
    }
  }
}

/** Creates a record of `kind`; this process holds one copy of each end. */
export function createMailboxes(
  kind: number,
  ends: number,
  maxsize = 0,
): Mailbox[] {
  const heap = programHeap();
  const ref = createRecord(heap, kind, maxsize);
  return Array.from(
    { length: ends },
    (_, end) => new Mailbox(heap, ref, end, kind),
  );
}

/**
 * The handle for an end that crossed into this process: takes over the
 * copy counted for it. Returns `undefined` when the end is closed for good
 * (its last holders closed it or died while the message travelled).
 */
export function reviveMailbox(
  state: SharedEnd,
  kind: number,
): Mailbox | undefined {
  const heap = programHeap();
  const [a, b] = heap.id;
  if (state.heap[0] !== a || state.heap[1] !== b) {
    throw new TypeError(
      `Cannot receive a ${
        kind === 2 ? "Pipe end" : "Queue"
      } made in another program (or in a worker this module did not start${
        isMainThread ? "" : ", such as this one"
      })`,
    );
  }
  const ref = { record: state.record, gen: state.gen };
  const open = state.sender === 0
    ? isCurrent(heap, ref) && totalOf(heap, ref, state.end) > 0
    : takeOverCopy(heap, ref, state.end, state.sender);
  if (!open || kindOf(heap, ref) !== kind) return undefined;
  return new Mailbox(heap, ref, state.end, kind);
}

/**
 * Drops a handle's copy when the handle is garbage-collected without
 * `close()` (as a Python connection closes its handle when collected).
 */
const forgotten = new FinalizationRegistry<Mailbox>((box) => box.drop());

/** Drops `box`'s copy when `owner` is collected; returns the token to cancel. */
export function dropWhenCollected(owner: object, box: Mailbox): object {
  const token = {};
  forgotten.register(owner, box, token);
  return token;
}

/** Cancels {@linkcode dropWhenCollected} (the owner dropped it itself). */
export function keepWhenCollected(token: object): void {
  forgotten.unregister(token);
}
