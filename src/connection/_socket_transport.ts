// The transport of a Connection over a socket (TCP, TLS or Unix), in
// Python's framing: what a Listener's accept() and Client() put under a
// Connection (see _transport.ts for the seam).
//
// On the wire a message is what Python writes: a `sendBytes` message is its
// raw bytes (the codec's FORMAT_BYTES byte is left out), a `send` message
// is the codec's bytes (starting with its format byte, 1 or 2). As in
// Python, nothing else tells them apart: `recvBytes` takes any message;
// `recv` refuses, leaving it in place, one that does not start as the
// codec's messages do.
//
// Sockets in Deno have no synchronous write or read, so:
// - `send` queues the frame and returns; frames go out in order, the ones
//   queued while a write is in flight batched into the next write. A write
//   that fails (the peer reset the connection) is thrown by the next send,
//   or by close() when no send came after it.
// - Receiving pulls: a read is in flight only while somebody waits for a
//   frame (receive, poll), one at a time, into the FrameReader's buffer. A
//   wait that timed out leaves its read in flight for the next receive; the
//   socket is unref'd whenever nobody waits, so an idle connection never
//   keeps the program alive.
// - No synchronous receive: `receiveSync`/`pollSync` are left out, so the
//   Connection refuses `recvSync` and `pollSync` with a clear error.

import {
  FORMAT_BYTES,
  isValueMessage,
  type Sidecar,
  Writer,
} from "../core/codec.ts";
import type { ReduceContext } from "../core/reduction.ts";
import { type Wait, within } from "../core/wait.ts";
import { EOFError, ProcessError } from "../errors.ts";
import { FrameReader, headerLength, writeHeader } from "./_framing.ts";
import type { FrameChannel } from "./_auth.ts";
import {
  type Accept,
  type Ending,
  TIMED_OUT,
  Transport,
  type TransportState,
} from "./_transport.ts";

/** A queue buffer grown past this is dropped once written. */
const MAX_KEPT = 4 * 1024 * 1024;
const LIMIT_NAME = "maxMessageSize";

/**
 * A connection dropped without `close()` closes its socket when collected,
 * as a Python connection closes its handle: the peer then sees EOF instead
 * of waiting forever. (While a read or a write is in flight, the op holds
 * the transport: it is not collected.)
 */
const dropped = new FinalizationRegistry<Deno.Conn>((conn) => {
  try {
    conn.close();
  } catch { /* closed already */ }
});

/** Frames over one socket. */
export class SocketTransport extends Transport implements FrameChannel {
  readonly name: string;
  override readonly leavesProgram: string;
  readonly readable = true;
  readonly writable = true;
  readonly #conn: Deno.Conn;
  /** Names the peer in errors: "127.0.0.1:8000", "/tmp/app.sock". */
  readonly #peer: string;
  /** The longest message either side may send (`maxMessageSize`). */
  readonly #limit: number;

  readonly #reader = new FrameReader();
  #reading: Promise<void> | undefined;
  #ended = false;
  #readError: unknown;
  #waiting = 0;

  #queued = new Writer();
  #spare = new Writer();
  #writing = false;
  #flushing: Promise<void> = Promise.resolve();
  #writeError: unknown;
  /** Whether a send (or close) has thrown `#writeError` already. */
  #reported = false;

  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(conn: Deno.Conn, peer: string, maxMessageSize: number) {
    super();
    this.#conn = conn;
    this.#peer = peer;
    this.#limit = maxMessageSize;
    this.name = `a socket connection with ${peer}`;
    this.leavesProgram = this.name;
    conn.unref();
    dropped.register(this, conn, this);
  }

  /** Whether {@linkcode SocketTransport.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** A socket carries bytes only: the codec refuses shared objects. */
  carriesSidecars(): boolean {
    return false;
  }

