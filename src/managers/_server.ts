// The manager's server: the loop a manager's daemon process runs. It owns
// every managed object and applies one operation at a time, so each proxy
// call is atomic. Calls that must wait (a `get` on an empty queue, an
// `acquire` of a held lock, `Event.wait`…) are answered "deferred" at once,
// which frees the client's slot, and settled later through the client's
// port: a waiting client never blocks the others.

import type { MessagePort } from "node:worker_threads";
import { setImmediate } from "node:timers";
import { isPidAlive } from "../runtime/_context.ts";
import {
  CLOSED,
  decodeData,
  DEFERRED,
  type Encoded,
  encodeData,
  FAILED,
  OK,
  readSlot,
  REPLY,
  REQUEST,
  RING,
  Spinner,
  STATE,
  STOPPED,
  toPortPayload,
  writeSlot,
} from "./_wire.ts";
import {
  BrokenBarrierError,
  Empty,
  Full,
  LockOwnerDiedError,
  ProcessError,
} from "../errors.ts";
import { serializeError } from "../core/reduction.ts";
import { registerTargets } from "../runtime/targets.ts";
import { IndexError, KeyError, ValueError } from "../errors.ts";

/** What a client posts on its port. */
export type ControlMessage =
  | { connect: { slot: SharedArrayBuffer; port: MessagePort } }
  | { bye: true }
  | { shutdown: true };

interface Connection {
  slot: SharedArrayBuffer;
  header: Int32Array;
  port: MessagePort;
  tickets: number;
}

