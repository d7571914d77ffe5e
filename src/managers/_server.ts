// The manager's server: the loop a manager's daemon process runs. It holds
// every managed object (real objects of this module and plain server-side
// ones, see _served/) and calls their methods, one request at a time, so
// each proxy call is atomic. A call that waits (a `get` on an empty queue)
// is answered DEFERRED at once and settled later on the caller's port, so
// a waiting call never holds up another one, even from the same process.
//
// How it waits for the next request (see _messages.ts): right after
// serving, on its doorbell with its thread (park.ts's `waitUntilSync`: a
// brief spin, then a futex), which keeps a client's sequential awaited
// calls at a few µs; after AWAKE_MS without a request, for a port message
// (SLEEPING), which costs no wake-up while idle. Port messages
// (connections, withdrawn calls, large requests) arrive through the event
// loop, which the loop lets turn at least every YIELD_MS while busy.

import type { MessagePort } from "node:worker_threads";
import { setImmediate } from "node:timers";
import { isPidAlive } from "../runtime/_context.ts";
import { registerTargets } from "../runtime/targets.ts";
import {
  decode,
  encode,
  type Sidecar,
  transferablesOf,
  Writer,
} from "../core/codec.ts";
import { bump, SLICE_MS, waitUntilSync, wake } from "../core/park.ts";
import { ProcessError } from "../errors.ts";
import {
  CALL,
  CANCELLED,
  type ClientMessage,
  CLOSED,
  DEFERRED,
  FAILED,
  HEADER_BYTES,
  HEADER_CELLS,
  LENGTH,
  MANAGER_ID,
  METHOD,
  MOVE_BYTES,
  type NodePort,
  OBJECT,
  OK,
  readMethod,
  REPLY,
  REQUEST,
  RING,
  type ServerMessage,
  SLEEPING,
  SLOT_BYTES,
  STATE,
  STATUS,
  STOPPED,
  SYNC_WAIT_MS,
} from "./_messages.ts";
import type { Call, Served, ServerContext } from "./_served/served.ts";
import { Waiters } from "./_served/waiters.ts";
import { isTypeid, KINDS } from "./_served/kinds.ts";
import { serveHere } from "./proxies/_reduce.ts";

/** What a manager's server process starts with. */
export interface ServerStart {
  /** The manager's id, program-wide. */
  id: string;
  /** The owner's pid, its port and its slot. */
  owner: number;
  port: MessagePort;
  slot: SharedArrayBuffer;
  /** The doorbell every connection shares. */
  door: SharedArrayBuffer;
}

/** While busy, the event loop turns at least this often (ms). */
const YIELD_MS = 4;
/** After a request, the server waits for the next with its thread this long. */
const AWAKE_MS = 50;
/**
 * How often a sleeping server with waiting calls checks their callers'
 * pids (a client's end is normally heard at once: its port closes).
 */
const BACKSTOP_MS = 5000;

/** Why the server aborts a call: the client withdrew it. */
const WITHDRAWN = Symbol("withdrawn");
/** Why the server aborts a call: the client ended. */
const ENDED = Symbol("ended");

/** One client process's connection. */
class ClientConnection {
  pid: number;
  header?: Int32Array;
  bytes?: Uint8Array;
  readonly port: MessagePort;
  /** Calls answered DEFERRED, by their number. */
  readonly pending = new Map<number, AbortController>();
  readonly ended = new AbortController();

  constructor(port: MessagePort, pid = 0, slot?: SharedArrayBuffer) {
    this.port = port;
    this.pid = pid;
    if (slot !== undefined) this.attach(slot);
  }

  attach(slot: SharedArrayBuffer): void {
    this.header = new Int32Array(slot, 0, HEADER_CELLS);
    this.bytes = new Uint8Array(slot, HEADER_BYTES, SLOT_BYTES - HEADER_BYTES);
  }

  get hasRequest(): boolean {
    return this.header !== undefined &&
      Atomics.load(this.header, STATE) === REQUEST;
  }
}

/** One call being served. Its signal is made only if the call waits. */
class ServedCall implements Call {
  readonly caller: number;
  readonly ended: AbortSignal;
  #controller?: AbortController;

  constructor(connection: ClientConnection) {
    this.caller = connection.pid;
    this.ended = connection.ended.signal;
  }

  get controller(): AbortController {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.ended.aborted) this.#controller.abort(ENDED);
    }
    return this.#controller;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }
}