  /** Throws the broken-pipe error once a write failed or the peer closed. */
  checkPeer(method: string): void {
    this.#checkOpen(method);
    if (this.#writeError !== undefined) {
      this.#reported = true;
      throw this.#brokenError(method);
    }
    if (this.#ended) {
      throw new ProcessError(
        `Cannot ${method}(): broken pipe, ${this.#peer} closed the connection`,
        { cause: this.#readError },
      );
    }
  }

  /**
   * Queues one message: a `sendBytes` message as its raw bytes, anything
   * else as the codec wrote it. Never waits.
   */
  send(bytes: Uint8Array, _sidecar?: Sidecar): void {
    this.sendFrame(bytes[0] === FORMAT_BYTES ? bytes.subarray(1) : bytes);
  }

  /**
   * Queues one frame (the handshake's, or a message). Throws a
   * `ProcessError` when the connection is closed or an earlier write
   * failed, and a `RangeError` for a payload over `maxMessageSize`.
   */
  sendFrame(payload: Uint8Array): void {
    this.checkPeer("send");
    const n = payload.length;
    if (n > this.#limit) {
      throw new RangeError(
        `Cannot send a message of ${n} bytes as it is over 'maxMessageSize' (${this.#limit} bytes): raise maxMessageSize on both sides, or send it in parts`,
      );
    }
    const out = this.#queued;
    out.reserve(headerLength(n) + n);
    out.length += writeHeader(out.view, out.length, n);
    out.bytes.set(payload, out.length);
    out.length += n;
    if (!this.#writing) {
      this.#writing = true;
      this.#flushing = this.#flush();
    }
  }

  /**
   * Waits for the next message and hands it to `accept` (see the seam).
   * With `onlyBytes` any message is taken as bytes (as Python's
   * `recv_bytes` takes a pickled one); without, a message that does not
   * start as the codec's do is refused with a `ProcessError` and stays.
   * Rejects with `EOFError` when the peer closed the connection between
   * messages, and with a `ProcessError` (closing the connection) when it
   * closed in the middle of one, or sent what is not a frame or too long a
   * frame.
   */
  receive<R>(
    wait: Wait,
    accept: Accept<R>,
    onlyBytes: boolean,
  ): Promise<R | Ending> {
    return this.#receive(wait, (payload) => {
      if (onlyBytes) {
        // The byte before the payload is the header's, read already: it
        // becomes the codec's FORMAT_BYTES, so no copy is made.
        const message = new Uint8Array(
          payload.buffer,
          payload.byteOffset - 1,
          payload.length + 1,
        );
        message[0] = FORMAT_BYTES;
        return accept(message);
      }
      return accept(payload);
    }, onlyBytes ? undefined : (payload) => this.#checkValue(payload));
  }