/** A deferred call: settled once, through its connection's port. */
interface Reply {
  conn: Connection;
  ticket: number;
  pid: number;
  done: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/** Thrown by a handler to say "answer later". */
const DEFER = Symbol("defer");

// How the server waits for the next request. It spins (a client awaiting
// calls one after another sends its next one a few µs after its reply) for
// an adaptive time (see Spinner), then blocks in Atomics.wait for slices of
// SLICE_MS, yielding to the event loop between slices so that new
// connections, timeouts and shutdown get through (control messages also ring
// the bell). After IDLE_MS without a request it parks in waitAsync: an idle
// manager costs no CPU. A busy loop also yields every YIELD_MS. A probe
// outlasts a client's futex wake (~20 µs), so that a server and a client
// that both block find their way back to spinning.
const SPIN_PROBE_MS = 0.1;
const SPIN_MAX_MS = 1;
const SLICE_MS = 2;
const IDLE_MS = 50;
const YIELD_MS = 4;

/** One turn of the event loop: messages and timers get through. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Serves the manager's objects until `shutdown`. `port` and `slot` are the
 * owner's connection; `door` is the doorbell shared by every client.
 */
export async function managerServer(
  port: MessagePort,
  slot: SharedArrayBuffer,
  door: SharedArrayBuffer,
): Promise<void> {
  const bell = new Int32Array(door);
  const conns: Connection[] = [];
  const server = new Server();
  let stopped = false;

  const ring = () => {
    Atomics.add(bell, RING, 1);
    Atomics.notify(bell, RING);
  };

  const addConnection = (slot: SharedArrayBuffer, port: MessagePort) => {
    const conn: Connection = {
      slot,
      header: new Int32Array(slot, 0, 8),
      port,
      tickets: 0,
    };
    conns.push(conn);
    port.on("message", (message: ControlMessage) => {
      if ("connect" in message) {
        addConnection(message.connect.slot, message.connect.port);
      } else if ("bye" in message) {
        drop(conn);
      } else if ("shutdown" in message) {
        stopped = true;
      }
      ring(); // wakes the loop: a new slot to poll, or the end
    });
    port.on("close", () => drop(conn));
  };

  const drop = (conn: Connection) => {
    const index = conns.indexOf(conn);
    if (index === -1) return;
    conns.splice(index, 1);
    conn.port.close();
  };

  const poll = (): boolean => {
    let served = false;
    for (let i = 0; i < conns.length; i++) {
      const conn = conns[i];
      if (Atomics.load(conn.header, STATE) !== REQUEST) continue;
      served = true;
      serve(server, conn);
    }
    return served;
  };

  addConnection(slot, port);
  const spinner = new Spinner(SPIN_PROBE_MS, SPIN_MAX_MS);
  let lastWork = performance.now();
  let lastYield = lastWork;
  let spin = spinner.next();
  while (!stopped) {
    if (poll()) {
      const now = performance.now();
      spinner.record(now - lastWork, spin);
      spin = spinner.next();
      lastWork = now;
      if (now - lastYield > YIELD_MS) {
        await yieldToEvents();
        lastYield = performance.now();
      }
      continue;
    }
    const idle = performance.now() - lastWork;
    if (idle < spin) continue;
    const seen = Atomics.load(bell, RING);
    if (poll()) continue;
    if (idle < IDLE_MS) {
      Atomics.wait(bell, RING, seen, SLICE_MS);
      // A ring with no request in a slot is a control message: read it.
      if (!poll()) {
        await yieldToEvents();
        lastYield = performance.now();
      } else lastWork = performance.now();
      continue;
    }
    await Atomics.waitAsync(bell, RING, seen).value;
    lastWork = lastYield = performance.now();
  }

  // Shutdown: every waiting call and every call still in a slot learns it.
  Atomics.store(bell, STOPPED, 1);
  server.closeAll();
  for (const conn of conns) {
    if (Atomics.load(conn.header, STATE) === REQUEST) {
      writeSlot(conn.slot, conn.header, encodeData(null), CLOSED);
      Atomics.store(conn.header, STATE, REPLY);
    }
    Atomics.notify(conn.header, STATE);
  }
  for (const conn of [...conns]) drop(conn);
  Atomics.notify(bell, RING);
}

registerTargets(import.meta, { managerServer });

function serve(server: Server, conn: Connection): void {
  let encoded: Encoded;
  let status = OK;
  try {
    const [id, method, args, pid] = decodeData(
      conn.header[2],
      readSlot(conn.slot, conn.header),
    ) as [number, string, unknown[], number];
    const reply: Reply = { conn, ticket: 0, pid, done: false };
    try {
      encoded = encodeData(server.call(id, method, args, reply));
    } catch (error) {
      if (error !== DEFER) throw error;
      reply.ticket = ++conn.tickets;
      status = DEFERRED;
      encoded = encodeData(reply.ticket);
    }
  } catch (error) {
    status = FAILED;
    encoded = encodeError(error);
  }
  writeSlot(conn.slot, conn.header, encoded, status);
  Atomics.store(conn.header, STATE, REPLY);
  Atomics.notify(conn.header, STATE);
}

function encodeError(error: unknown): Encoded {
  try {
    return encodeData(serializeError(error));
  } catch {
    return encodeData({ name: "Error", message: String(error) });
  }
}

/** Answers a deferred call; later answers are ignored. */
function settle(reply: Reply, status: number, value: unknown): void {
  if (reply.done) return;
  reply.done = true;
  if (reply.timer !== undefined) clearTimeout(reply.timer);
  let encoded: Encoded;
  try {
    encoded = status === FAILED ? encodeError(value) : encodeData(value);
  } catch (error) {
    status = FAILED;
    encoded = encodeError(error);
  }
  try {
    reply.conn.port.postMessage([
      reply.ticket,
      status,
      encoded.format,
      toPortPayload(encoded),
    ]);
  } catch { /* the client is gone */ }
}

/** Defers `reply`, settling it with `onTimeout()` after `timeoutMs`. */
function deferWith(
  reply: Reply,
  timeoutMs: number | null | undefined,
  onTimeout: () => void,
): never {
  if (typeof timeoutMs === "number" && timeoutMs !== Infinity) {
    reply.timer = setTimeout(onTimeout, Math.max(0, timeoutMs));
  }
  throw DEFER;
}

/** The first waiter whose process still runs, removed from `list`. */
function nextLive<T extends { reply: Reply }>(list: T[]): T | undefined {
  while (list.length > 0) {
    const item = list.shift()!;
    if (!item.reply.done && isPidAlive(item.reply.pid)) return item;
  }
  return undefined;
}

function remove<T>(list: T[], item: T): void {
  const index = list.indexOf(item);
  if (index !== -1) list.splice(index, 1);
}

// The objects ------------------------------------------------------------------

/** The kinds of object a manager serves. */
export type Kind =
  | "dict"
  | "list"
  | "namespace"
  | "queue"
  | "value"
  | "lock"
  | "semaphore"
  | "event"
  | "condition"
  | "barrier";

interface Managed {
  kind: Kind;
  // deno-lint-ignore no-explicit-any
  state: any;
}

interface LockWaiter {
  reply: Reply;
  count: number;
  result: unknown;
}

interface LockState {
  recursive: boolean;
  owner: number;
  count: number;
  waiters: LockWaiter[];
}

/** A dict key as a `Map` key: primitives as is, anything else as its JSON. */
function keyOf(key: unknown): unknown {
  if (typeof key === "string") {
    return key.charCodeAt(0) === 0 ? `\0s${key}` : key;
  }
  if (key === null || typeof key !== "object") return key;
  return `\0o${JSON.stringify(key)}`;
}

function describeKey(key: unknown): string {
  try {
    return typeof key === "string" ? JSON.stringify(key) : String(
      typeof key === "object" ? JSON.stringify(key) : key,
    );
  } catch {
    return String(key);
  }
}

/** Python's `==` for stored values: structural for arrays and objects. */
function same(a: unknown, b: unknown): boolean {
  if (a === b || (Number.isNaN(a) && Number.isNaN(b))) return true;
  if (typeof a !== "object" || typeof b !== "object" || !a || !b) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Map || a instanceof Set || a instanceof Date) {
    try {
      return JSON.stringify([...(a as Map<unknown, unknown>)]) ===
        JSON.stringify([...(b as Map<unknown, unknown>)]);
    } catch {
      return false;
    }
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!same((a as never)[k], (b as never)[k])) return false;
  }
  return true;
}

