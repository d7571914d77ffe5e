/**
 * `Manager`: Python's `multiprocessing.Manager()`: a server process that
 * owns shared objects (dicts, lists, namespaces, queues, values, locks,
 * semaphores, events, conditions, barriers) and proxies that any process
 * uses to call them.
 *
 * The server is an ordinary daemon {@linkcode Process}: it applies one
 * operation at a time per manager, so each proxy call is atomic, and it never
 * keeps the program alive. Proxies cross into processes by reference, and
 * may be stored inside managed containers (a dict of lists), as in Python
 * 3.6+.
 *
 * @module
 */

import { MessageChannel, type MessagePort } from "node:worker_threads";
import { currentIdentity, isPidAlive } from "../runtime/_context.ts";
import { validateTimeout } from "../core/_async.ts";
import {
  decodeData,
  DEFERRED,
  type Encoded,
  FAILED,
  FORMAT,
  IDLE,
  isJsonSafe,
  JSON_FORMAT,
  newSlot,
  OK,
  readSlot,
  REPLY,
  REQUEST,
  RING,
  Spinner,
  STATE,
  STATUS,
  STOPPED,
  V8_FORMAT,
  writeSlot,
} from "./_wire.ts";
import { type ControlMessage, type Kind, managerServer } from "./_server.ts";
import { ProcessError } from "../errors.ts";
import { Process } from "../process/process.ts";
import {
  deserializeError,
  type ErrorEnvelope,
  reduce,
  registerReducer,
  revive,
} from "../core/reduction.ts";
import { describe } from "../core/describe.ts";
import v8 from "node:v8";

/** How often a waiting call checks a server it cannot hear close. */
const SERVER_WATCH_MS = 100;

/** The node side of a MessagePort (absent on a port received by `onmessage`). */
type NodePort = {
  on?(event: "message" | "close", listener: (message?: unknown) => void): void;
};

// Connections ------------------------------------------------------------------

// How a client waits for its reply: it spins for an adaptive time (see
// Spinner; a spinning server answers a plain call in a few µs), then blocks
// its thread in Atomics.wait for at most CLIENT_BLOCK_MS (a futex wake costs
// no event-loop turn), then parks in Atomics.waitAsync. Calls that wait on
// purpose (a `get` on an empty queue, an `acquire` of a held lock) are
// answered "deferred" at once, so only a slow server ever blocks a client,
// and never for long.
const CLIENT_SPIN_PROBE_MS = 0.02;
const CLIENT_SPIN_MAX_MS = 0.2;
const CLIENT_BLOCK_MS = 2;
// While parked, how often a client checks that the server still runs (a
// terminated server cannot say so) — this timer also keeps the program
// alive while a call waits, which Atomics.waitAsync alone does not.
const WATCH_MS = 250;

const NO_REQUEST: Encoded = { format: JSON_FORMAT, text: "" };

interface Pending {
  request: Encoded;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

let managerIds = 0;
// This process's connection to each manager it talks to, by manager id: the
// connection that proxies read back from a managed container use.
const connections = new Map<string, Connection>();
// Set while a value is encoded for the server: proxies inside it are stored
// as references, not as new connections.
let encodingForServer = false;
// Set while a reply is decoded: the connection its proxies use.
let decodingFrom: Connection | undefined;

/** One process's channel to one manager's server. */
class Connection {
  readonly header: Int32Array;
  readonly bell: Int32Array;
  busy = false;
  closed = false;
  queue: Pending[] = [];
  tickets = new Map<number, Pending>();
  listening = false;
  /** This process's pid, which owns the locks it acquires. */
  readonly pid = currentIdentity().pid;
  readonly spinner = new Spinner(CLIENT_SPIN_PROBE_MS, CLIENT_SPIN_MAX_MS);

  /** Set for a web port, which has no close event. */
  watchServer = false;
  watchdog?: ReturnType<typeof setInterval>;

  constructor(
    readonly managerId: string,
    readonly serverPid: number,
    readonly slot: SharedArrayBuffer,
    readonly door: SharedArrayBuffer,
    readonly port: MessagePort,
  ) {
    this.header = new Int32Array(slot, 0, 8);
    this.bell = new Int32Array(door);
    const node = port as unknown as NodePort;
    if (node.on !== undefined) {
      node.on("message", (message: unknown) => this.onDeferred(message));
      // The server's end closes when its process ends, however it ends.
      node.on("close", () => this.failAll());
    } else {
      // A port received through `onmessage` (a pool task's argument, say)
      // is a web MessagePort: no `on`, and no close event, so waiting calls
      // watch the server's pid instead (see settle()).
      port.addEventListener(
        "message",
        (event) => this.onDeferred((event as MessageEvent).data),
      );
      port.start();
      this.watchServer = true;
    }
    // Idle, a connection must not keep the program alive (after `on`, which
    // refs the port).
    port.unref();
  }

  get stopped(): boolean {
    return this.closed || Atomics.load(this.bell, STOPPED) === 1 ||
      !isPidAlive(this.serverPid);
  }

  shutDownError(): ProcessError {
    return new ProcessError(
      `the manager (server pid ${this.serverPid}) has shut down: its proxies can no longer be used`,
    );
  }

