// What a cluster worker does to its pool's keys in Redis: each step one
// script or one pipeline (_scripts.ts), so that a crash between two never
// leaves a task half-done — a result is written before its task is
// acknowledged, a task is re-added before it is dropped.

import { ProcessError } from "../errors.ts";
import {
  encodeResult,
  entryFields,
  FAILED,
  GROUP,
  parseEntry,
  type PoolKeys,
  type TaskEntry,
  text,
} from "./_layout.ts";
import { isReplyError, type RedisClient } from "./_redis.ts";
import { runScript, runScriptBuffer } from "./_scripts.ts";
import { HEARTBEAT_TTL_MS } from "./_workers.ts";

/** How long a result waits for a client that does not read it. */
const RESULT_TTL_MS = 60_000;
/** Results written by one script call, at most. */
const MAX_BATCH = 256;
/** How long a client's liveness is trusted before it is checked again. */
const CLIENT_CHECK_MS = 1000;
/** The shortest lease a task may have (ClusterPool checks it too). */
export const MIN_LEASE_MS = 100;

/** A task entry as read from the stream. */
export interface Delivery {
  id: string;
  fields: Uint8Array[];
  /** How many workers it was delivered to, this one included. */
  deliveries: number;
}

export class WorkerStream {
  readonly #cmd: RedisClient;
  readonly #keys: PoolKeys;
  readonly #consumer: string;
  readonly #log: (line: string) => void;
  #completions: { id: string; key: string; bytes: Uint8Array }[] = [];
  #clients = new Map<string, { alive: boolean; at: number }>();

  constructor(
    cmd: RedisClient,
    keys: PoolKeys,
    consumer: string,
    log: (line: string) => void,
  ) {
    this.#cmd = cmd;
    this.#keys = keys;
    this.#consumer = consumer;
    this.#log = log;
  }