function index(list: unknown[], i: unknown, what: string): number {
  if (!Number.isInteger(i)) {
    throw new TypeError(
      `list ${what} expected an integer index, received ${typeof i}`,
    );
  }
  const at = (i as number) < 0 ? list.length + (i as number) : i as number;
  if (at < 0 || at >= list.length) {
    throw new IndexError(
      `list ${what}: index ${i} is out of range for a list of length ${list.length}`,
    );
  }
  return at;
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  throw new TypeError(
    `list sort() compares numbers with numbers and strings with strings, not ${typeof a} with ${typeof b}`,
  );
}

class Server {
  objects = new Map<number, Managed>();
  nextId = 1;

  call(id: number, method: string, args: unknown[], reply: Reply): unknown {
    if (id === 0) return this.manager(method, args);
    const object = this.objects.get(id);
    if (object === undefined) {
      throw new ProcessError(`the manager has no object #${id}`);
    }
    const handler = HANDLERS[object.kind][method];
    if (handler === undefined) {
      throw new TypeError(`a managed ${object.kind} has no method ${method}()`);
    }
    return handler.call(this, object.state, args, reply);
  }

  manager(method: string, args: unknown[]): unknown {
    if (method === "ping") return true;
    if (method !== "create") {
      throw new TypeError(`the manager has no method ${method}()`);
    }
    const [kind, init] = args as [Kind, unknown[]];
    const id = this.nextId++;
    this.objects.set(id, { kind, state: this.create(kind, init) });
    return id;
  }

