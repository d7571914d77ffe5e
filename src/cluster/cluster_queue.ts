/**
 * `ClusterQueue`: a FIFO queue in Redis (a list) that any program on any
 * machine can reach, with Python's `Queue` methods.
 *
 * @module
 */

import { Empty, Full, ProcessError } from "../errors.ts";
import { describe } from "../core/describe.ts";
import { remaining, waitOf, type WaitOptions } from "../core/wait.ts";
import { checkName, decodeValue, encodeValue, queueKeys } from "./_layout.ts";
import {
  checkTarget,
  closeRedis,
  type ConnectionOptions,
  openRedis,
  type RedisClient,
  type RedisTarget,
} from "./_redis.ts";
import { defineScripts, runScript, runScriptBuffer } from "./_scripts.ts";
import { checkWhole } from "./_checks.ts";

/**
 * Options of `ClusterQueue.connect()`.
 *
 * @example
 * ```ts
 * import type { ClusterQueueOptions } from "@seed/multiprocessing/cluster";
 *
 * const options: ClusterQueueOptions = { name: "jobs", maxsize: 100 };
 * console.assert(options.maxsize === 100);
 * ```
 */
export interface ClusterQueueOptions extends ConnectionOptions {
  /** Which queue; programs that pass the same name share it. `"default"`. */
  name?: string;
  /**
   * Sets the queue's bound for every program (0: unbounded). Omitted, the
   * bound another program set stays.
   */
  maxsize?: number;
}

/** A blocking connection and its id, for `CLIENT UNBLOCK`. */
interface Blocker {
  client: RedisClient;
  id: number;
}

const TOKEN = Symbol("ClusterQueue.connect");
/** The longest a full queue's putter sleeps before it looks again. */
const SPACE_SLICE_MS = 1000;

/**
 * A queue in Redis shared by every program that connects to it by name
 * (Python's `multiprocessing.Queue`, across machines): `put`/`get` with
 * `{ block, timeout, signal }`, `Full`/`Empty`, `qsize`, `close`. Items
 * cross as the module's codec writes them (what only lives in one program,
 * such as a `Lock`, is refused with a `TypeError` naming its path).
 *
 * @example Between two programs (here: two connections)
 * ```ts
 * import { ClusterQueue } from "@seed/multiprocessing/cluster";
 * import { Empty } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const url = Deno.env.get("MULTIPROCESSING_REDIS_URL");
 * if (url !== undefined) {
 *   await using producer = await ClusterQueue.connect<number[]>(url, { name: "docs-q" });
 *   await using consumer = await ClusterQueue.connect<number[]>(url, { name: "docs-q" });
 *   await producer.put([1, 2, 3]);
 *   assert.deepEqual(await consumer.get({ timeout: 1000 }), [1, 2, 3]);
 *   await assert.rejects(consumer.get({ timeout: 10 }), Empty);
 * }
 * ```
 */
export class ClusterQueue<T = unknown> {
  #target: RedisTarget;
  #cmd: RedisClient;
  #keys: ReturnType<typeof queueKeys>;
  #name: string;
  #idle: Blocker[] = [];
  #busy = new Set<Blocker>();
  #closed = false;