  /** Creates the consumer group (and stream) unless it exists. */
  async ensureGroup(): Promise<void> {
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

  /** Says the worker is alive (and forgets workers that stopped saying so). */
  async heartbeat(info: string): Promise<void> {
    await runScript(this.#cmd, "mpHeartbeat", [
      this.#keys.workers,
      this.#keys.workerInfo,
      this.#keys.tasks,
    ], [this.#consumer, HEARTBEAT_TTL_MS, info, GROUP]);
  }

  /**
   * Writes a result and acknowledges its task, together with the others
   * that end in the same turn: one script call for a batch the local pool
   * answered at once.
   */
  complete(id: string, client: string, bytes: Uint8Array): void {
    const key = this.#keys.results(client);
    if (this.#completions.push({ id, key, bytes }) > 1) return;
    queueMicrotask(() => {
      const batch = this.#completions.splice(0);
      for (let start = 0; start < batch.length; start += MAX_BATCH) {
        this.#write(batch.slice(start, start + MAX_BATCH));
      }
    });
  }

  #write(batch: { id: string; key: string; bytes: Uint8Array }[]): void {
    const byKey = new Map<string, Uint8Array[]>();
    for (const { key, bytes } of batch) {
      const list = byKey.get(key);
      if (list) list.push(bytes);
      else byKey.set(key, [bytes]);
    }
    const args: (string | number | Uint8Array)[] = [
      GROUP,
      RESULT_TTL_MS,
      batch.length,
    ];
    for (const { id } of batch) args.push(id);
    for (const results of byKey.values()) args.push(results.length, ...results);
    runScript(
      this.#cmd,
      "mpComplete",
      [this.#keys.tasks, ...byKey.keys()],
      args,
    ).catch((error) => this.#log(`writing results failed: ${error.message}`));
  }

  /** Puts a task back as a new entry, for its next attempt. */
  async requeue(id: string, task: TaskEntry): Promise<void> {
    await runScript(this.#cmd, "mpRequeue", [this.#keys.tasks], [
      GROUP,
      id,
      ...(entryFields(task) as string[]),
    ]);
  }

  /** Acknowledges and deletes a task that will have no result. */
  acknowledge(id: string): void {
    const pipeline = this.#cmd.pipeline();
    pipeline.xack(this.#keys.tasks, GROUP, id);
    pipeline.xdel(this.#keys.tasks, id);
    pipeline.exec().catch(() => {});
  }

  /** Renews the leases of `ids`; returns those another worker took over. */
  async renew(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return await runScript(this.#cmd, "mpRenew", [this.#keys.tasks], [
      GROUP,
      this.#consumer,
      ...ids,
    ]) as string[];
  }

  /**
   * Takes over at most `room` tasks whose lease ran out; returns those to
   * run again, after failing (as lost) those delivered too often.
   */
  async reclaim(room: number): Promise<{ retake: Delivery[]; lost: number }> {
    const claimed = await runScriptBuffer(this.#cmd, "mpReclaim", [
      this.#keys.tasks,
    ], [GROUP, this.#consumer, MIN_LEASE_MS, room, 1000]) as [
      Uint8Array,
      Uint8Array[],
      number,
      Uint8Array,
    ][];
    const retake: Delivery[] = [];
    let lost = 0;
    for (const [rawId, fields, deliveries, owner] of claimed) {
      const id = text(rawId);
      let task: TaskEntry;
      try {
        task = parseEntry(fields);
      } catch {
        this.acknowledge(id); // not a task of this module
        continue;
      }
      if (deliveries >= task.maxDeliveries) {
        await this.#bury(id, task, fields, deliveries, text(owner));
        lost++;
      } else {
        this.#log(
          `took over task ${id} from ${text(owner)}, whose lease ran out`,
        );
        retake.push({ id, fields, deliveries: deliveries + 1 });
      }
    }
    return { retake, lost };
  }

  /** Fails a lost task, keeps it as a dead letter, acknowledges it. */
  async #bury(
    id: string,
    task: TaskEntry,
    fields: Uint8Array[],
    deliveries: number,
    owner: string,
  ): Promise<void> {
    const times = deliveries > 1 ? "s" : "";
    const error = new ProcessError(
      `The task was lost: the worker${times} that took it (the last: ${owner}) stopped renewing its lease of ${task.leaseMs} ms, ${deliveries} time${times} (maxDeliveries ${task.maxDeliveries}); it is kept in the dead-letter stream ${this.#keys.dead}`,
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

  /**
   * Puts every task this worker holds back in the stream for the others,
   * and leaves the group; returns how many it released.
   */
  async release(): Promise<number> {
    return await runScript(this.#cmd, "mpRelease", [
      this.#keys.tasks,
      this.#keys.workers,
      this.#keys.workerInfo,
    ], [GROUP, this.#consumer]) as number;
  }

  /** Marks a client gone (it cancelled all its tasks). */
  forgetClient(client: string): void {
    this.#clients.set(client, { alive: false, at: performance.now() });
  }

  /** Whether a client was alive when last checked (`undefined`: unknown). */
  clientAlive(client: string): boolean | undefined {
    return this.#clients.get(client)?.alive;
  }

  /**
   * Checks the liveness of the clients not checked within a second;
   * `undefined` when none needs it (no round trip, no wait).
   */
  checkClients(clients: Iterable<string>): Promise<void> | undefined {
    const now = performance.now();
    const stale = [...new Set(clients)].filter((id) => {
      const known = this.#clients.get(id);
      return known === undefined ||
        (known.alive && now - known.at > CLIENT_CHECK_MS);
    });
    if (stale.length === 0) return undefined;
    const pipeline = this.#cmd.pipeline();
    for (const id of stale) pipeline.exists(this.#keys.client(id));
    return pipeline.exec().then((replies) => {
      stale.forEach((id, i) => {
        const [error, exists] = replies?.[i] ?? [new Error("no reply"), 0];
        if (error === null) {
          this.#clients.set(id, { alive: exists === 1, at: now });
        }
      });
    });
  }
}
