/**
 * `Pool`: Python's `multiprocessing.Pool`, as a supervisor over a fixed set
 * of worker processes, with `AsyncResult`.
 *
 * Workers are ordinary daemon `Process`es named `PoolWorker-N` that run one
 * task at a time. Unlike Python's pool, a worker that dies is replaced and
 * the task it ran fails with an error naming it (Python hangs:
 * python/cpython#96062), and tasks take a `timeout` and an `AbortSignal`.
 * Tasks travel by MessagePort, in batches; a single small plain task for an
 * idle worker takes a faster shared-memory slot instead (`_fast_lane.ts`).
 *
 * @module
 */

import {
  MessageChannel as NodeMessageChannel,
  receiveMessageOnPort,
} from "node:worker_threads";
import { deadline, signalled, validateTimeout } from "../core/_async.ts";
import { ProcessError, TimeoutError } from "../errors.ts";
import { cpuCount, Process } from "../process/process.ts";
import {
  deserializeError,
  type ErrorEnvelope,
  reduce,
} from "../core/reduction.ts";
import { describe } from "../core/describe.ts";
import { locateTarget, type TargetLocator } from "../runtime/targets.ts";
import {
  CALL,
  CELL_BUSY,
  CELL_STARTED,
  decode,
  encode,
  type Encoded,
  encodeList,
  EXIT,
  type FnDefinition,
  INIT_ERROR,
  MAP,
  PLAIN,
  poolWorker,
  READY,
  type ResultMessage,
  RESULTS,
  RUN,
  STARMAP,
  type TaskMessage,
} from "./_pool_worker.ts";
import {
  createSlotCells,
  H_DONE,
  H_FN,
  H_ID,
  H_KIND,
  H_STATUS,
  H_TASK,
  IN_SLOT,
  openSlot,
  readValue,
  type Slot as SharedSlot,
  slotCounters,
  spinFor,
  SpinPolicy,
  writeValue,
} from "./_fast_lane.ts";

/**
 * Options of `new Pool({...})`.
 *
 * @example
 * ```ts
 * import { Pool, type PoolOptions } from "@seed/multiprocessing";
 * import { initialize, initialized } from "../../tests/fixtures/pool_tasks.ts";
 * import assert from "node:assert/strict";
 *
 * const options: PoolOptions<[string]> = {
 *   processes: 1,
 *   initializer: initialize,
 *   initargs: ["configured"],
 *   maxTasksPerChild: 100,
 * };
 * await using pool = new Pool(options);
 * assert.equal(pool.processes, 1);
 * assert.equal(await pool.apply(initialized), "configured");
 * ```
 */
export interface PoolOptions<I extends unknown[] = unknown[]> {
  /** How many workers; `cpuCount()` by default. */
  processes?: number;
  /** Runs once in each worker (replacements too) before its first task. */
  initializer?: (...args: I) => unknown;
  /** Arguments for `initializer`. */
  initargs?: NoInfer<I>;
  /** A worker ends and is replaced after this many tasks (a chunk is one). */
  maxTasksPerChild?: number;
}

/**
 * Per-task limits, for every method that submits work.
 *
 * @example
 * ```ts
 * import { Pool, type TaskOptions, TimeoutError } from "@seed/multiprocessing";
 * import { burn } from "../../tests/fixtures/pool_tasks.ts";
 * import assert from "node:assert/strict";
 *
 * const limits: TaskOptions = { timeout: 50 };
 * await using pool = new Pool(1);
 * // The task would busy-wait for 10 s: it is stopped after 50 ms.
 * await assert.rejects(pool.apply(burn, [10_000], limits), TimeoutError);
 * ```
 */
export interface TaskOptions {
  /**
   * Milliseconds a task may run, counted from when a worker starts it (not
   * while it waits in the queue). On expiry the task rejects with
   * `TimeoutError` and its worker is stopped and replaced. For `map` and
   * `imap` it applies to each chunk.
   */
  timeout?: number;
  /**
   * Aborting removes the work still queued and stops (and replaces) the
   * workers running it; the result rejects with `signal.reason`.
   */
  signal?: AbortSignal;
}

/**
 * Options of `applyAsync`: limits and Python's callbacks.
 *
 * @example
 * ```ts
 * import { type ApplyAsyncOptions, Pool } from "@seed/multiprocessing";
 * import { failsWithCause } from "../../tests/fixtures/pool_tasks.ts";
 * import assert from "node:assert/strict";
 *
 * const failures: unknown[] = [];
 * const options: ApplyAsyncOptions<never> = {
 *   errorCallback: (error) => failures.push(error),
 *   timeout: 5000,
 * };
 * await using pool = new Pool(1);
 * const result = pool.applyAsync(failsWithCause, ["bad input"], options);
 * assert.equal(await result.wait(), true);
 * assert.equal(result.successful(), false);
 * assert.ok(failures[0] instanceof RangeError);
 * ```
 */
export interface ApplyAsyncOptions<R> extends TaskOptions {
  /** Called with the result, in the pool's owner, before `ready()` turns true. */
  callback?: (result: R) => void;
  /** Called with the error when the task fails. */
  errorCallback?: (error: unknown) => void;
}

/**
 * Options of the `map` family.
 *
 * @example
 * ```ts
 * import { type MapOptions, Pool } from "@seed/multiprocessing";
 * import { square } from "../../tests/fixtures/pool_tasks.ts";
 * import assert from "node:assert/strict";
 *
 * const options: MapOptions = { chunksize: 2, timeout: 5000 };
 * await using pool = new Pool(1);
 * const squares = await pool.map(square, [1, 2, 3, 4, 5], options);
 * assert.deepEqual(squares, [1, 4, 9, 16, 25]);
 * assert.equal(pool.stats.tasksCompleted, 3); // chunks of 2, 2 and 1 items
 * ```
 */
export interface MapOptions extends TaskOptions {
  /** Items per task; Python's default rule when omitted (see `map`). */
  chunksize?: number;
}

/**
 * Options of `mapAsync`/`starmapAsync`.
 *
 * @example
 * ```ts
 * import { type MapAsyncOptions, Pool } from "@seed/multiprocessing";
 * import { square } from "../../tests/fixtures/pool_tasks.ts";
 * import assert from "node:assert/strict";
 *
 * const totals: number[] = [];
 * const options: MapAsyncOptions<number> = {
 *   chunksize: 2,
 *   callback: (results) => totals.push(results.reduce((a, b) => a + b, 0)),
 * };
 * await using pool = new Pool(1);
 * const result = pool.mapAsync(square, [1, 2, 3], options);
 * assert.deepEqual(await result.get(), [1, 4, 9]);
 * assert.deepEqual(totals, [14]);
 * ```
 */
export interface MapAsyncOptions<R> extends MapOptions {
  /** Called with the list of results. */
  callback?: (result: R[]) => void;
  /** Called with the first error. */
  errorCallback?: (error: unknown) => void;
}

/**
 * What a pool has done so far (see `Pool.stats`).
 *
 * @example
 * ```ts
 * import { Pool, type PoolStats } from "@seed/multiprocessing";
 * import { square } from "../../tests/fixtures/pool_tasks.ts";
 * import assert from "node:assert/strict";
 *
 * await using pool = new Pool(1);
 * await pool.map(square, [1, 2, 3], 1);
 * const stats: PoolStats = pool.stats;
 * assert.equal(stats.tasksCompleted, 3);
 * assert.equal(stats.tasksFailed, 0);
 * assert.equal(stats.workersStarted, 1);
 * ```
 */
