// A process's connection to one manager's server (see _messages.ts for the
// wire). One per process per manager: every proxy of that manager in the
// process calls through it, in order.
//
// A call is encoded at once (its arguments are what they were when it was
// made), then sent when the slot is free. The client waits for its answer
// with park.ts: it spins briefly (a busy server answers a plain call in a
// few µs), then parks in slices, re-checking that the server still runs. A
// call the server answers DEFERRED waits for its result on the port, which
// is referenced (keeping the program alive) only while such a call waits.

import { MessageChannel, type MessagePort } from "node:worker_threads";
import { currentIdentity, isPidAlive } from "../runtime/_context.ts";
import {
  decode,
  encode,
  type Sidecar,
  transferablesOf,
  Writer,
} from "../core/codec.ts";
import { bump, waitUntil, waitUntilSync, wake } from "../core/park.ts";
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
  IDLE,
  LENGTH,
  METHOD,
  MOVE_BYTES,
  newSlot,
  type NodePort,
  OBJECT,
  OK,
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
  writeMethod,
} from "./_messages.ts";

/** One call, from when it is made until it settles. */
interface Outgoing {
  number: number;
  object: number;
  method: string;
  /** The encoded request, kept while the call waits for its turn. */
  bytes?: Uint8Array;
  sidecar?: Sidecar;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** Sent by the port: its first answer also comes by the port. */
  byPort: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

const WAKE: ClientMessage = { wake: true };

/** How often a call waiting on a web port checks that the server runs. */
const WATCH_MS = 1000;

// This process's connection to each manager it talks to, by manager id.
const connections = new Map<string, Connection>();

/** This process's connection to manager `id`, if it has one. */
export function connectionTo(id: string): Connection | undefined {
  const connection = connections.get(id);
  return connection?.closed ? undefined : connection;
}

/** One process's channel to one manager's server. */
export class Connection {
  readonly managerId: string;
  readonly serverPid: number;
  /** The server's doorbell (shared by every connection). */
  readonly door: SharedArrayBuffer;
  readonly #bell: Int32Array;
  readonly #port: MessagePort;
  readonly #header: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #writer = new Writer(4096);
  /** Calls waiting for the slot (or for a port call's first answer). */
  readonly #queue: Outgoing[] = [];
  /** Calls whose answer comes by the port, by number. */
  readonly #waiting = new Map<number, Outgoing>();
  /** Port answers that came before the slot said DEFERRED. */
  readonly #early = new Map<number, ServerMessage>();
  #busy = false;
  #calls = 0;
  #closed = false;
  #listening = false;
  #watchTimer?: ReturnType<typeof setTimeout>;
  /** Set for a web port, which has no close event: the pid is watched. */
  readonly #watchServer: boolean;

  /**
   * Opens this process's connection to a server: over its own `slot` (the
   * manager's owner), or over a new one announced on `port`.
   */
  constructor(
    managerId: string,
    serverPid: number,
    door: SharedArrayBuffer,
    port: MessagePort,
    slot?: SharedArrayBuffer,
  ) {
    this.managerId = managerId;
    this.serverPid = serverPid;
    this.door = door;
    this.#bell = new Int32Array(door);
    this.#port = port;
    const shared = slot ?? newSlot();
    this.#header = new Int32Array(shared, 0, HEADER_CELLS);
    this.#bytes = new Uint8Array(
      shared,
      HEADER_BYTES,
      SLOT_BYTES - HEADER_BYTES,
    );
    const node = port as unknown as NodePort;
    if (node.on !== undefined) {
      node.on(
        "message",
        (message) => this.#onMessage(message as ServerMessage),
      );
      // The server's end closes when its process ends, however it ends.
      node.on("close", () => this.#fail());
      this.#watchServer = false;
    } else {
      // A port received through `onmessage` (a pool task's argument) is a
      // web MessagePort: no close event, so waiting calls watch the pid.
      port.addEventListener(
        "message",
        (event) => this.#onMessage((event as MessageEvent).data),
      );
      port.start();
      this.#watchServer = true;
    }
    // Idle, a connection must not keep the program alive (after `on`,
    // which refs the port).
    port.unref();
    if (slot === undefined) {
      const hello: ClientMessage = {
        hello: { pid: currentIdentity().pid, slot: shared },
      };
      port.postMessage(hello);
    }
    connections.set(managerId, this);
  }

  /** Whether this connection was closed (the manager shut down or ended). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the server can no longer answer. */
  get stopped(): boolean {
    return this.#closed || Atomics.load(this.#bell, STOPPED) !== 0 ||
      !isPidAlive(this.serverPid);
  }

  /** The error of every call once the server is gone. */
  shutDownError(): ProcessError {
    return new ProcessError(
      `The manager (server pid ${this.serverPid}) has shut down: its proxies can no longer be used`,
    );
  }

