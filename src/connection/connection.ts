/**
 * `Pipe()` and `Connection`: Python's `multiprocessing.Pipe`, two ends of a
 * pair of mailboxes in shared memory. Give one end to a process as an
 * argument; messages then go straight between the two processes.
 *
 * @module
 */

import { receiveMessageOnPort } from "node:worker_threads";
import { currentIdentity, isPidAlive } from "../runtime/_context.ts";
import {
  decode,
  encode,
  encodeBytes,
  outbox,
  Scratch,
  T_BYTES,
  T_SIDE,
} from "../mailbox/_codec.ts";
import {
  AGAIN,
  checkTimeout,
  GET_WAITERS,
  Mailbox,
  type MailboxState,
  PUTS,
  retry,
  retrySync,
} from "../mailbox/_mailbox.ts";
import { BufferTooShort, EOFError, ProcessError } from "../errors.ts";
import { registerReducer } from "../core/reduction.ts";
import { describe } from "../core/describe.ts";

/** Cells of the shared `ends` block: per end, closed flag and owner pid. */
const CLOSED = 0; // + end index
const OWNER = 2; // + end index
const ID = 4; // two random cells naming the pipe
const CELLS = 6;

/** Ends revived in this process, by pipe id and index. */
const revived = new Map<string, WeakRef<Connection<unknown>>>();

function endKey(ends: SharedArrayBuffer, index: number): string {
  const cells = new Int32Array(ends);
  return `${cells[ID]}:${cells[ID + 1]}:${index}`;
}

const inbox = new Scratch();
const nap = new Int32Array(new SharedArrayBuffer(4));

/**
 * Options of {@linkcode Connection.send}.
 *
 * @example Moving a buffer instead of copying it
 * ```ts
 * import { Pipe } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = Pipe();
 * const samples = new Float64Array(1024).fill(0.5);
 * a.send(samples, { transfer: [samples.buffer] });
 * assert.equal(samples.length, 0); // detached: it moved
 * assert.equal((await b.recv() as Float64Array)[1023], 0.5);
 * ```
 */
export interface SendOptions {
  /**
   * `ArrayBuffer`s (or the buffers of typed arrays) to move with the message
   * instead of copying it, as in `postMessage`: the sender's copies become
   * detached.
   */
  transfer?: (ArrayBuffer | ArrayBufferView)[];
}

interface ConnectionState {
  ends: SharedArrayBuffer;
  index: number;
  in: MailboxState | null;
  out: MailboxState | null;
  port: MessagePort | null;
}

/** Set while a reducer revives an end around existing buffers. */
let reviving: ConnectionState | undefined;

/**
 * One end of a {@linkcode Pipe} (Python's `multiprocessing.connection.
 * Connection`). `send` never blocks (the mailbox grows); `recv` is a
 * promise, with `recvSync` for a process that may block its own thread.
 *
 * `recv` rejects with `EOFError` once the mailbox is drained and the other
 * end is closed or its process has ended: it never hangs on a dead peer.
 *
 * @example A round trip with a process
 * ```ts
 * import { Pipe, Process } from "@seed/multiprocessing";
 * import { echo } from "../../tests/fixtures/mailboxes.ts";
 * import assert from "node:assert/strict";
 *
 * const [here, there] = Pipe();
 * const p = new Process({ target: echo, args: [there] });
 * p.start();
 * here.send({ hello: "world" });
 * assert.deepEqual(await here.recv(), { hello: "world" });
 * here.close(); // the echo ends at EOF
 * await p.join();
 * ```
 */
export class Connection<T = unknown> {
  #ends: Int32Array;
  #index: number;
  #in: Mailbox | null;
  #out: Mailbox | null;
  #port: MessagePort | null;
  #closed = false;
  /** What closing the end needs, kept apart so a finalizer can use it. */
  #handle: EndHandle;

