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
import {
  checkName,
  encodeResult,
  FAILED,
  GROUP,
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
import { defineScripts } from "./_scripts.ts";
import { rootUrl } from "./_targets.ts";
import { checkWhole } from "./_checks.ts";
import { HEARTBEAT_MS } from "./_workers.ts";
import { isVersionSkew, LocalRunner } from "./_runner.ts";
import { type Delivery, MIN_LEASE_MS, WorkerStream } from "./_worker_stream.ts";

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
   * 5 ms or more, up to 128 per process for tiny ones).
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
 * import { add } from "../../tests/fixtures/pool_tasks.ts";
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
  #processes: number;
  #consumer = `${hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
  #log: (line: string) => void;
  #cmd!: RedisClient;
  #blk!: RedisClient;
  #sub!: RedisClient;
  #stream!: WorkerStream;
  #runner: LocalRunner;
  #running = new Map<string, Running>();
  #room?: PromiseWithResolvers<void>;
  #cancelled = new Map<string, number>();
  #shortestLease = Infinity;
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #stopping = false;
  #stopped?: Promise<void>;
  #end = Promise.withResolvers<void>();
  #reading?: Promise<void>;
  #startedAt = new Date().toISOString();
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
      await worker.#runner.pool.terminate();
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
    this.#processes = settings.processes;
    this.#log = settings.log;
    this.#runner = new LocalRunner({
      processes: settings.processes,
      prefetch: settings.prefetch,
      maxTasksPerChild: settings.maxTasksPerChild,
      root,
      worker: this.#consumer,
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
    this.#cmd = await openRedis(this.#target, {
      connectionName: `mp-worker:${this.#name}`,
    });
    defineScripts(this.#cmd);
    this.#stream = new WorkerStream(
      this.#cmd,
      this.#keys,
      this.#consumer,
      this.#log,
    );
    this.#blk = await openRedis(this.#target, {
      blocking: true,
      connectionName: `mp-worker-tasks:${this.#name}`,
    });
    this.#sub = await openRedis(this.#target, {
      blocking: true,
      connectionName: `mp-worker-cancel:${this.#name}`,
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
    await this.#stream.ensureGroup();
    await this.#heartbeat();
    this.#every(() => this.#heartbeat(), () => HEARTBEAT_MS);
    this.#every(() => this.#renew(), () => this.#renewMs());
    this.#every(() => this.#reclaim(), () => this.#reclaimMs());
    this.#reading = this.#readLoop();
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
    await this.#stream.heartbeat(JSON.stringify({
      consumer: this.#consumer,
      hostname: hostname(),
      pid: Deno.pid,
      processes: this.#processes,
      startedAt: this.#startedAt,
    }));
    const old = Date.now() - 60_000;
    for (const [key, at] of this.#cancelled) {
      if (at < old) this.#cancelled.delete(key);
    }
  }

  async #readLoop(): Promise<void> {
    while (!this.#stopping) {
      const capacity = this.#runner.capacity();
      const room = capacity - this.#running.size;
      // With tasks at hand, read again once half the prefetch is free, not
      // for every task that ends: reads (and the syscalls of each) come in
      // batches. Without prefetch (long tasks) a free process reads at once.
      const batch = this.#running.size === 0
        ? 1
        : Math.max(1, Math.ceil((capacity - this.#processes) / 2));
      if (room < batch) {
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
          await this.#stream.ensureGroup().catch(() => {});
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
  async #accept(entries: Delivery[]): Promise<void> {
    const taken: Running[] = [];
    for (const { id, fields, deliveries } of entries) {
      let task: TaskEntry;
      try {
        task = parseEntry(fields);
      } catch {
        this.#stream.acknowledge(id); // not a task of this module
        continue;
      }
      const running: Running = { id, task, deliveries, dropped: false };
      this.#shortestLease = Math.min(
        this.#shortestLease,
        Math.max(MIN_LEASE_MS, task.leaseMs),
      );
      this.#running.set(id, running);
      taken.push(running);
    }
    const checked = this.#stream.checkClients(taken.map((r) => r.task.client));
    if (checked !== undefined) {
      try {
        await checked;
      } catch { /* Redis is away: run them; results wait for it */ }
    }
    for (const running of taken) {
      const { client, seq } = running.task;
      if (
        this.#stream.clientAlive(client) === false ||
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
    if (this.#runner.stoppable(task)) {
      running.controller = new AbortController();
    }
    const { status, value, runningMs } = await this.#runner.run(
      task,
      this.#running.size,
      running.controller?.signal,
    );
    if (running.dropped) return;
    this.#forget(running);
    if (
      status === FAILED && task.attempt < task.retries && !isVersionSkew(value)
    ) {
      this.#stats.tasksRetried++;
      await this.#stream.requeue(running.id, {
        ...task,
        attempt: task.attempt + 1,
      }).catch((error) =>
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
    this.#stream.complete(running.id, task.client, bytes);
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
    if (acknowledge) this.#stream.acknowledge(running.id);
  }

  #onCancel(message: string): void {
    const [client, which] = message.split(" ");
    if (which === "*") this.#stream.forgetClient(client);
    else this.#cancelled.set(`${client} ${which}`, Date.now());
    for (const running of [...this.#running.values()]) {
      const { task } = running;
      if (
        task.client === client && (which === "*" || String(task.seq) === which)
      ) {
        this.#drop(running, true);
      }
    }
  }

  /** Renews the leases of running tasks; stops those nobody wants now. */
  async #renew(): Promise<void> {
    if (this.#running.size === 0) return;
    const taken = await this.#stream.renew([...this.#running.keys()]);
    for (const id of taken) {
      const running = this.#running.get(id);
      if (running) {
        this.#log(
          `task ${id} was taken over by another worker (this one was too slow to renew its lease)`,
        );
        this.#drop(running, false);
      }
    }
    const running = [...this.#running.values()];
    await this.#stream.checkClients(running.map((r) => r.task.client));
    for (const one of running) {
      if (this.#stream.clientAlive(one.task.client) === false) {
        this.#drop(one, true);
      }
    }
  }

  /** Takes over tasks whose lease ran out, or fails them as lost. */
  async #reclaim(): Promise<void> {
    const room = this.#runner.capacity() - this.#running.size;
    if (room <= 0) return;
    const { retake, lost } = await this.#stream.reclaim(room);
    this.#stats.tasksLost += lost;
    this.#stats.tasksTakenOver += retake.length;
    if (retake.length > 0) await this.#accept(retake);
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#blk.disconnect(); // ends the blocked read at once
    this.#room?.resolve();
    for (const running of this.#running.values()) running.dropped = true;
    try {
      const released = await this.#stream.release();
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
    await this.#runner.pool.terminate();
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
