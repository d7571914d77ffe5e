/**
 * `ClusterWorker`: serves a `ClusterPool` name from this program, with a
 * local `Pool` of this module (its supervision, timeouts and
 * `maxTasksPerChild` carry over). The `cluster-worker` program runs one.
 *
 * @module
 */

import { ProcessError } from "../errors.ts";
import { describe } from "../core/describe.ts";
import { delay } from "../core/wait.ts";
import { cpuCount } from "../process/process.ts";
import { Pool } from "../pool/pool.ts";
import {
  CALL,
  checkName,
  decodeValue,
  encodeResult,
  entryFields,
  FAILED,
  GROUP,
  MAP,
  OK,
  parseEntry,
  type PoolKeys,
  poolKeys,
  type TaskEntry,
  text,
} from "./_layout.ts";
import {
  checkTarget,
  closeRedis,
  type ConnectionOptions,
  isReplyError,
  openRedis,
  type RedisClient,
  type RedisTarget,
} from "./_redis.ts";
import { defineScripts, runScript, runScriptBuffer } from "./_scripts.ts";
import { resolveTask, rootUrl } from "./_targets.ts";
import { checkWhole } from "./_checks.ts";
import { HEARTBEAT_MS, HEARTBEAT_TTL_MS } from "./_workers.ts";

/**
 * Options of `ClusterWorker.start()` (the `cluster-worker` program's
 * flags).
 *
 * @example
 * ```ts
 * import type { ClusterWorkerOptions } from "@seed/multiprocessing/cluster-worker";
 *
 * const options: ClusterWorkerOptions = { name: "default", processes: 4 };
 * console.assert(options.processes === 4);
 * ```
 */
export interface ClusterWorkerOptions extends ConnectionOptions {
  /** The pool name to serve (`ClusterPool.connect`'s `name`); `"default"`. */
  name?: string;
  /** The size of the local `Pool`; `cpuCount()` by default. */
  processes?: number;
  /**
   * Tasks taken beyond `processes`, so that the next is at hand. By
   * default it adapts: about 5 ms of work per process (none for tasks of
   * 5 ms or more, up to 64 per process for tiny ones).
   */
  prefetch?: number;
  /** The folder task modules are found under; the current directory. */
  root?: string | URL;
  /** The local pool's `maxTasksPerChild`. */
  maxTasksPerChild?: number;
  /** Where to say what happens (connection lost, tasks taken over). */
  log?: (line: string) => void;
}

/**
 * What a worker has done so far.
 *
 * @example
 * ```ts
 * import type { ClusterWorkerStats } from "@seed/multiprocessing/cluster-worker";
 *
 * const none: ClusterWorkerStats = {
 *   tasksRun: 0, tasksFailed: 0, tasksRetried: 0, tasksTakenOver: 0,
 *   tasksLost: 0, tasksDropped: 0, tasksReleased: 0,
 * };
 * console.assert(none.tasksRun === 0);
 * ```
 */
export interface ClusterWorkerStats {
  /** Tasks that ran to a result. */
  tasksRun: number;
  /** Tasks whose final outcome was an error. */
  tasksFailed: number;
  /** Runs that threw and were put back for another try (`retries`). */
  tasksRetried: number;
  /** Tasks taken over from a worker whose lease ran out. */
  tasksTakenOver: number;
  /** Tasks failed as lost after `maxDeliveries` (kept as dead letters). */
  tasksLost: number;
  /** Tasks dropped unrun or stopped: cancelled, or their client was gone. */
  tasksDropped: number;
  /** Tasks released to other workers when this one stopped. */
  tasksReleased: number;
}

interface Running {
  id: string;
  task: TaskEntry;
  deliveries: number;
  /** Stops it in the local pool; only for tasks worth stopping (below). */
  controller?: AbortController;
  /** Set once the task must not report (cancelled, taken over, stopping). */
  dropped: boolean;
}

const TOKEN = Symbol("ClusterWorker.start");
/** How long a client's liveness is trusted before it is checked again. */
const CLIENT_CHECK_MS = 1000;
const RESULT_TTL_MS = 60_000;
const MIN_LEASE_MS = 100;
/** Work kept at hand per process by the default prefetch, and its bound. */
const PREFETCH_MS = 5;
const MAX_PREFETCH = 64;
/** Tasks typically shorter than this run without a signal (see #run). */
const STOPPABLE_MS = 2;
/** Results written by one script call, at most. */
const MAX_BATCH = 256;

