// Python's framing of `multiprocessing.connection` over a byte stream
// (Connection._send_bytes/_recv_bytes in CPython's connection.py): each
// message is a 4-byte big-endian signed length and the bytes; a message
// longer than 0x7fffffff bytes has the length -1 and then an 8-byte
// big-endian unsigned length. Being the same on the wire is what lets a
// Python program at the other end `send_bytes`/`recv_bytes` with us.

import { ProcessError } from "../errors.ts";

/** The longest payload the 4-byte header can announce. */
export const SHORT_FRAME_LIMIT = 0x7fffffff;

/** Bytes the header of an `n`-byte frame takes: 4, or 12 past 2 GiB. */
export function headerLength(n: number): number {
  return n > SHORT_FRAME_LIMIT ? 12 : 4;
}

/** Writes the header of an `n`-byte frame at `offset`; returns its length. */
export function writeHeader(view: DataView, offset: number, n: number): number {
  if (n <= SHORT_FRAME_LIMIT) {
    view.setInt32(offset, n);
    return 4;
  }
  view.setInt32(offset, -1);
  view.setBigUint64(offset + 4, BigInt(n));
  return 12;
}

/**
 * The buffer's first size: small, as a connection costs its allocation
 * (64 KiB took ≈ 30 µs); it doubles for frames that do not fit.
 */
const FIRST_SIZE = 16 * 1024;
/** The least free room a read gets. */
const MIN_FREE = 4 * 1024;
/** A buffer grown past this is dropped once empty. */
const MAX_KEPT = 4 * 1024 * 1024;

/**
 * Collects the bytes read from a stream and cuts them into frames. Reads go
 * straight into {@linkcode FrameReader.room}, so a small message costs no
 * copy before decoding; room for a big frame grows with the bytes that
 * actually arrived (doubling), never with what a header announces, so a
 * peer that lies about a length cannot make it allocate.
 */
export class FrameReader {
  #buffer = new Uint8Array(FIRST_SIZE);
  #view = new DataView(this.#buffer.buffer);
  #start = 0;
  #end = 0;
  /** Where the frame the last peek returned ends. */
  #next = 0;

  /** Whether some bytes of an incomplete frame are buffered. */
  get partial(): boolean {
    return this.#end > this.#start;
  }

  /** What the incomplete frame is, for an error: "7 of 100 bytes". */
  describePartial(): string {
    const frame = this.#frame();
    const held = this.#end - this.#start;
    return frame === undefined
      ? `${held} bytes of a frame header`
      : `${held - frame.header} of its ${frame.size} bytes`;
  }

  /**
   * Where the next read may write: free space after the buffered bytes,
   * made by moving them to the front or growing the buffer. Call it only
   * when no read is in flight (a read writes into what it returned).
   */
  room(): Uint8Array {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      // A big frame's room is let go once it has been received.
      if (this.#buffer.length > MAX_KEPT) this.#reset(FIRST_SIZE);
    }
    const free = this.#buffer.length - this.#end;
    if (free >= MIN_FREE) return this.#buffer.subarray(this.#end);
    const held = this.#end - this.#start;
    let size = this.#buffer.length;
    while (size - held < MIN_FREE || size < held * 2) size *= 2;
    if (size === this.#buffer.length) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    } else {
      const old = this.#buffer.subarray(this.#start, this.#end);
      this.#reset(size);
      this.#buffer.set(old);
    }
    this.#start = 0;
    this.#end = held;
    return this.#buffer.subarray(held);
  }

  #reset(size: number): void {
    this.#buffer = new Uint8Array(size);
    this.#view = new DataView(this.#buffer.buffer);
  }

  /** Records that a read wrote `n` bytes into the last {@linkcode room}. */
  wrote(n: number): void {
    this.#end += n;
  }

  /**
   * Whether {@linkcode FrameReader.next} would not wait for more bytes: a
   * whole frame is buffered, or a header it would refuse.
   */
  complete(limit: number): boolean {
    const frame = this.#frame();
    return frame !== undefined &&
      (frame.size > limit || frame.size < 0 ||
        this.#end - this.#start >= frame.header + frame.size);
  }

  /**
   * The next complete frame's payload, as a view into the buffer that is
   * valid until the next {@linkcode FrameReader.room}; `undefined` while
   * incomplete. It stays next until {@linkcode FrameReader.skip}. Throws a
   * `ProcessError` for a header that no Python program writes or a length
   * over `limit`, which `limitName` names in the error (the stream cannot
   * be resynchronized after either: the caller closes it).
   */
  peek(limit: number, limitName: string): Uint8Array | undefined {
    const frame = this.#frame();
    if (frame === undefined) return undefined;
    const { header, size } = frame;
    if (size < 0) {
      throw new ProcessError(
        `The peer sent a frame header announcing ${size} bytes, which no multiprocessing connection writes: it does not speak Python's multiprocessing.connection framing (the connection is closed)`,
      );
    }
    if (size > limit) {
      throw new ProcessError(
        `The peer sent a message of ${size} bytes, over the limit of ${limit} bytes (${limitName}): the connection is closed`,
      );
    }
    if (this.#end - this.#start < header + size) return undefined;
    const from = this.#start + header;
    this.#next = from + size;
    return this.#buffer.subarray(from, this.#next);
  }

  /** Moves past the frame the last {@linkcode FrameReader.peek} returned. */
  skip(): void {
    this.#start = this.#next;
  }

  /** The buffered header's length and announced size, once it is there. */
  #frame(): { header: number; size: number } | undefined {
    const held = this.#end - this.#start;
    if (held < 4) return undefined;
    const size = this.#view.getInt32(this.#start);
    if (size !== -1) return { header: 4, size };
    if (held < 12) return undefined;
    const long = this.#view.getBigUint64(this.#start + 4);
    return {
      header: 12,
      size: long > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(long),
    };
  }
}
