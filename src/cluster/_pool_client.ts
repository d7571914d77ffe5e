// A ClusterPool's side of the wire: its two connections (commands, and a
// blocking one that reads its result list), its liveness key, the tasks it
// sent and is waiting for, and the first result of each.

import type { Buffer } from "node:buffer";
import { ProcessError } from "../errors.ts";
import { delay, within } from "../core/wait.ts";
import type { Canceller, Sink, Task } from "./_jobs.ts";
import {
  decodeResult,
  entryFields,
  GROUP,
  OK,
  type PoolKeys,
} from "./_layout.ts";
import {
  closeRedis,
  isReplyError,
  openRedis,
  type RedisClient,
  type RedisTarget,
} from "./_redis.ts";
import { defineScripts, runScript } from "./_scripts.ts";
import type { TaskRef } from "./_targets.ts";
import { type ClusterWorkerInfo, listWorkers } from "./_workers.ts";

/**
 * What a `ClusterPool` has done so far (see `ClusterPool.stats`).
 *
 * @example
 * ```ts
 * import type { ClusterPoolStats } from "@seed/multiprocessing/cluster";
 *
 * function summary(stats: ClusterPoolStats): string {
 *   return `${stats.tasksCompleted} done, ${stats.tasksRedelivered} redelivered`;
 * }
 * console.assert(summary({
 *   tasksSubmitted: 1, tasksCompleted: 1, tasksFailed: 0, tasksCancelled: 0,
 *   tasksRedelivered: 0, resultsIgnored: 0, runningMs: 1, roundTripMs: 2,
 * }) === "1 done, 0 redelivered");
 * ```
 */
export interface ClusterPoolStats {
  /** Tasks sent to the stream (a `map` chunk is one task). */
  tasksSubmitted: number;
  /** Tasks that returned a result. */
  tasksCompleted: number;
  /** Tasks that threw, timed out, or whose workers were lost. */
  tasksFailed: number;
  /** Tasks dropped before their result (abort, a failed `map`, `break`). */
  tasksCancelled: number;
  /** Tasks whose result came from a second (or later) delivery. */
  tasksRedelivered: number;
  /** Results for tasks already settled (a redelivered task's second). */
  resultsIgnored: number;
  /** Total milliseconds tasks ran on workers. */
  runningMs: number;
  /** Total milliseconds from submission to result. */
  roundTripMs: number;
}

/** How a pool's tasks are to be run, as its options said. */
export interface PoolSettings {
  name: string;
  keys: PoolKeys;
  leaseMs: number;
  maxDeliveries: number;
  retries: number;
}

/**
 * How long a client's liveness key lasts without renewal: its lease, and
 * at least 5 s, so that a short lease (for workers) does not make a client
 * whose event loop stalls a moment look gone.
 */
function clientTtl(leaseMs: number): number {
  return Math.max(leaseMs, 5000);
}

/** Tasks sent by one script call, at most. */
const SUBMIT_BATCH = 500;
/** The results read from the list in one go, at most. */
const READ_BATCH = 1000;

export class PoolClient implements Canceller {
  readonly #cmd: RedisClient;
  readonly #reader: RedisClient;
  readonly #settings: PoolSettings;
  readonly #keys: PoolKeys;
  readonly #id = crypto.randomUUID();
  #seq = 0;
  #pending = new Map<number, Task>();
  #outbox: { task: Task; header: string; payload: Uint8Array }[] = [];
  #beat?: ReturnType<typeof setInterval>;
  #capacity = 1;
  #reading?: Promise<void>;
  #closed?: Promise<void>;
  /** Called whenever a task settles (the pool's join waits on it). */
  onSettled: () => void = () => {};
  readonly stats: ClusterPoolStats = {
    tasksSubmitted: 0,
    tasksCompleted: 0,
    tasksFailed: 0,
    tasksCancelled: 0,
    tasksRedelivered: 0,
    resultsIgnored: 0,
    runningMs: 0,
    roundTripMs: 0,
  };