  create(kind: Kind, init: unknown[]): unknown {
    switch (kind) {
      case "dict": {
        const map = new Map<unknown, [unknown, unknown]>();
        for (const [k, v] of (init[0] as [unknown, unknown][]) ?? []) {
          map.set(keyOf(k), [k, v]);
        }
        return map;
      }
      case "list":
        return [...((init[0] as unknown[]) ?? [])];
      case "namespace":
        return new Map(Object.entries((init[0] as object) ?? {}));
      case "queue":
        return {
          items: [],
          maxsize: init[0] as number,
          joinable: init[1] as boolean,
          getters: [],
          putters: [],
          unfinished: 0,
          joiners: [],
        };
      case "value":
        return { typecode: init[0], value: init[1] };
      case "lock":
        return {
          recursive: init[0] as boolean,
          owner: 0,
          count: 0,
          waiters: [],
        } satisfies LockState;
      case "semaphore":
        return { value: init[0] as number, waiters: [] };
      case "event":
        return { flag: false, waiters: [] };
      case "condition": {
        const lockId = init[0] as number | null;
        let lock: LockState;
        if (lockId === null) {
          lock = { recursive: true, owner: 0, count: 0, waiters: [] };
        } else {
          const object = this.objects.get(lockId);
          if (object?.kind !== "lock") {
            throw new TypeError(
              `Condition(lock) expected a Lock or RLock of this manager`,
            );
          }
          lock = object.state;
        }
        return { lock, waiters: [] };
      }
      case "barrier":
        return {
          parties: init[0] as number,
          count: 0,
          waiters: [],
          broken: false,
        };
      default:
        throw new TypeError(`a manager cannot create a ${String(kind)}`);
    }
  }

  /** Rejects every deferred call: the manager is going away. */
  closeAll(): void {
    const error = new ProcessError(
      "the manager has shut down while this call was waiting",
    );
    for (const { kind, state } of this.objects.values()) {
      const lists: { reply: Reply }[][] = [];
      if (kind === "queue") {
        lists.push(state.getters, state.putters, state.joiners);
      } else if (kind === "lock") lists.push(state.waiters);
      else if (kind === "condition") {
        lists.push(state.waiters, state.lock.waiters);
      } else if (
        kind === "semaphore" || kind === "event" || kind === "barrier"
      ) lists.push(state.waiters);
      for (const list of lists) {
        for (const item of list) settle(item.reply, FAILED, error);
      }
    }
    this.objects.clear();
  }
}

type Handler = (
  this: Server,
  // deno-lint-ignore no-explicit-any
  state: any,
  // deno-lint-ignore no-explicit-any
  args: any[],
  reply: Reply,
) => unknown;

// Locks, shared by Lock, RLock and Condition.

function acquireLock(
  lock: LockState,
  reply: Reply,
  block: boolean,
  timeoutMs: number | null,
  count = 1,
  result: unknown = true,
): unknown {
  const pid = reply.pid;
  if (lock.count === 0) {
    lock.owner = pid;
    lock.count = count;
    return result;
  }
  if (lock.recursive && lock.owner === pid) {
    lock.count += count;
    return result;
  }
  if (!isPidAlive(lock.owner)) {
    const dead = lock.owner;
    lock.owner = pid;
    lock.count = count;
    throw new LockOwnerDiedError(
      `the lock's owner (process ${dead}) ended without releasing it; this process owns it now`,
    );
  }
  if (!block) return false;
  const waiter: LockWaiter = { reply, count, result };
  lock.waiters.push(waiter);
  return deferWith(reply, timeoutMs, () => {
    remove(lock.waiters, waiter);
    settle(reply, OK, false);
  });
}

function releaseLock(lock: LockState, pid: number): void {
  if (lock.count === 0) {
    throw new ProcessError("release() of a lock that is not held");
  }
  if (lock.recursive && lock.owner !== pid) {
    throw new ProcessError(
      `release() of an RLock held by process ${lock.owner}, not by this one (${pid})`,
    );
  }
  if (--lock.count > 0) return;
  lock.owner = 0;
  grantLock(lock);
}

function grantLock(lock: LockState): void {
  const next = nextLive(lock.waiters);
  if (next === undefined) return;
  lock.owner = next.reply.pid;
  lock.count = next.count;
  settle(next.reply, OK, next.result);
}