  /**
   * The next frame, copied (the handshake's). Rejects as
   * {@linkcode SocketTransport.receive} does, refusing a frame over
   * `limit` bytes (which `limitName` names).
   */
  async recvFrame(limit: number, limitName: string): Promise<Uint8Array> {
    const frame = await this.#receive(
      { deadline: Infinity },
      (payload) => payload.slice(),
      undefined,
      limit,
      limitName,
    );
    return frame as Uint8Array;
  }

  /**
   * Resolves to whether a receive would not wait: a whole frame is here,
   * or the peer is gone. Waits until `wait.deadline` for it.
   */
  async poll(wait: Wait): Promise<boolean> {
    this.#checkOpen("poll");
    if (this.#ready()) return true;
    if (wait.deadline <= performance.now()) {
      wait.signal?.throwIfAborted();
      return false;
    }
    this.#hold(1);
    const waiter = { waiting: true };
    try {
      return await within(this.#untilReady(waiter), wait, () => false);
    } finally {
      waiter.waiting = false; // a read in flight stays, for the next receive
      this.#hold(-1);
    }
  }

  /**
   * Closes the connection once what was queued is written (in the
   * background: the program stays alive until then). Throws the
   * `ProcessError` of a write that failed, if no send threw it already.
   */
  close(): void {
    this.shutdown().catch(() => {});
    if (this.#writeError !== undefined && !this.#reported) {
      this.#reported = true;
      throw this.#brokenError("close");
    }
  }

  /**
   * Closes as {@linkcode SocketTransport.close} does, and resolves once
   * what was queued is written and the socket is closed (rejecting with
   * the error that stopped a write).
   */
  shutdown(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    dropped.unregister(this);
    this.#closing = (async () => {
      await this.#flushing;
      try {
        this.#conn.close();
      } catch { /* already closed by the runtime */ }
      await this.#reading;
      if (this.#writeError !== undefined) throw this.#brokenError("close");
    })();
    return this.#closing;
  }

  /** A socket belongs to this program: it cannot go to a process. */
  share(context: ReduceContext): TransportState {
    throw new TypeError(
      `Cannot send ${context.path}: it is ${this.name}, which cannot be given to a process (a socket belongs to the thread that opened it): call Client() in that process instead`,
    );
  }

  async #receive<R>(
    wait: Wait,
    consume: (payload: Uint8Array) => R,
    check: ((payload: Uint8Array) => void) | undefined,
    limit = this.#limit,
    limitName = LIMIT_NAME,
  ): Promise<R | Ending> {
    this.#checkOpen("receive");
    let holding = false;
    try {
      while (true) {
        let frame: Uint8Array | undefined;
        try {
          frame = this.#reader.peek(limit, limitName);
        } catch (error) {
          this.shutdown().catch(() => {});
          throw error;
        }
        if (frame !== undefined) {
          check?.(frame);
          this.#reader.skip();
          return consume(frame);
        }
        if (this.#ended) throw this.#endError();
        if (wait.deadline <= performance.now()) {
          wait.signal?.throwIfAborted();
          return TIMED_OUT;
        }
        if (!holding) {
          holding = true;
          this.#hold(1);
        }
        const filled = await within(this.#fill(), wait, () => TIMED_OUT);
        if (filled === TIMED_OUT) return TIMED_OUT;
        this.#checkOpen("receive");
      }
    } finally {
      if (holding) this.#hold(-1);
    }
  }

  /** Refuses, for recv(), a frame that no send() of this module wrote. */
  #checkValue(payload: Uint8Array): void {
    if (isValueMessage(payload)) return;
    throw new ProcessError(
      `Cannot recv(): the next message from ${this.#peer} is not one this module's send() wrote (${
        payload.length === 0 ? "it is empty" : `its first byte is ${payload[0]}`
      }): it was sent with sendBytes(), or by a Python peer's send(), which pickles; receive it with recvBytes()`,
    );
  }

  async #untilReady(waiter: { waiting: boolean }): Promise<boolean> {
    while (!this.#ready()) {
      if (!waiter.waiting || this.#closed) return false;
      await this.#fill();
    }
    return true;
  }

  #ready(): boolean {
    return this.#ended || this.#reader.complete(this.#limit);
  }

  #fill(): Promise<void> {
    return this.#reading ??= this.#read();
  }

  async #read(): Promise<void> {
    try {
      const n = await this.#conn.read(this.#reader.room());
      if (n === null) this.#ended = true;
      else this.#reader.wrote(n);
    } catch (error) {
      this.#ended = true;
      // Closing this side interrupts the read: that is no error of the peer.
      if (!this.#closed) this.#readError = error;
    } finally {
      this.#reading = undefined;
    }
  }

  #endError(): Error {
    const cause = this.#readError;
    const why = cause ? ` (${(cause as Error).message})` : "";
    if (this.#reader.partial) {
      return new ProcessError(
        `The peer ${this.#peer} closed the connection in the middle of a message (${this.#reader.describePartial()} had arrived)${why}`,
        { cause },
      );
    }
    return new EOFError(
      `The peer ${this.#peer} closed the connection and nothing is left to receive${why}`,
      { cause },
    );
  }

  #brokenError(method: string): ProcessError {
    const error = this.#writeError as Error;
    return new ProcessError(
      `Cannot ${method}(): broken pipe, a message queued for ${this.#peer} could not be written (${error?.message}): the connection is broken`,
      { cause: error },
    );
  }

  /** Counts waiters: the socket keeps the program alive only while any wait. */
  #hold(delta: number): void {
    this.#waiting += delta;
    if (this.#closed) return;
    if (delta > 0 && this.#waiting === 1) this.#conn.ref();
    else if (delta < 0 && this.#waiting === 0) this.#conn.unref();
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queued.length > 0) {
        const chunk = this.#queued;
        this.#queued = this.#spare;
        this.#spare = chunk;
        const bytes = chunk.written();
        let written = 0;
        while (written < bytes.length) {
          written += await this.#conn.write(bytes.subarray(written));
        }
        chunk.length = 0;
        if (chunk.bytes.length > MAX_KEPT) this.#spare = new Writer();
      }
    } catch (error) {
      this.#writeError = error;
      this.#queued.length = 0;
      this.#spare.length = 0;
    } finally {
      this.#writing = false;
    }
  }

  #checkOpen(method: string): void {
    if (this.#closed) {
      throw new ProcessError(`Cannot ${method}(): this end is closed`);
    }
  }
}