  /**
   * Calls `method` of object `id` on the server. The fast path writes the
   * request, spins briefly for the reply and returns a settled promise; a
   * slow reply parks in `Atomics.waitAsync`, and calls made meanwhile wait
   * their turn for the slot.
   */
  call(id: number, method: string, args: unknown[]): Promise<unknown> {
    if (this.stopped) return Promise.reject(this.shutDownError());
    let request: Encoded;
    try {
      request = encodeRequest([id, method, args, this.pid]);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.busy || this.queue.length > 0) { // calls keep their order
      return new Promise((resolve, reject) => {
        this.queue.push({ request, resolve, reject });
      });
    }
    return this.send(request);
  }

  /** Sends one request on the free slot; settles when its reply comes. */
  send(request: Encoded): Promise<unknown> {
    try {
      writeSlot(this.slot, this.header, request, 0);
    } catch (error) {
      return Promise.reject(error);
    }
    this.busy = true;
    Atomics.store(this.header, STATE, REQUEST);
    this.ring();
    const start = performance.now();
    const spin = this.spinner.next();
    const end = start + spin;
    while (Atomics.load(this.header, STATE) !== REPLY) {
      if (performance.now() > end) {
        const woke = Atomics.wait(this.header, STATE, REQUEST, CLIENT_BLOCK_MS);
        if (woke === "timed-out") {
          this.spinner.record(Infinity, spin);
          return this.park();
        }
        break;
      }
    }
    this.spinner.record(performance.now() - start, spin);
    return this.receive();
  }

  ring(): void {
    Atomics.add(this.bell, RING, 1);
    Atomics.notify(this.bell, RING, 1);
  }

  async park(): Promise<unknown> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const watch = () => {
      if (this.stopped) Atomics.notify(this.header, STATE);
      else timer = setTimeout(watch, WATCH_MS);
    };
    timer = setTimeout(watch, WATCH_MS);
    try {
      while (Atomics.load(this.header, STATE) !== REPLY && !this.stopped) {
        await Atomics.waitAsync(this.header, STATE, REQUEST).value;
      }
    } finally {
      clearTimeout(timer);
    }
    if (Atomics.load(this.header, STATE) !== REPLY) {
      this.busy = false;
      this.failAll();
      throw this.shutDownError();
    }
    return this.receive();
  }

  /** Takes the reply out of the slot, frees it, and starts the next call. */
  receive(): Promise<unknown> {
    const status = this.header[STATUS];
    const format = this.header[FORMAT];
    let payload: string | Uint8Array;
    try {
      payload = readSlot(this.slot, this.header);
    } finally {
      Atomics.store(this.header, STATE, IDLE);
      this.busy = false;
    }
    // The next queued call starts from a microtask, not from here: a long
    // queue (a Promise.all of many calls) must not grow the stack.
    if (this.queue.length > 0) queueMicrotask(() => this.next());
    return this.settle(status, format, payload);
  }

  next(): void {
    while (!this.busy && this.queue.length > 0) {
      const pending = this.queue.shift()!;
      if (this.stopped) {
        pending.reject(this.shutDownError());
        this.failAll();
        return;
      }
      // send() takes the slot, or fails at once and leaves it free.
      this.send(pending.request).then(pending.resolve, pending.reject);
    }
  }

  /** What a reply means: a value, an error, or a wait answered later. */
  settle(
    status: number,
    format: number,
    payload: string | Uint8Array,
  ): Promise<unknown> {
    let value: unknown;
    try {
      value = this.decode(format, payload);
    } catch (error) {
      return Promise.reject(error);
    }
    switch (status) {
      case OK:
        return Promise.resolve(value);
      case DEFERRED:
        if (!this.listening) {
          this.listening = true;
          this.port.ref(); // a waiting call keeps the program alive
          if (this.watchServer) {
            this.watchdog = setInterval(() => {
              if (!isPidAlive(this.serverPid)) this.failAll();
            }, SERVER_WATCH_MS);
          }
        }
        return new Promise((resolve, reject) => {
          this.tickets.set(value as number, {
            request: NO_REQUEST,
            resolve,
            reject,
          });
        });
      case FAILED:
        return Promise.reject(deserializeError(value as ErrorEnvelope));
      default: // CLOSED: the manager shut down with this call in its slot
        return Promise.reject(this.shutDownError());
    }
  }

  decode(format: number, payload: string | Uint8Array): unknown {
    const value = decodeData(format, payload);
    // Proxies stored in managed objects come back as markers (plain data).
    if (
      format === JSON_FORMAT && !(payload as string).includes(REDUCED_MARK)
    ) return value;
    const outer = decodingFrom;
    decodingFrom = this;
    try {
      return revive(value);
    } finally {
      decodingFrom = outer;
    }
  }

  onDeferred(message: unknown): void {
    const [ticket, status, format, payload] = message as [
      number,
      number,
      number,
      string | Uint8Array,
    ];
    const pending = this.tickets.get(ticket);
    if (pending === undefined) return;
    this.tickets.delete(ticket);
    if (this.tickets.size === 0 && this.listening) this.stopListening();
    pending.resolve(this.settle(status, format, payload));
  }