  /** Opens both connections and starts reading results. */
  static async open(
    target: RedisTarget,
    settings: PoolSettings,
  ): Promise<PoolClient> {
    const cmd = await openRedis(target, {
      connectionName: `mp-pool:${settings.name}`,
    });
    let reader: RedisClient | undefined;
    try {
      reader = await openRedis(target, {
        blocking: true,
        connectionName: `mp-pool-results:${settings.name}`,
      });
      const client = new PoolClient(cmd, reader, settings);
      await client.#start();
      return client;
    } catch (error) {
      cmd.disconnect();
      reader?.disconnect();
      throw error;
    }
  }

  private constructor(
    cmd: RedisClient,
    reader: RedisClient,
    settings: PoolSettings,
  ) {
    this.#cmd = cmd;
    this.#reader = reader;
    this.#settings = settings;
    this.#keys = settings.keys;
  }

  async #start(): Promise<void> {
    defineScripts(this.#cmd);
    try {
      // From the stream's start: tasks sent before any worker came wait.
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
    const ttl = clientTtl(this.#settings.leaseMs);
    await this.#cmd.set(this.#keys.client(this.#id), "1", "PX", ttl);
    await this.#refreshCapacity();
    this.#beat = setInterval(() => this.#heartbeat(), ttl / 3);
    this.#reading = this.#read();
  }

  /** The processes of the live workers (at least 1), for chunk sizes. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Tasks sent and not settled yet. */
  get pending(): number {
    return this.#pending.size;
  }

  /** The live workers of the pool's name. */
  workers(): Promise<ClusterWorkerInfo[]> {
    return listWorkers(this.#cmd, this.#keys);
  }

  /**
   * Sends a task to the stream (once its reference is known) and returns
   * it; its result goes to `sink`.
   */
  submit(
    ref: TaskRef | Promise<TaskRef>,
    kind: number,
    payload: Uint8Array,
    timeout: number,
    sink: Sink,
  ): Task {
    const task: Task = {
      seq: ++this.#seq,
      submittedAt: performance.now(),
      sink,
    };
    this.#pending.set(task.seq, task);
    this.stats.tasksSubmitted++;
    const send = (ref: TaskRef) => {
      if (task.cancelled || !this.#pending.has(task.seq)) return;
      const { leaseMs, maxDeliveries, retries } = this.#settings;
      const [, header] = entryFields({
        client: this.#id,
        seq: task.seq,
        kind,
        module: ref.module,
        name: ref.name,
        hash: ref.hash,
        timeout: Number.isFinite(timeout)
          ? Math.max(1, Math.round(timeout))
          : 0,
        retries,
        attempt: 0,
        leaseMs,
        maxDeliveries,
        payload,
      });
      this.#send(task, header as string, payload);
    };
    if (ref instanceof Promise) {
      ref.then(send, (error) => this.fail(task, error));
    } else send(ref);
    return task;
  }

  /**
   * Queues a task's entry for the stream: the entries of one turn go in
   * one script call, which costs the client and Redis far less than a
   * command each (tiny tasks are sent in bursts).
   */
  #send(task: Task, header: string, payload: Uint8Array): void {
    if (this.#outbox.push({ task, header, payload }) > 1) return;
    queueMicrotask(() => {
      const outbox = this.#outbox.splice(0);
      for (let start = 0; start < outbox.length; start += SUBMIT_BATCH) {
        const batch = outbox.slice(start, start + SUBMIT_BATCH);
        const args: (string | Uint8Array)[] = [];
        for (const { header, payload } of batch) args.push(header, payload);
        // One task alone: a plain XADD, which Redis runs faster than a script.
        const sent = batch.length === 1
          ? this.#cmd.xadd(
            this.#keys.tasks,
            "*",
            "h",
            batch[0].header,
            "p",
            batch[0].payload as Buffer,
          ).then((id) => [id])
          : runScript(this.#cmd, "mpSubmit", [this.#keys.tasks], args);
        sent.then(
          (ids) => {
            (ids as string[]).forEach((id, i) => {
              const { task } = batch[i];
              task.entryId = id;
              if (task.cancelled) {
                this.#cmd.xdel(this.#keys.tasks, id).catch(() => {});
              }
            });
          },
          (error: unknown) => {
            for (const { task } of batch) this.fail(task, error);
          },
        );
      }
    });
  }

  /** Drops a task not settled yet (see `Canceller`). */
  cancel(task: Task, stopRunning: boolean): void {
    if (!this.#pending.delete(task.seq)) return;
    this.stats.tasksCancelled++;
    if (task.entryId !== undefined) {
      this.#cmd.xdel(this.#keys.tasks, task.entryId).catch(() => {});
    } else task.cancelled = true;
    if (stopRunning) this.#publishCancel(String(task.seq));
    this.onSettled();
  }

  /** Fails a task here (it could not be sent). */
  fail(task: Task, error: unknown): void {
    if (!this.#pending.delete(task.seq)) return;
    this.stats.tasksFailed++;
    task.sink.done(task, false, error);
    this.onSettled();
  }

  /** Drops every task, asks the workers to stop them, and fails them. */
  dropAll(error: unknown): void {
    const tasks = [...this.#pending.values()];
    for (const task of tasks) this.cancel(task, false);
    this.#publishCancel("*");
    for (const task of tasks) task.sink.done(task, false, error);
  }

  #publishCancel(which: string): void {
    this.#cmd.publish(this.#keys.cancel, `${this.#id} ${which}`).catch(
      () => {},
    );
  }

  async #read(): Promise<void> {
    const key = this.#keys.results(this.#id);
    const reader = this.#reader as unknown as {
      blmpopBuffer(
        ...args: unknown[]
      ): Promise<[Uint8Array, Uint8Array[]] | null>;
    };
    while (this.#closed === undefined) {
      let reply: [Uint8Array, Uint8Array[]] | null;
      try {
        reply = await reader.blmpopBuffer(
          0,
          1,
          key,
          "LEFT",
          "COUNT",
          READ_BATCH,
        );
      } catch {
        if (this.#closed !== undefined) return;
        await delay(50); // the connection comes back by itself
        continue;
      }
      if (reply === null) continue;
      for (const bytes of reply[1]) {
        if (bytes.length > 0) this.#onResult(bytes);
      }
    }
  }

  #onResult(bytes: Uint8Array): void {
    const result = decodeResult(bytes);
    const task = this.#pending.get(result.seq);
    const stats = this.stats;
    if (task === undefined) {
      stats.resultsIgnored++;
      return;
    }
    this.#pending.delete(result.seq);
    const ok = result.status === OK;
    if (ok) stats.tasksCompleted++;
    else stats.tasksFailed++;
    if (result.deliveries > 1) stats.tasksRedelivered++;
    stats.runningMs += result.runningMs;
    stats.roundTripMs += performance.now() - task.submittedAt;
    task.sink.done(task, ok, result.value);
    this.onSettled();
  }

  async #heartbeat(): Promise<void> {
    const ttl = clientTtl(this.#settings.leaseMs);
    try {
      const before = await this.#cmd.set(
        this.#keys.client(this.#id),
        "1",
        "PX",
        ttl,
        "GET",
      );
      if (before === null && this.#closed === undefined) {
        // The key expired: workers took this client for gone and dropped
        // its tasks. Say so rather than wait for results that cannot come.
        const error = new ProcessError(
          `The pool lost contact with Redis for longer than ${ttl} ms: the workers took it for gone and may have dropped its tasks`,
        );
        for (const task of [...this.#pending.values()]) {
          this.cancel(task, false);
          task.sink.done(task, false, error);
        }
      }
      await this.#refreshCapacity();
    } catch {
      // Redis is away: the next beat tries again.
    }
  }

  async #refreshCapacity(): Promise<void> {
    const workers = await listWorkers(this.#cmd, this.#keys);
    this.#capacity = Math.max(
      1,
      workers.reduce((n, w) => n + w.processes, 0),
    );
  }

  /** Stops reading, deletes the client's keys, closes both connections. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#beat);
      const results = this.#keys.results(this.#id);
      // An empty item wakes the reader, which then sees the pool closed.
      await this.#cmd.rpush(results, "").catch(() => {});
      await within(
        this.#reading!,
        { deadline: performance.now() + 1000 },
        () => this.#reader.disconnect(),
      );
      await this.#cmd.del(this.#keys.client(this.#id), results).catch(
        () => {},
      );
      await Promise.all([closeRedis(this.#cmd), closeRedis(this.#reader)]);
      await this.#reading;
    })();
    return this.#closed;
  }
}