/** The server of one manager. */
class Server implements ServerContext {
  readonly waiters = new Waiters();
  readonly #objects = new Map<number, Served>();
  #nextId = 1;
  readonly #connections: ClientConnection[] = [];
  readonly #owner: ClientConnection;
  readonly #bell: Int32Array;
  readonly #writer = new Writer(SLOT_BYTES);
  #stopped = false;
  #alerted = false;
  #wakeUp?: () => void;

  constructor(start: ServerStart) {
    this.#bell = new Int32Array(start.door);
    this.#owner = this.#add(start.port, start.owner, start.slot);
  }

  lookup(id: number): Served | undefined {
    return this.#objects.get(id);
  }

  /** Serves until the owner asks it to stop. */
  async run(): Promise<void> {
    // A port message may need the loop (a new deadline, a new slot, the
    // end): it sets `#alerted` and rings.
    const ready = () => this.#stopped || this.#alerted || this.#hasRequest();
    let lastYield = performance.now();
    let lastRequest = lastYield;
    let nextCheck = lastYield + SLICE_MS;
    while (!this.#stopped) {
      let now = performance.now();
      if (this.#serveSlots()) lastRequest = now;
      if (now >= this.waiters.nextDeadline()) this.waiters.recheck(now);
      if (this.waiters.takeUnheard() || now - lastYield > YIELD_MS) {
        // A waiting call settled that posts its reply from a promise
        // reaction (a condition's wait): it must not wait for the next
        // request (a turn of the event loop runs them all).
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = now = performance.now();
      }
      if (now >= nextCheck) {
        this.#checkClients();
        nextCheck = now + SLICE_MS;
      }
      this.#alerted = false;
      if (now - lastRequest < AWAKE_MS) {
        // Busy lately: the next request is likely µs away.
        const until = Math.min(this.waiters.nextDeadline(), now + SYNC_WAIT_MS);
        waitUntilSync(this.#bell, RING, ready, until);
        await undefined; // promise reactions of the calls served
      } else {
        await this.#sleep(ready);
        lastYield = performance.now(); // the event loop turned
      }
    }
    await this.#close();
  }

  /** Waits for a port message (or the next deadline): no wake-up meanwhile. */
  async #sleep(ready: () => boolean): Promise<void> {
    Atomics.store(this.#bell, SLEEPING, 1);
    // A request written before the flag was seen is seen now.
    if (ready()) {
      Atomics.store(this.#bell, SLEEPING, 0);
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let backstop: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wakeUp = resolve;
      const deadline = this.waiters.nextDeadline();
      if (deadline !== Infinity) {
        timer = setTimeout(resolve, deadline - performance.now());
      }
      if (this.waiters.size > 0 || this.#hasPending()) {
        backstop = setTimeout(() => {
          this.#checkClients();
          this.waiters.recheck(performance.now());
          resolve();
        }, BACKSTOP_MS);
      }
    });
    clearTimeout(timer);
    clearTimeout(backstop);
    this.#wakeUp = undefined;
    Atomics.store(this.#bell, SLEEPING, 0);
  }

  #hasRequest(): boolean {
    for (const connection of this.#connections) {
      if (connection.hasRequest) return true;
    }
    return false;
  }

  #hasPending(): boolean {
    for (const connection of this.#connections) {
      if (connection.pending.size > 0) return true;
    }
    return false;
  }

  #serveSlots(): boolean {
    let served = false;
    // A served call may add connections: read the length each time.
    for (let i = 0; i < this.#connections.length; i++) {
      const connection = this.#connections[i];
      if (!connection.hasRequest) continue;
      served = true;
      const header = connection.header!;
      const bytes = connection.bytes!;
      const number = header[CALL];
      const method = readMethod(bytes, header[METHOD]);
      const start = 2 * method.length;
      let args: unknown[];
      try {
        args = decode(bytes.subarray(start, start + header[LENGTH])) as [];
      } catch (error) {
        this.#replyInSlot(connection, FAILED, error, number);
        continue;
      }
      this.#serve(connection, number, header[OBJECT], method, args, true);
    }
    return served;
  }

