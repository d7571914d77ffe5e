// The loop a pool worker runs. A pool worker is an ordinary daemon `Process`
// (so it gets the foundation's naming, exit codes and terminate()) whose
// target is `poolWorker`: it receives batches of tasks on a MessagePort,
// runs them one at a time, and sends results back in batches. A single task
// for an idle worker may instead arrive in its shared slot (the fast path,
// see `_fast_lane.ts`); the worker serves both, one task at a time.
//
// Messages are plain arrays, not objects: structured clone of an array is a
// little cheaper, and the sequential apply round trip is dominated by it.

import {
  registerTargets,
  resolveTarget,
  type TargetLocator,
} from "../runtime/targets.ts";
import {
  type ErrorEnvelope,
  reduce,
  revive,
  serializeError,
} from "../core/reduction.ts";
import {
  H_DONE,
  H_FN,
  H_ID,
  H_KIND,
  H_STATUS,
  H_TASK,
  IN_SLOT,
  openSlot,
  PORTED,
  readValue,
  SpinPolicy,
  spinWhile,
  writeValue,
} from "./_fast_lane.ts";

/** Parent → worker: run tasks `[RUN, defs, tasks]`. */
export const RUN = 0;
/** Parent → worker: finish the current tasks, then end. */
export const EXIT = 1;

/** Worker → parent: `[RESULTS, results]`. */
export const RESULTS = 0;
/** Worker → parent: `[READY, epochMs]`: the initializer ran; tasks may start. */
export const READY = 1;
/** Worker → parent: `[INIT_ERROR, envelope]`; the worker then ends. */
export const INIT_ERROR = 2;

/** Task kinds: one call, a chunk of `map` items, a chunk of `starmap` items. */
export const CALL = 0;
export const MAP = 1;
export const STARMAP = 2;

/** `[id, fnIndex, kind, payload, encoding]`. */
export type TaskMessage = [number, number, number, unknown, number];
/** `[id, ok, value or error envelope, encoding]`. */
export type ResultMessage = [number, boolean, unknown, number];

/** Encodings of a payload: as is, with markers to revive, numbers. */
export const PLAIN = 0;
export const MARKED = 1;
export const FLOATS = 2;

/** An encoded payload. */
export interface Encoded {
  value: unknown;
  encoding: number;
  transfer: Transferable[];
}

/** Lists shorter than this are cloned as they are. */
const FLOATS_MIN = 64;

/**
 * Encodes a list of task items or results. A list of numbers travels as a
 * Float64Array: cloning 125,000 numbers one by one costs ~5.5 ms, while
 * converting them costs ~1 ms and the typed array is copied in one block.
 * Anything else goes through `reduce()`, so shareable objects cross.
 */
export function encodeList(list: unknown[], path: string): Encoded {
  if (list.length >= FLOATS_MIN) {
    let numbers = true;
    for (let i = 0; i < list.length; i++) {
      if (typeof list[i] !== "number") {
        numbers = false;
        break;
      }
    }
    if (numbers) {
      return {
        value: new Float64Array(list as number[]),
        encoding: FLOATS,
        transfer: [],
      };
    }
  }
  return encode(list, path);
}

/** Encodes any value with `reduce()`. */
export function encode(value: unknown, path: string): Encoded {
  const reduced = reduce(value, path);
  return {
    value: reduced.value,
    encoding: reduced.marked ? MARKED : PLAIN,
    transfer: reduced.transfer,
  };
}

/** The inverse of `encode`/`encodeList` (a list of numbers stays typed). */
export function decode(value: unknown, encoding: number): unknown {
  return encoding === MARKED ? revive(value) : value;
}
/** A function the worker has not seen yet: `[fnIndex, locator]`. */
export type FnDefinition = [number, TargetLocator];

/** Cells the worker shares with the pool: the last task started, and busy. */
export const CELL_STARTED = 0;
export const CELL_BUSY = 1;