export interface PoolStats {
  /** Tasks (a `map` chunk is one task) that returned a result. */
  tasksCompleted: number;
  /** Tasks that threw, timed out, were aborted or lost their worker. */
  tasksFailed: number;
  /** Queued tasks dropped before they ran (abort, a failed `map`, `break`). */
  tasksCancelled: number;
  /** Workers started, replacements included. */
  workersStarted: number;
  /** Workers that died or were stopped (timeout, abort) and were replaced. */
  workersReplaced: number;
  /** Workers retired by `maxTasksPerChild`. */
  workersRecycled: number;
  /** Total milliseconds tasks waited in the queue. */
  queuedMs: number;
  /** Total milliseconds from handing tasks to a worker to their results. */
  runningMs: number;
}

// deno-lint-ignore no-explicit-any
type AnyFn = (...args: any[]) => unknown;

/** A node MessagePort: the web one plus ref()/unref(). */
type Port = MessagePort & { ref(): void; unref(): void };

const QUEUED = 0;
const SENT = 1;
const DONE = 2;

interface Task {
  id: number;
  fn: number;
  kind: number;
  payload: unknown;
  encoding: number;
  transfer: Transferable[];
  timeout?: number;
  exclusive: boolean;
  state: number;
  queuedAt: number;
  sentAt: number;
  slot?: Slot;
  timer?: ReturnType<typeof setTimeout>;
  settle(ok: boolean, value: unknown): void;
}

interface Slot {
  process: Process;
  name: string;
  port: Port;
  cells: Int32Array;
  ready: boolean;
  inflight: Task[];
  known: Set<number>;
  sent: number;
  gone: boolean;
  /** The fast path's shared slot (see `_fast_lane.ts`). */
  shared: SharedSlot;
  /** The task in the shared slot, until its result is taken. */
  fastTask?: Task;
  /** Its sequence number: `H_DONE` holds it once the result is written. */
  fastSeq: number;
  /** Whether the owner spins for its results (see `SpinPolicy`). */
  spin: SpinPolicy;
}

/** Consecutive initializer failures after which the pool gives up. */
const MAX_INIT_FAILURES = 3;
/**
 * How often a busy pool checks that its workers are alive. The foundation
 * gives no exit notification that leaves a daemon unref'd (`join()` refs
 * it), so the pool polls `exitCode`, as Python's `_handle_workers` polls
 * every 100 ms. The interval also keeps the program alive while work is
 * outstanding; an idle pool keeps nothing alive.
 */
const WATCHDOG_MS = 20;
/** The same check once the pool is idle: 4 wake-ups a second, not 50. */
const IDLE_WATCHDOG_MS = 250;
/** How long without work before the pool checks at the idle pace. */
const IDLE_AFTER_MS = 500;
/** Most tasks handed to a worker in one message. */
const MAX_BATCH = 64;
/**
 * How long the owner spins for a fast-path result (a short task on a worker
 * waiting for it answers in 1-3 µs), then blocks in `Atomics.wait`, which
 * wakes in a few µs and leaves the core to the worker (a spinner on a loaded
 * machine takes the CPU its peer needs), before it parks in
 * `Atomics.waitAsync`, which frees the event loop but costs ~20-80 µs to
 * wake. The owner's event loop is held at most ~0.17 ms per task (the
 * timeout plus the kernel's timer slack, measured), and not at all once
 * tasks stop finishing within it (`SpinPolicy`).
 */
const SPIN_MS = 0.005;
const BLOCK_MS = 0.1;

let workerCounter = 0;
let taskCounter = 0;

function nextTaskId(): number {
  // Ids travel through an Int32 cell; wrap well before 2^31.
  taskCounter = taskCounter >= 0x3fffffff ? 1 : taskCounter + 1;
  return taskCounter;
}

let settleResult: (r: AsyncResult<any>, ok: boolean, value: unknown) => void;

/**
 * The result of an `applyAsync`, `mapAsync` or `starmapAsync` call
 * (Python's `AsyncResult`), with promises for the waits and milliseconds
 * for timeouts.
 *
 * @example
 * ```ts
 * import { Pool } from "@seed/multiprocessing";
 * import { square } from "../../tests/fixtures/pool_tasks.ts";
 * import assert from "node:assert/strict";
 *
 * await using pool = new Pool(2);
 * const result = pool.applyAsync(square, [7]);
 * assert.equal(await result.get(5000), 49);
 * assert.equal(result.ready(), true);
 * assert.equal(result.successful(), true);
 * ```
 */
export class AsyncResult<T> {
  #state: "pending" | "fulfilled" | "rejected" = "pending";
  #done = signalled<void>();
  #value: unknown;

  static {
    settleResult = (result, ok, value) => result.#settle(ok, value);
  }

  #settle(ok: boolean, value: unknown): void {
    if (this.#state !== "pending") return;
    this.#state = ok ? "fulfilled" : "rejected";
    this.#value = value;
    this.#done.resolve();
  }

  /**
   * Resolves to the result; rejects with the task's own error (same class,
   * message, stack and `cause`), or with `TimeoutError` when `timeoutMs`
   * passes first (the task itself goes on).
   */
  async get(timeoutMs?: number): Promise<T> {
    const timeout = validateTimeout("get() timeoutMs", timeoutMs);
    await deadline(this.#done.promise, timeout, () => {
      throw new TimeoutError(`the result was not ready within ${timeout} ms`);
    });
    if (this.#state === "rejected") throw this.#value;
    return this.#value as T;
  }

  /**
   * Waits until the result is ready, or `timeoutMs` passes; resolves to
   * whether it is ready (Python's `wait()` returns nothing; the boolean
   * saves a `ready()` call).
   */
  async wait(timeoutMs?: number): Promise<boolean> {
    const timeout = validateTimeout("wait() timeoutMs", timeoutMs);
    await deadline(this.#done.promise, timeout, () => undefined);
    return this.#state !== "pending";
  }

  /** Whether the task has finished (and its callback has run). */
  ready(): boolean {
    return this.#state !== "pending";
  }

  /**
   * Whether the task finished without an error; throws `ProcessError` when
   * it is not ready yet (Python raises `ValueError`).
   */
  successful(): boolean {
    if (this.#state === "pending") {
      throw new ProcessError(
        "successful() was called before the result was ready: await wait() first",
      );
    }
    return this.#state === "fulfilled";
  }
}

/**
 * A pool of worker processes (Python's `multiprocessing.Pool`): submit
 * tasks with `apply`, `applyAsync`, `map`, `starmap`, `imap`…; `Pool(n)`
 * never runs more than `n` tasks at once. Task functions reach workers as
 * process targets do: exported from the main module, or registered with
 * `registerTargets(import.meta, { fn })` in their own module.
 *
 * End it with `close()` then `join()` (or `await using`, which does both:
 * graceful, it waits for submitted work), or `terminate()`, which stops
 * everything at once. An idle pool never keeps the program alive.
 *
 * @example
 * ```ts
 * import { Pool } from "@seed/multiprocessing";
 * import { square } from "../../tests/fixtures/pool_tasks.ts";
 * import assert from "node:assert/strict";
 *
 * await using pool = new Pool(2);
 * assert.deepEqual(await pool.map(square, [1, 2, 3]), [1, 4, 9]);
 * assert.equal(await pool.apply(square, [5]), 25);
 * ```
 */
export class Pool {
  #size: number;
  #initializer: TargetLocator | null;
  #initargs: unknown[];
  #maxTasks: number;
  #slots: Slot[] = [];
  #queue: Task[] = [];
  #head = 0;
  #fnIndex = new Map<AnyFn, number>();
  #locators: TargetLocator[] = [];
  #state: "run" | "close" | "terminate" = "run";
  #outstanding = 0;
  #feeders = 0;
  #idle?: ReturnType<typeof signalled<void>>;
  #watchdog?: ReturnType<typeof setInterval>;
  #watchdogIdle = false;
  #idleChecks = 0;
  #initFailures = 0;
  #broken?: { error: unknown };
  #shutDown = false;
  #processes: Process[] = [];
  /** Slots whose fast-path result the next spin looks for. */
  #watched: Slot[] = [];
  #stats: PoolStats = {
    tasksCompleted: 0,
    tasksFailed: 0,
    tasksCancelled: 0,
    workersStarted: 0,
    workersReplaced: 0,
    workersRecycled: 0,
    queuedMs: 0,
    runningMs: 0,
  };

