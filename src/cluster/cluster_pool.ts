/**
 * `ClusterPool`: the local `Pool`'s methods, run by workers on any machine
 * that reach the same Redis (see `cluster_worker.ts`).
 *
 * Tasks go to a Redis Stream read by a consumer group: each worker takes
 * tasks as it has room (work stealing by construction), renews their
 * leases while they run, writes each result to the client's list before it
 * acknowledges the task, and takes over the tasks of a worker whose lease
 * ran out. The client keeps the first result per task.
 *
 * @module
 */

import { ProcessError } from "../errors.ts";
import { describe } from "../core/describe.ts";
import { checkTimeout } from "../core/wait.ts";
import type {
  ApplyAsyncOptions,
  MapAsyncOptions,
  MapOptions,
  TaskOptions,
} from "../pool/pool.ts";
import type { Callable } from "../runtime/targets.ts";
import { ClusterAsyncResult, settleResult } from "./async_result.ts";
import { type Callbacks, Job, runCallback } from "./_jobs.ts";
import {
  CALL,
  checkName,
  encodeValue,
  MAP,
  poolKeys,
  STARMAP,
} from "./_layout.ts";
import {
  encodeChunks,
  type ImapHost,
  mapItems,
  runImap,
  submitChunks,
} from "./_map.ts";
import { checkTarget, type ConnectionOptions } from "./_redis.ts";
import { type ClusterPoolStats, PoolClient } from "./_pool_client.ts";
import { locateTask, rootUrl, type TaskRef, taskRef } from "./_targets.ts";
import type { ClusterWorkerInfo } from "./_workers.ts";
import {
  checkCallbacks,
  checkChunksize,
  checkMethodOptions,
  checkWhole,
} from "./_checks.ts";

/**
 * Options of `ClusterPool.connect()`.
 *
 * @example
 * ```ts
 * import type { ClusterPoolOptions } from "@seed/multiprocessing/cluster";
 *
 * const options: ClusterPoolOptions = {
 *   name: "thumbnails",
 *   leaseMs: 10_000,
 *   maxDeliveries: 3,
 *   retries: 1,
 * };
 * console.assert(options.name === "thumbnails");
 * ```
 */
export interface ClusterPoolOptions extends ConnectionOptions {
  /** Which pool of workers (`--name` of the workers); `"default"`. */
  name?: string;
  /**
   * A worker that stops renewing a task's lease for this long (it died,
   * froze, or lost its network) loses the task to another; 30 s by
   * default, at least 100 ms. A client that stops renewing its own
   * liveness as long (and at least 5 s) is gone: workers drop its tasks.
   */
  leaseMs?: number;
  /**
   * Deliveries after which a task whose workers were lost fails with a
   * `ProcessError` (and is kept in the dead-letter stream); 2 by default.
   */
  maxDeliveries?: number;
  /** Times a task that throws runs again before its error is final; 0. */
  retries?: number;
  /**
   * The folder task modules are found under, the same code on every
   * machine (workers have `--root`); the current directory by default.
   */
  root?: string | URL;
}

// deno-lint-ignore no-explicit-any
type AnyFn = (...args: any[]) => unknown;

const TOKEN = Symbol("ClusterPool.connect");
const MIN_LEASE_MS = 100;

/**
 * A pool whose workers run on any machine that reaches the same Redis
 * (Python's `Pool`, as Ray's and Celery's pools offer it): `apply`,
 * `applyAsync`, `map`, `mapAsync`, `starmap`, `starmapAsync`, `imap`,
 * `imapUnordered`, `close`, `join`, `terminate`, `stats`, with the local
 * `Pool`'s result and error semantics and `{ timeout, signal }` per task.
 * Start workers with the `cluster-worker` program; task functions reach
 * them as they reach local workers (exported from the main module, or
 * registered with `registerTargets`), by their module's path under a root
 * both sides agree on.
 *
 * Delivery is at least once: see the README's "Running across machines".
 * Needs `--allow-net --allow-env` (and `--allow-read` for the modules).
 *
 * @example
 * ```ts
 * import { ClusterPool } from "@seed/multiprocessing/cluster";
 * import { ClusterWorker } from "@seed/multiprocessing/cluster-worker";
 * import { square } from "../../tests/fixtures/pool_tasks.ts";
 * import assert from "node:assert/strict";
 *
 * // A Redis server: `redis-server --port 6379 --save ""`.
 * const url = Deno.env.get("MULTIPROCESSING_REDIS_URL");
 * if (url !== undefined) {
 *   // A worker in this program (usually: `deno run … cluster-worker`).
 *   await using _worker = await ClusterWorker.start(url, {
 *     name: "docs-pool",
 *     processes: 1,
 *   });
 *   await using pool = await ClusterPool.connect(url, { name: "docs-pool" });
 *   assert.deepEqual(await pool.map(square, [1, 2, 3]), [1, 4, 9]);
 *   assert.equal(await pool.apply(square, [5]), 25);
 * }
 * ```
 */
