// INTERIM: the Connection methods over a SocketTransport, until
// connection.ts is written over a transport seam (branch `mailbox`); then
// accept() and Client() return a real Connection and this file goes.

import { decode, encode, Writer } from "../core/codec.ts";
import { FORMAT_TAGS, FORMAT_V8 } from "../core/_message.ts";
import { waitOf } from "../core/wait.ts";
import { BufferTooShort, ProcessError } from "../errors.ts";
import type { SocketTransport } from "./_socket_transport.ts";

const scratch = new Writer();

/** Names the path of the first part of `value` that needs a sidecar. */
export function sidecarPath(
  value: unknown,
  path: string,
  seen = new Set<unknown>(),
): string {
  if (typeof value !== "object" || value === null || seen.has(value)) {
    return path;
  }
  seen.add(value);
  const parts: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [`${path}[${i}]`, v])
    : value instanceof Map
    ? [...value].map(([k, v], i) => [`${path}.get(${describeKey(k, i)})`, v])
    : value instanceof Set
    ? [...value].map((v, i) => [`${path} (item ${i} of the Set)`, v])
    : Object.getPrototypeOf(value) === Object.prototype ||
        Object.getPrototypeOf(value) === null
    ? Object.entries(value).map(([k, v]) => [`${path}.${k}`, v])
    : [];
  for (const [at, part] of parts) {
    if (encode(part, scratch, { path: at }) !== undefined) {
      return sidecarPath(part, at, seen);
    }
  }
  return path;
}

function describeKey(key: unknown, index: number): string {
  return typeof key === "string"
    ? JSON.stringify(key)
    : typeof key === "number"
    ? String(key)
    : `key ${index}`;
}

/** A Connection over a socket (interim: see the file's head). */
export class SocketConnection<T = unknown> {
  readonly #transport: SocketTransport;
  #closed = false;

  constructor(transport: SocketTransport) {
    this.#transport = transport;
  }

  get closed(): boolean {
    return this.#closed;
  }
  get readable(): boolean {
    return true;
  }
  get writable(): boolean {
    return true;
  }

  send(obj: T, options?: { transfer?: (ArrayBuffer | ArrayBufferView)[] }) {
    this.#checkOpen("send");
    const transfer = (options?.transfer ?? []).map((b) =>
      ArrayBuffer.isView(b) ? b.buffer as ArrayBuffer : b
    );
    const out = new Writer();
    if (encode(obj, out, { path: "obj" }) !== undefined) {
      throw new TypeError(
        `Cannot send ${
          sidecarPath(obj, "obj")
        } over a socket as it holds shared memory or a port (a SharedArrayBuffer, a MessagePort, or an object holding one, such as a Lock or a Queue), which cannot leave this program: send plain data`,
      );
    }
    this.#transport.sendFrame(out.written());
    for (const buffer of transfer) buffer.transfer();
  }

  sendBytes(buffer: ArrayBuffer | ArrayBufferView, offset = 0, size?: number) {
    this.#checkOpen("sendBytes");
    const bytes = ArrayBuffer.isView(buffer)
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      : new Uint8Array(buffer);
    const n = size ?? bytes.length - offset;
    this.#transport.sendFrame(bytes.subarray(offset, offset + n));
  }

  recv(): Promise<T> {
    try {
      this.#checkOpen("recv");
      return this.#transport.recvFrame(
        undefined,
        undefined,
        (frame) => decode(frame) as T,
        (frame) => checkValueFrame(frame, this.#transport.peer),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  recvBytes(): Promise<Uint8Array> {
    try {
      this.#checkOpen("recvBytes");
      return this.#transport.recvFrame();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async recvBytesInto(
    buffer: ArrayBuffer | ArrayBufferView,
    offset = 0,
  ): Promise<number> {
    const target = ArrayBuffer.isView(buffer)
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      : new Uint8Array(buffer);
    const message = await this.recvBytes();
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

  poll(timeoutMs = 0): Promise<boolean> {
    try {
      this.#checkOpen("poll");
      return this.#transport.poll(waitOf("poll()", timeoutMs));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  recvSync(): T {
    throw noSync("recvSync");
  }
  pollSync(): boolean {
    throw noSync("pollSync");
  }
  recvBytesSync(): Uint8Array {
    throw noSync("recvBytesSync");
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.close().catch(() => {});
  }

  /** Closes, and resolves once what was sent is written (for tests). */
  closeAndFlush(): Promise<void> {
    this.#closed = true;
    return this.#transport.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #checkOpen(method: string): void {
    if (this.#closed) {
      throw new ProcessError(`Cannot ${method}(): this end is closed`);
    }
  }
}

function noSync(method: string): ProcessError {
  return new ProcessError(
    `Cannot ${method}() on a socket connection: a socket has no synchronous receive in Deno; await the promise form (${
      method.replace("Sync", "")
    }()) instead`,
  );
}

/** Refuses a frame that send() did not write, leaving it for recvBytes(). */
function checkValueFrame(frame: Uint8Array, peer: string): void {
  if (frame[0] === FORMAT_TAGS || frame[0] === FORMAT_V8) return;
  throw new ProcessError(
    `The next message from ${peer} is not one this module's send() wrote (its first byte is ${
      frame[0] ?? "missing: it is empty"
    }): it was sent with sendBytes(), or by a Python peer's send(), which pickles; receive it with recvBytes()`,
  );
}