  /**
   * Connects to the queue `name` on the Redis at `url`. Fails as
   * `ClusterPool.connect` does for a bad URL or an unreachable server.
   */
  static async connect<T = unknown>(
    url: string | URL,
    options: ClusterQueueOptions = {},
  ): Promise<ClusterQueue<T>> {
    const method = "connect a ClusterQueue";
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `Cannot ${method} as 'options' must be an object such as { name, maxsize }: current value is ${
          describe(options)
        }`,
      );
    }
    const target = checkTarget(method, url, options);
    const name = checkName(method, options.name ?? "default");
    const maxsize = options.maxsize === undefined
      ? undefined
      : checkWhole(method, "options.maxsize", options.maxsize, 0, 0);
    const cmd = await openRedis(target, { connectionName: `mp-queue:${name}` });
    defineScripts(cmd);
    const keys = queueKeys(name);
    try {
      if (maxsize === 0) await cmd.del(keys.maxsize);
      else if (maxsize !== undefined) await cmd.set(keys.maxsize, maxsize);
    } catch (error) {
      cmd.disconnect();
      throw error;
    }
    return new ClusterQueue<T>(TOKEN, target, cmd, name);
  }

  /** Use `ClusterQueue.connect()`. */
  private constructor(
    token: symbol,
    target: RedisTarget,
    cmd: RedisClient,
    name: string,
  ) {
    if (token !== TOKEN) {
      throw new TypeError(
        "Cannot construct a ClusterQueue with new: use await ClusterQueue.connect(url, options)",
      );
    }
    this.#target = target;
    this.#cmd = cmd;
    this.#name = name;
    this.#keys = queueKeys(name);
  }

  /**
   * Puts `obj` at the end of the queue. When the queue is full, waits for
   * room (at most `timeout` ms; not at all with `block: false`) and then
   * rejects with `Full`.
   */
  async put(obj: T, options?: WaitOptions): Promise<void> {
    const wait = waitOf("put into the queue", options);
    this.#checkOpen("put");
    const bytes = encodeValue(obj, "obj");
    while (true) {
      wait.signal?.throwIfAborted();
      const put = await runScript(this.#cmd, "mpQueuePut", [
        this.#keys.items,
        this.#keys.maxsize,
      ], [bytes]);
      if (put === 1) return;
      const left = remaining(wait.deadline);
      if (left <= 0) {
        throw new Full("The queue is full");
      }
      // A get pushes a token to the space list; the slice bounds a token
      // lost to a getter that died between its two steps.
      await this.#blocking(wait.signal, (client) =>
        client.blpop(
          this.#keys.space,
          Math.max(0.001, Math.min(left, SPACE_SLICE_MS) / 1000),
        ));
    }
  }

  /** `put(obj, { block: false })`. */
  putNowait(obj: T): Promise<void> {
    return this.put(obj, { block: false });
  }

  /**
   * Takes the first item. When the queue is empty, waits for one (at most
   * `timeout` ms; not at all with `block: false`) and then rejects with
   * `Empty`. An aborted wait takes nothing.
   */
  async get(options?: WaitOptions): Promise<T> {
    const wait = waitOf("get from the queue", options);
    this.#checkOpen("get");
    wait.signal?.throwIfAborted();
    const left = remaining(wait.deadline);
    if (left <= 0) {
      const item = await runScriptBuffer(this.#cmd, "mpQueueTake", [
        this.#keys.items,
        this.#keys.maxsize,
        this.#keys.space,
      ], ["1"]) as Uint8Array | null;
      if (item === null) throw new Empty("The queue is empty");
      return decodeValue(item) as T;
    }
    const seconds = wait.deadline === Infinity
      ? 0
      : Math.max(0.001, left / 1000);
    const reply = await this.#blocking(
      wait.signal,
      (client) => client.blpopBuffer(this.#keys.items, seconds),
      // Taken as the wait was aborted: back to the head, as if untaken.
      (reply) => reply && this.#cmd.lpush(this.#keys.items, reply[1]),
    );
    if (reply === null) {
      throw new Empty("The queue is empty");
    }
    runScript(this.#cmd, "mpQueueTake", [
      this.#keys.items,
      this.#keys.maxsize,
      this.#keys.space,
    ], ["0"]).catch(() => {});
    return decodeValue(reply[1]) as T;
  }

  /** `get({ block: false })`. */
  getNowait(): Promise<T> {
    return this.get({ block: false });
  }

  /** How many items the queue holds now. */
  async qsize(): Promise<number> {
    this.#checkOpen("qsize");
    return await this.#cmd.llen(this.#keys.items);
  }

  /** Whether the queue holds no item now. */
  async empty(): Promise<boolean> {
    return await this.qsize() === 0;
  }

  /** Whether the queue is at its bound now. */
  async full(): Promise<boolean> {
    this.#checkOpen("full");
    const [max, size] = await Promise.all([
      this.#cmd.get(this.#keys.maxsize),
      this.#cmd.llen(this.#keys.items),
    ]);
    return max !== null && Number(max) > 0 && size >= Number(max);
  }

  /**
   * Closes this program's connections to the queue (the queue and its
   * items stay for the others); waits in progress reject with
   * `ProcessError`.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const blocker of this.#busy) {
      await this.#cmd.client("UNBLOCK", blocker.id).catch(() => {});
    }
    await Promise.all([
      closeRedis(this.#cmd),
      ...this.#idle.splice(0).map((b) => closeRedis(b.client)),
    ]);
  }

  /** `await using queue = await ClusterQueue.connect(…)` closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #checkOpen(method: string): void {
    if (this.#closed) {
      throw new ProcessError(`Cannot ${method}: the queue is closed`);
    }
  }

  /**
   * Runs one blocking command on a connection of its own, which an abort
   * (or `close()`) unblocks: then `undo` gives back what it took, and the
   * wait rejects with the signal's reason.
   */
  async #blocking<R>(
    signal: AbortSignal | undefined,
    command: (client: RedisClient) => Promise<R>,
    undo?: (reply: R) => unknown,
  ): Promise<R> {
    const blocker = this.#idle.pop() ?? await this.#openBlocker();
    this.#busy.add(blocker);
    const onAbort = () => {
      this.#cmd.client("UNBLOCK", blocker.id).catch(() => {});
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    let reply: R;
    try {
      reply = await command(blocker.client);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#busy.delete(blocker);
      if (this.#closed) closeRedis(blocker.client);
      else this.#idle.push(blocker);
    }
    if (signal?.aborted || this.#closed) {
      if (undo) await undo(reply);
      if (signal?.aborted) throw signal.reason;
      throw new ProcessError("The queue was closed during the wait");
    }
    return reply;
  }

  async #openBlocker(): Promise<Blocker> {
    const client = await openRedis(this.#target, {
      blocking: true,
      connectionName: `mp-queue-wait:${this.#name}`,
    });
    const id = await client.client("ID") as number;
    return { client, id };
  }
}