  /** Rejects every call still waiting: the server is gone. */
  failAll(): void {
    for (const pending of this.queue.splice(0)) {
      pending.reject(this.shutDownError());
    }
    for (const pending of this.tickets.values()) {
      pending.reject(this.shutDownError());
    }
    this.tickets.clear();
    if (this.listening) this.stopListening();
  }

  stopListening(): void {
    this.listening = false;
    this.port.unref();
    clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll();
    this.port.close();
    if (connections.get(this.managerId) === this) {
      connections.delete(this.managerId);
    }
  }

  /** A new channel to the same server, for a proxy crossing into a process. */
  open(): { slot: SharedArrayBuffer; port: MessagePort } {
    if (this.stopped) throw this.shutDownError();
    const channel = new MessageChannel();
    const slot = newSlot();
    const message: ControlMessage = {
      connect: { slot, port: channel.port1 },
    };
    this.port.postMessage(message, [channel.port1]);
    this.ring(); // a server blocked in Atomics.wait reads its messages now
    return { slot, port: channel.port2 };
  }
}

// The key of reduction.ts's markers; a JSON reply without it has no proxy.
const REDUCED_MARK = "__multiprocessing_reduced__";

function encodeRequest(request: [number, string, unknown[], number]): Encoded {
  if (isJsonSafe(request[2])) {
    // Ids, pids and method names need no escaping: only the args do.
    return {
      format: JSON_FORMAT,
      text: `[${request[0]},"${request[1]}",${JSON.stringify(request[2])},${
        request[3]
      }]`,
    };
  }
  encodingForServer = true;
  let reduced;
  try {
    reduced = reduce(request[2], "value");
  } finally {
    encodingForServer = false;
  }
  if (reduced.transfer.length > 0) {
    throw new TypeError(
      "a managed object cannot hold a MessagePort or a transferred buffer: store plain data, SharedArrayBuffers or proxies",
    );
  }
  return {
    format: V8_FORMAT,
    bytes: v8.serialize([request[0], request[1], reduced.value, request[3]]),
  };
}

// Proxies ----------------------------------------------------------------------

const proxyState = new WeakMap<
  BaseProxy,
  { conn: Connection; kind: Kind; id: number; label: string }
>();

/**
 * What every proxy shares: the managed object it stands for, and how it
 * prints. A proxy crosses into processes by reference, and can be stored
 * in a managed container.
 *
 * @example
 * ```ts
 * import { BaseProxy, Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const d = await manager.dict();
 * assert.ok(d instanceof BaseProxy);
 * assert.match(Deno.inspect(d), /DictProxy/);
 * ```
 */
export abstract class BaseProxy {
  /** @internal Proxies come from a `Manager`, not from `new`. */
  constructor(conn: unknown, kind: string, id: number, label: string) {
    if (!(conn instanceof Connection)) {
      throw new TypeError(
        `proxies are made by a Manager (await manager.dict(), …), not with new`,
      );
    }
    this.#state = { conn, kind: kind as Kind, id, label };
    proxyState.set(this, this.#state);
  }

  #state: { conn: Connection; kind: Kind; id: number; label: string };

  /** Sends one call to the server. */
  protected _call(method: string, ...args: unknown[]): Promise<unknown> {
    const state = this.#state;
    // Trailing `undefined`s (options left out) would force the slow v8 path.
    let n = args.length;
    while (n > 0 && args[n - 1] === undefined) n--;
    if (n < args.length) args.length = n;
    return state.conn.call(state.id, method, args);
  }

  /** `DictProxy { id: 1, manager: <server pid> }`, and whether it is shut down. */
  [Symbol.for("Deno.customInspect")](): string {
    const state = proxyState.get(this)!;
    return `${state.label} { id: ${state.id}, manager pid: ${state.conn.serverPid}${
      state.conn.stopped ? ", shut down" : ""
    } }`;
  }
}

interface ProxyRef {
  m: string;
  k: Kind;
  l: string;
  i: number;
  server: number;
  door?: SharedArrayBuffer;
  slot?: SharedArrayBuffer;
  port?: MessagePort;
}

function makeProxy(conn: Connection, kind: Kind, id: number, label: string) {
  const type = PROXY_TYPES[label];
  if (type === undefined) {
    throw new TypeError(`unknown proxy type ${label}`);
  }
  return new type(conn, kind, id, label);
}

registerReducer<BaseProxy, ProxyRef>({
  name: "multiprocessing.managers.BaseProxy",
  type: BaseProxy,
  reduce(proxy, ctx) {
    const { conn, kind, id, label } = proxyState.get(proxy)!;
    const ref: ProxyRef = {
      m: conn.managerId,
      k: kind,
      l: label,
      i: id,
      server: conn.serverPid,
    };
    if (encodingForServer) return ref; // stored in a managed object
    // Crossing into a process: it gets its own channel to the server. The
    // server learns of it through this process's port (postMessage is
    // synchronous, so reducing stays synchronous).
    const { slot, port } = conn.open();
    ctx.transfer(port as unknown as Transferable);
    return { ...ref, door: conn.door, slot, port };
  },
  revive(ref) {
    let conn = connections.get(ref.m);
    if (ref.port !== undefined) {
      if (conn === undefined || conn.closed) {
        conn = new Connection(
          ref.m,
          ref.server,
          ref.slot!,
          ref.door!,
          ref.port,
        );
        connections.set(ref.m, conn);
      } else {
        // This process already talks to that manager: one channel is enough.
        const bye: ControlMessage = { bye: true };
        ref.port.postMessage(bye);
        ref.port.close();
      }
    }
    conn ??= decodingFrom;
    if (conn === undefined || conn.managerId !== ref.m) {
      throw new TypeError(
        `a ${ref.l} of another manager was read back from a managed object, and this process has no connection to that manager: pass that proxy to the process directly`,
      );
    }
    return makeProxy(conn, ref.k, ref.i, ref.l);
  },
});

/** Entries of a `Map`, a plain object or an iterable of pairs, checked. */
function entriesOf(value: unknown, what: string): [unknown, unknown][] {
  if (value instanceof Map) return [...value];
  if (value !== null && typeof value === "object") {
    if (Symbol.iterator in value) {
      const out: [unknown, unknown][] = [];
      for (const pair of value as Iterable<unknown>) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new TypeError(
            `${what} expected [key, value] pairs, received ${describe(pair)}`,
          );
        }
        out.push([pair[0], pair[1]]);
      }
      return out;
    }
    return Object.entries(value);
  }
  throw new TypeError(
    `${what} expected an object, a Map or an iterable of [key, value] pairs, received ${
      describe(value)
    }`,
  );
}