  /**
   * Starts `processes` workers (`cpuCount()` by default). Throws a
   * `RangeError` for a size that is not a whole number ≥ 1, and a
   * `TypeError` for an initializer that cannot reach a worker.
   */
  constructor(processes?: number);
  /** Starts a pool from its options (`processes`, `initializer`, …). */
  constructor(options: PoolOptions<any[]>);
  constructor(arg?: number | PoolOptions<any[]>) {
    const options: PoolOptions = typeof arg === "object" && arg !== null
      ? arg
      : arg === undefined
      ? {}
      : typeof arg === "number"
      ? { processes: arg }
      : badArgument(
        `new Pool() expected a number of processes or an options object, received ${
          describe(arg)
        }`,
      );
    const size = options.processes ?? cpuCount();
    if (typeof size !== "number") {
      throw new TypeError(
        `new Pool() expected processes to be a number, received ${
          describe(size)
        }`,
      );
    }
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(
        `new Pool() expected processes to be a whole number ≥ 1, received ${size}`,
      );
    }
    const max = options.maxTasksPerChild;
    if (max !== undefined && max !== null) {
      if (typeof max !== "number" || !Number.isInteger(max) || max < 1) {
        throw new RangeError(
          `new Pool() expected maxTasksPerChild to be a whole number ≥ 1, received ${
            describe(max)
          }`,
        );
      }
    }
    if (
      options.initializer !== undefined && options.initializer !== null &&
      typeof options.initializer !== "function"
    ) {
      throw new TypeError(
        `new Pool() expected initializer to be a function, received ${
          describe(options.initializer)
        }`,
      );
    }
    if (options.initargs !== undefined && !Array.isArray(options.initargs)) {
      throw new TypeError(
        `new Pool() expected initargs to be an array of arguments, received ${
          describe(options.initargs)
        }`,
      );
    }
    this.#size = size;
    this.#maxTasks = max ?? 0;
    this.#initializer = options.initializer
      ? locateTarget(options.initializer, "initializer")
      : null;
    this.#initargs = options.initargs ?? [];
    reduce(this.#initargs, "initargs"); // refuse what cannot cross, here
    for (let i = 0; i < size; i++) this.#spawn();
  }

  /** The number of workers. */
  get processes(): number {
    return this.#size;
  }

  /** A copy of what the pool has done so far. */
  get stats(): PoolStats {
    return { ...this.#stats };
  }

  /**
   * Runs `fn(...args)` in a worker and resolves to its result (Python's
   * `apply`, which blocks; here a promise).
   *
   * @example
   * ```ts
   * import { Pool } from "@seed/multiprocessing";
   * import { add } from "../../tests/fixtures/pool_tasks.ts";
   * import assert from "node:assert/strict";
   *
   * await using pool = new Pool(1);
   * assert.equal(await pool.apply(add, [2, 3]), 5);
   * ```
   */
  apply<A extends unknown[], R>(
    fn: (...args: A) => R,
    args: NoInfer<A>,
    options?: TaskOptions,
  ): Promise<Awaited<R>>;
  /** Runs `fn()`, which takes no arguments, in a worker. */
  apply<R>(fn: () => R): Promise<Awaited<R>>;
  async apply(
    fn: AnyFn,
    args: unknown[] = [],
    options?: TaskOptions,
  ): Promise<unknown> {
    return await this.applyAsync(fn, args as never, options).get();
  }

  /**
   * Submits `fn(...args)` and returns its `AsyncResult` at once (Python's
   * `apply_async`). `callback`/`errorCallback` run in this process when the
   * task ends, before the result becomes ready; an error thrown by one is
   * reported as an uncaught error (`reportError`), not swallowed.
   *
   * @example
   * ```ts
   * import { Pool } from "@seed/multiprocessing";
   * import { square } from "../../tests/fixtures/pool_tasks.ts";
   * import assert from "node:assert/strict";
   *
   * const seen: number[] = [];
   * await using pool = new Pool(2);
   * const results = [1, 2, 3].map((x) =>
   *   pool.applyAsync(square, [x], { callback: (r) => seen.push(r) })
   * );
   * await Promise.all(results.map((r) => r.wait()));
   * assert.deepEqual(seen.sort(), [1, 4, 9]);
   * ```
   */
  applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    args: NoInfer<A>,
    options?: ApplyAsyncOptions<Awaited<R>>,
  ): AsyncResult<Awaited<R>>;
  /** Submits `fn()`, which takes no arguments. */
  applyAsync<R>(fn: () => R): AsyncResult<Awaited<R>>;
  applyAsync(
    fn: AnyFn,
    args: unknown[] = [],
    options: ApplyAsyncOptions<unknown> = {},
  ): AsyncResult<unknown> {
    this.#checkRunning("applyAsync");
    const index = this.#fn(fn, "applyAsync");
    if (!Array.isArray(args)) {
      throw new TypeError(
        `applyAsync() expected args to be an array of arguments, received ${
          describe(args)
        }: wrap a single argument as [value]`,
      );
    }
    const limits = checkOptions("applyAsync", options);
    const callbacks = checkCallbacks("applyAsync", options);
    const encoded = encode(args, "args");
    const result = new AsyncResult<unknown>();
    const job = this.#job(result, callbacks, limits.signal);
    if (job === undefined) return result;
    job.add(this.#task(index, CALL, encoded, limits.timeout, job, (v) => v));
    job.seal();
    this.#pump();
    return result;
  }

  /**
   * Calls `fn(item)` for each item in workers and resolves to the results in
   * order (Python's `map`). The input is split into tasks of `chunksize`
   * items; by default, as in Python, `ceil(length / (4 × processes))`.
   *
   * @example
   * ```ts
   * import { Pool } from "@seed/multiprocessing";
   * import { square } from "../../tests/fixtures/pool_tasks.ts";
   * import assert from "node:assert/strict";
   *
   * await using pool = new Pool(2);
   * assert.deepEqual(await pool.map(square, [1, 2, 3, 4]), [1, 4, 9, 16]);
   * ```
   */
  async map<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    chunksize?: number | MapOptions,
  ): Promise<Awaited<R>[]> {
    return await this.mapAsync(fn, iterable, chunksize).get();
  }