  /** Serves one request; `inSlot` says where its first answer goes. */
  #serve(
    connection: ClientConnection,
    number: number,
    id: number,
    method: string,
    args: unknown[],
    inSlot: boolean,
  ): void {
    const call = new ServedCall(connection);
    let result: unknown;
    let status = OK;
    let served: Served | undefined;
    try {
      if (id === MANAGER_ID) result = this.#manage(method, args);
      else {
        served = this.#objects.get(id);
        if (served === undefined) {
          throw new ProcessError(
            `Cannot call '${method}' as the manager has no object #${id}`,
          );
        }
        result = served.invoke(method, args, call);
      }
    } catch (error) {
      status = FAILED;
      result = error;
    }
    if (served !== undefined) this.#changed(served);
    if (!(result instanceof Promise)) {
      if (inSlot) this.#replyInSlot(connection, status, result, number);
      else this.#replyOnPort(connection, status, result, number);
      return;
    }
    const controller = call.controller;
    connection.pending.set(number, controller);
    if (inSlot) this.#replyInSlot(connection, DEFERRED, undefined, number);
    else this.#post(connection, number, DEFERRED);
    // Most waiting calls are the server's own (waiters.ts): their reply is
    // posted the moment they settle, within the call that let them through.
    const told = this.waiters.whenSettled(
      result,
      (ok, value) =>
        this.#finish(connection, number, controller, ok ? OK : FAILED, value),
    );
    if (told) return;
    result.then(
      (value) => this.#finish(connection, number, controller, OK, value),
      (error) => this.#finish(connection, number, controller, FAILED, error),
    );
  }

  #finish(
    connection: ClientConnection,
    number: number,
    controller: AbortController,
    status: number,
    value: unknown,
  ): void {
    connection.pending.delete(number);
    if (status === FAILED && controller.signal.aborted) {
      // Withdrawn (or the client ended, which no one hears): nothing was done.
      const reason = controller.signal.reason;
      if (reason === WITHDRAWN) {
        this.#post(connection, number, CANCELLED);
      } else if (reason !== ENDED) {
        this.#post(connection, number, CLOSED);
      }
      return;
    }
    this.#replyOnPort(connection, status, value, number);
  }

  /** Wakes the calls waiting on what a call on `served` may have changed. */
  #changed(served: Served): void {
    if (this.waiters.size === 0) return;
    this.waiters.changed(served);
    for (const other of served.related ?? []) this.waiters.changed(other);
  }

  #manage(method: string, args: unknown[]): unknown {
    if (method === "ping") return true;
    if (method === "create") {
      const [typeid, init] = args as [unknown, unknown[]];
      if (!isTypeid(typeid)) {
        throw new TypeError(
          `Cannot create a managed object as its type must be one this manager serves: current value is ${
            String(typeid)
          }`,
        );
      }
      const served = KINDS[typeid](init, this);
      const id = this.#nextId++;
      this.#objects.set(id, served);
      return id;
    }
    throw new TypeError(`Cannot call '${method}' on the manager`);
  }

  /**
   * Encodes `value` (an error when `status` is FAILED) into the writer;
   * a value that cannot cross becomes the error saying why.
   */
  #encode(status: number, value: unknown): [number, Sidecar | undefined] {
    const path = status === FAILED ? "error" : "result";
    try {
      return [status, encode(value, this.#writer, { path })];
    } catch (error) {
      try {
        return [FAILED, encode(error, this.#writer, { path: "error" })];
      } catch {
        const plain = new TypeError(`Cannot send the ${path}: ${error}`);
        return [FAILED, encode(plain, this.#writer, { path: "error" })];
      }
    }
  }

  #replyInSlot(
    connection: ClientConnection,
    status: number,
    value: unknown,
    number: number,
  ): void {
    const header = connection.header!;
    let length = 0;
    if (status === OK || status === FAILED) {
      let sidecar: Sidecar | undefined;
      [status, sidecar] = this.#encode(status, value);
      if (this.#writer.length > connection.bytes!.length || sidecar) {
        // Too large for the slot, or holding shared objects: by the port.
        this.#post(connection, number, status, sidecar);
        status = DEFERRED;
      } else {
        connection.bytes!.set(this.#writer.written());
        length = this.#writer.length;
      }
    }
    header[LENGTH] = length;
    header[STATUS] = status;
    Atomics.store(header, STATE, REPLY);
    wake(header, STATE);
  }

  #replyOnPort(
    connection: ClientConnection,
    status: number,
    value: unknown,
    number: number,
  ): void {
    let sidecar: Sidecar | undefined;
    [status, sidecar] = this.#encode(status, value);
    this.#post(connection, number, status, sidecar);
  }

  /**
   * Posts the reply to call `number`; with OK or FAILED, the message is
   * the one in the writer.
   */
  #post(
    connection: ClientConnection,
    number: number,
    status: number,
    sidecar?: Sidecar,
  ): void {
    const message: ServerMessage = [number, status];
    const transfer = transferablesOf(sidecar);
    if (status === OK || status === FAILED) {
      const bytes = this.#writer.written().slice().buffer;
      message.push(bytes, sidecar);
      if (bytes.byteLength >= MOVE_BYTES) transfer.push(bytes);
    }
    try {
      // (node's port type names its own MessagePort: the same object here)
      connection.port.postMessage(
        message,
        transfer as unknown as readonly ArrayBuffer[],
      );
    } catch { /* the client is gone: its end is being handled */ }
  }

  // Connections -----------------------------------------------------------------

  #add(
    port: MessagePort,
    pid?: number,
    slot?: SharedArrayBuffer,
  ): ClientConnection {
    const connection = new ClientConnection(port, pid, slot);
    this.#connections.push(connection);
    const onMessage = (message: unknown) => {
      this.#onMessage(connection, message as ClientMessage);
      // The loop re-reads its slots and deadlines.
      this.#alerted = true;
      bump(this.#bell, RING);
      this.#wakeUp?.();
    };
    const node = port as unknown as NodePort;
    if (node.on !== undefined) {
      node.on("message", onMessage);
      node.on("close", () => this.#drop(connection));
    } else {
      port.addEventListener(
        "message",
        (e) => onMessage((e as MessageEvent).data),
      );
      port.start();
    }
    return connection;
  }

  #onMessage(connection: ClientConnection, message: ClientMessage): void {
    if ("call" in message) {
      let args: unknown[];
      try {
        args = decode(message.bytes, message.sidecar) as [];
      } catch (error) {
        this.#replyOnPort(connection, FAILED, error, message.call);
        return;
      }
      const { call, object, method } = message;
      this.#serve(connection, call, object, method, args, false);
    } else if ("cancel" in message) {
      connection.pending.get(message.cancel)?.abort(WITHDRAWN);
    } else if ("hello" in message) {
      connection.pid = message.hello.pid;
      connection.attach(message.hello.slot);
    } else if ("connect" in message) {
      this.#add(message.connect);
    } else if ("wake" in message) {
      // Nothing to do here: every message wakes the loop.
    } else if ("shutdown" in message && connection === this.#owner) {
      this.#stopped = true;
    }
  }

  /** A client ended (its port closed, or its pid did): withdraw its calls. */
  #drop(connection: ClientConnection): void {
    const index = this.#connections.indexOf(connection);
    if (index === -1) return;
    this.#connections.splice(index, 1);
    connection.ended.abort(ENDED);
    for (const controller of connection.pending.values()) {
      controller.abort(ENDED);
    }
    connection.pending.clear();
    try {
      connection.port.close();
    } catch { /* already closed */ }
    // A lock it held passes to a waiter now.
    this.waiters.recheck(performance.now());
  }

  /** Once a slice: a client whose close nobody heard. */
  #checkClients(): void {
    for (const connection of [...this.#connections]) {
      if (connection.pid !== 0 && !isPidAlive(connection.pid)) {
        this.#drop(connection);
      }
    }
  }

  /** Stops: every waiting call, and every call still in a slot, learns it. */
  async #close(): Promise<void> {
    this.waiters.closeAll(new ProcessError("The manager has shut down"));
    for (const connection of this.#connections) {
      for (const controller of connection.pending.values()) {
        controller.abort(CLOSED);
      }
      if (connection.hasRequest) {
        this.#replyInSlot(connection, CLOSED, undefined, 0);
      }
    }
    bump(this.#bell, STOPPED);
    // Let the settled calls post their answers before the ports close.
    await new Promise((resolve) => setImmediate(resolve));
    for (const connection of [...this.#connections]) this.#drop(connection);
  }
}

/**
 * Serves a manager's objects until its owner asks it to stop: the target of
 * the manager's server process.
 */
export async function managerServer(start: ServerStart): Promise<void> {
  serveHere(start.id);
  await new Server(start).run();
}

registerTargets(import.meta, { managerServer });