  /** Ends are made by {@linkcode Pipe}; this constructor is internal. */
  constructor() {
    const state = reviving;
    reviving = undefined;
    if (state === undefined) {
      throw new TypeError(
        "Connection objects are made by Pipe(): call Pipe() to get a pair",
      );
    }
    this.#ends = new Int32Array(state.ends);
    this.#index = state.index;
    this.#in = state.in && new Mailbox(state.in);
    this.#out = state.out && new Mailbox(state.out);
    this.#port = state.port;
    // This process owns the end now: its end is the peer's EOF.
    Atomics.store(this.#ends, OWNER + this.#index, currentIdentity().pid);
    this.#handle = {
      ends: this.#ends,
      index: this.#index,
      in: this.#in,
      out: this.#out,
      given: false,
    };
    forgotten.register(this, this.#handle, this.#handle);
  }

  /** Whether `close()` was called on this end. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether this end can receive. */
  get readable(): boolean {
    return this.#in !== null;
  }

  /** Whether this end can send. */
  get writable(): boolean {
    return this.#out !== null;
  }

  /**
   * Sends `obj` to the other end; it is in shared memory when `send`
   * returns. Throws a `TypeError` naming the path of a value that cannot
   * cross, and a `ProcessError` when the other end is closed or its
   * process has ended (Python's `BrokenPipeError`).
   *
   * With `{ transfer: [buffer] }` the listed buffers move instead of being
   * copied (a 64 MiB array costs what a `postMessage` transfer costs).
   */
  send(obj: T, options?: SendOptions): void {
    const out = this.#writer("send");
    const transfer = checkTransfer(options);
    if (transfer.length > 0 && this.#port !== null) {
      // The buffers travel on the side channel, posted before the rest of
      // the message enters the ring, so the receiver finds them there.
      const length = encode(obj, outbox, "obj", transfer);
      if (length > 0) {
        this.#port.postMessage(transfer, transfer);
        out.put(outbox, length, 0);
        return;
      }
      out.put(outbox, -length, 0); // not plain data: copied, see below
    } else {
      out.put(outbox, encode(obj, outbox, "obj"), 0);
    }
    // Without a side channel the buffers were copied; detach them anyway,
    // so the sender sees the same thing either way.
    for (const buffer of transfer) buffer.transfer();
  }

  /**
   * Sends the bytes of `buffer` (or `size` bytes from byte `offset`) as one
   * message, for {@linkcode Connection.recvBytes} at the other end.
   */
  sendBytes(
    buffer: ArrayBuffer | ArrayBufferView,
    offset = 0,
    size?: number,
  ): void {
    const out = this.#writer("sendBytes");
    const bytes = bytesOf(buffer);
    if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length) {
      throw new RangeError(
        `sendBytes() expected offset to be an integer from 0 to ${bytes.length}, received ${
          describe(offset)
        }`,
      );
    }
    const n = size ?? bytes.length - offset;
    if (!Number.isInteger(n) || n < 0 || offset + n > bytes.length) {
      throw new RangeError(
        `sendBytes() expected size to be an integer from 0 to ${
          bytes.length - offset
        }, received ${describe(size)}`,
      );
    }
    out.put(outbox, encodeBytes(bytes.subarray(offset, offset + n), outbox), 0);
  }

