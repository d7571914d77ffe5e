// A connection's bytes over a socket (TCP, TLS or Unix), in Python's
// framing: what a Listener's accept() and Client() put under a Connection.
//
// Sockets in Deno have no synchronous write or read, so:
// - `sendFrame` queues the frame and returns; frames go out in order, the
//   ones queued while a write is in flight batched into the next write. A
//   write that fails (the peer reset the connection) is kept and thrown by
//   the next call, and by close().
// - Receiving pulls: a read is in flight only while somebody waits for a
//   frame (recv, poll), one at a time, into the FrameReader's buffer. A
//   poll that timed out leaves its read in flight for the next receive;
//   the socket is unref'd whenever nobody waits, so an idle connection
//   never keeps the program alive.

import { Writer } from "../core/codec.ts";
import { type Wait, within } from "../core/wait.ts";
import { EOFError, ProcessError } from "../errors.ts";
import { FrameReader, headerLength, writeHeader } from "./_framing.ts";
import type { FrameChannel } from "./_auth.ts";

/** A queue buffer grown past this is dropped once written. */
const MAX_KEPT = 4 * 1024 * 1024;

/** Frames over one socket. */
export class SocketTransport implements FrameChannel {
  readonly #conn: Deno.Conn;
  /** Names the peer in errors: "127.0.0.1:8000", "/tmp/app.sock". */
  readonly peer: string;
  /** The longest message either side may send (`maxMessageSize`). */
  readonly maxMessageSize: number;

  readonly #reader = new FrameReader();
  #reading: Promise<void> | undefined;
  #ended = false;
  #readError: unknown;
  #waiting = 0;

  #queued = new Writer();
  #spare = new Writer();
  #writing = false;
  #flushing: Promise<void> | undefined;
  #writeError: unknown;

  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(conn: Deno.Conn, peer: string, maxMessageSize: number) {
    this.#conn = conn;
    this.peer = peer;
    this.maxMessageSize = maxMessageSize;
    conn.unref();
  }

  /** Whether {@linkcode SocketTransport.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues one frame. Throws a `ProcessError` when the connection is
   * closed or an earlier write failed, and a `RangeError` for a payload
   * over `maxMessageSize`.
   */
  sendFrame(payload: Uint8Array): void {
    this.#checkOpen("send");
    if (this.#writeError !== undefined) {
      throw new ProcessError(
        `Cannot send to ${this.peer}: an earlier send failed (${
          (this.#writeError as Error).message
        }): the connection is broken`,
        { cause: this.#writeError },
      );
    }
    const n = payload.length;
    if (n > this.maxMessageSize) {
      throw new RangeError(
        `Cannot send a message of ${n} bytes as it is over 'maxMessageSize' (${this.maxMessageSize} bytes): raise maxMessageSize on both sides, or send it in parts`,
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
   * The next frame, given to `consume` as a view that is valid only while
   * `consume` runs (so that no copy is made for it); when `check` throws
   * for it, the frame stays next and the call rejects. Rejects with
   * `EOFError` when the peer closed the connection between frames, and
   * with a `ProcessError` (closing the connection) when it closed in the
   * middle of one or sent what is not a frame or too long a frame.
   */
  async recvFrame<T = Uint8Array>(
    limit = this.maxMessageSize,
    limitName = "maxMessageSize",
    consume: (frame: Uint8Array) => T = (frame) => frame.slice() as T,
    check?: (frame: Uint8Array) => void,
  ): Promise<T> {
    this.#checkOpen("receive");
    this.#hold(1);
    try {
      while (true) {
        let frame: Uint8Array | undefined;
        try {
          frame = this.#reader.peek(limit, limitName);
        } catch (error) {
          this.close().catch(() => {});
          throw error;
        }
        if (frame !== undefined) {
          check?.(frame);
          this.#reader.skip();
          return consume(frame);
        }
        if (this.#ended) throw this.#endError();
        await this.#fill();
        this.#checkOpen("receive");
      }
    } finally {
      this.#hold(-1);
    }
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
   * Closes the connection once what was queued is written: resolves then,
   * or rejects with the error that stopped a queued write. Receives in
   * progress reject with a `ProcessError`.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#closing = (async () => {
      await this.#flushing;
      try {
        this.#conn.close();
      } catch { /* already closed by the runtime */ }
      await this.#reading;
      if (this.#writeError !== undefined) {
        throw new ProcessError(
          `Not everything sent to ${this.peer} could be written: ${
            (this.#writeError as Error).message
          }`,
          { cause: this.#writeError },
        );
      }
    })();
    return this.#closing;
  }

  async #untilReady(waiter: { waiting: boolean }): Promise<boolean> {
    while (!this.#ready()) {
      if (!waiter.waiting || this.#closed) return false;
      await this.#fill();
    }
    return true;
  }

  #ready(): boolean {
    return this.#ended || this.#reader.complete(this.maxMessageSize);
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
    if (this.#reader.partial) {
      return new ProcessError(
        `The peer ${this.peer} closed the connection in the middle of a message (${this.#reader.describePartial()} had arrived)${
          cause ? `: ${(cause as Error).message}` : ""
        }`,
        { cause },
      );
    }
    return new EOFError(
      `The peer ${this.peer} closed the connection and nothing is left to receive${
        cause ? ` (${(cause as Error).message})` : ""
      }`,
      { cause },
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

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new ProcessError(`Cannot ${action}: the connection is closed`);
    }
  }
}
