/**
 * `Connection`: one end of a Pipe (Python's
 * `multiprocessing.connection.Connection`), written once over a transport
 * (see _transport.ts): it encodes with the codec what it sends and decodes
 * what arrives; the transport moves the bytes.
 *
 * @module
 */

import { decode, encode, encodeBytes, type Sidecar } from "../core/codec.ts";
import { Scratch } from "../mailbox/_scratch.ts";
import { registerReducer } from "../core/reduction.ts";
import { describe } from "../core/describe.ts";
import { waitOf, type WaitOptions } from "../core/wait.ts";
import {
  BufferTooShort,
  EOFError,
  ProcessError,
  TimeoutError,
} from "../errors.ts";
import {
  EOF,
  NOT_BYTES,
  reviveTransport,
  TIMED_OUT,
  Transport,
  type TransportState,
} from "./_transport.ts";

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

/** Messages are encoded here, then handed to the transport at once. */
const outboxes = new Scratch();

/**
 * One end of a {@linkcode Pipe} (Python's `multiprocessing.connection.
 * Connection`). `send` never blocks (a Pipe grows); `recv` is a promise,
 * with `recvSync` for a process that may block its own thread.
 *
 * `close()` closes only this process's copy of the end, as in Python: the
 * other end's `recv` rejects with `EOFError` once it has drained what was
 * sent and no process holds a copy of this end any more (each closed it or
 * ended). Give an end to a process as an argument and close it here (or
 * close, in the child, the end it does not use): the usual Python idiom.
 *
 * @example A round trip with a process
 * ```ts
 * import { Pipe, Process } from "@seed/multiprocessing";
 * import { echo } from "../../tests/connection/_fixtures/targets.ts";
 * import assert from "node:assert/strict";
 *
 * const [here, there] = Pipe();
 * const p = new Process({ target: echo, args: [there] });
 * p.start();
 * there.close(); // the child has its own copy
 * here.send({ hello: "world" });
 * assert.deepEqual(await here.recv(), { hello: "world" });
 * here.close(); // the echo ends at EOF
 * await p.join();
 * ```
 */
export class Connection<T = unknown> {
  readonly #transport: Transport;

  /**
   * Connections are made by {@linkcode Pipe}, `Listener.accept()` and
   * `Client()`; the constructor takes their internal transport.
   */
  constructor(transport: Transport) {
    if (!(transport instanceof Transport)) {
      throw new TypeError(
        "Cannot construct a Connection directly: call Pipe() to get a pair of connected ends",
      );
    }
    this.#transport = transport;
  }

  /** Whether `close()` was called on this copy of the end. */
  get closed(): boolean {
    return this.#transport.closed;
  }

  /** Whether this end can receive. */
  get readable(): boolean {
    return this.#transport.readable;
  }

  /** Whether this end can send. */
  get writable(): boolean {
    return this.#transport.writable;
  }

  /**
   * Sends `obj` to the other end; on a Pipe it is in shared memory when
   * `send` returns. On a socket connection (from `Listener.accept()` or
   * `Client()`) it is queued and written in order in the background: `send`
   * never waits, and a write that failed is thrown by the next `send` (or
   * by `close()`). Throws a `TypeError` naming the path of a value that
   * cannot cross (on a socket also a registered object such as a `Queue`,
   * whose state is this program's), and a `ProcessError` when no process
   * holds the other end any more (Python's `BrokenPipeError`).
   *
   * With `{ transfer: [buffer] }` the listed buffers move instead of being
   * copied (a 64 MiB array costs what a `postMessage` transfer costs).
   */
  send(obj: T, options?: SendOptions): void | Promise<void> {
    const transport = this.#writer("send");
    const transfer = checkTransfer(options);
    const outbox = outboxes.borrow();
    try {
      let sidecar: Sidecar | undefined;
      if (transport.carriesSidecars()) {
        sidecar = encode(obj, outbox, { path: "obj", transfer });
      } else {
        // Transferred buffers are copied, then detached all the same, so
        // the sender sees what a move would leave.
        encode(obj, outbox, {
          path: "obj",
          bytesOnly: transport.name,
          portable: transport.leavesProgram !== undefined,
        });
        for (const buffer of transfer) buffer.transfer();
      }
      return transport.send(outbox.written(), sidecar);
    } finally {
      outboxes.giveBack(outbox);
    }
  }