  /**
   * Resolves to the next message. Rejects with `EOFError` when there is
   * none left and the other end is closed or its process ended.
   */
  recv(): Promise<T> {
    try {
      const inbound = this.#reader("recv");
      const first = this.#attempt(-1);
      if (first !== AGAIN) return Promise.resolve(first as T);
      return retry(
        inbound.ctrl,
        PUTS,
        GET_WAITERS,
        Infinity,
        () => this.#attempt(-1) as T | typeof AGAIN,
        () => undefined as T,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The blocking form of {@linkcode Connection.recv}: blocks this thread. */
  recvSync(): T {
    const inbound = this.#reader("recvSync");
    return retrySync(
      inbound.ctrl,
      PUTS,
      GET_WAITERS,
      Infinity,
      () => this.#attempt(-1) as T | typeof AGAIN,
      () => undefined as T,
    );
  }

  /**
   * Resolves to the bytes of the next message, which must have been sent
   * with {@linkcode Connection.sendBytes} (else it stays in place and a
   * `ProcessError` says to `recv()` it).
   */
  recvBytes(): Promise<Uint8Array> {
    try {
      const inbound = this.#reader("recvBytes");
      return retry(
        inbound.ctrl,
        PUTS,
        GET_WAITERS,
        Infinity,
        () => this.#attempt(T_BYTES) as Uint8Array | typeof AGAIN,
        () => new Uint8Array(),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The blocking form of {@linkcode Connection.recvBytes}. */
  recvBytesSync(): Uint8Array {
    const inbound = this.#reader("recvBytesSync");
    return retrySync(
      inbound.ctrl,
      PUTS,
      GET_WAITERS,
      Infinity,
      () => this.#attempt(T_BYTES) as Uint8Array | typeof AGAIN,
      () => new Uint8Array(),
    );
  }

  /**
   * Receives the next `sendBytes` message into `buffer` from byte `offset`
   * and resolves to its length (Python's `recv_bytes_into`). When it does
   * not fit, the message is consumed and the promise rejects with
   * `BufferTooShort`, whose `bytes` field holds the whole message.
   */
  async recvBytesInto(
    buffer: ArrayBuffer | ArrayBufferView,
    offset = 0,
  ): Promise<number> {
    const target = intoTarget(buffer, offset);
    return copyInto(await this.recvBytes(), target, offset);
  }

  /** The blocking form of {@linkcode Connection.recvBytesInto}. */
  recvBytesIntoSync(
    buffer: ArrayBuffer | ArrayBufferView,
    offset = 0,
  ): number {
    const target = intoTarget(buffer, offset);
    return copyInto(this.recvBytesSync(), target, offset);
  }

  /**
   * Resolves to whether a `recv` would not wait: a message is there, or
   * the other end is gone (`recv` would reject with `EOFError`). Waits up
   * to `timeoutMs` (0 by default: answers at once; `Infinity`: no limit).
   */
  poll(timeoutMs = 0): Promise<boolean> {
    try {
      const inbound = this.#reader("poll");
      const ms = checkTimeout("poll() timeoutMs", timeoutMs);
      return retry(
        inbound.ctrl,
        PUTS,
        GET_WAITERS,
        ms,
        () => this.#ready() || AGAIN,
        () => false,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The blocking form of {@linkcode Connection.poll}. */
  pollSync(timeoutMs = 0): boolean {
    const inbound = this.#reader("pollSync");
    const ms = checkTimeout("pollSync() timeoutMs", timeoutMs);
    return retrySync(
      inbound.ctrl,
      PUTS,
      GET_WAITERS,
      ms,
      () => this.#ready() || AGAIN,
      () => false,
    );
  }

  /**
   * Closes this end. The other end's `recv` rejects with `EOFError` once it
   * has drained what was sent. Closing a copy of an end that was given to
   * another process only closes it here (as closing a duplicated handle
   * does in Python).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    forgotten.unregister(this.#handle);
    closeEnd(this.#handle);
    this.#port?.close();
    this.#port = null;
  }

  /** Closes the end (`using conn = ...`). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `Connection { readable, writable, closed }` for `console.log`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `Connection { ${this.readable ? "readable" : ""}${
      this.readable && this.writable ? ", " : ""
    }${this.writable ? "writable" : ""}${this.#closed ? ", closed" : ""} }`;
  }

  #peerGone(): boolean {
    const peer = 1 - this.#index;
    return Atomics.load(this.#ends, CLOSED + peer) === 1 ||
      !isPidAlive(Atomics.load(this.#ends, OWNER + peer));
  }

  #ready(): boolean {
    return this.#in!.count() > 0 || this.#peerGone();
  }

  /** Takes one message, or says to wait, or throws EOFError. */
  #attempt(onlyTag: number): unknown {
    const inbound = this.#in!;
    let length = inbound.take(inbox, onlyTag);
    if (length === -1 && this.#peerGone()) {
      // Whatever the peer sent before it went is visible now.
      length = inbound.take(inbox, onlyTag);
      if (length === -1) {
        throw new EOFError(
          "the other end of the pipe is closed (or its process ended) and nothing is left to receive",
        );
      }
    }
    if (length === -1) return AGAIN;
    if (length === -2) {
      throw new ProcessError(
        "the next message was sent with send(), not sendBytes(): receive it with recv()",
      );
    }
    if (inbox.bytes[0] === T_SIDE) {
      return decode(inbox, length, this.#receiveSide());
    }
    return decode(inbox, length);
  }

  #receiveSide(): ArrayBuffer[] {
    const port = this.#port;
    if (port === null) {
      throw new ProcessError(
        "a transferred message arrived at a copy of this end that has no side channel: receive from one process only (the one the end was given to)",
      );
    }
    // The sender posted before it wrote the placeholder: the message is
    // in flight, tens of µs away at most.
    const end = performance.now() + 30_000;
    let received;
    while ((received = receiveMessageOnPort(port as never)) === undefined) {
      if (performance.now() > end) {
        throw new ProcessError("a transferred message did not arrive");
      }
      Atomics.wait(nap, 0, 0, 0.02);
    }
    return received.message as ArrayBuffer[];
  }

  #reader(method: string): Mailbox {
    this.#checkOpen(method);
    if (this.#in === null) {
      throw new ProcessError(
        `cannot ${method}(): this end of a one-way Pipe only sends (the first end of Pipe(false) receives)`,
      );
    }
    return this.#in;
  }

  #writer(method: string): Mailbox {
    this.#checkOpen(method);
    if (this.#out === null) {
      throw new ProcessError(
        `cannot ${method}(): this end of a one-way Pipe only receives (the second end of Pipe(false) sends)`,
      );
    }
    if (this.#peerGone()) {
      throw new ProcessError(
        `cannot ${method}(): broken pipe, the other end is closed or its process ended`,
      );
    }
    return this.#out;
  }

  #checkOpen(method: string): void {
    if (this.#closed) {
      throw new ProcessError(`cannot ${method}(): this end is closed`);
    }
  }

  static {
    registerReducer<Connection<unknown>, ConnectionState>({
      name: "Connection",
      type: Connection,
      reduce: (c, context) => {
        if (c.#closed) {
          throw new TypeError(
            `${context.path} is a closed Connection, which cannot be given to a process`,
          );
        }
        const port = c.#port;
        if (port !== null) {
          // The side channel goes with the end: the process that receives
          // on it is the one that gets the port.
          context.transfer(port);
          c.#port = null;
        }
        c.#handle.given = true;
        return {
          ends: c.#ends.buffer as SharedArrayBuffer,
          index: c.#index,
          in: c.#in && c.#in.state,
          out: c.#out && c.#out.state,
          port,
        };
      },
      revive: (state) => {
        // One object per end per process: an end received again (by every
        // task of a pool worker, say) is the same object, so collecting an
        // old copy cannot close the end under a newer one.
        const key = endKey(state.ends, state.index);
        const known = revived.get(key)?.deref();
        if (known !== undefined && !known.#closed) {
          known.#port ??= state.port;
          Atomics.store(
            known.#ends,
            OWNER + known.#index,
            currentIdentity().pid,
          );
          known.#handle.given = false;
          return known;
        }
        reviving = state;
        const end = new Connection();
        revived.set(key, new WeakRef(end));
        return end;
      },
    });
  }
}

/** What closing an end needs (no reference back to the end itself). */
interface EndHandle {
  ends: Int32Array;
  index: number;
  in: Mailbox | null;
  out: Mailbox | null;
  /** This copy was handed to another process: closing it is local. */
  given: boolean;
}

function closeEnd(handle: EndHandle): void {
  const i = handle.index;
  if (
    !handle.given &&
    Atomics.load(handle.ends, OWNER + i) === currentIdentity().pid
  ) {
    Atomics.store(handle.ends, CLOSED + i, 1);
    handle.out?.wake(PUTS); // a peer parked in recv sees EOF now
    handle.in?.wake(PUTS);
  }
}

/**
 * An end dropped without `close()` closes when it is garbage-collected, as
 * a Python connection closes its handle when collected: a peer waiting on
 * it then sees EOF instead of waiting forever.
 */
const forgotten = new FinalizationRegistry<EndHandle>((handle) => {
  closeEnd(handle);
  const key = endKey(handle.ends.buffer as SharedArrayBuffer, handle.index);
  if (revived.get(key)?.deref() === undefined) revived.delete(key);
});

function checkTransfer(options: SendOptions | undefined): ArrayBuffer[] {
  if (options === undefined) return [];
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `send() expected an options object such as { transfer }, received ${
        describe(options)
      }`,
    );
  }
  const list = options.transfer ?? [];
  if (!Array.isArray(list)) {
    throw new TypeError(
      `send() expected options.transfer to be an array of ArrayBuffers, received ${
        describe(list)
      }`,
    );
  }
  return list.map((item, i) => {
    const buffer = ArrayBuffer.isView(item) ? item.buffer : item;
    if (!(buffer instanceof ArrayBuffer) || buffer.detached) {
      throw new TypeError(
        `send() expected options.transfer[${i}] to be an ArrayBuffer or a typed array over one (not detached), received ${
          describe(item)
        }`,
      );
    }
    return buffer;
  });
}

function intoTarget(buffer: unknown, offset: unknown): Uint8Array {
  const bytes = bytesOf(buffer, "recvBytesInto()");
  if (
    typeof offset !== "number" || !Number.isInteger(offset) || offset < 0 ||
    offset > bytes.length
  ) {
    throw new RangeError(
      `recvBytesInto() expected offset to be an integer from 0 to ${bytes.length}, received ${
        describe(offset)
      }`,
    );
  }
  return bytes;
}

function copyInto(
  message: Uint8Array,
  target: Uint8Array,
  offset: number,
): number {
  if (message.length > target.length - offset) {
    throw Object.assign(
      new BufferTooShort(
        `the message has ${message.length} bytes, but the buffer has room for ${
          target.length - offset
        } after offset ${offset}: the message is in this error's bytes field`,
      ),
      { bytes: message },
    );
  }
  target.set(message, offset);
  return message.length;
}

function bytesOf(buffer: unknown, method = "sendBytes()"): Uint8Array {
  if (buffer instanceof ArrayBuffer || buffer instanceof SharedArrayBuffer) {
    return new Uint8Array(buffer);
  }
  if (ArrayBuffer.isView(buffer)) {
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  throw new TypeError(
    `${method} expected an ArrayBuffer or a typed array, received ${
      describe(buffer)
    }`,
  );
}

/**
 * Returns a pair of connected ends (Python's `multiprocessing.Pipe`). With
 * `duplex` (the default) both ends send and receive; with `duplex = false`
 * the first end only receives and the second only sends.
 *
 * @example One-way: the second end sends, the first receives
 * ```ts
 * import { Pipe } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const [reader, writer] = Pipe(false);
 * writer.send([1, "two", { three: 3 }]);
 * writer.close();
 * assert.deepEqual(await reader.recv(), [1, "two", { three: 3 }]);
 * await assert.rejects(reader.recv()); // EOFError: the writer is closed
 * ```
 */
export function Pipe<T = any>(duplex = true): [Connection<T>, Connection<T>] {
  if (typeof duplex !== "boolean") {
    throw new TypeError(
      `Pipe() expected duplex to be a boolean, received ${describe(duplex)}`,
    );
  }
  const ends = new SharedArrayBuffer(CELLS * 4);
  crypto.getRandomValues(new Int32Array(ends, ID * 4, 2)); // names the pipe
  const forward = new Mailbox().state; // end 0 → end 1
  const backward = duplex ? new Mailbox().state : null; // end 1 → end 0
  const channel = new MessageChannel();
  reviving = duplex
    ? { ends, index: 0, in: backward, out: forward, port: channel.port1 }
    : { ends, index: 0, in: forward, out: null, port: channel.port1 };
  const first = new Connection<T>();
  reviving = duplex
    ? { ends, index: 1, in: forward, out: backward, port: channel.port2 }
    : { ends, index: 1, in: null, out: forward, port: channel.port2 };
  const second = new Connection<T>();
  return [first, second];
}