/** How long sync results may wait in a batch before they are sent anyway. */
const FLUSH_MS = 5;

/**
 * After a slot task, how long the worker spins for the next one (the owner
 * settles a result and submits the next task in a few µs), then how long it
 * blocks in `Atomics.wait`, which wakes in a few µs without burning a core
 * (on a loaded machine a spinner takes the CPU its peer needs). Only then
 * does it park in `Atomics.waitAsync`, which frees its event loop but costs
 * ~20-80 µs to wake. Both bounded: at worst the worker's own timers wait
 * ~0.27 ms (the timeout plus the kernel's timer slack, measured); its port
 * messages do not wait (the owner wakes it when it posts).
 */
const SPIN_MS = 0.01;
const BLOCK_MS = 0.2;

/**
 * The target of every pool worker. Runs `initializer(...initargs)`, then
 * serves tasks from `port` until told to exit or `maxTasks` have run
 * (`maxTasksPerChild`), which ends the process.
 */
export async function poolWorker(
  port: MessagePort,
  cells: Int32Array,
  initializer: TargetLocator | null,
  initargs: unknown[],
  maxTasks: number,
  slotCells: Int32Array,
): Promise<void> {
  const slot = openSlot(slotCells);
  let slotStopped = false;
  const fns = new Map<number, (...args: unknown[]) => unknown>();
  const locators = new Map<number, TargetLocator>();
  const queue: TaskMessage[] = [];
  let results: ResultMessage[] = [];
  let transfer: Transferable[] = [];
  let lastFlush = performance.now();
  let running = false;
  let exiting = false;
  let done = 0;
  let finished!: () => void;
  const end = new Promise<void>((resolve) => finished = resolve);

  const flush = () => {
    lastFlush = performance.now();
    if (results.length === 0) return;
    port.postMessage([RESULTS, results], transfer);
    results = [];
    transfer = [];
  };
  const finish = () => {
    flush();
    // Wakes the slot loop parked in waitAsync, which then ends.
    slotStopped = true;
    Atomics.notify(slotCells, H_TASK);
    port.onmessage = null;
    port.close();
    finished();
  };

  const run = async (task: TaskMessage): Promise<unknown> => {
    let fn = fns.get(task[1])!;
    if (fn === undefined) {
      flush(); // resolving yields to the event loop: report what is done
      fn = await resolveTarget(locators.get(task[1])!) as (
        ...args: unknown[]
      ) => unknown;
      fns.set(task[1], fn);
    }
    const payload = decode(task[3], task[4]);
    switch (task[2]) {
      case CALL: {
        let value = fn(...(payload as unknown[]));
        if (isThenable(value)) {
          flush();
          value = await value;
        }
        return value;
      }
      default: {
        const items = payload as unknown[];
        // `[]` and push: `new Array(n)` for a large n makes a slow
        // dictionary-backed array in V8.
        const out: unknown[] = [];
        const spread = task[2] === STARMAP;
        for (let i = 0; i < items.length; i++) {
          let value = spread ? fn(...(items[i] as unknown[])) : fn(items[i]);
          if (isThenable(value)) {
            flush();
            value = await value;
          }
          out.push(value);
        }
        return out;
      }
    }
  };

  /** A result for the port: encoded, its transferables collected. */
  const toMessage = (task: TaskMessage, value: unknown): ResultMessage => {
    const encoded = task[2] === CALL
      ? encode(value, "the task's result")
      : encodeList(value as unknown[], "the task's results");
    for (const t of encoded.transfer) transfer.push(t);
    if (encoded.encoding === FLOATS) {
      // Moved, not copied: the worker keeps no reference to it.
      transfer.push((encoded.value as Float64Array).buffer as ArrayBuffer);
    }
    return [task[0], true, encoded.value, encoded.encoding];
  };

  /** Runs the task in the slot; its result goes back there, or by port. */
  const runSlotTask = async (seq: number) => {
    const task: TaskMessage = [
      slotCells[H_ID],
      slotCells[H_FN],
      slotCells[H_KIND],
      readValue(slot),
      PLAIN,
    ];
    running = true;
    Atomics.store(cells, CELL_STARTED, task[0]);
    Atomics.store(cells, CELL_BUSY, 1);
    let result: ResultMessage | undefined;
    try {
      const value = await run(task);
      // Errors, shareable objects and big values take the port.
      if (!writeValue(slot, value)) result = toMessage(task, value);
    } catch (error) {
      result = [task[0], false, serializeError(error), PLAIN];
    }
    Atomics.store(cells, CELL_BUSY, 0);
    if (result !== undefined) {
      results.push(result);
      flush();
    }
    slotCells[H_STATUS] = result === undefined ? IN_SLOT : PORTED;
    Atomics.store(slotCells, H_DONE, seq);
    Atomics.notify(slotCells, H_DONE);
    running = false;
    if ((maxTasks > 0 && ++done >= maxTasks) || exiting) finish();
  };

  /** Serves slot tasks until the worker ends. */
  const serveSlot = async () => {
    const policy = new SpinPolicy();
    let seen = Atomics.load(slotCells, H_TASK);
    let spin = false;
    while (!slotStopped) {
      let seq = Atomics.load(slotCells, H_TASK);
      if (seq === seen && spin && policy.shouldSpin()) {
        seq = spinWhile(slotCells, H_TASK, seen, SPIN_MS);
        if (seq === seen) {
          Atomics.wait(slotCells, H_TASK, seen, BLOCK_MS);
          seq = Atomics.load(slotCells, H_TASK);
        }
        policy.record(seq !== seen);
      }
      if (seq === seen) {
        // Parked without blocking: port messages and timers still run.
        const wait = Atomics.waitAsync(slotCells, H_TASK, seen);
        if (wait.async) await wait.value;
        spin = false;
        continue;
      }
      seen = seq;
      await runSlotTask(seq);
      spin = true;
    }
  };

  const drain = async () => {
    running = true;
    while (queue.length > 0) {
      const task = queue.shift()!;
      Atomics.store(cells, CELL_STARTED, task[0]);
      Atomics.store(cells, CELL_BUSY, 1);
      let result: ResultMessage;
      try {
        result = toMessage(task, await run(task));
      } catch (error) {
        result = [task[0], false, serializeError(error), PLAIN];
      }
      Atomics.store(cells, CELL_BUSY, 0);
      results.push(result);
      if (maxTasks > 0 && ++done >= maxTasks) {
        // maxTasksPerChild: the pool sent no more than this; end here.
        finish();
        return;
      }
      if (performance.now() - lastFlush > FLUSH_MS) flush();
    }
    flush();
    running = false;
    if (exiting) finish();
  };

  try {
    if (initializer !== null) {
      const init = await resolveTarget(initializer);
      await init(...initargs);
    }
  } catch (error) {
    port.postMessage([INIT_ERROR, serializeError(error) as ErrorEnvelope]);
    port.close();
    return;
  }

  port.onmessage = (event: MessageEvent) => {
    const message = event.data as unknown[];
    if (message[0] === RUN) {
      const defs = message[1] as FnDefinition[] | 0;
      if (defs !== 0) {
        for (const [i, locator] of defs) locators.set(i, locator);
      }
      for (const task of message[2] as TaskMessage[]) queue.push(task);
      if (!running) void drain();
    } else if (message[0] === EXIT) {
      exiting = true;
      if (!running) finish();
    }
  };
  // When it became ready, on the shared clock: the owner may read this
  // message late (its thread busy), and timeouts count from here.
  port.postMessage([READY, performance.timeOrigin + performance.now()]);
  void serveSlot();
  await end;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

registerTargets(import.meta, { poolWorker });