function checkBlock(name: string, block: unknown): boolean {
  if (typeof block !== "boolean") {
    throw new TypeError(
      `${name} block must be a boolean, received ${describe(block)}`,
    );
  }
  return block;
}

function checkInt(name: string, value: unknown, min: number): number {
  if (!Number.isInteger(value)) {
    throw new TypeError(
      `${name} must be an integer, received ${describe(value)}`,
    );
  }
  if ((value as number) < min) {
    throw new RangeError(`${name} must be ≥ ${min}, received ${value}`);
  }
  return value as number;
}

function timeoutOf(name: string, value: unknown): number | null {
  return validateTimeout(name, value) ?? null;
}

/** Runs `check` and turns its throw into a rejection (methods are async). */
function checking<T>(check: () => T): Promise<T> {
  try {
    return Promise.resolve(check());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A managed dict (Python's `DictProxy`), keyed by any plain value: keys are
 * equal when their data is (`[1, 2]` is one key, as a tuple is in Python).
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const d = await manager.dict({ a: 1 });
 * await d.set("b", 2);
 * assert.equal(await d.get("b"), 2);
 * assert.deepEqual(await d.toObject(), { a: 1, b: 2 });
 * ```
 */
export class DictProxy<K = any, V = any> extends BaseProxy {
  /** `d.get(key, default)`: the value, or `fallback` when the key is missing. */
  get(key: K): Promise<V | undefined>;
  /** `d.get(key, default)`: the value, or `fallback` when the key is missing. */
  get<D>(key: K, fallback: D): Promise<V | D>;
  get(key: K, fallback?: unknown): Promise<unknown> {
    return this._call("get", key, fallback);
  }
  /** `d[key]`: the value, or a `KeyError` when the key is missing. */
  getItem(key: K): Promise<V> {
    return this._call("getItem", key) as Promise<V>;
  }
  /** `d[key] = value`. */
  set(key: K, value: V): Promise<void> {
    return this._call("set", key, value) as Promise<void>;
  }
  /** `del d[key]`: a `KeyError` when the key is missing. */
  delete(key: K): Promise<void> {
    return this._call("delete", key) as Promise<void>;
  }
  /** `key in d`. */
  has(key: K): Promise<boolean> {
    return this._call("has", key) as Promise<boolean>;
  }
  /** `d.pop(key[, default])`: removes and returns; `KeyError` without a default. */
  pop(key: K, ...fallback: [] | [V]): Promise<V> {
    return this._call("pop", key, fallback.length > 0, fallback[0]) as Promise<
      V
    >;
  }
  /** `d.popitem()`: removes and returns the last `[key, value]`. */
  popitem(): Promise<[K, V]> {
    return this._call("popitem") as Promise<[K, V]>;
  }
  /** `d.setdefault(key, default)`. */
  setdefault(key: K, fallback: V): Promise<V> {
    return this._call("setdefault", key, fallback) as Promise<V>;
  }
  /** `d.update(other)`: from an object, a `Map` or `[key, value]` pairs. */
  async update(
    other: Record<string, V> | Map<K, V> | Iterable<[K, V]>,
  ): Promise<void> {
    const entries = await checking(() => entriesOf(other, "update()"));
    await this._call("update", entries);
  }
  /** `list(d.keys())`, in insertion order. */
  keys(): Promise<K[]> {
    return this._call("keys") as Promise<K[]>;
  }
  /** `list(d.values())`. */
  values(): Promise<V[]> {
    return this._call("values") as Promise<V[]>;
  }
  /** `list(d.items())`, as `[key, value]` pairs. */
  items(): Promise<[K, V][]> {
    return this._call("items") as Promise<[K, V][]>;
  }
  /** `len(d)`. */
  len(): Promise<number> {
    return this._call("len") as Promise<number>;
  }
  /** `d.clear()`. */
  clear(): Promise<void> {
    return this._call("clear") as Promise<void>;
  }
  /** A snapshot as a plain object (keys become strings). */
  async toObject(): Promise<Record<string, V>> {
    return Object.fromEntries(await this.items() as [string, V][]);
  }
  /** A snapshot as a `Map`, keeping keys as they are. */
  async toMap(): Promise<Map<K, V>> {
    return new Map(await this.items());
  }
}

/**
 * A managed list (Python's `ListProxy`); negative indexes count from the end.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const l = await manager.list([1, 2]);
 * await l.append(3);
 * assert.equal(await l.get(-1), 3);
 * assert.deepEqual(await l.toArray(), [1, 2, 3]);
 * ```
 */
export class ListProxy<T = any> extends BaseProxy {
  /** `l.append(item)`. */
  append(item: T): Promise<void> {
    return this._call("append", item) as Promise<void>;
  }
  /** `l.extend(items)`. */
  async extend(items: Iterable<T>): Promise<void> {
    const array = await checking(() => {
      if (
        items === null ||
        typeof items !== "object" && typeof items !== "string" ||
        !(Symbol.iterator in Object(items))
      ) {
        throw new TypeError(
          `extend() expected an iterable, received ${describe(items)}`,
        );
      }
      return [...items];
    });
    await this._call("extend", array);
  }
  /** `l.insert(index, item)`. */
  async insert(index: number, item: T): Promise<void> {
    await checking(() => checkInt("insert() index", index, -Infinity));
    await this._call("insert", index, item);
  }
  /** `l.pop([index])`: removes and returns the item (the last by default). */
  pop(index = -1): Promise<T> {
    return this._call("pop", index) as Promise<T>;
  }
  /** `l.remove(item)`: the first equal item; `ValueError` when none is. */
  remove(item: T): Promise<void> {
    return this._call("remove", item) as Promise<void>;
  }
  /** `l.index(item[, start[, end]])`: `ValueError` when it is not there. */
  index(item: T, start?: number, end?: number): Promise<number> {
    return this._call("index", item, start, end) as Promise<number>;
  }
  /** `l.count(item)`. */
  count(item: T): Promise<number> {
    return this._call("count", item) as Promise<number>;
  }
  /** `item in l`. */
  includes(item: T): Promise<boolean> {
    return this._call("includes", item) as Promise<boolean>;
  }
  /** `l[index]`: `IndexError` when out of range. */
  get(index: number): Promise<T> {
    return this._call("get", index) as Promise<T>;
  }
  /** `l[index] = item`. */
  set(index: number, item: T): Promise<void> {
    return this._call("set", index, item) as Promise<void>;
  }
  /** `del l[index]`. */
  delete(index: number): Promise<void> {
    return this._call("delete", index) as Promise<void>;
  }
  /** `len(l)`. */
  len(): Promise<number> {
    return this._call("len") as Promise<number>;
  }
  /** `l.reverse()`. */
  reverse(): Promise<void> {
    return this._call("reverse") as Promise<void>;
  }
  /** `l.sort(reverse=...)`: numbers or strings, in the server. */
  sort(options: { reverse?: boolean } = {}): Promise<void> {
    return this._call("sort", options.reverse === true) as Promise<void>;
  }
  /** `l.clear()`. */
  clear(): Promise<void> {
    return this._call("clear") as Promise<void>;
  }
  /** `l[start:end]`, as an array. */
  slice(start?: number, end?: number): Promise<T[]> {
    return this._call("slice", start, end) as Promise<T[]>;
  }
  /** A snapshot as an array. */
  toArray(): Promise<T[]> {
    return this._call("toArray") as Promise<T[]>;
  }
}

/**
 * A managed namespace (Python's `Namespace`): named values. A missing name
 * reads as `undefined`, as a missing property does in JavaScript.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const ns = await manager.namespace({ x: 1 });
 * await ns.set("y", "two");
 * assert.deepEqual(await ns.toObject(), { x: 1, y: "two" });
 * ```
 */
export class NamespaceProxy extends BaseProxy {
  /** `ns.name`. */
  get(name: string): Promise<any> {
    return checking(() => checkName(name)).then(() => this._call("get", name));
  }
  /** `ns.name = value`. */
  async set(name: string, value: unknown): Promise<void> {
    await checking(() => checkName(name));
    await this._call("set", name, value);
  }
  /** `del ns.name`; resolves to whether it was there. */
  delete(name: string): Promise<boolean> {
    return this._call("delete", name) as Promise<boolean>;
  }
  /** `hasattr(ns, name)`. */
  has(name: string): Promise<boolean> {
    return this._call("has", name) as Promise<boolean>;
  }
  /** Sets several names at once, atomically. */
  async update(values: Record<string, unknown>): Promise<void> {
    const entries = await checking(() => entriesOf(values, "update()"));
    await this._call("update", entries);
  }
  /** A snapshot as a plain object. */
  toObject(): Promise<Record<string, any>> {
    return this._call("toObject") as Promise<Record<string, any>>;
  }
}

function checkName(name: unknown): void {
  if (typeof name !== "string") {
    throw new TypeError(
      `a namespace name must be a string, received ${describe(name)}`,
    );
  }
}

/**
 * A managed queue (Python's `Manager().Queue()` / `JoinableQueue()`): `put`
 * waits while it is full, `get` while it is empty, on the server, without
 * holding up other clients. Timeouts are in milliseconds.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const q = await manager.Queue();
 * await q.put("job");
 * assert.equal(await q.get(), "job");
 * ```
 */
export class QueueProxy<T = any> extends BaseProxy {
  /** `q.put(item, block=true, timeout)`: `Full` when it stays full. */
  async put(item: T, block = true, timeoutMs?: number): Promise<void> {
    const timeout = await checking(() => {
      checkBlock("put()", block);
      return timeoutOf("put() timeoutMs", timeoutMs);
    });
    await this._call("put", item, block, timeout);
  }
  /** `q.put_nowait(item)`. */
  putNowait(item: T): Promise<void> {
    return this.put(item, false);
  }
  /** `q.get(block=true, timeout)`: `Empty` when it stays empty. */
  async get(block = true, timeoutMs?: number): Promise<T> {
    const timeout = await checking(() => {
      checkBlock("get()", block);
      return timeoutOf("get() timeoutMs", timeoutMs);
    });
    return await this._call("get", block, timeout) as T;
  }
  /** `q.get_nowait()`. */
  getNowait(): Promise<T> {
    return this.get(false);
  }
  /** `q.qsize()`. */
  qsize(): Promise<number> {
    return this._call("qsize") as Promise<number>;
  }
  /** `q.empty()`. */
  empty(): Promise<boolean> {
    return this._call("empty") as Promise<boolean>;
  }
  /** `q.full()`. */
  full(): Promise<boolean> {
    return this._call("full") as Promise<boolean>;
  }
  /** `q.task_done()` (JoinableQueue): `ValueError` if called too often. */
  taskDone(): Promise<void> {
    return this._call("taskDone") as Promise<void>;
  }
  /** `q.join()` (JoinableQueue): until every item put is marked done. */
  join(): Promise<void> {
    return this._call("join") as Promise<void>;
  }
}

/**
 * A managed value (Python's `Manager().Value(typecode, value)`); the
 * typecode is kept for compatibility, as Python's manager keeps it.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const v = await manager.Value("i", 1);
 * await v.set(2);
 * assert.equal(await v.get(), 2);
 * ```
 */
export class ValueProxy<T = any> extends BaseProxy {
  /** `v.value`. */
  get(): Promise<T> {
    return this._call("get") as Promise<T>;
  }
  /** `v.value = value`. */
  set(value: T): Promise<void> {
    return this._call("set", value) as Promise<void>;
  }
}

/**
 * A managed `Lock`, `RLock` or `Semaphore` (Python's `AcquirerProxy`).
 * `acquire()` resolves to `true`, or `false` when not blocking or on
 * timeout. An RLock is owned by a process: it may acquire it again.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const lock = await manager.Lock();
 * assert.equal(await lock.acquire(), true);
 * assert.equal(await lock.acquire(false), false);
 * await lock.release();
 * ```
 */
export class AcquirerProxy extends BaseProxy {
  /** `acquire(block=true, timeout)`. */
  async acquire(block = true, timeoutMs?: number): Promise<boolean> {
    const timeout = await checking(() => {
      checkBlock("acquire()", block);
      return timeoutOf("acquire() timeoutMs", timeoutMs);
    });
    return await this._call("acquire", block, timeout) as boolean;
  }
  /** `release()`: a `ProcessError` if the lock is not held. */
  release(): Promise<void> {
    return this._call("release") as Promise<void>;
  }
  /**
   * Acquires, runs `fn`, and releases even if it throws (Python's
   * `with lock:`).
   */
  async withLock<R>(fn: () => R | Promise<R>): Promise<R> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      await this.release();
    }
  }
}

/**
 * A managed `Condition` (Python's `ConditionProxy`), over its own RLock or
 * a managed Lock/RLock given to `manager.Condition(lock)`.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const cond = await manager.Condition();
 * await cond.acquire();
 * assert.equal(await cond.wait(10), false); // nobody notified
 * await cond.release();
 * ```
 */
export class ConditionProxy extends AcquirerProxy {
  /** `wait(timeout)`: releases the lock until notified; `false` on timeout. */
  async wait(timeoutMs?: number): Promise<boolean> {
    const timeout = await checking(() =>
      timeoutOf("wait() timeoutMs", timeoutMs)
    );
    return await this._call("wait", timeout) as boolean;
  }
  /** `wait_for(predicate, timeout)`: waits until `predicate()` holds. */
  async waitFor<R>(
    predicate: () => R | Promise<R>,
    timeoutMs?: number,
  ): Promise<R> {
    const timeout = await checking(() =>
      timeoutOf("waitFor() timeoutMs", timeoutMs)
    );
    const end = timeout === null ? Infinity : performance.now() + timeout;
    let result = await predicate();
    while (!result) {
      const left = end - performance.now();
      if (left <= 0) break;
      await this.wait(left === Infinity ? undefined : left);
      result = await predicate();
    }
    return result;
  }
  /** `notify(n=1)`. */
  async notify(n = 1): Promise<void> {
    await checking(() => checkInt("notify() n", n, 0));
    await this._call("notify", n);
  }
  /** `notify_all()`. */
  notifyAll(): Promise<void> {
    return this._call("notifyAll") as Promise<void>;
  }
}

/**
 * A managed `Event` (Python's `EventProxy`).
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const event = await manager.Event();
 * await event.set();
 * assert.equal(await event.wait(), true);
 * ```
 */
export class EventProxy extends BaseProxy {
  /** `is_set()`. */
  isSet(): Promise<boolean> {
    return this._call("isSet") as Promise<boolean>;
  }
  /** `set()`: wakes every waiter. */
  set(): Promise<void> {
    return this._call("set") as Promise<void>;
  }
  /** `clear()`. */
  clear(): Promise<void> {
    return this._call("clear") as Promise<void>;
  }
  /** `wait(timeout)`: `true` once set, `false` on timeout. */
  async wait(timeoutMs?: number): Promise<boolean> {
    const timeout = await checking(() =>
      timeoutOf("wait() timeoutMs", timeoutMs)
    );
    return await this._call("wait", timeout) as boolean;
  }
}

/**
 * A managed `Barrier` (Python's `BarrierProxy`): `wait()` resolves, for each
 * of the `parties`, to a different index in `0..parties-1`.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const barrier = await manager.Barrier(2);
 * const indexes = await Promise.all([barrier.wait(), barrier.wait()]);
 * assert.deepEqual(indexes.sort(), [0, 1]);
 * ```
 */
export class BarrierProxy extends BaseProxy {
  /** `wait(timeout)`: `BrokenBarrierError` if broken, aborted or timed out. */
  async wait(timeoutMs?: number): Promise<number> {
    const timeout = await checking(() =>
      timeoutOf("wait() timeoutMs", timeoutMs)
    );
    return await this._call("wait", timeout) as number;
  }
  /** `abort()`: breaks the barrier. */
  abort(): Promise<void> {
    return this._call("abort") as Promise<void>;
  }
  /** `reset()`: breaks the current wait and makes the barrier usable again. */
  reset(): Promise<void> {
    return this._call("reset") as Promise<void>;
  }
  /** `parties`. */
  parties(): Promise<number> {
    return this._call("parties") as Promise<number>;
  }
  /** `n_waiting`. */
  nWaiting(): Promise<number> {
    return this._call("nWaiting") as Promise<number>;
  }
  /** `broken`. */
  broken(): Promise<boolean> {
    return this._call("broken") as Promise<boolean>;
  }
}

const PROXY_TYPES: Record<
  string,
  new (conn: unknown, kind: string, id: number, label: string) => BaseProxy
> = {
  DictProxy: DictProxy as never,
  ListProxy: ListProxy as never,
  NamespaceProxy: NamespaceProxy as never,
  QueueProxy: QueueProxy as never,
  ValueProxy: ValueProxy as never,
  AcquirerProxy: AcquirerProxy as never,
  ConditionProxy: ConditionProxy as never,
  EventProxy: EventProxy as never,
  BarrierProxy: BarrierProxy as never,
};

// The manager --------------------------------------------------------------------

const TYPECODES = new Set("bBuhHiIlLqQfdc".split(""));

/**
 * A manager (Python's `multiprocessing.Manager()`): starts a daemon server
 * process at once; every method that creates an object talks to it, so it
 * is a promise. `await Manager.start()` also waits until the server
 * answers. End it with `shutdown()` or `await using`; a program that
 * forgets still exits (the server is a daemon).
 *
 * @example A dict shared with a process
 * ```ts
 * import { Manager, Process } from "@seed/multiprocessing";
 * import { record } from "../../tests/fixtures/manager_targets.ts";
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
  #conn: Connection;
  #server: Process;
  #shutdown?: Promise<void>;

  /** Starts the manager's server process (it answers once booted). */
  constructor() {
    const door = new SharedArrayBuffer(8);
    const slot = newSlot();
    const channel = new MessageChannel();
    this.#server = new Process({
      target: managerServer,
      args: [channel.port2, slot, door],
      name: "SyncManager",
      daemon: true,
    });
    this.#server.start();
    const id = `${currentIdentity().pid}:${++managerIds}`;
    this.#conn = new Connection(
      id,
      this.#server.pid!,
      slot,
      door,
      channel.port1,
    );
    if (!connections.has(id)) connections.set(id, this.#conn);
  }

  /** Starts a manager and resolves once its server answers. */
  static async start(): Promise<Manager> {
    const manager = new Manager();
    await manager.#conn.call(0, "ping", []);
    return manager;
  }

  /** The server process's pid. */
  get pid(): number {
    return this.#server.pid!;
  }

  async #create<T extends BaseProxy>(
    kind: Kind,
    label: string,
    init: unknown[],
  ): Promise<T> {
    const id = await this.#conn.call(0, "create", [kind, init]) as number;
    return makeProxy(this.#conn, kind, id, label) as T;
  }

  /** `manager.dict([init])`: a {@linkcode DictProxy}. */
  async dict<K = any, V = any>(
    init?: Record<string, V> | Map<K, V> | Iterable<[K, V]>,
  ): Promise<DictProxy<K, V>> {
    const entries = init === undefined ? [] : entriesOf(init, "dict()");
    return await this.#create("dict", "DictProxy", [entries]);
  }

  /** `manager.list([init])`: a {@linkcode ListProxy}. */
  async list<T = any>(init?: Iterable<T>): Promise<ListProxy<T>> {
    if (
      init !== undefined &&
      (init === null || typeof init !== "object" || !(Symbol.iterator in init))
    ) {
      throw new TypeError(
        `list() expected an iterable such as an array, received ${
          describe(init)
        }`,
      );
    }
    return await this.#create("list", "ListProxy", [
      init === undefined ? [] : [...init],
    ]);
  }

  /** `manager.Namespace(**init)`: a {@linkcode NamespaceProxy}. */
  async namespace(init?: Record<string, unknown>): Promise<NamespaceProxy> {
    if (init !== undefined && (init === null || typeof init !== "object")) {
      throw new TypeError(
        `namespace() expected an object of initial values, received ${
          describe(init)
        }`,
      );
    }
    return await this.#create("namespace", "NamespaceProxy", [init ?? {}]);
  }

  /** `manager.Queue(maxsize=0)`: a {@linkcode QueueProxy}; 0 is unbounded. */
  async Queue<T = any>(maxsize = 0): Promise<QueueProxy<T>> {
    checkInt("Queue() maxsize", maxsize, 0);
    return await this.#create("queue", "QueueProxy", [maxsize, false]);
  }

  /** `manager.JoinableQueue(maxsize=0)`, with `taskDone()` and `join()`. */
  async JoinableQueue<T = any>(maxsize = 0): Promise<QueueProxy<T>> {
    checkInt("JoinableQueue() maxsize", maxsize, 0);
    return await this.#create("queue", "QueueProxy", [maxsize, true]);
  }

  /** `manager.Value(typecode, value)`: a {@linkcode ValueProxy}. */
  async Value<T = any>(typecode: string, value: T): Promise<ValueProxy<T>> {
    if (typeof typecode !== "string" || !TYPECODES.has(typecode)) {
      throw new TypeError(
        `Value() expected a typecode such as "i" or "d" (one of ${
          [...TYPECODES].join("")
        }), received ${describe(typecode)}`,
      );
    }
    return await this.#create("value", "ValueProxy", [typecode, value]);
  }

  /** `manager.Lock()`. */
  async Lock(): Promise<AcquirerProxy> {
    return await this.#create("lock", "AcquirerProxy", [false]);
  }

  /** `manager.RLock()`: a lock its owner process may acquire again. */
  async RLock(): Promise<AcquirerProxy> {
    return await this.#create("lock", "AcquirerProxy", [true]);
  }

  /** `manager.Semaphore(value=1)`. */
  async Semaphore(value = 1): Promise<AcquirerProxy> {
    checkInt("Semaphore() value", value, 0);
    return await this.#create("semaphore", "AcquirerProxy", [value]);
  }

  /** `manager.Event()`. */
  async Event(): Promise<EventProxy> {
    return await this.#create("event", "EventProxy", []);
  }

  /** `manager.Condition(lock?)`: over a new RLock, or a managed lock. */
  async Condition(lock?: AcquirerProxy): Promise<ConditionProxy> {
    let lockId: number | null = null;
    if (lock !== undefined) {
      const state = lock instanceof AcquirerProxy
        ? proxyState.get(lock)
        : undefined;
      if (
        state === undefined || state.kind !== "lock" ||
        state.conn.managerId !== this.#conn.managerId
      ) {
        throw new TypeError(
          `Condition() expected a Lock or RLock of this manager, received ${
            describe(lock)
          }`,
        );
      }
      lockId = state.id;
    }
    return await this.#create("condition", "ConditionProxy", [lockId]);
  }

  /** `manager.Barrier(parties)`. */
  async Barrier(parties: number): Promise<BarrierProxy> {
    checkInt("Barrier() parties", parties, 1);
    return await this.#create("barrier", "BarrierProxy", [parties]);
  }

  /**
   * Stops the server and waits for its process to end. Calls still waiting
   * reject with a `ProcessError`, and so does every later call through any
   * of its proxies. Calling it again does nothing.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      if (this.#server.isAlive()) {
        const message: ControlMessage = { shutdown: true };
        try {
          this.#conn.port.postMessage(message);
        } catch { /* the port is already closed */ }
        Atomics.add(this.#conn.bell, RING, 1);
        Atomics.notify(this.#conn.bell, RING);
        await this.#server.join();
      }
      Atomics.store(this.#conn.bell, STOPPED, 1);
      this.#conn.close();
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
      this.#conn.stopped ? "shut down" : "running"
    } }`;
  }
}