function holds(lock: LockState, pid: number): boolean {
  return lock.count > 0 && (!lock.recursive || lock.owner === pid);
}

const HANDLERS: Record<Kind, Record<string, Handler>> = {
  dict: {
    get(map: Map<unknown, [unknown, unknown]>, [key, fallback]) {
      const entry = map.get(keyOf(key));
      return entry === undefined ? fallback : entry[1];
    },
    getItem(map: Map<unknown, [unknown, unknown]>, [key]) {
      const entry = map.get(keyOf(key));
      if (entry === undefined) throw new KeyError(describeKey(key));
      return entry[1];
    },
    set(map: Map<unknown, [unknown, unknown]>, [key, value]) {
      map.set(keyOf(key), [key, value]);
    },
    delete(map: Map<unknown, [unknown, unknown]>, [key]) {
      if (!map.delete(keyOf(key))) throw new KeyError(describeKey(key));
    },
    has(map: Map<unknown, [unknown, unknown]>, [key]) {
      return map.has(keyOf(key));
    },
    pop(map: Map<unknown, [unknown, unknown]>, [key, hasFallback, fallback]) {
      const k = keyOf(key);
      const entry = map.get(k);
      if (entry === undefined) {
        if (hasFallback) return fallback;
        throw new KeyError(describeKey(key));
      }
      map.delete(k);
      return entry[1];
    },
    popitem(map: Map<unknown, [unknown, unknown]>) {
      const last = [...map.keys()].pop();
      if (map.size === 0) throw new KeyError("popitem(): dictionary is empty");
      const entry = map.get(last)!;
      map.delete(last);
      return entry;
    },
    setdefault(map: Map<unknown, [unknown, unknown]>, [key, fallback]) {
      const k = keyOf(key);
      const entry = map.get(k);
      if (entry !== undefined) return entry[1];
      map.set(k, [key, fallback]);
      return fallback;
    },
    update(map: Map<unknown, [unknown, unknown]>, [entries]) {
      for (const [k, v] of entries as [unknown, unknown][]) {
        map.set(keyOf(k), [k, v]);
      }
    },
    keys(map: Map<unknown, [unknown, unknown]>) {
      return [...map.values()].map((e) => e[0]);
    },
    values(map: Map<unknown, [unknown, unknown]>) {
      return [...map.values()].map((e) => e[1]);
    },
    items(map: Map<unknown, [unknown, unknown]>) {
      return [...map.values()];
    },
    len(map: Map<unknown, unknown>) {
      return map.size;
    },
    clear(map: Map<unknown, unknown>) {
      map.clear();
    },
  },
  list: {
    append(list: unknown[], [item]) {
      list.push(item);
    },
    extend(list: unknown[], [items]) {
      for (const item of items) list.push(item);
    },
    insert(list: unknown[], [i, item]) {
      const n = list.length;
      const at = i < 0 ? Math.max(0, n + i) : Math.min(n, i);
      list.splice(at, 0, item);
    },
    pop(list: unknown[], [i]) {
      if (list.length === 0) throw new IndexError("pop from empty list");
      return list.splice(index(list, i ?? -1, "pop()"), 1)[0];
    },
    remove(list: unknown[], [item]) {
      const at = list.findIndex((x) => same(x, item));
      if (at === -1) {
        throw new ValueError("list remove(x): x is not in the list");
      }
      list.splice(at, 1);
    },
    index(list: unknown[], [item, start, end]) {
      const from = start ?? 0, to = end ?? list.length;
      for (let i = from < 0 ? list.length + from : from; i < to; i++) {
        if (i >= 0 && i < list.length && same(list[i], item)) return i;
      }
      throw new ValueError(
        `list index(x): ${describeKey(item)} is not in the list`,
      );
    },
    count(list: unknown[], [item]) {
      return list.filter((x) => same(x, item)).length;
    },
    includes(list: unknown[], [item]) {
      return list.some((x) => same(x, item));
    },
    get(list: unknown[], [i]) {
      return list[index(list, i, "get()")];
    },
    set(list: unknown[], [i, item]) {
      list[index(list, i, "set()")] = item;
    },
    delete(list: unknown[], [i]) {
      list.splice(index(list, i, "delete()"), 1);
    },
    len(list: unknown[]) {
      return list.length;
    },
    reverse(list: unknown[]) {
      list.reverse();
    },
    sort(list: unknown[], [reverse]) {
      list.sort(compare);
      if (reverse) list.reverse();
    },
    clear(list: unknown[]) {
      list.length = 0;
    },
    slice(list: unknown[], [start, end]) {
      return list.slice(start, end);
    },
    toArray(list: unknown[]) {
      return list;
    },
  },
  namespace: {
    get(map: Map<string, unknown>, [name]) {
      return map.get(name);
    },
    set(map: Map<string, unknown>, [name, value]) {
      map.set(name, value);
    },
    delete(map: Map<string, unknown>, [name]) {
      return map.delete(name);
    },
    has(map: Map<string, unknown>, [name]) {
      return map.has(name);
    },
    update(map: Map<string, unknown>, [entries]) {
      for (const [k, v] of entries as [string, unknown][]) map.set(k, v);
    },
    toObject(map: Map<string, unknown>) {
      return Object.fromEntries(map);
    },
  },
  queue: {
    put(q, [item, block, timeoutMs], reply) {
      if (q.maxsize > 0 && q.items.length >= q.maxsize) {
        if (!block) throw new Full("put(): the queue is full");
        const putter = { reply, item };
        q.putters.push(putter);
        return deferWith(reply, timeoutMs, () => {
          remove(q.putters, putter);
          settle(
            reply,
            FAILED,
            new Full(`put(): the queue stayed full for ${timeoutMs} ms`),
          );
        });
      }
      if (q.joinable) q.unfinished++;
      const getter = nextLive<{ reply: Reply }>(q.getters);
      if (getter !== undefined) settle(getter.reply, OK, item);
      else q.items.push(item);
    },
    get(q, [block, timeoutMs], reply) {
      if (q.items.length > 0) {
        const item = q.items.shift();
        const putter = nextLive<{ reply: Reply; item: unknown }>(q.putters);
        if (putter !== undefined) {
          q.items.push(putter.item);
          if (q.joinable) q.unfinished++;
          settle(putter.reply, OK, undefined);
        }
        return item;
      }
      if (!block) throw new Empty("get(): the queue is empty");
      const getter = { reply };
      q.getters.push(getter);
      return deferWith(reply, timeoutMs, () => {
        remove(q.getters, getter);
        settle(
          reply,
          FAILED,
          new Empty(`get(): the queue stayed empty for ${timeoutMs} ms`),
        );
      });
    },
    qsize(q) {
      return q.items.length;
    },
    empty(q) {
      return q.items.length === 0;
    },
    full(q) {
      return q.maxsize > 0 && q.items.length >= q.maxsize;
    },
    taskDone(q) {
      if (q.unfinished <= 0) {
        throw new ValueError(
          "taskDone() called more times than items were put",
        );
      }
      if (--q.unfinished === 0) {
        for (const j of q.joiners.splice(0)) settle(j.reply, OK, undefined);
      }
    },
    join(q, _args, reply) {
      if (q.unfinished === 0) return;
      q.joiners.push({ reply });
      throw DEFER;
    },
  },
  value: {
    get(v) {
      return v.value;
    },
    set(v, [value]) {
      v.value = value;
    },
  },
  lock: {
    acquire(lock: LockState, [block, timeoutMs], reply) {
      return acquireLock(lock, reply, block, timeoutMs);
    },
    release(lock: LockState, _args, reply) {
      releaseLock(lock, reply.pid);
    },
    locked(lock: LockState) {
      return lock.count > 0;
    },
  },
  semaphore: {
    acquire(s, [block, timeoutMs], reply) {
      if (s.value > 0) {
        s.value--;
        return true;
      }
      if (!block) return false;
      const waiter = { reply };
      s.waiters.push(waiter);
      return deferWith(reply, timeoutMs, () => {
        remove(s.waiters, waiter);
        settle(reply, OK, false);
      });
    },
    release(s, [n]) {
      s.value += n ?? 1;
      while (s.value > 0) {
        const next = nextLive<{ reply: Reply }>(s.waiters);
        if (next === undefined) break;
        s.value--;
        settle(next.reply, OK, true);
      }
    },
    getValue(s) {
      return s.value;
    },
  },
  event: {
    set(e) {
      e.flag = true;
      for (const w of e.waiters.splice(0)) settle(w.reply, OK, true);
    },
    clear(e) {
      e.flag = false;
    },
    isSet(e) {
      return e.flag;
    },
    wait(e, [timeoutMs], reply) {
      if (e.flag) return true;
      const waiter = { reply };
      e.waiters.push(waiter);
      return deferWith(reply, timeoutMs, () => {
        remove(e.waiters, waiter);
        settle(reply, OK, false);
      });
    },
  },
  condition: {
    acquire(c, [block, timeoutMs], reply) {
      return acquireLock(c.lock, reply, block, timeoutMs);
    },
    release(c, _args, reply) {
      releaseLock(c.lock, reply.pid);
    },
    wait(c, [timeoutMs], reply) {
      const lock: LockState = c.lock;
      if (!holds(lock, reply.pid)) {
        throw new ProcessError("wait() on a Condition whose lock is not held");
      }
      const saved = lock.count;
      lock.count = 0;
      lock.owner = 0;
      grantLock(lock);
      const waiter = { reply, saved };
      c.waiters.push(waiter);
      return deferWith(reply, timeoutMs, () => {
        remove(c.waiters, waiter);
        reacquire(lock, waiter, false);
      });
    },
    notify(c, [n]) {
      let left = n ?? 1;
      while (left-- > 0) {
        const next = nextLive<{ reply: Reply; saved: number }>(c.waiters);
        if (next === undefined) break;
        if (next.reply.timer !== undefined) clearTimeout(next.reply.timer);
        next.reply.timer = undefined;
        reacquire(c.lock, next, true);
      }
    },
    notifyAll(c) {
      for (const next of c.waiters.splice(0)) {
        if (next.reply.timer !== undefined) clearTimeout(next.reply.timer);
        next.reply.timer = undefined;
        reacquire(c.lock, next, true);
      }
    },
  },
  barrier: {
    wait(b, [timeoutMs], reply) {
      if (b.broken) throw new BrokenBarrierError("the barrier is broken");
      const index = b.count++;
      if (b.count === b.parties) {
        for (const w of b.waiters.splice(0)) settle(w.reply, OK, w.index);
        b.count = 0;
        return index;
      }
      b.waiters.push({ reply, index });
      return deferWith(reply, timeoutMs, () => {
        breakBarrier(b, `the barrier timed out after ${timeoutMs} ms`);
      });
    },
    abort(b) {
      breakBarrier(b, "the barrier was aborted");
    },
    reset(b) {
      breakBarrier(b, "the barrier was reset");
      b.broken = false;
    },
    parties(b) {
      return b.parties;
    },
    nWaiting(b) {
      return b.count;
    },
    broken(b) {
      return b.broken;
    },
  },
};

function reacquire(
  lock: LockState,
  waiter: { reply: Reply; saved: number },
  result: boolean,
): void {
  if (lock.count === 0) {
    lock.owner = waiter.reply.pid;
    lock.count = waiter.saved;
    settle(waiter.reply, OK, result);
  } else {
    lock.waiters.push({ reply: waiter.reply, count: waiter.saved, result });
  }
}

// deno-lint-ignore no-explicit-any
function breakBarrier(b: any, message: string): void {
  b.broken = true;
  b.count = 0;
  for (const w of b.waiters.splice(0)) {
    settle(w.reply, FAILED, new BrokenBarrierError(message));
  }
}