export class ClusterPool {
  #client: PoolClient;
  #root: URL;
  #refs = new Map<Callable, TaskRef | Promise<TaskRef>>();
  #state: "run" | "close" | "terminate" = "run";
  #feeders = 0;
  #idle?: PromiseWithResolvers<void>;

  /**
   * Connects to the Redis at `url` (`redis://[:password@]host[:port][/db]`,
   * or `rediss://…` for TLS) and resolves to a pool once it is ready. A bad
   * URL or option is a `TypeError`/`RangeError`; a server that cannot be
   * reached (refused, wrong password, no answer within `connectTimeout`)
   * is a `ProcessError` that says why.
   */
  static async connect(
    url: string | URL,
    options: ClusterPoolOptions = {},
  ): Promise<ClusterPool> {
    const method = "connect a ClusterPool";
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `Cannot ${method} as 'options' must be an object such as { name }: current value is ${
          describe(options)
        }`,
      );
    }
    const target = checkTarget(method, url, options);
    const name = checkName(method, options.name ?? "default");
    const leaseMs = options.leaseMs === undefined
      ? 30_000
      : checkTimeout("options.leaseMs", options.leaseMs);
    if (!Number.isFinite(leaseMs) || leaseMs < MIN_LEASE_MS) {
      throw new RangeError(
        `Cannot ${method} as 'options.leaseMs' must be a finite number of milliseconds ≥ ${MIN_LEASE_MS}: current value is ${leaseMs}`,
      );
    }
    const maxDeliveries = checkWhole(
      method,
      "options.maxDeliveries",
      options.maxDeliveries,
      2,
      1,
    );
    const retries = checkWhole(
      method,
      "options.retries",
      options.retries,
      0,
      0,
    );
    const root = rootUrl(method, options.root);
    const client = await PoolClient.open(target, {
      name,
      keys: poolKeys(name),
      leaseMs: Math.round(leaseMs),
      maxDeliveries,
      retries,
    });
    return new ClusterPool(TOKEN, client, root);
  }

  /** Use `ClusterPool.connect()`: a pool needs its connections first. */
  private constructor(token: symbol, client: PoolClient, root: URL) {
    if (token !== TOKEN) {
      throw new TypeError(
        "Cannot construct a ClusterPool with new: use await ClusterPool.connect(url, options)",
      );
    }
    this.#client = client;
    this.#host.client = client;
    this.#root = root;
    client.onSettled = () => this.#settled();
  }

  /** A copy of what the pool has done so far. */
  get stats(): ClusterPoolStats {
    return { ...this.#client.stats };
  }

  /**
   * The workers serving this pool's name now, as they describe themselves.
   *
   * @example
   * ```ts
   * import { ClusterPool } from "@seed/multiprocessing/cluster";
   * import assert from "node:assert/strict";
   *
   * const url = Deno.env.get("MULTIPROCESSING_REDIS_URL");
   * if (url !== undefined) {
   *   await using pool = await ClusterPool.connect(url, { name: "docs-empty" });
   *   assert.deepEqual(await pool.workers(), []);
   * }
   * ```
   */
  async workers(): Promise<ClusterWorkerInfo[]> {
    return await this.#client.workers();
  }

  /**
   * Runs `fn(...args)` on a worker and resolves to its result (Python's
   * `apply`).
   */
  apply<A extends unknown[], R>(
    fn: (...args: A) => R,
    args: NoInfer<A>,
    options?: TaskOptions,
  ): Promise<Awaited<R>>;
  /** Runs `fn()`, which takes no arguments, on a worker. */
  apply<R>(fn: () => R): Promise<Awaited<R>>;
  async apply(
    fn: AnyFn,
    args: unknown[] = [],
    options?: TaskOptions,
  ): Promise<unknown> {
    return await this.applyAsync(fn, args as never, options).get();
  }

  /**
   * Submits `fn(...args)` and returns its result at once (Python's
   * `apply_async`); `callback`/`errorCallback` run here when it ends.
   */
  applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    args: NoInfer<A>,
    options?: ApplyAsyncOptions<Awaited<R>>,
  ): ClusterAsyncResult<Awaited<R>>;
  /** Submits `fn()`, which takes no arguments. */
  applyAsync<R>(fn: () => R): ClusterAsyncResult<Awaited<R>>;
  applyAsync(
    fn: AnyFn,
    args: unknown[] = [],
    options: ApplyAsyncOptions<unknown> = {},
  ): ClusterAsyncResult<unknown> {
    const method = "applyAsync";
    this.#checkRunning(method);
    const ref = this.#ref(fn, method);
    if (!Array.isArray(args)) {
      throw new TypeError(
        `Cannot call applyAsync() as 'args' must be an array of arguments (wrap a single argument as [value]): current value is ${
          describe(args)
        }`,
      );
    }
    const limits = checkMethodOptions(method, options);
    const callbacks = checkCallbacks(method, options);
    const payload = encodeValue(args, "args");
    const result = new ClusterAsyncResult<unknown>();
    const job = this.#job(result, callbacks, limits.signal);
    if (job === undefined) return result;
    job.add(this.#client.submit(ref, CALL, payload, limits.timeout, job));
    job.seal();
    return result;
  }

  /**
   * Calls `fn(item)` for each item on workers and resolves to the results
   * in order (Python's `map`), in chunks of `chunksize` items: by default
   * `ceil(length / (4 × the workers' processes))`.
   */
  async map<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    chunksize?: number | MapOptions,
  ): Promise<Awaited<R>[]> {
    return await this.mapAsync(fn, iterable, chunksize).get();
  }

  /** `map` that returns its result at once (Python's `map_async`). */
  mapAsync<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T>,
    chunksize?: number | MapAsyncOptions<Awaited<R>>,
  ): ClusterAsyncResult<Awaited<R>[]> {
    return this.#mapAsync("mapAsync", MAP, fn, iterable, chunksize) as never;
  }

  /** `map` with each item an array of arguments: `fn(...item)`. */
  async starmap<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<NoInfer<A>>,
    chunksize?: number | MapOptions,
  ): Promise<Awaited<R>[]> {
    return await this.starmapAsync(fn, iterable, chunksize).get();
  }

  /** `starmap` that returns its result at once. */
  starmapAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<NoInfer<A>>,
    chunksize?: number | MapAsyncOptions<Awaited<R>>,
  ): ClusterAsyncResult<Awaited<R>[]> {
    return this.#mapAsync(
      "starmapAsync",
      STARMAP,
      fn,
      iterable,
      chunksize,
    ) as never;
  }

  /**
   * Results of `fn(item)` in input order as they become available
   * (Python's `imap`); reads the input lazily, a bounded number of chunks
   * ahead, and stops when the loop ends early. `chunksize` is 1 by default.
   */
  imap<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    chunksize?: number | MapOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    return this.#imap("imap", true, fn, iterable, chunksize) as never;
  }

  /** Like `imap`, in the order the results arrive. */
  imapUnordered<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    chunksize?: number | MapOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    return this.#imap("imapUnordered", false, fn, iterable, chunksize) as never;
  }

  /** Refuses new work; `join()` then waits for the submitted work. */
  close(): void {
    if (this.#state === "run") this.#state = "close";
  }

  /**
   * Drops every task at once: work not finished rejects with a
   * `ProcessError`, and the workers running it are asked to stop. Resolves
   * once the connections are closed.
   */
  async terminate(): Promise<void> {
    if (this.#state !== "terminate") {
      this.#state = "terminate";
      const error = new ProcessError(
        "The pool was terminated before this task finished",
      );
      this.#client.dropAll(error);
    }
    await this.#client.close();
  }

  /**
   * Waits until every task has its result and every callback has run,
   * then closes the connections (Python's `join()`). Call `close()` or
   * `terminate()` first.
   */
  async join(): Promise<void> {
    if (this.#state === "run") {
      throw new ProcessError(
        "Cannot join the pool: it is still running (call close() or terminate() first)",
      );
    }
    while (this.#client.pending > 0 || this.#feeders > 0) {
      this.#idle ??= Promise.withResolvers<void>();
      await this.#idle.promise;
    }
    await this.#client.close();
  }

  /** `await using` closes the pool and joins it: submitted work finishes. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.join();
  }

  // Internals -----------------------------------------------------------------

  #checkRunning(method: string): void {
    if (this.#state !== "run") {
      throw new ProcessError(
        `Cannot call ${method}(): the pool is ${
          this.#state === "close" ? "closed" : "terminated"
        } and takes no new work`,
      );
    }
  }

  /** Where workers find `fn`: checked now, hashed once per function. */
  #ref(fn: unknown, method: string): TaskRef | Promise<TaskRef> {
    if (typeof fn !== "function") {
      throw new TypeError(
        `Cannot call ${method}() as its first argument must be a function: current value is ${
          describe(fn)
        }`,
      );
    }
    let ref = this.#refs.get(fn as Callable);
    if (ref === undefined) {
      const promise = taskRef(locateTask(fn as Callable, this.#root));
      ref = promise;
      this.#refs.set(fn as Callable, promise);
      promise.then(
        (done) => this.#refs.set(fn as Callable, done),
        () => this.#refs.delete(fn as Callable),
      );
    }
    return ref;
  }

  #job(
    result: ClusterAsyncResult<unknown>,
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
    return new Job(this.#client, result, callbacks, signal);
  }

  #settled(): void {
    if (this.#client.pending === 0 && this.#feeders === 0 && this.#idle) {
      this.#idle.resolve();
      this.#idle = undefined;
    }
  }

  #mapAsync(
    method: string,
    kind: number,
    fn: unknown,
    iterable: unknown,
    chunksizeOrOptions: number | MapAsyncOptions<any> | undefined,
  ): ClusterAsyncResult<unknown[]> {
    this.#checkRunning(method);
    const ref = this.#ref(fn, method);
    const items = mapItems(method, kind, iterable);
    const options = optionsOf(chunksizeOrOptions);
    const limits = checkMethodOptions(method, options);
    const callbacks = checkCallbacks(method, options);
    // Python's rule: about four tasks per process of the live workers.
    const chunksize = checkChunksize(method, options.chunksize) ??
      (Math.ceil(items.length / (this.#client.capacity * 4)) || 1);
    const chunks = encodeChunks(items, chunksize);
    const result = new ClusterAsyncResult<unknown[]>();
    const job = this.#job(result, callbacks, limits.signal);
    if (job === undefined) return result;
    submitChunks(
      this.#client,
      job,
      ref,
      kind,
      chunks,
      items.length,
      limits.timeout,
    );
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
    const ref = this.#ref(fn, method);
    if (
      typeof (iterable as AsyncIterable<unknown>)?.[Symbol.asyncIterator] !==
        "function" &&
      typeof (iterable as Iterable<unknown>)?.[Symbol.iterator] !== "function"
    ) {
      throw new TypeError(
        `Cannot call ${method}() as its second argument must be an iterable or async iterable: current value is ${
          describe(iterable)
        }`,
      );
    }
    const options = optionsOf(chunksizeOrOptions);
    const limits = checkMethodOptions(method, options);
    const chunksize = checkChunksize(method, options.chunksize) ?? 1;
    return runImap(
      this.#host,
      method,
      ref,
      ordered,
      iterable as Iterable<unknown>,
      chunksize,
      limits,
    );
  }

  #host: ImapHost = {
    client: undefined as never,
    terminated: () => this.#state === "terminate",
    loops: (delta) => {
      this.#feeders += delta;
      if (delta < 0) this.#settled();
    },
  };
}

/** A chunk size or an options object, as an options object. */
function optionsOf<O extends { chunksize?: number }>(
  value: number | O | undefined,
): O {
  return typeof value === "object" && value !== null
    ? value
    : { chunksize: value } as O;
}

export type { ClusterPoolStats, ClusterWorkerInfo };