  /**
   * Sends the bytes of `buffer` (or `size` bytes from byte `offset`) as one
   * message, for {@linkcode Connection.recvBytes} at the other end.
   */
  sendBytes(
    buffer: ArrayBuffer | ArrayBufferView,
    offset = 0,
    size?: number,
  ): void | Promise<void> {
    const transport = this.#writer("sendBytes");
    const bytes = bytesOf(buffer, "sendBytes", "buffer");
    if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length) {
      throw new RangeError(
        `Cannot sendBytes as 'offset' must be an integer from 0 to ${bytes.length}: current value is ${
          describe(offset)
        }`,
      );
    }
    const n = size ?? bytes.length - offset;
    if (!Number.isInteger(n) || n < 0 || offset + n > bytes.length) {
      throw new RangeError(
        `Cannot sendBytes as 'size' must be an integer from 0 to ${
          bytes.length - offset
        }: current value is ${describe(size)}`,
      );
    }
    const outbox = outboxes.borrow();
    try {
      encodeBytes(bytes.subarray(offset, offset + n), outbox);
      return transport.send(outbox.written());
    } finally {
      outboxes.giveBack(outbox);
    }
  }

  /**
   * Resolves to the next message. Rejects with `EOFError` once none is
   * left and no process holds the other end; with `TimeoutError` after
   * `options.timeout` ms; with the signal's reason when it aborts.
   */
  async recv(options?: WaitOptions): Promise<T> {
    const transport = this.#reader("recv");
    const result = await transport.receive(
      waitOf("recv", options),
      (bytes, sidecar) => decode(bytes, sidecar, transport.leavesProgram) as T,
      false,
    );
    return this.#result(result, "recv", options);
  }

  /** The blocking form of {@linkcode Connection.recv}: blocks this thread. */
  recvSync(options?: Omit<WaitOptions, "signal">): T {
    const transport = this.#reader("recvSync");
    const result = this.#blocking(transport, "recvSync").receiveSync!(
      waitOf("recvSync", options).deadline,
      (bytes, sidecar) => decode(bytes, sidecar, transport.leavesProgram) as T,
      false,
    );
    return this.#result(result, "recvSync", options);
  }

  /**
   * Resolves to the bytes of the next message, which must have been sent
   * with {@linkcode Connection.sendBytes} (else it stays in place and a
   * `ProcessError` says to `recv()` it). Ends as `recv` does.
   */
  async recvBytes(options?: WaitOptions): Promise<Uint8Array> {
    const transport = this.#reader("recvBytes");
    const result = await transport.receive(
      waitOf("recvBytes", options),
      (bytes) => bytes.slice(1),
      true,
    );
    return this.#result(result, "recvBytes", options);
  }

  /** The blocking form of {@linkcode Connection.recvBytes}. */
  recvBytesSync(options?: Omit<WaitOptions, "signal">): Uint8Array {
    const transport = this.#reader("recvBytesSync");
    const result = this.#blocking(transport, "recvBytesSync").receiveSync!(
      waitOf("recvBytesSync", options).deadline,
      (bytes) => bytes.slice(1),
      true,
    );
    return this.#result(result, "recvBytesSync", options);
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
   * nothing more can come (`recv` would reject with `EOFError`). Waits up
   * to `timeout` ms — 0 by default, as in Python: it answers at once;
   * `Infinity` waits without limit — or takes `{ timeout, signal }`.
   */
  poll(timeout: number | WaitOptions = 0): Promise<boolean> {
    try {
      const transport = this.#reader("poll");
      return transport.poll(waitOf("poll", timeout));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The blocking form of {@linkcode Connection.poll}. */
  pollSync(timeout: number | Omit<WaitOptions, "signal"> = 0): boolean {
    const transport = this.#reader("pollSync");
    return this.#blocking(transport, "pollSync").pollSync!(
      waitOf("pollSync", timeout).deadline,
    );
  }

  /**
   * Closes this process's copy of the end (other processes' copies stay
   * open). The other end's `recv` rejects with `EOFError` once it has
   * drained what was sent and every copy of this end is closed or its
   * process ended. Idempotent. A socket connection writes what is still
   * queued, then closes its socket; it throws a write failure that no
   * `send` reported yet.
   */
  close(): void {
    this.#transport.close();
  }

  /** Closes the end (`using conn = ...`). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `Connection { readable, writable, closed }` for `console.log`. */
  [Symbol.for("Deno.customInspect")](): string {
    const parts = [
      ...(this.readable ? ["readable"] : []),
      ...(this.writable ? ["writable"] : []),
      ...(this.closed ? ["closed"] : []),
    ];
    return `Connection { ${parts.join(", ")} }`;
  }

  #result<R>(
    result: R | typeof EOF | typeof TIMED_OUT | typeof NOT_BYTES,
    method: string,
    options: WaitOptions | undefined,
  ): R {
    if (result === EOF) {
      throw new EOFError(
        `Cannot ${method}(): the other end is closed in every process (or its processes ended) and nothing is left to receive`,
      );
    }
    if (result === TIMED_OUT) {
      throw new TimeoutError(
        `Cannot ${method}(): nothing arrived within ${options?.timeout} ms`,
      );
    }
    if (result === NOT_BYTES) {
      throw new ProcessError(
        `Cannot ${method}(): the next message was sent with send(), not sendBytes(): receive it with recv()`,
      );
    }
    return result;
  }

  #blocking(transport: Transport, method: string): Transport {
    if (transport.receiveSync === undefined) {
      throw new ProcessError(
        `Cannot ${method}(): ${transport.name} cannot block this thread: await the async form instead`,
      );
    }
    return transport;
  }

  #reader(method: string): Transport {
    const transport = this.#transport;
    if (transport.closed) {
      throw new ProcessError(`Cannot ${method}(): this end is closed`);
    }
    if (!transport.readable) {
      throw new ProcessError(
        `Cannot ${method}(): this end of a one-way Pipe only sends (the first end of Pipe(false) receives)`,
      );
    }
    return transport;
  }

  #writer(method: string): Transport {
    const transport = this.#transport;
    if (transport.closed) {
      throw new ProcessError(`Cannot ${method}(): this end is closed`);
    }
    if (!transport.writable) {
      throw new ProcessError(
        `Cannot ${method}(): this end of a one-way Pipe only receives (the second end of Pipe(false) sends)`,
      );
    }
    transport.checkPeer(method);
    return transport;
  }

  static {
    registerReducer<Connection<unknown>, TransportState>({
      name: "Connection",
      type: Connection,
      reduce: (c, context) => c.#transport.share(context),
      revive: (state) => new Connection(reviveTransport(state)),
    });
  }
}

