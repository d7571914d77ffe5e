/**
 * `Manager`: Python's `multiprocessing.Manager()`: a server process that
 * owns shared objects (dicts, lists, namespaces, queues, values, locks,
 * semaphores, events, conditions, barriers) and proxies that any process
 * uses to call them.
 *
 * The server is an ordinary daemon {@linkcode Process}: it holds real
 * objects of this module (a managed `Queue` is a `JoinableQueue` living in
 * the server's process, a managed `Lock` a `Lock`…) and plain server-side
 * ones (dict, list, Namespace, Value), and calls their methods one request
 * at a time, so each proxy call is atomic. It never keeps the program
 * alive. Proxies cross into processes by reference, and may be stored
 * inside managed containers (a dict of lists), as in Python 3.6+.
 *
 * @module
 */

import { MessageChannel } from "node:worker_threads";
import { currentIdentity } from "../runtime/_context.ts";
import { bump } from "../core/park.ts";
import { describe } from "../core/describe.ts";
import { Process } from "../process/process.ts";
import { Connection } from "./_client.ts";
import { DOOR_BYTES, MANAGER_ID, newSlot, STOPPED } from "./_messages.ts";
import { managerServer, type ServerStart } from "./_server.ts";
import type { Typeid } from "./_served/kinds.ts";
import { checked, checkInteger, entriesOf, itemsOf } from "./_arguments.ts";
import { type BaseProxy, targetOf } from "./proxies/base_proxy.ts";
import { makeProxy } from "./proxies/_types.ts";
import "./proxies/_reduce.ts";
import type { DictProxy } from "./proxies/dict_proxy.ts";
import type { ListProxy } from "./proxies/list_proxy.ts";
import type { NamespaceProxy } from "./proxies/namespace_proxy.ts";
import type { QueueProxy } from "./proxies/queue_proxy.ts";
import type { ValueProxy } from "./proxies/value_proxy.ts";
import {
  AcquirerProxy,
  type ConditionProxy,
} from "./proxies/acquirer_proxy.ts";
import type { EventProxy } from "./proxies/event_proxy.ts";
import type { BarrierProxy } from "./proxies/barrier_proxy.ts";

const TYPECODES = new Set("bBuhHiIlLqQfdc".split(""));

let managers = 0;

/**
 * A manager (Python's `multiprocessing.Manager()`): starts a daemon server
 * process at once; every method that creates an object talks to it, so it
 * is a promise. Python's names, in camelCase: `Queue()`, `JoinableQueue()`,
 * `Namespace()`, `Lock()`… as Python capitalizes them, `dict()` and
 * `list()` lowercase. `await Manager.start()` also waits until the server
 * answers. End it with `shutdown()` or `await using`; a program that
 * forgets still exits (the server is a daemon).
 *
 * @example A dict shared with a process
 * ```ts
 * import { Manager, Process } from "@seed/multiprocessing";
 * import { record } from "../../tests/managers/_fixtures/targets.ts";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const d = await manager.dict();
 * const p = new Process({ target: record, args: [d, "answer", 42] });
 * p.start();
 * await p.join();
 * assert.equal(await d.get("answer"), 42);
 * ```
 */
export class Manager {
  readonly #connection: Connection;
  readonly #server: Process;
  #shutdown?: Promise<void>;