/**
 * A worker of a `ClusterPool` name in this program: takes tasks from Redis
 * as its local `Pool` has room, renews their leases while they run, writes
 * each result before acknowledging it, takes over the tasks of workers
 * whose leases ran out, and on `stop()` releases what it holds to the
 * other workers. Reconnects by itself when Redis is lost.
 *
 * @example
 * ```ts
 * import { ClusterPool } from "@seed/multiprocessing/cluster";
 * import { ClusterWorker } from "@seed/multiprocessing/cluster-worker";
 * import { add } from "./tests/fixtures/pool_tasks.ts";
 * import assert from "node:assert/strict";
 *
 * const url = Deno.env.get("MULTIPROCESSING_REDIS_URL");
 * if (url !== undefined) {
 *   await using worker = await ClusterWorker.start(url, {
 *     name: "docs-worker",
 *     processes: 1,
 *   });
 *   await using pool = await ClusterPool.connect(url, { name: "docs-worker" });
 *   assert.equal(await pool.apply(add, [2, 3]), 5);
 *   assert.equal(worker.stats.tasksRun, 1);
 * }
 * ```
 */
export class ClusterWorker {
  #target: RedisTarget;
  #keys: PoolKeys;
  #name: string;
  #root: URL;
  #processes: number;
  #prefetch?: number;
  /** The mean time one task holds a process (ms), once measured. */
  #serviceMs?: number;
  /** The same per task function (`name@module`). */
  #durations = new Map<string, number>();
  #completions: { id: string; key: string; bytes: Uint8Array }[] = [];
  #consumer = `${hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
  #log: (line: string) => void;
  #cmd!: RedisClient;
  #blk!: RedisClient;
  #sub!: RedisClient;
  #pool: Pool;
  #running = new Map<string, Running>();
  #room?: PromiseWithResolvers<void>;
  #clients = new Map<string, { alive: boolean; at: number }>();
  #cancelled = new Map<string, number>();
  #shortestLease = Infinity;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #stopping = false;
  #stopped?: Promise<void>;
  #end = Promise.withResolvers<void>();
  #reading?: Promise<void>;
  #stats: ClusterWorkerStats = {
    tasksRun: 0,
    tasksFailed: 0,
    tasksRetried: 0,
    tasksTakenOver: 0,
    tasksLost: 0,
    tasksDropped: 0,
    tasksReleased: 0,
  };

  /**
   * Connects to Redis at `url`, starts the local pool and starts serving.
   * Fails as `ClusterPool.connect` does for a bad URL or an unreachable
   * server.
   */
  static async start(
    url: string | URL,
    options: ClusterWorkerOptions = {},
  ): Promise<ClusterWorker> {
    const method = "start a ClusterWorker";
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `Cannot ${method} as 'options' must be an object such as { name, processes }: current value is ${
          describe(options)
        }`,
      );
    }
    const target = checkTarget(method, url, options);
    const name = checkName(method, options.name ?? "default");
    const processes = checkWhole(
      method,
      "options.processes",
      options.processes,
      cpuCount(),
      1,
    );
    const prefetch = options.prefetch === undefined ? undefined : checkWhole(
      method,
      "options.prefetch",
      options.prefetch,
      0,
      0,
    );
    const root = rootUrl(method, options.root);
    const worker = new ClusterWorker(TOKEN, target, name, root, {
      processes,
      prefetch,
      maxTasksPerChild: options.maxTasksPerChild,
      log: options.log ?? (() => {}),
    });
    try {
      await worker.#connect();
    } catch (error) {
      await worker.#pool.terminate();
      worker.#cmd?.disconnect();
      worker.#blk?.disconnect();
      worker.#sub?.disconnect();
      throw error;
    }
    return worker;
  }

  /** Use `ClusterWorker.start()`. */
  private constructor(
    token: symbol,
    target: RedisTarget,
    name: string,
    root: URL,
    settings: {
      processes: number;
      prefetch?: number;
      maxTasksPerChild?: number;
      log: (line: string) => void;
    },
  ) {
    if (token !== TOKEN) {
      throw new TypeError(
        "Cannot construct a ClusterWorker with new: use await ClusterWorker.start(url, options)",
      );
    }
    this.#target = target;
    this.#name = name;
    this.#keys = poolKeys(name);
    this.#root = root;
    this.#processes = settings.processes;
    this.#prefetch = settings.prefetch;
    this.#log = settings.log;
    this.#pool = new Pool({
      processes: settings.processes,
      maxTasksPerChild: settings.maxTasksPerChild,
    });
  }

  /** Its name in the task stream's consumer group. */
  get consumer(): string {
    return this.#consumer;
  }

  /** A copy of what the worker has done so far. */
  get stats(): ClusterWorkerStats {
    return { ...this.#stats };
  }

  /** Resolves once the worker has stopped (after `stop()`). */
  get stopped(): Promise<void> {
    return this.#end.promise;
  }

  /**
   * Stops taking tasks, releases the ones it holds (running or waiting) to
   * the other workers at once, stops the local pool and closes its
   * connections.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop().finally(() => this.#end.resolve());
    return this.#stopped;
  }

  /** `await using worker = await ClusterWorker.start(…)` stops it at the end. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #connect(): Promise<void> {
    this.#cmd = await openRedis(this.#target, { connectionName: "mp-worker" });
    defineScripts(this.#cmd);
    this.#blk = await openRedis(this.#target, {
      blocking: true,
      connectionName: "mp-worker-tasks",
    });
    this.#sub = await openRedis(this.#target, {
      blocking: true,
      connectionName: "mp-worker-cancel",
    });
    for (const client of [this.#cmd, this.#blk, this.#sub]) {
      client.on("reconnecting", () => {
        if (!this.#stopping) {
          this.#log(`connection to ${this.#target.shown} lost: reconnecting`);
        }
      });
    }
    this.#sub.on(
      "message",
      (_channel: string, message: string) => this.#onCancel(message),
    );
    await this.#sub.subscribe(this.#keys.cancel);
    await this.#ensureGroup();
    await this.#heartbeat();
    this.#every(() => this.#heartbeat(), () => HEARTBEAT_MS);
    this.#every(() => this.#renew(), () => this.#renewMs());
    this.#every(() => this.#reclaim(), () => this.#reclaimMs());
    this.#reading = this.#readLoop();
  }

  async #ensureGroup(): Promise<void> {
    try {
      await this.#cmd.xgroup(
        "CREATE",
        this.#keys.tasks,
        GROUP,
        "0",
        "MKSTREAM",
      );
    } catch (error) {
      if (!isReplyError(error, "BUSYGROUP")) throw error;
    }
  }

  /** Runs `step` again and again, `ms()` apart, until the worker stops. */
  #every(step: () => Promise<void>, ms: () => number): void {
    const run = async () => {
      this.#timers.delete(timer);
      try {
        await step();
      } catch (error) {
        if (!this.#stopping) {
          this.#log(`background step failed: ${(error as Error).message}`);
        }
      }
      if (!this.#stopping) {
        timer = setTimeout(run, ms());
        this.#timers.add(timer);
      }
    };
    let timer = setTimeout(run, ms());
    this.#timers.add(timer);
  }

  /**
   * How many tasks the worker holds at most: one per process, plus the
   * prefetch, which by default keeps ~5 ms of work at hand per process
   * (tiny tasks then travel in batches; long ones are left to idle peers).
   */
  #capacity(): number {
    const processes = this.#processes;
    if (this.#prefetch !== undefined) return processes + this.#prefetch;
    if (this.#serviceMs === undefined) return 2 * processes;
    const extra = Math.floor(PREFETCH_MS / Math.max(this.#serviceMs, 0.001));
    return processes * (1 + Math.min(MAX_PREFETCH, extra));
  }

  #renewMs(): number {
    let shortest = Infinity;
    for (const running of this.#running.values()) {
      shortest = Math.min(shortest, running.task.leaseMs);
    }
    return shortest === Infinity
      ? 1000
      : Math.min(10_000, Math.max(30, shortest / 3));
  }

  #reclaimMs(): number {
    return Math.min(1000, Math.max(MIN_LEASE_MS, this.#shortestLease / 2));
  }

  async #heartbeat(): Promise<void> {
    const info = JSON.stringify({
      consumer: this.#consumer,
      hostname: hostname(),
      pid: Deno.pid,
      processes: this.#processes,
      startedAt: this.#startedAt,
    });
    await runScript(this.#cmd, "mpHeartbeat", [
      this.#keys.workers,
      this.#keys.workerInfo,
      this.#keys.tasks,
    ], [this.#consumer, HEARTBEAT_TTL_MS, info, GROUP]);
    const old = Date.now() - 60_000;
    for (const [key, at] of this.#cancelled) {
      if (at < old) this.#cancelled.delete(key);
    }
  }

  #startedAt = new Date().toISOString();

  async #readLoop(): Promise<void> {
    while (!this.#stopping) {
      const room = this.#capacity() - this.#running.size;
      if (room <= 0) {
        this.#room ??= Promise.withResolvers<void>();
        await this.#room.promise;
        continue;
      }
      let reply: [Uint8Array, [Uint8Array, Uint8Array[]][]][] | null;
      try {
        reply = await (this.#blk as any).xreadgroupBuffer(
          "GROUP",
          GROUP,
          this.#consumer,
          "COUNT",
          room,
          "BLOCK",
          2000,
          "STREAMS",
          this.#keys.tasks,
          ">",
        );
      } catch (error) {
        if (this.#stopping) break;
        if (isReplyError(error, "NOGROUP")) {
          // Redis restarted empty: the group is gone with the stream.
          await this.#ensureGroup().catch(() => {});
        } else {
          this.#log(
            `reading tasks failed (${(error as Error).message}): retrying`,
          );
          await delay(200);
        }
        continue;
      }
      if (reply === null || this.#stopping) continue;
      const entries = reply[0][1].map(([id, fields]) => ({
        id: text(id),
        fields,
        deliveries: 1,
      }));
      this.#accept(entries);
    }
  }

  /** Takes tasks in: reserves their room at once, then runs or drops each. */
  async #accept(
    entries: { id: string; fields: Uint8Array[]; deliveries: number }[],
  ): Promise<void> {
    const taken: Running[] = [];
    for (const { id, fields, deliveries } of entries) {
      let task: TaskEntry;
      try {
        task = parseEntry(fields);
      } catch {
        continue;
      }
      const running: Running = {
        id,
        task,
        deliveries,
        dropped: false,
      };
      this.#shortestLease = Math.min(
        this.#shortestLease,
        Math.max(MIN_LEASE_MS, task.leaseMs),
      );
      this.#running.set(id, running);
      taken.push(running);
    }
    try {
      await this.#checkClients(taken.map((r) => r.task.client));
    } catch { /* Redis is away: run them; results wait for it */ }
    for (const running of taken) {
      const { client, seq } = running.task;
      if (
        this.#clients.get(client)?.alive === false ||
        this.#cancelled.has(`${client} ${seq}`)
      ) {
        this.#drop(running, true);
      } else {
        this.#run(running);
      }
    }
  }

  async #run(running: Running): Promise<void> {
    const { task } = running;
    const started = performance.now();
    // Tasks ahead of this one on each process of the local pool.
    const ahead = Math.max(1, this.#running.size / this.#processes);
    let status = OK;
    let value: unknown;
    try {
      const fn = await resolveTask(task, this.#root, this.#consumer);
      const payload = decodeValue(task.payload) as unknown[];
      // A task with a signal runs alone on its local process (the pool
      // stops the process to stop it), which costs tiny tasks ~4× their
      // throughput: only tasks that may run long get one, those of a
      // function not seen yet or seen taking ≥ STOPPABLE_MS. A tiny task
      // cancelled while it runs finishes, and its result is dropped.
      const typical = this.#durations.get(`${task.name}@${task.module}`);
      if (
        task.timeout > 0 || typical === undefined || typical >= STOPPABLE_MS
      ) {
        running.controller = new AbortController();
      }
      const options = {
        timeout: task.timeout > 0 ? task.timeout : undefined,
        signal: running.controller?.signal,
      };
      const pool = this.#pool as any;
      value = task.kind === CALL
        ? await pool.apply(fn, payload, options)
        : await (task.kind === MAP ? pool.map : pool.starmap).call(
          pool,
          fn,
          payload,
          {
            ...options,
            chunksize: Math.max(1, payload.length),
          },
        );
    } catch (error) {
      status = FAILED;
      value = error;
    }
    if (running.dropped) return;
    const runningMs = performance.now() - started;
    const service = runningMs / ahead;
    this.#serviceMs = this.#serviceMs === undefined
      ? service
      : this.#serviceMs * 0.9 + service * 0.1;
    const key = `${task.name}@${task.module}`;
    const typical = this.#durations.get(key);
    this.#durations.set(
      key,
      typical === undefined ? service : typical * 0.9 + service * 0.1,
    );
    if (status === FAILED && task.attempt < task.retries && !isSkew(value)) {
      this.#stats.tasksRetried++;
      this.#forget(running);
      await runScript(this.#cmd, "mpRequeue", [this.#keys.tasks], [
        GROUP,
        running.id,
        ...(entryFields({ ...task, attempt: task.attempt + 1 }) as string[]),
      ]).catch((error) =>
        this.#log(`retrying a task failed: ${error.message}`)
      );
      return;
    }
    if (status === OK) this.#stats.tasksRun++;
    else this.#stats.tasksFailed++;
    const bytes = encodeResult({
      seq: task.seq,
      status,
      value,
      runningMs,
      deliveries: running.deliveries,
    });
    this.#forget(running);
    this.#complete(running.id, this.#keys.results(task.client), bytes);
  }

  /**
   * Writes a result and acknowledges its task, together with the others
   * that end in the same turn: one script call for a batch the local pool
   * answered at once.
   */
  #complete(id: string, key: string, bytes: Uint8Array): void {
    if (this.#completions.push({ id, key, bytes }) > 1) return;
    queueMicrotask(() => {
      const batch = this.#completions.splice(0);
      for (let start = 0; start < batch.length; start += MAX_BATCH) {
        const part = batch.slice(start, start + MAX_BATCH);
        const args: (string | number | Uint8Array)[] = [GROUP, RESULT_TTL_MS];
        for (const done of part) args.push(done.id, done.bytes);
        runScript(
          this.#cmd,
          "mpComplete",
          [this.#keys.tasks, ...part.map((done) => done.key)],
          args,
        ).catch((error) =>
          this.#log(`writing results failed: ${error.message}`)
        );
      }
    });
  }

  /** Removes a task from the running set and wakes the reader for room. */
  #forget(running: Running): void {
    if (this.#running.get(running.id) === running) {
      this.#running.delete(running.id);
    }
    if (this.#room) {
      this.#room.resolve();
      this.#room = undefined;
    }
  }

  /**
   * Stops a task without a result: cancelled or its client gone
   * (`acknowledge`: it is done with), or taken over by another worker.
   */
  #drop(running: Running, acknowledge: boolean): void {
    if (running.dropped) return;
    running.dropped = true;
    this.#stats.tasksDropped++;
    running.controller?.abort(new ProcessError("The task was cancelled"));
    this.#forget(running);
    if (acknowledge) {
      const pipeline = this.#cmd.pipeline();
      pipeline.xack(this.#keys.tasks, GROUP, running.id);
      pipeline.xdel(this.#keys.tasks, running.id);
      pipeline.exec().catch(() => {});
    }
  }

  #onCancel(message: string): void {
    const [client, which] = message.split(" ");
    if (which === "*") {
      this.#clients.set(client, { alive: false, at: performance.now() });
    } else this.#cancelled.set(`${client} ${which}`, Date.now());
    for (const running of [...this.#running.values()]) {
      const { task } = running;
      if (
        task.client === client && (which === "*" || String(task.seq) === which)
      ) {
        this.#drop(running, true);
      }
    }
  }

  /** Refreshes the liveness of the clients not checked within a second. */
  async #checkClients(clients: string[]): Promise<void> {
    const now = performance.now();
    const stale = [...new Set(clients)].filter((id) => {
      const known = this.#clients.get(id);
      return known === undefined ||
        (known.alive && now - known.at > CLIENT_CHECK_MS);
    });
    if (stale.length === 0) return;
    const pipeline = this.#cmd.pipeline();
    for (const id of stale) pipeline.exists(this.#keys.client(id));
    const replies = await pipeline.exec();
    stale.forEach((id, i) => {
      const [error, exists] = replies?.[i] ?? [new Error("no reply"), 0];
      if (error === null) {
        this.#clients.set(id, { alive: exists === 1, at: now });
      }
    });
  }

  /** Renews the leases of running tasks; stops those nobody wants now. */
  async #renew(): Promise<void> {
    if (this.#running.size === 0) return;
    const ids = [...this.#running.keys()];
    const taken = await runScript(this.#cmd, "mpRenew", [this.#keys.tasks], [
      GROUP,
      this.#consumer,
      ...ids,
    ]) as string[];
    for (const id of taken) {
      const running = this.#running.get(id);
      if (running) {
        this.#log(
          `task ${id} was taken over by another worker (this one was too slow to renew its lease)`,
        );
        this.#drop(running, false);
      }
    }
    await this.#checkClients(
      [...this.#running.values()].map((r) => r.task.client),
    );
    for (const running of [...this.#running.values()]) {
      if (this.#clients.get(running.task.client)?.alive === false) {
        this.#drop(running, true);
      }
    }
  }

  /** Takes over tasks whose lease ran out, or fails them as lost. */
  async #reclaim(): Promise<void> {
    const room = this.#capacity() - this.#running.size;
    if (room <= 0) return;
    const claimed = await runScriptBuffer(this.#cmd, "mpReclaim", [
      this.#keys.tasks,
    ], [
      GROUP,
      this.#consumer,
      MIN_LEASE_MS,
      room,
      1000,
    ]) as [Uint8Array, Uint8Array[], number, Uint8Array][];
    const retake: { id: string; fields: Uint8Array[]; deliveries: number }[] =
      [];
    for (const [rawId, fields, deliveries, owner] of claimed) {
      const id = text(rawId);
      const task = parseEntry(fields);
      if (deliveries >= task.maxDeliveries) {
        await this.#bury(id, task, fields, deliveries, text(owner));
      } else {
        this.#stats.tasksTakenOver++;
        this.#log(
          `took over task ${id} from ${text(owner)}, whose lease ran out`,
        );
        retake.push({ id, fields, deliveries: deliveries + 1 });
      }
    }
    if (retake.length > 0) await this.#accept(retake);
  }

  async #bury(
    id: string,
    task: TaskEntry,
    fields: Uint8Array[],
    deliveries: number,
    owner: string,
  ): Promise<void> {
    this.#stats.tasksLost++;
    const error = new ProcessError(
      `The task was lost: the worker${
        deliveries > 1 ? "s" : ""
      } that took it (the last: ${owner}) stopped renewing its lease of ${task.leaseMs} ms, ${deliveries} time${
        deliveries > 1 ? "s" : ""
      } (maxDeliveries ${task.maxDeliveries}); it is kept in the dead-letter stream ${this.#keys.dead}`,
    );
    this.#log(
      `task ${id} lost ${deliveries} time(s): failed, kept in ${this.#keys.dead}`,
    );
    const bytes = encodeResult({
      seq: task.seq,
      status: FAILED,
      value: error,
      runningMs: 0,
      deliveries,
    });
    await runScript(this.#cmd, "mpBury", [
      this.#keys.tasks,
      this.#keys.dead,
      this.#keys.results(task.client),
    ], [
      GROUP,
      id,
      RESULT_TTL_MS,
      bytes,
      ...fields,
      "task-id",
      id,
      "reason",
      error.message,
      "deliveries",
      deliveries,
      "last-owner",
      owner,
    ]);
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#blk.disconnect(); // ends the blocked read at once
    this.#room?.resolve();
    for (const running of this.#running.values()) running.dropped = true;
    try {
      const released = await runScript(this.#cmd, "mpRelease", [
        this.#keys.tasks,
        this.#keys.workers,
        this.#keys.workerInfo,
      ], [GROUP, this.#consumer]) as number;
      this.#stats.tasksReleased += released;
      if (released > 0) {
        this.#log(`released ${released} task(s) to the other workers`);
      }
    } catch (error) {
      this.#log(
        `could not release the tasks it held (${
          (error as Error).message
        }): they return to others after their lease`,
      );
    }
    this.#running.clear();
    await this.#pool.terminate();
    await this.#reading;
    await Promise.all([closeRedis(this.#cmd), closeRedis(this.#sub)]);
  }
}

/**
 * This machine's name, for telling workers apart: with `--allow-sys` its
 * host name, otherwise `$HOSTNAME` (the worker asks for no more than
 * `--allow-read --allow-net --allow-env`).
 */
function hostname(): string {
  try {
    const state =
      Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state;
    if (state === "granted") return Deno.hostname();
  } catch { /* an older runtime: fall back */ }
  return Deno.env.get("HOSTNAME") ?? "host";
}

function isSkew(error: unknown): boolean {
  return error instanceof ProcessError &&
    error.message.includes("(version skew)");
}