  /**
   * Calls `method` of object `id` with `args`. An abort of `signal`
   * withdraws the call: it rejects with the signal's reason once the server
   * confirms nothing was done (or resolves, if the server had already done
   * it).
   */
  call(
    id: number,
    method: string,
    args: unknown[],
    signal?: AbortSignal,
  ): Promise<unknown> {
    if (this.stopped) return Promise.reject(this.shutDownError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    let sidecar: Sidecar | undefined;
    try {
      sidecar = encode(args, this.#writer, { path: "args" });
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const outgoing: Outgoing = {
        number: ++this.#calls,
        object: id,
        method,
        sidecar,
        signal,
        byPort: sidecar !== undefined ||
          2 * method.length + this.#writer.length > this.#bytes.length,
        resolve,
        reject,
      };
      if (!this.#busy && this.#queue.length === 0) {
        this.#send(outgoing);
        return;
      }
      // Its turn comes later: keep its bytes (the writer is reused).
      outgoing.bytes = this.#writer.written().slice();
      this.#queue.push(outgoing);
      if (signal !== undefined) {
        outgoing.onAbort = () => {
          const at = this.#queue.indexOf(outgoing);
          if (at === -1) return;
          this.#queue.splice(at, 1); // never sent: nothing to withdraw
          reject(signal.reason);
        };
        signal.addEventListener("abort", outgoing.onAbort, { once: true });
      }
    });
  }

  /** Sends a call: its bytes are in `outgoing.bytes` or the writer. */
  #send(outgoing: Outgoing): void {
    const bytes = outgoing.bytes ?? this.#writer.written();
    outgoing.bytes = undefined;
    this.#busy = true;
    if (outgoing.byPort) {
      const copy = bytes.buffer === this.#writer.bytes.buffer
        ? bytes.slice()
        : bytes;
      const message: ClientMessage = {
        call: outgoing.number,
        object: outgoing.object,
        method: outgoing.method,
        bytes: copy,
        sidecar: outgoing.sidecar,
      };
      this.#expect(outgoing);
      const transfer = transferablesOf(outgoing.sidecar);
      if (copy.length >= MOVE_BYTES) transfer.push(copy.buffer as ArrayBuffer);
      this.#port.postMessage(
        message,
        transfer as unknown as readonly ArrayBuffer[],
      );
      return;
    }
    const units = writeMethod(this.#bytes, outgoing.method);
    this.#bytes.set(bytes, units);
    const header = this.#header;
    header[LENGTH] = bytes.length;
    header[METHOD] = outgoing.method.length;
    header[OBJECT] = outgoing.object;
    header[CALL] = outgoing.number;
    Atomics.store(header, STATE, REQUEST);
    bump(this.#bell, RING);
    if (Atomics.load(this.#bell, SLEEPING) !== 0) {
      this.#port.postMessage(WAKE);
    }
    const replied = () => Atomics.load(header, STATE) === REPLY || this.stopped;
    // A reply is a few µs away unless the server is busy: wait for it with
    // the thread first (a futex wake costs no event-loop turn), then as a
    // promise.
    if (
      waitUntilSync(header, STATE, replied, performance.now() + SYNC_WAIT_MS)
    ) {
      this.#receive(outgoing);
      return;
    }
    waitUntil(header, STATE, replied, Infinity).then(() =>
      this.#receive(outgoing)
    );
  }

  /** Takes the slot's reply, frees the slot, and sends the next call. */
  #receive(outgoing: Outgoing): void {
    const header = this.#header;
    if (Atomics.load(header, STATE) !== REPLY) {
      // The server ended without answering.
      this.#busy = false;
      outgoing.reject(this.shutDownError());
      this.#fail();
      return;
    }
    const status = header[STATUS];
    let value: unknown;
    let failed = status === FAILED;
    if (status === OK || status === FAILED) {
      try {
        value = decode(this.#bytes.subarray(0, header[LENGTH]));
      } catch (error) {
        value = error;
        failed = true;
      }
    }
    Atomics.store(header, STATE, IDLE);
    this.#busy = false;
    // The next call goes from a microtask: a long queue (a Promise.all of
    // many calls) must not grow the stack.
    if (this.#queue.length > 0) queueMicrotask(() => this.#next());
    switch (status) {
      case OK:
      case FAILED:
        (failed ? outgoing.reject : outgoing.resolve)(value);
        return;
      case DEFERRED: {
        this.#expect(outgoing);
        const early = this.#early.get(outgoing.number);
        if (early !== undefined) {
          this.#early.delete(outgoing.number);
          this.#onMessage(early);
        }
        return;
      }
      case CLOSED: // the manager shut down with this call in its slot
      default:
        outgoing.reject(this.shutDownError());
    }
  }

  /** Sends the next queued call, if the slot is free. */
  #next(): void {
    while (!this.#busy && this.#queue.length > 0) {
      const outgoing = this.#queue.shift()!;
      if (outgoing.onAbort) {
        outgoing.signal!.removeEventListener("abort", outgoing.onAbort);
        outgoing.onAbort = undefined;
      }
      if (this.stopped) {
        outgoing.reject(this.shutDownError());
        continue;
      }
      this.#send(outgoing);
    }
  }

  /** Waits for `outgoing`'s answer on the port; an abort withdraws it. */
  #expect(outgoing: Outgoing): void {
    this.#waiting.set(outgoing.number, outgoing);
    this.#listen();
    const signal = outgoing.signal;
    if (signal === undefined) return;
    const withdraw = () => {
      const cancel: ClientMessage = { cancel: outgoing.number };
      try {
        this.#port.postMessage(cancel);
      } catch { /* the port is closed: #fail settles the call */ }
    };
    if (signal.aborted) withdraw();
    else {
      outgoing.onAbort = withdraw;
      signal.addEventListener("abort", withdraw, { once: true });
    }
  }

  #onMessage(message: ServerMessage): void {
    const [number, status, bytes, sidecar] = message;
    const outgoing = this.#waiting.get(number);
    if (outgoing === undefined) {
      // The slot's DEFERRED is not read yet: keep the answer for it.
      this.#early.set(number, message);
      return;
    }
    if (outgoing.byPort && this.#busy) {
      // A port call's first answer: the next call may go.
      outgoing.byPort = false;
      this.#busy = false;
      this.#next();
    }
    if (status === DEFERRED) return;
    this.#waiting.delete(number);
    if (outgoing.onAbort) {
      outgoing.signal!.removeEventListener("abort", outgoing.onAbort);
    }
    if (this.#waiting.size === 0) this.#unlisten();
    switch (status) {
      case OK:
      case FAILED: {
        let value: unknown;
        try {
          value = decode(new Uint8Array(bytes!), sidecar);
        } catch (error) {
          outgoing.reject(error);
          return;
        }
        (status === OK ? outgoing.resolve : outgoing.reject)(value);
        return;
      }
      case CANCELLED:
        outgoing.reject(outgoing.signal?.reason);
        return;
      case CLOSED:
      default:
        outgoing.reject(this.shutDownError());
    }
  }

  /** While an answer is expected on the port, it keeps the program alive. */
  #listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    this.#port.ref();
    if (this.#watchServer) this.#watchPid();
  }

  /**
   * A web port cannot say that the server ended: its pid is watched while
   * a call waits (a liveness check, not a wait: once a second, so that a
   * parked call costs ~0.03% of a core, where a 250 ms park slice in a
   * worker costs 0.12%).
   */
  #watchPid(): void {
    if (this.#watchTimer !== undefined) return;
    const check = () => {
      this.#watchTimer = undefined;
      if (!this.#listening) return;
      if (this.stopped) this.#fail();
      else this.#watchTimer = setTimeout(check, WATCH_MS);
    };
    this.#watchTimer = setTimeout(check, WATCH_MS);
  }

  #unlisten(): void {
    if (!this.#listening) return;
    this.#listening = false;
    this.#port.unref();
    clearTimeout(this.#watchTimer);
    this.#watchTimer = undefined;
  }

  /** The server is gone: every call still waiting rejects. */
  #fail(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = this.shutDownError();
    for (const outgoing of this.#queue.splice(0)) outgoing.reject(error);
    for (const outgoing of this.#waiting.values()) outgoing.reject(error);
    this.#waiting.clear();
    this.#unlisten();
    wake(this.#header, STATE); // a call in the slot sees it at once
    try {
      this.#port.close();
    } catch { /* already closed */ }
    if (connections.get(this.managerId) === this) {
      connections.delete(this.managerId);
    }
  }

  /** Closes this connection (the manager shut down). */
  close(): void {
    this.#fail();
  }

  /** Asks the server to stop (the owner's connection only). */
  requestShutdown(): void {
    const message: ClientMessage = { shutdown: true };
    try {
      this.#port.postMessage(message);
    } catch { /* the port is closed: the server is gone */ }
    bump(this.#bell, RING);
  }

  /**
   * A new connection to the same server, for a proxy crossing into another
   * process: the server learns of it here, the other process gets the
   * returned port.
   */
  open(): MessagePort {
    if (this.stopped) throw this.shutDownError();
    const channel = new MessageChannel();
    const message: ClientMessage = { connect: channel.port1 };
    this.#port.postMessage(message, [channel.port1]);
    return channel.port2;
  }
}