  /** Starts the manager's server process (it answers once booted). */
  constructor() {
    const door = new SharedArrayBuffer(DOOR_BYTES);
    const slot = newSlot();
    const channel = new MessageChannel();
    const owner = currentIdentity().pid;
    const start: ServerStart = {
      id: `${owner}:${++managers}`,
      owner,
      port: channel.port2,
      slot,
      door,
    };
    this.#server = new Process({
      target: managerServer,
      args: [start],
      name: "SyncManager",
      daemon: true,
    });
    this.#server.start();
    this.#connection = new Connection(
      start.id,
      this.#server.pid!,
      door,
      channel.port1,
      slot,
    );
  }

  /** Starts a manager and resolves once its server answers. */
  static async start(): Promise<Manager> {
    const manager = new Manager();
    await manager.#connection.call(MANAGER_ID, "ping", []);
    return manager;
  }

  /** The server process's pid. */
  get pid(): number {
    return this.#server.pid!;
  }

  async #create<T extends BaseProxy>(
    typeid: Typeid,
    args: unknown[],
  ): Promise<T> {
    const connection = this.#connection;
    const id = await connection.call(MANAGER_ID, "create", [typeid, args]);
    return makeProxy({ connection, typeid, id: id as number }) as T;
  }

  /** `manager.dict([init])`: a {@linkcode DictProxy}. */
  dict<K = unknown, V = unknown>(
    init?: Record<string, V> | Map<K, V> | Iterable<[K, V]>,
  ): Promise<DictProxy<K, V>> {
    return checked(() =>
      init === undefined ? [] : entriesOf("create a dict", "init", init)
    ).then((entries) => this.#create("dict", [entries]));
  }

  /** `manager.list([init])`: a {@linkcode ListProxy}. */
  list<T = unknown>(init?: Iterable<T>): Promise<ListProxy<T>> {
    return checked(() =>
      init === undefined ? [] : itemsOf("create a list", "init", init)
    ).then((items) => this.#create("list", [items]));
  }

  /** `manager.Namespace(**init)`: a {@linkcode NamespaceProxy}. */
  Namespace(init?: Record<string, unknown>): Promise<NamespaceProxy> {
    return checked(() => {
      if (init !== undefined && (init === null || typeof init !== "object")) {
        throw new TypeError(
          `Cannot create a Namespace as 'init' must be an object of initial values: current value is ${
            describe(init)
          }`,
        );
      }
      return { ...init };
    }).then((values) => this.#create("Namespace", [values]));
  }

  /** `manager.Queue(maxsize=0)`: a {@linkcode QueueProxy}; 0 is unbounded. */
  Queue<T = unknown>(maxsize = 0): Promise<QueueProxy<T>> {
    return checked(() => checkInteger("create a Queue", "maxsize", maxsize, 0))
      .then(() => this.#create("Queue", [maxsize]));
  }

  /** `manager.JoinableQueue(maxsize=0)`, with `taskDone()` and `join()`. */
  JoinableQueue<T = unknown>(maxsize = 0): Promise<QueueProxy<T>> {
    return checked(() =>
      checkInteger("create a JoinableQueue", "maxsize", maxsize, 0)
    ).then(() => this.#create("JoinableQueue", [maxsize]));
  }

  /** `manager.Value(typecode, value)`: a {@linkcode ValueProxy}. */
  Value<T = unknown>(typecode: string, value: T): Promise<ValueProxy<T>> {
    return checked(() => {
      if (typeof typecode !== "string" || !TYPECODES.has(typecode)) {
        throw new TypeError(
          `Cannot create a Value as 'typecode' must be one of ${
            [...TYPECODES].join("")
          } (such as "i" or "d"): current value is ${describe(typecode)}`,
        );
      }
    }).then(() => this.#create("Value", [typecode, value]));
  }

  /** `manager.Lock()`: an {@linkcode AcquirerProxy}. */
  Lock(): Promise<AcquirerProxy> {
    return this.#create("Lock", []);
  }

  /** `manager.RLock()`: a lock its owner process may acquire again. */
  RLock(): Promise<AcquirerProxy> {
    return this.#create("RLock", []);
  }

  /** `manager.Semaphore(value=1)`: an {@linkcode AcquirerProxy}. */
  Semaphore(value = 1): Promise<AcquirerProxy> {
    return checked(() => checkInteger("create a Semaphore", "value", value, 0))
      .then(() => this.#create("Semaphore", [value]));
  }

  /** `manager.Event()`: an {@linkcode EventProxy}. */
  Event(): Promise<EventProxy> {
    return this.#create("Event", []);
  }

  /**
   * `manager.Condition(lock?)`: a {@linkcode ConditionProxy} over a new
   * RLock, or over a Lock or RLock of this manager.
   */
  Condition(lock?: AcquirerProxy): Promise<ConditionProxy> {
    return checked(() => {
      if (lock === undefined) return null;
      const target = lock instanceof AcquirerProxy ? targetOf(lock) : undefined;
      if (
        target === undefined ||
        (target.typeid !== "Lock" && target.typeid !== "RLock") ||
        target.connection.managerId !== this.#connection.managerId
      ) {
        throw new TypeError(
          `Cannot create a Condition as 'lock' must be a Lock or RLock of this manager: current value is ${
            describe(lock)
          }`,
        );
      }
      return target.id;
    }).then((lockId) => this.#create("Condition", [lockId]));
  }

  /** `manager.Barrier(parties)`: a {@linkcode BarrierProxy}. */
  Barrier(parties: number): Promise<BarrierProxy> {
    return checked(() =>
      checkInteger("create a Barrier", "parties", parties, 1)
    ).then(() => this.#create("Barrier", [parties]));
  }

  /**
   * Stops the server and waits for its process to end. Calls still waiting
   * reject with a `ProcessError`, and so does every later call through any
   * of its proxies. Calling it again does nothing.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      if (this.#server.isAlive()) {
        this.#connection.requestShutdown();
        await this.#server.join();
      }
      // However it ended, every process's proxies see it.
      bump(new Int32Array(this.#connection.door), STOPPED);
      this.#connection.close();
    })();
    return this.#shutdown;
  }

  /** `await using manager = ...` shuts it down at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  /** `Manager { pid, running | shut down }`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `Manager { pid: ${this.#server.pid}, ${
      this.#connection.stopped ? "shut down" : "running"
    } }`;
  }
}