function checkTransfer(options: SendOptions | undefined): ArrayBuffer[] {
  if (options === undefined) return [];
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot send as its options must be an object such as { transfer }: current value is ${
        describe(options)
      }`,
    );
  }
  const list = options.transfer ?? [];
  if (!Array.isArray(list)) {
    throw new TypeError(
      `Cannot send as 'options.transfer' must be an array of ArrayBuffers: current value is ${
        describe(list)
      }`,
    );
  }
  return list.map((item, i) => {
    const buffer = ArrayBuffer.isView(item) ? item.buffer : item;
    if (!(buffer instanceof ArrayBuffer) || buffer.detached) {
      throw new TypeError(
        `Cannot send as 'options.transfer[${i}]' must be an ArrayBuffer or a typed array over one (not detached): current value is ${
          describe(item)
        }`,
      );
    }
    return buffer;
  });
}

function intoTarget(buffer: unknown, offset: unknown): Uint8Array {
  const bytes = bytesOf(buffer, "recvBytesInto", "buffer");
  if (
    typeof offset !== "number" || !Number.isInteger(offset) || offset < 0 ||
    offset > bytes.length
  ) {
    throw new RangeError(
      `Cannot recvBytesInto as 'offset' must be an integer from 0 to ${bytes.length}: current value is ${
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

function bytesOf(buffer: unknown, method: string, name: string): Uint8Array {
  if (buffer instanceof ArrayBuffer || buffer instanceof SharedArrayBuffer) {
    return new Uint8Array(buffer);
  }
  if (ArrayBuffer.isView(buffer)) {
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  throw new TypeError(
    `Cannot ${method} as '${name}' must be an ArrayBuffer or a typed array: current value is ${
      describe(buffer)
    }`,
  );
}