  /**
   * `map` that returns an `AsyncResult` at once (Python's `map_async`).
   *
   * @example
   * ```ts
   * import { Pool } from "@seed/multiprocessing";
   * import { square } from "../../tests/fixtures/pool_tasks.ts";
   * import assert from "node:assert/strict";
   *
   * await using pool = new Pool(2);
   * const result = pool.mapAsync(square, [1, 2, 3]);
   * assert.deepEqual(await result.get(), [1, 4, 9]);
   * ```
   */
  mapAsync<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    chunksize?: number | MapAsyncOptions<Awaited<R>>,
  ): AsyncResult<Awaited<R>[]> {
    return this.#mapAsync("mapAsync", MAP, fn, iterable, chunksize) as never;
  }

  /**
   * Like `map`, with each item an array of arguments: `fn(...item)`
   * (Python's `starmap`).
   *
   * @example
   * ```ts
   * import { Pool } from "@seed/multiprocessing";
   * import { add } from "../../tests/fixtures/pool_tasks.ts";
   * import assert from "node:assert/strict";
   *
   * await using pool = new Pool(2);
   * assert.deepEqual(await pool.starmap(add, [[1, 2], [3, 4]]), [3, 7]);
   * ```
   */
  async starmap<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<NoInfer<A>>,
    chunksize?: number | MapOptions,
  ): Promise<Awaited<R>[]> {
    return await this.starmapAsync(fn, iterable, chunksize).get();
  }

  /**
   * `starmap` that returns an `AsyncResult` at once (Python's
   * `starmap_async`).
   *
   * @example
   * ```ts
   * import { Pool } from "@seed/multiprocessing";
   * import { add } from "../../tests/fixtures/pool_tasks.ts";
   * import assert from "node:assert/strict";
   *
   * await using pool = new Pool(2);
   * assert.deepEqual(await pool.starmapAsync(add, [[1, 1]]).get(), [2]);
   * ```
   */
  starmapAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<NoInfer<A>>,
    chunksize?: number | MapAsyncOptions<Awaited<R>>,
  ): AsyncResult<Awaited<R>[]> {
    return this.#mapAsync(
      "starmapAsync",
      STARMAP,
      fn,
      iterable,
      chunksize,
    ) as never;
  }

  /**
   * Results of `fn(item)` in input order, as they become available
   * (Python's `imap`). Reads the input (sync or async iterable) lazily, a
   * bounded number of chunks ahead, so an infinite generator works, and
   * stops reading when the loop ends early (`break`). `chunksize` is 1 by
   * default.
   *
   * @example
   * ```ts
   * import { Pool } from "@seed/multiprocessing";
   * import { square } from "../../tests/fixtures/pool_tasks.ts";
   * import assert from "node:assert/strict";
   *
   * function* naturals() {
   *   for (let i = 1; ; i++) yield i;
   * }
   * await using pool = new Pool(2);
   * const out: number[] = [];
   * for await (const sq of pool.imap(square, naturals())) {
   *   out.push(sq);
   *   if (out.length === 4) break;
   * }
   * assert.deepEqual(out, [1, 4, 9, 16]);
   * ```
   */
  imap<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    chunksize?: number | MapOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    return this.#imap("imap", true, fn, iterable, chunksize) as never;
  }

  /**
   * Like `imap`, in the order the results arrive (Python's
   * `imap_unordered`).
   *
   * @example
   * ```ts
   * import { Pool } from "@seed/multiprocessing";
   * import { square } from "../../tests/fixtures/pool_tasks.ts";
   * import assert from "node:assert/strict";
   *
   * await using pool = new Pool(2);
   * const out: number[] = [];
   * for await (const sq of pool.imapUnordered(square, [1, 2, 3])) out.push(sq);
   * assert.deepEqual(out.sort(), [1, 4, 9]);
   * ```
   */
  imapUnordered<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    chunksize?: number | MapOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    return this.#imap("imapUnordered", false, fn, iterable, chunksize) as never;
  }

  /**
   * Refuses new work; the workers end once the submitted work is done
   * (Python's `close()`). Call `join()` to wait for that.
   */
  close(): void {
    if (this.#state === "run") this.#state = "close";
    this.#maybeShutDown();
  }

  /**
   * Stops every worker at once (Python's `terminate()`); work not finished
   * rejects with a `ProcessError`. Resolves once the workers have ended.
   */
  async terminate(): Promise<void> {
    if (this.#state !== "terminate") {
      this.#state = "terminate";
      const error = new ProcessError(
        "the pool was terminated before this task finished",
      );
      for (const task of this.#drainQueue()) this.#finish(task, false, error);
      for (const slot of [...this.#slots]) {
        for (const task of slot.inflight.splice(0)) {
          this.#finish(task, false, error);
        }
        this.#drop(slot);
        slot.process.terminate();
      }
      this.#stopWatchdog();
    }
    await this.#waitExited();
  }

  /**
   * Waits until every task has finished, every callback has run and every
   * worker has ended (Python's `join()`). Call `close()` or `terminate()`
   * first. An `imap` loop still running is waited for too.
   */
  async join(): Promise<void> {
    if (this.#state === "run") {
      throw new ProcessError(
        "join() needs close() or terminate() first: the pool is still running",
      );
    }
    while (this.#outstanding > 0 || this.#feeders > 0) {
      this.#idle ??= signalled<void>();
      await this.#idle.promise;
    }
    this.#maybeShutDown();
    await this.#waitExited();
  }

  /**
   * `await using pool = new Pool()` closes the pool and joins it when the
   * scope ends: graceful, so submitted work finishes first (Python's `with`
   * terminates instead; call `terminate()` yourself for that).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.join();
  }

  // Internals -----------------------------------------------------------------

  #checkRunning(method: string): void {
    if (this.#state !== "run") {
      throw new ProcessError(
        `cannot call ${method}(): the pool is ${
          this.#state === "close" ? "closed" : "terminated"
        } and takes no new work`,
      );
    }
  }

  #fn(fn: unknown, method: string): number {
    if (typeof fn !== "function") {
      throw new TypeError(
        `${method}() expected a function as its first argument, received ${
          describe(fn)
        }`,
      );
    }
    let index = this.#fnIndex.get(fn as AnyFn);
    if (index === undefined) {
      this.#locators.push(locateTarget(fn, "task"));
      index = this.#locators.length - 1;
      this.#fnIndex.set(fn as AnyFn, index);
    }
    return index;
  }

  #spawn(): void {
    const channel = new NodeMessageChannel();
    const cells = new Int32Array(new SharedArrayBuffer(8));
    const slotCells = createSlotCells();
    const name = `PoolWorker-${++workerCounter}`;
    const process = new Process({
      target: poolWorker,
      args: [
        channel.port2 as unknown as MessagePort,
        cells,
        this.#initializer,
        this.#initargs,
        this.#maxTasks,
        slotCells,
      ],
      name,
      daemon: true,
    });
    process.start();
    const port = channel.port1 as unknown as Port;
    const slot: Slot = {
      process,
      name,
      port,
      cells,
      ready: false,
      inflight: [],
      known: new Set(),
      sent: 0,
      gone: false,
      shared: openSlot(slotCells),
      fastSeq: 0,
      spin: new SpinPolicy(),
    };
    port.onmessage = (event) => this.#onMessage(slot, event.data);
    // The port never keeps the program alive: the watchdog does, while
    // there is work (see WATCHDOG_MS).
    port.unref();
    this.#slots.push(slot);
    this.#processes.push(process);
    this.#stats.workersStarted++;
  }

  #onMessage(slot: Slot, message: unknown[]): void {
    if (slot.gone) return;
    switch (message[0]) {
      case RESULTS:
        for (const result of message[1] as ResultMessage[]) {
          const task = slot.inflight.shift();
          if (task === undefined || task.id !== result[0]) continue;
          // A fast-path task whose result did not fit the slot.
          if (slot.fastTask === task) {
            slot.fastTask = undefined;
            slotCounters.portedResults++;
          }
          const value = result[1]
            ? decode(result[2], result[3])
            : deserializeError(result[2] as ErrorEnvelope);
          this.#finish(task, result[1], value);
        }
        if (slot.inflight.length === 0) {
          if (this.#maxTasks > 0 && slot.sent >= this.#maxTasks) {
            // The worker ends itself after its last task.
            this.#drop(slot);
            this.#stats.workersRecycled++;
            this.#replace();
          }
          this.#pump();
        }
        break;
      case READY: {
        slot.ready = true;
        this.#initFailures = 0;
        const now = Math.min(
          performance.now(),
          (message[1] as number) - performance.timeOrigin,
        );
        for (const task of slot.inflight) {
          // Waiting for a fresh worker's initializer counts as queued.
          // A task sent after the worker became ready waited for nothing.
          if (now > task.sentAt) {
            this.#stats.queuedMs += now - task.sentAt;
            task.sentAt = now;
          }
          this.#arm(task);
        }
        break;
      }
      case INIT_ERROR: {
        const error = deserializeError(message[1] as ErrorEnvelope);
        this.#drop(slot);
        this.#requeue(slot.inflight.splice(0));
        if (++this.#initFailures >= MAX_INIT_FAILURES) {
          this.#breakPool(error);
        } else {
          this.#replace();
          this.#pump();
        }
        break;
      }
    }
  }

  /** Hands queued tasks to idle workers, in batches. */
  #pump(): void {
    if (this.#state === "terminate") return;
    for (const slot of this.#slots.slice()) {
      if (this.#head >= this.#queue.length) break;
      if (slot.gone || slot.inflight.length > 0) continue;
      if (slot.process.exitCode !== null) {
        this.#died(slot);
        continue;
      }
      const room = this.#maxTasks > 0 ? this.#maxTasks - slot.sent : MAX_BATCH;
      if (room <= 0) continue;
      // Guided batching: big batches while the queue is long (one message
      // for many tasks), single tasks near its end (balance).
      const waiting = this.#queue.length - this.#head;
      const size = Math.max(
        1,
        Math.min(
          room,
          MAX_BATCH,
          Math.ceil(waiting / (2 * this.#slots.length)),
        ),
      );
      const batch: Task[] = [];
      while (batch.length < size) {
        const task = this.#peek();
        if (task === undefined) break;
        if (task.exclusive && batch.length > 0) break;
        this.#head++;
        batch.push(task);
        if (task.exclusive) break;
      }
      if (batch.length === 0) break;
      this.#send(slot, batch);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #peek(): Task | undefined {
    while (this.#head < this.#queue.length) {
      const task = this.#queue[this.#head];
      if (task.state === QUEUED) return task;
      this.#head++; // cancelled while queued
    }
    return undefined;
  }

  #send(slot: Slot, batch: Task[]): void {
    if (batch.length === 1 && this.#sendFast(slot, batch[0])) return;
    const now = performance.now();
    const defs: FnDefinition[] = [];
    const messages: TaskMessage[] = [];
    const transfer: Transferable[] = [];
    for (const task of batch) {
      task.state = SENT;
      task.slot = slot;
      task.sentAt = now;
      this.#stats.queuedMs += now - task.queuedAt;
      if (!slot.known.has(task.fn)) {
        slot.known.add(task.fn);
        defs.push([task.fn, this.#locators[task.fn]]);
      }
      messages.push([
        task.id,
        task.fn,
        task.kind,
        task.payload,
        task.encoding,
      ]);
      for (const t of task.transfer) transfer.push(t);
      slot.inflight.push(task);
      if (slot.ready) this.#arm(task);
    }
    slot.sent += batch.length;
    slot.port.postMessage(
      [RUN, defs.length > 0 ? defs : 0, messages],
      transfer,
    );
    // A worker blocked a moment on its slot (see _pool_worker.ts) reads
    // its port at once.
    Atomics.notify(slot.shared.cells, H_TASK);
  }

  /**
   * Hands one task to an idle, ready worker through its shared slot, when
   * the worker already knows the function and the arguments are plain data
   * that fit; returns false to use the port instead.
   */
  #sendFast(slot: Slot, task: Task): boolean {
    if (
      !slot.ready || task.encoding !== PLAIN || task.transfer.length > 0 ||
      !slot.known.has(task.fn) || slot.fastTask !== undefined ||
      !writeValue(slot.shared, task.payload)
    ) {
      return false;
    }
    const now = performance.now();
    task.state = SENT;
    task.slot = slot;
    task.sentAt = now;
    this.#stats.queuedMs += now - task.queuedAt;
    slot.inflight.push(task);
    slot.sent++;
    slot.fastTask = task;
    slotCounters.tasks++;
    const cells = slot.shared.cells;
    cells[H_FN] = task.fn;
    cells[H_KIND] = task.kind;
    cells[H_ID] = task.id;
    slot.fastSeq = slot.fastSeq >= 0x3fffffff ? 1 : slot.fastSeq + 1;
    // The store publishes the writes above to the worker's load.
    Atomics.store(cells, H_TASK, slot.fastSeq);
    Atomics.notify(cells, H_TASK);
    this.#arm(task);
    // Spin once for every slot sent to in this turn, after the caller's
    // synchronous code: applyAsync() returns first, callbacks run later.
    if (this.#watched.push(slot) === 1) queueMicrotask(this.#spin);
    return true;
  }

  #spin = (): void => {
    // Each slot with the task it was watched for: a task sent while this
    // runs (by a callback) is watched by the next turn, not twice.
    const watched = this.#watched.splice(0).map((slot) => ({
      slot,
      task: slot.fastTask,
    }));
    let slots = watched.map((w) => w.slot).filter((slot) =>
      slot.spin.shouldSpin()
    );
    const start = performance.now();
    let blocked = false;
    while (slots.length > 0) {
      slots = slots.filter((slot) => {
        if (!this.#take(slot)) return true;
        slot.spin.record(true);
        return false;
      });
      if (slots.length === 0) break;
      const left = start + SPIN_MS - performance.now();
      if (left > 0) {
        if (slots.length === 1) {
          const { shared, fastSeq } = slots[0];
          spinFor(shared.cells, H_DONE, fastSeq, left);
        }
      } else if (slots.length === 1 && !blocked) {
        // One worker to wait for: block on it once (several: park them).
        blocked = true;
        const { shared, fastSeq } = slots[0];
        const now = Atomics.load(shared.cells, H_DONE);
        if (now !== fastSeq) {
          Atomics.wait(shared.cells, H_DONE, now, BLOCK_MS);
        }
      } else {
        break;
      }
    }
    for (const slot of slots) slot.spin.record(false);
    for (const { slot, task } of watched) {
      if (task !== undefined && slot.fastTask === task && !slot.gone) {
        this.#park(slot, task);
      }
    }
  };

  /** Waits for a fast-path result without blocking the owner's loop. */
  #park(slot: Slot, task: Task): void {
    const cells = slot.shared.cells;
    const now = Atomics.load(cells, H_DONE);
    if (now === slot.fastSeq) {
      this.#take(slot);
      return;
    }
    const wait = Atomics.waitAsync(cells, H_DONE, now);
    const wake = () => {
      // Woken by the result, by #drop, or by a stale store: look again.
      if (slot.gone || slot.fastTask !== task) return;
      if (!this.#take(slot)) this.#park(slot, task);
    };
    if (wait.async) void wait.value.then(wake);
    else wake();
  }

  /**
   * Takes the slot's result when the worker has written it; returns false
   * while it has not (true also when there is nothing to take).
   */
  #take(slot: Slot): boolean {
    const task = slot.fastTask;
    if (task === undefined || slot.gone) return true;
    const cells = slot.shared.cells;
    if (Atomics.load(cells, H_DONE) !== slot.fastSeq) return false;
    if (cells[H_STATUS] === IN_SLOT) {
      const value = readValue(slot.shared);
      slot.fastTask = undefined;
      this.#onMessage(slot, [RESULTS, [[task.id, true, value, PLAIN]]]);
    } else {
      // The result went through the port, before H_DONE: take it now.
      this.#receive(slot);
    }
    return true;
  }

  /** Handles the messages already waiting in a worker's port. */
  #receive(slot: Slot): void {
    while (!slot.gone) {
      const received = receiveMessageOnPort(slot.port as never) as
        | { message: unknown[] }
        | undefined;
      if (received === undefined) break;
      this.#onMessage(slot, received.message);
    }
  }

  /** Starts a task's timeout, once its worker can start it. */
  #arm(task: Task): void {
    if (task.timeout === undefined || task.timer !== undefined) return;
    const left = task.timeout - (performance.now() - task.sentAt);
    task.timer = setTimeout(() => {
      task.timer = undefined;
      if (task.state !== SENT) return;
      this.#stop(
        task,
        new TimeoutError(
          `the task ran longer than its timeout of ${task.timeout} ms in ${
            task.slot!.name
          }, which was stopped and replaced`,
        ),
      );
    }, Math.max(0, left));
  }

  /** Fails a running task and replaces the worker running it. */
  #stop(task: Task, error: unknown): void {
    const slot = task.slot!;
    if (slot.gone) return;
    this.#drop(slot);
    slot.process.terminate();
    const index = slot.inflight.indexOf(task);
    const others = slot.inflight.splice(0);
    others.splice(index, 1);
    this.#finish(task, false, error);
    this.#settleLost(slot, others, "was stopped");
    this.#stats.workersReplaced++;
    this.#replace();
    this.#pump();
  }

  /** A worker ended on its own: fail what it ran, requeue what it did not. */
  #died(slot: Slot): void {
    if (slot.gone) return;
    // Messages it sent before it ended (results, an initializer's error)
    // may still wait in the port, or a result in its slot: take them first.
    this.#receive(slot);
    this.#take(slot);
    if (slot.gone) return;
    this.#drop(slot);
    const how = `ended (exit code ${slot.process.exitCode})`;
    if (!slot.ready) {
      // It ended in its initializer (exit() there, say): count it as an
      // initializer failure, so that it cannot respawn forever.
      this.#requeue(slot.inflight.splice(0));
      const error = new ProcessError(
        `pool worker ${slot.name} ${how} while running the initializer`,
      );
      if (++this.#initFailures >= MAX_INIT_FAILURES) {
        return this.#breakPool(error);
      }
    } else {
      this.#settleLost(slot, slot.inflight.splice(0), how);
    }
    this.#stats.workersReplaced++;
    this.#replace();
    this.#pump();
  }

  /**
   * Settles the tasks a dead worker held: those it had started fail, the
   * others go back to the front of the queue.
   */
  #settleLost(slot: Slot, tasks: Task[], how: string): void {
    const started = Atomics.load(slot.cells, CELL_STARTED);
    const busy = Atomics.load(slot.cells, CELL_BUSY) === 1;
    const last = tasks.findIndex((t) => t.id === started);
    for (let i = 0; i <= last; i++) {
      const running = i === last && busy;
      this.#finish(
        tasks[i],
        false,
        new ProcessError(
          running
            ? `pool worker ${slot.name} ${how} while running this task`
            : `pool worker ${slot.name} ${how} before it reported this task's result`,
        ),
      );
    }
    this.#requeue(tasks.slice(last + 1));
  }

  #requeue(tasks: Task[]): void {
    for (let i = tasks.length - 1; i >= 0; i--) {
      const task = tasks[i];
      clearTimeout(task.timer);
      task.timer = undefined;
      task.state = QUEUED;
      task.slot = undefined;
      if (this.#broken) {
        this.#finish(task, false, this.#broken.error);
        continue;
      }
      if (task.transfer.length > 0) {
        // Its ports went with the message to the dead worker.
        this.#finish(
          task,
          false,
          new ProcessError(
            "the task's worker ended before starting it, and the ports among its arguments went with it",
          ),
        );
        continue;
      }
      if (this.#head > 0) this.#queue[--this.#head] = task;
      else this.#queue.unshift(task);
    }
  }

  #drop(slot: Slot): void {
    slot.gone = true;
    // Releases a waitAsync parked on the slot (it sees `gone` and stops).
    Atomics.notify(slot.shared.cells, H_DONE);
    slot.port.onmessage = null;
    slot.port.close();
    const index = this.#slots.indexOf(slot);
    if (index !== -1) this.#slots.splice(index, 1);
  }

  #replace(): void {
    if (this.#state === "terminate" || this.#broken || this.#shutDown) return;
    try {
      this.#spawn();
    } catch (error) {
      this.#breakPool(error);
    }
  }

  /** The initializer keeps failing: fail all work with its error. */
  #breakPool(error: unknown): void {
    this.#broken = { error };
    for (const task of this.#drainQueue()) this.#finish(task, false, error);
  }

  #drainQueue(): Task[] {
    const tasks: Task[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      if (this.#queue[i].state === QUEUED) tasks.push(this.#queue[i]);
    }
    this.#queue = [];
    this.#head = 0;
    return tasks;
  }

  #task(
    fn: number,
    kind: number,
    encoded: Encoded,
    timeout: number | undefined,
    job: Sink,
    shape: (value: unknown) => unknown,
  ): Task {
    const task: Task = {
      id: nextTaskId(),
      fn,
      kind,
      payload: encoded.value,
      encoding: encoded.encoding,
      transfer: encoded.transfer,
      timeout,
      exclusive: timeout !== undefined || job.signal !== undefined,
      state: QUEUED,
      queuedAt: performance.now(),
      sentAt: 0,
      settle: (ok, value) => job.done(task, ok, ok ? shape(value) : value),
    };
    return task;
  }

  #enqueue(task: Task): void {
    if (this.#broken) {
      this.#outstanding++;
      this.#finish(task, false, this.#broken.error);
      return;
    }
    this.#queue.push(task);
    if (this.#outstanding++ === 0) this.#busy(true);
  }

  /**
   * The watchdog runs while the pool lives, and keeps the program alive only
   * while work is outstanding (ref'd then, unref'd when idle): toggling a
   * timer's ref is cheaper than creating one per task.
   */
  #busy(busy: boolean): void {
    if (busy) {
      if (this.#watchdogIdle) this.#stopWatchdog();
      this.#watchdog ??= setInterval(() => this.#check(), WATCHDOG_MS);
      Deno.refTimer(this.#watchdog);
      this.#watchdogIdle = false;
      this.#idleChecks = 0;
    } else if (this.#watchdog !== undefined) {
      Deno.unrefTimer(this.#watchdog);
    }
  }

  /**
   * After a while without work, a dead worker only needs replacing before
   * the next task: check rarely (the busy interval stays during short gaps,
   * so that sequential tasks only toggle its ref).
   */
  #slowDownWhenIdle(): void {
    if (this.#watchdogIdle || this.#outstanding > 0) {
      this.#idleChecks = 0;
      return;
    }
    if (++this.#idleChecks * WATCHDOG_MS < IDLE_AFTER_MS) return;
    this.#stopWatchdog();
    this.#watchdog = setInterval(() => this.#check(), IDLE_WATCHDOG_MS);
    Deno.unrefTimer(this.#watchdog);
    this.#watchdogIdle = true;
  }

  #stopWatchdog(): void {
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }

  #check(): void {
    this.#slowDownWhenIdle();
    for (const slot of this.#slots.slice()) {
      if (!slot.gone && slot.process.exitCode !== null) this.#died(slot);
    }
  }

  #finish(task: Task, ok: boolean, value: unknown): void {
    if (task.state === DONE) return;
    const wasQueued = task.state === QUEUED;
    task.state = DONE;
    task.payload = undefined;
    clearTimeout(task.timer);
    if (!wasQueued) {
      this.#stats.runningMs += performance.now() - task.sentAt;
    }
    if (ok) this.#stats.tasksCompleted++;
    else this.#stats.tasksFailed++;
    task.settle(ok, value);
    this.#settled();
  }

  #cancel(task: Task): void {
    if (task.state !== QUEUED) return;
    task.state = DONE;
    task.payload = undefined;
    this.#stats.tasksCancelled++;
    this.#settled();
  }

  #settled(): void {
    if (--this.#outstanding > 0) return;
    this.#busy(false);
    this.#maybeShutDown();
  }

  #maybeShutDown(): void {
    if (this.#outstanding > 0 || this.#feeders > 0) return;
    const idle = this.#idle;
    this.#idle = undefined;
    idle?.resolve();
    if (this.#state !== "close" || this.#shutDown) return;
    this.#shutDown = true;
    this.#stopWatchdog();
    for (const slot of this.#slots.splice(0)) {
      slot.gone = true;
      slot.port.postMessage([EXIT]);
      Atomics.notify(slot.shared.cells, H_TASK);
      slot.port.onmessage = null;
      slot.port.close();
    }
  }

  async #waitExited(): Promise<void> {
    // Joined only now: join() refs a daemon's thread, and an idle pool
    // must not keep the program alive. Replacements started meanwhile are
    // waited for too.
    while (this.#processes.length > 0) {
      const batch = this.#processes.splice(0);
      await Promise.all(batch.map((p) => p.exitCode === null && p.join()));
    }
  }

  /** Creates the bookkeeping of one submission, or settles it at once. */
  #job(
    result: AsyncResult<unknown>,
    callbacks: Callbacks,
    signal: AbortSignal | undefined,
  ): Job | undefined {
    if (signal?.aborted) {
      if (callbacks.errorCallback) {
        runCallback(callbacks.errorCallback, signal.reason);
      }
      settleResult(result, false, signal.reason);
      return undefined;
    }
    return new Job(this.#internals, result, callbacks, signal);
  }

  /** What `Job` and `Stream` may do to the pool, without public methods. */
  #internals: PoolInternals = {
    enqueue: (task) => this.#enqueue(task),
    abort: (task, reason, stopRunning) => {
      if (task.state === QUEUED) this.#cancel(task);
      else if (task.state === SENT && stopRunning) this.#stop(task, reason);
    },
  };

  #mapAsync(
    method: string,
    kind: number,
    fn: unknown,
    iterable: unknown,
    chunksizeOrOptions: number | MapAsyncOptions<any> | undefined,
  ): AsyncResult<unknown[]> {
    this.#checkRunning(method);
    const index = this.#fn(fn, method);
    if (
      typeof (iterable as Iterable<unknown>)?.[Symbol.iterator] !== "function"
    ) {
      throw new TypeError(
        `${method}() expected an iterable such as an array as its second argument, received ${
          describe(iterable)
        }${
          typeof (iterable as AsyncIterable<unknown>)?.[
              Symbol.asyncIterator
            ] === "function"
            ? ": use imap() for async iterables"
            : ""
        }`,
      );
    }
    const options = typeof chunksizeOrOptions === "object" &&
        chunksizeOrOptions !== null
      ? chunksizeOrOptions
      : { chunksize: chunksizeOrOptions };
    const limits = checkOptions(method, options);
    const callbacks = checkCallbacks(method, options);
    const items = Array.isArray(iterable)
      ? iterable
      : Array.from(iterable as Iterable<unknown>);
    let chunksize = checkChunksize(method, options.chunksize);
    if (chunksize === undefined) {
      // Python's rule: about four tasks per worker.
      chunksize = Math.ceil(items.length / (this.#size * 4)) || 1;
    }
    if (kind === STARMAP) {
      items.forEach((item, i) => {
        if (!Array.isArray(item)) {
          throw new TypeError(
            `${method}() expected each item to be an array of arguments, received ${
              describe(item)
            } at index ${i}`,
          );
        }
      });
    }
    const chunks: Encoded[] = [];
    for (let start = 0; start < items.length; start += chunksize) {
      chunks.push(
        encodeList(
          items.slice(start, start + chunksize),
          `iterable (the chunk from index ${start})`,
        ),
      );
    }
    const result = new AsyncResult<unknown[]>();
    const job = this.#job(
      result as AsyncResult<unknown>,
      callbacks,
      limits.signal,
    );
    if (job === undefined) return result;
    const parts: ArrayLike<unknown>[] = new Array(chunks.length);
    chunks.forEach((chunk, i) => {
      job.add(
        this.#task(index, kind, chunk, limits.timeout, job, (values) => {
          parts[i] = values as ArrayLike<unknown>;
          return undefined;
        }),
      );
    });
    job.seal(() => {
      // Filled in order, a preallocated array stays fast (measured: 1M
      // numbers in ~25 ms, against ~45 ms with push).
      const out: unknown[] = new Array(items.length);
      let o = 0;
      for (const part of parts) {
        for (let k = 0; k < part.length; k++) out[o++] = part[k];
      }
      return out;
    });
    this.#pump();
    return result;
  }

  #imap(
    method: string,
    ordered: boolean,
    fn: unknown,
    iterable: unknown,
    chunksizeOrOptions: number | MapOptions | undefined,
  ): AsyncIterableIterator<unknown> {
    this.#checkRunning(method);
    const index = this.#fn(fn, method);
    const asyncIterate = (iterable as AsyncIterable<unknown>)?.[
      Symbol.asyncIterator
    ];
    const syncIterate = (iterable as Iterable<unknown>)?.[Symbol.iterator];
    if (
      typeof asyncIterate !== "function" && typeof syncIterate !== "function"
    ) {
      throw new TypeError(
        `${method}() expected an iterable or async iterable as its second argument, received ${
          describe(iterable)
        }`,
      );
    }
    const options = typeof chunksizeOrOptions === "object" &&
        chunksizeOrOptions !== null
      ? chunksizeOrOptions
      : { chunksize: chunksizeOrOptions };
    const limits = checkOptions(method, options);
    const chunksize = checkChunksize(method, options.chunksize) ?? 1;
    return this.#imapRun(
      method,
      index,
      ordered,
      iterable as Iterable<unknown> | AsyncIterable<unknown>,
      typeof asyncIterate === "function",
      chunksize,
      limits,
    );
  }

  async *#imapRun(
    method: string,
    index: number,
    ordered: boolean,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    isAsync: boolean,
    chunksize: number,
    limits: { timeout?: number; signal?: AbortSignal },
  ): AsyncGenerator<unknown> {
    if (this.#state === "terminate" || this.#shutDown) {
      throw new ProcessError(
        `cannot run ${method}(): the pool was ${this.#state}d before the loop started`,
      );
    }
    const stream = new Stream(this.#internals, ordered, limits.signal);
    this.#feeders++;
    const iterator = isAsync
      ? (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (iterable as Iterable<unknown>)[Symbol.iterator]();
    let exhausted = false;
    // Read-ahead: enough chunks to keep every worker busy twice over, and
    // no more, so an infinite input keeps memory flat.
    const ahead = 2 * this.#size;
    let next = 0;
    let position = 0;
    try {
      while (true) {
        stream.throwIfAborted();
        while (!exhausted && stream.pending < ahead) {
          const items: unknown[] = [];
          while (items.length < chunksize) {
            const step = isAsync
              ? await (iterator as AsyncIterator<unknown>).next()
              : (iterator as Iterator<unknown>).next();
            if (step.done) {
              exhausted = true;
              break;
            }
            items.push(step.value);
          }
          if (items.length === 0) break;
          if ((this.#state as string) === "terminate") {
            throw new ProcessError(
              `${method}() cannot go on: the pool was terminated`,
            );
          }
          const encoded = encodeList(
            items,
            `iterable (the chunk from item ${position})`,
          );
          position += items.length;
          stream.submit(
            this.#task(index, MAP, encoded, limits.timeout, stream, (v) => v),
            next++,
          );
          this.#pump();
        }
        if (stream.pending === 0 && exhausted) return;
        const values =
          await (ordered ? stream.nextInOrder() : stream.nextAny());
        for (let k = 0; k < values.length; k++) yield values[k];
      }
    } finally {
      stream.stop();
      if (!exhausted) {
        try {
          await (iterator as AsyncIterator<unknown>).return?.();
        } catch { /* the input's own cleanup failed: nothing to report to */ }
      }
      this.#feeders--;
      this.#maybeShutDown();
    }
  }
}

function badArgument(message: string): never {
  throw new TypeError(message);
}

interface Callbacks {
  callback?: (value: any) => void;
  errorCallback?: (error: unknown) => void;
}

function checkOptions(
  method: string,
  options: unknown,
): { timeout?: number; signal?: AbortSignal } {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${method}() expected options to be an object, received ${
        describe(options)
      }`,
    );
  }
  const { timeout, signal } = options as TaskOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `${method}() expected options.signal to be an AbortSignal, received ${
        describe(signal)
      }`,
    );
  }
  return {
    timeout: validateTimeout(`${method}() options.timeout`, timeout),
    signal,
  };
}

function checkCallbacks(method: string, options: Callbacks): Callbacks {
  for (const name of ["callback", "errorCallback"] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== "function") {
      throw new TypeError(
        `${method}() expected options.${name} to be a function, received ${
          describe(value)
        }`,
      );
    }
  }
  return { callback: options.callback, errorCallback: options.errorCallback };
}

function checkChunksize(method: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `${method}() expected chunksize to be a whole number ≥ 1, received ${
        describe(value)
      }`,
    );
  }
  return value;
}

function runCallback(fn: (value: any) => void, value: unknown): void {
  try {
    fn(value);
  } catch (error) {
    // A callback's error is the caller's bug: report it as any event
    // handler's error is reported, rather than lose it or fail the task.
    reportError(error);
  }
}

/** What a task reports to when it ends. */
interface Sink {
  readonly signal?: AbortSignal;
  done(task: Task, ok: boolean, value: unknown): void;
}

interface PoolInternals {
  enqueue(task: Task): void;
  abort(task: Task, reason: unknown, stopRunning: boolean): void;
}

/** One `applyAsync`/`mapAsync` call: settles when all its tasks have. */
class Job implements Sink {
  #pool: PoolInternals;
  #result: AsyncResult<unknown>;
  #callbacks: Callbacks;
  #tasks = new Set<Task>();
  #sealed = false;
  #failed = false;
  #value: () => unknown = () => this.#single;
  #single: unknown;
  #onAbort?: () => void;
  readonly signal?: AbortSignal;

  constructor(
    pool: PoolInternals,
    result: AsyncResult<unknown>,
    callbacks: Callbacks,
    signal: AbortSignal | undefined,
  ) {
    this.#pool = pool;
    this.#result = result;
    this.#callbacks = callbacks;
    this.signal = signal;
    if (signal !== undefined) {
      this.#onAbort = () => this.#fail(signal.reason, true);
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  add(task: Task): void {
    this.#tasks.add(task);
    this.#pool.enqueue(task);
  }

  seal(value?: () => unknown): void {
    if (value) this.#value = value;
    this.#sealed = true;
    this.#maybeDone();
  }

  done(task: Task, ok: boolean, value: unknown): void {
    this.#tasks.delete(task);
    if (this.#failed) return;
    if (!ok) return this.#fail(value, false);
    this.#single = value;
    this.#maybeDone();
  }

  #maybeDone(): void {
    if (!this.#sealed || this.#tasks.size > 0 || this.#failed) return;
    this.#cleanup();
    const value = this.#value();
    if (this.#callbacks.callback) runCallback(this.#callbacks.callback, value);
    settleResult(this.#result, true, value);
  }

  #fail(error: unknown, stopRunning: boolean): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#cleanup();
    // The first error settles the job; its queued tasks are dropped (the
    // running ones finish unless aborted, as Python lets them).
    for (const task of [...this.#tasks]) {
      this.#pool.abort(task, error, stopRunning);
    }
    if (this.#callbacks.errorCallback) {
      runCallback(this.#callbacks.errorCallback, error);
    }
    settleResult(this.#result, false, error);
  }

  #cleanup(): void {
    if (this.#onAbort) {
      this.signal!.removeEventListener("abort", this.#onAbort);
    }
  }
}

/** The tasks of one `imap`: results by chunk number, or as they arrive. */
class Stream implements Sink {
  #pool: PoolInternals;
  #tasks = new Map<Task, number>();
  #results = new Map<number, { ok: boolean; value: unknown }>();
  #arrived: { ok: boolean; value: unknown }[] = [];
  #wake?: () => void;
  #next = 0;
  #ordered: boolean;
  #aborted?: { reason: unknown };
  #onAbort?: () => void;
  readonly signal?: AbortSignal;

  constructor(
    pool: PoolInternals,
    ordered: boolean,
    signal: AbortSignal | undefined,
  ) {
    this.#pool = pool;
    this.#ordered = ordered;
    this.signal = signal;
    if (signal !== undefined) {
      this.#onAbort = () => {
        this.#aborted = { reason: signal.reason };
        for (const task of [...this.#tasks.keys()]) {
          this.#pool.abort(task, signal.reason, true);
        }
        this.#wake?.();
      };
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** Chunks submitted and not yet handed to the consumer. */
  get pending(): number {
    return this.#tasks.size + this.#results.size + this.#arrived.length;
  }

  submit(task: Task, number: number): void {
    this.#tasks.set(task, number);
    this.#pool.enqueue(task);
  }

  done(task: Task, ok: boolean, value: unknown): void {
    const number = this.#tasks.get(task);
    if (number === undefined) return;
    this.#tasks.delete(task);
    if (this.#ordered) this.#results.set(number, { ok, value });
    else this.#arrived.push({ ok, value });
    this.#wake?.();
  }

  throwIfAborted(): void {
    if (this.#aborted) throw this.#aborted.reason;
  }

  async nextInOrder(): Promise<ArrayLike<unknown>> {
    while (!this.#results.has(this.#next)) {
      this.throwIfAborted();
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const { ok, value } = this.#results.get(this.#next)!;
    this.#results.delete(this.#next++);
    if (!ok) throw value;
    return value as ArrayLike<unknown>;
  }

  async nextAny(): Promise<ArrayLike<unknown>> {
    while (this.#arrived.length === 0) {
      this.throwIfAborted();
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const { ok, value } = this.#arrived.shift()!;
    if (!ok) throw value;
    return value as ArrayLike<unknown>;
  }

  /** The consumer is gone: drop queued chunks; running ones finish. */
  stop(): void {
    if (this.#onAbort) {
      this.signal!.removeEventListener("abort", this.#onAbort);
    }
    for (const task of [...this.#tasks.keys()]) {
      this.#pool.abort(task, undefined, false);
    }
    this.#tasks.clear();
  }
}
