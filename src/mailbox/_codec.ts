// The mailbox codec: turns a message into bytes that a `SharedArrayBuffer`
// ring can carry, and back.
//
// Why our own codec: a structured clone or `node:v8` round trip of one small
// object costs 12–15 µs (shared/DENO_FACTS.md), which alone caps a queue at
// ~70k items/s. Primitives, strings, arrays, plain objects, dates and typed
// arrays are written here with a tag byte each (≈ 0.1–0.5 µs for a small
// item). Anything else that can cross (a `Map`, an `Error`, a `RegExp`, a
// cyclic graph) falls back to `node:v8` serialization of the reduced value;
// what cannot cross is rejected by `reduce()` with a `TypeError` naming its
// path. Encoding happens in a private, non-shared scratch buffer, outside
// the mailbox's lock; the lock is held only for a copy.

import v8 from "node:v8";
import { reduce, revive } from "../core/reduction.ts";

const T_UNDEFINED = 0;
const T_NULL = 1;
const T_TRUE = 2;
const T_FALSE = 3;
const T_INT = 4;
const T_FLOAT = 5;
const T_ASCII = 6;
const T_UTF8 = 7;
const T_ARRAY = 8;
const T_OBJECT = 9;
const T_TYPED = 10;
const T_ARRAYBUFFER = 11;
const T_DATE = 12;
const T_V8 = 13;
const T_V8_MARKED = 14;
/** A message sent with `sendBytes`: its payload is raw bytes. */
export const T_BYTES = 15;
/**
 * Prefix of a message whose transferred buffers travel on the side channel
 * (the rest of the message follows in the ring, so order is kept).
 */
export const T_SIDE = 16;
/** A buffer (or a view of one) that moved on the side channel. */
const T_MOVED = 17;
/** `T_MOVED`'s kind for a bare `ArrayBuffer`. */
const KIND_BUFFER = 255;

/** Beyond this depth the value may be cyclic: let `node:v8` handle it. */
const MAX_DEPTH = 64;

const TYPED: (new (buffer: ArrayBuffer) => ArrayBufferView)[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Thrown inside the fast encoder to switch to the `node:v8` path. */
const FALLBACK = Symbol("fallback");

/** A growable, private byte buffer that messages are encoded into. */
export class Scratch {
  bytes: Uint8Array = new Uint8Array(4096);
  view: DataView = new DataView(this.bytes.buffer);
  length = 0;

  /** Makes room for `n` more bytes after `length`. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }
}

/** The scratch a message is encoded into; one per thread, reused. */
export const outbox: Scratch = new Scratch();

/** Buffers being moved by the message being encoded, or null. */
let moving: ArrayBuffer[] | null = null;

/**
 * Encodes `value` into `out` (from offset 0) and returns the number of
 * bytes. `path` names the value in errors (`item`, `obj`).
 *
 * With `move`, views of those buffers are written as references to them
 * (the caller sends the buffers themselves on a side channel) and the
 * message starts with `T_SIDE`. Why not post the whole message there:
 * Deno's MessagePort takes ~1.2 s to post a 64 MiB `Float64Array` even
 * when its buffer is transferred (28 s for a `Uint8Array`), against ~3 ms
 * for the bare `ArrayBuffer` (measured on 2.9.6). Returns -length when the
 * value needed the slow path, which copies instead of moving.
 */
export function encode(
  value: unknown,
  out: Scratch,
  path: string,
  move?: ArrayBuffer[],
): number {
  out.length = 0;
  if (move !== undefined) {
    out.bytes[out.length++] = T_SIDE;
    moving = move;
  }
  try {
    write(value, out, 0);
  } catch (error) {
    if (error !== FALLBACK) throw error;
    out.length = 0;
    moving = null;
    writeFallback(value, out, path);
    return move === undefined ? out.length : -out.length;
  } finally {
    moving = null;
  }
  return out.length;
}

/** Encodes raw bytes (a `sendBytes` message) into `out`. */
export function encodeBytes(bytes: Uint8Array, out: Scratch): number {
  out.length = 0;
  out.reserve(1 + bytes.length);
  out.bytes[0] = T_BYTES;
  out.bytes.set(bytes, 1);
  out.length = 1 + bytes.length;
  return out.length;
}

function writeFallback(value: unknown, out: Scratch, path: string): void {
  // reduce() rejects functions, symbols and unknown classes with their path.
  const reduced = reduce(value, path);
  if (reduced.transfer.length > 0) {
    throw new TypeError(
      `${path} holds an object that must be transferred (a MessagePort or a connection end), which a Queue or a Pipe message cannot carry: give it to a process as an argument instead`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = v8.serialize(reduced.value);
  } catch (error) {
    throw new TypeError(
      `${path} cannot be sent through a Queue or a Pipe: ${
        (error as Error).message
      } Shareable objects (queues, locks, shared memory) reach a process only through its arguments, as in Python`,
      { cause: error },
    );
  }
  out.reserve(1 + bytes.length);
  out.bytes[0] = reduced.marked ? T_V8_MARKED : T_V8;
  out.bytes.set(bytes, 1);
  out.length = 1 + bytes.length;
}

function write(value: unknown, out: Scratch, depth: number): void {
  switch (typeof value) {
    case "number":
      return writeNumber(value, out);
    case "string":
      out.reserve(1);
      out.bytes[out.length++] = 0; // patched by writeString
      return writeString(value, out, out.length - 1);
    case "boolean":
      out.reserve(1);
      out.bytes[out.length++] = value ? T_TRUE : T_FALSE;
      return;
    case "undefined":
      out.reserve(1);
      out.bytes[out.length++] = T_UNDEFINED;
      return;
    case "object":
      if (value === null) {
        out.reserve(1);
        out.bytes[out.length++] = T_NULL;
        return;
      }
      return writeObject(value, out, depth);
    default:
      throw FALLBACK; // bigint (v8 keeps it), function and symbol (rejected)
  }
}

function writeNumber(value: number, out: Scratch): void {
  out.reserve(9);
  if ((value | 0) === value && !Object.is(value, -0)) {
    out.bytes[out.length] = T_INT;
    out.view.setInt32(out.length + 1, value, true);
    out.length += 5;
  } else {
    out.bytes[out.length] = T_FLOAT;
    out.view.setFloat64(out.length + 1, value, true);
    out.length += 9;
  }
}

/** Writes a string's tag at `tagAt`, then its length and bytes. */
function writeString(value: string, out: Scratch, tagAt: number): void {
  const n = value.length;
  if (n <= 256) {
    // Short ASCII strings (the common case) need no TextEncoder call.
    out.reserve(4 + n);
    const bytes = out.bytes;
    const start = out.length + 4;
    let i = 0;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) break;
      bytes[start + i] = c;
    }
    if (i === n) {
      bytes[tagAt] = T_ASCII;
      out.view.setUint32(out.length, n, true);
      out.length = start + n;
      return;
    }
  }
  // UTF-8 would turn a lone surrogate into U+FFFD; v8 keeps it.
  if (!value.isWellFormed()) throw FALLBACK;
  out.reserve(4 + n * 3);
  const { written } = encoder.encodeInto(
    value,
    out.bytes.subarray(out.length + 4),
  );
  out.bytes[tagAt] = T_UTF8;
  out.view.setUint32(out.length, written, true);
  out.length += 4 + written;
}

function writeObject(value: object, out: Scratch, depth: number): void {
  if (depth > MAX_DEPTH) throw FALLBACK;
  if (Array.isArray(value)) {
    const n = value.length;
    out.reserve(5);
    out.bytes[out.length] = T_ARRAY;
    out.view.setUint32(out.length + 1, n, true);
    out.length += 5;
    for (let i = 0; i < n; i++) write(value[i], out, depth + 1);
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const keys = Object.keys(value);
    out.reserve(5);
    out.bytes[out.length] = T_OBJECT;
    out.view.setUint32(out.length + 1, keys.length, true);
    out.length += 5;
    for (const key of keys) {
      out.reserve(1);
      out.bytes[out.length++] = 0; // patched by writeString
      writeString(key, out, out.length - 1);
      write((value as Record<string, unknown>)[key], out, depth + 1);
    }
    return;
  }
  if (ArrayBuffer.isView(value)) {
    const kind = TYPED.indexOf(value.constructor as never);
    if (kind === -1 || value.buffer instanceof SharedArrayBuffer) {
      throw FALLBACK;
    }
    if (moving !== null && moving.includes(value.buffer as ArrayBuffer)) {
      return writeMoved(value.buffer as ArrayBuffer, kind, value, out);
    }
    const n = value.byteLength;
    out.reserve(6 + n);
    out.bytes[out.length] = T_TYPED;
    out.bytes[out.length + 1] = kind;
    out.view.setUint32(out.length + 2, n, true);
    out.bytes.set(
      new Uint8Array(value.buffer, value.byteOffset, n),
      out.length + 6,
    );
    out.length += 6 + n;
    return;
  }
  if (value instanceof ArrayBuffer) {
    if (value.detached) throw FALLBACK; // v8 names the problem
    if (moving !== null && moving.includes(value)) {
      return writeMoved(value, KIND_BUFFER, null, out);
    }
    const n = value.byteLength;
    out.reserve(5 + n);
    out.bytes[out.length] = T_ARRAYBUFFER;
    out.view.setUint32(out.length + 1, n, true);
    out.bytes.set(new Uint8Array(value), out.length + 5);
    out.length += 5 + n;
    return;
  }
  if (value instanceof Date) {
    out.reserve(9);
    out.bytes[out.length] = T_DATE;
    out.view.setFloat64(out.length + 1, value.getTime(), true);
    out.length += 9;
    return;
  }
  throw FALLBACK;
}

function writeMoved(
  buffer: ArrayBuffer,
  kind: number,
  view: ArrayBufferView | null,
  out: Scratch,
): void {
  out.reserve(22);
  out.bytes[out.length] = T_MOVED;
  out.bytes[out.length + 1] = kind;
  out.view.setUint32(out.length + 2, moving!.indexOf(buffer), true);
  out.view.setFloat64(out.length + 6, view?.byteOffset ?? 0, true);
  out.view.setFloat64(out.length + 14, view?.byteLength ?? 0, true);
  out.length += 22;
}

// Decoding -------------------------------------------------------------------

let at = 0;
let moved: ArrayBuffer[] = [];

/**
 * Decodes the message in `source.bytes[0, length)`; `buffers` are those
 * that moved on the side channel, for a message that starts with `T_SIDE`.
 */
export function decode(
  source: Scratch,
  length: number,
  buffers?: ArrayBuffer[],
): unknown {
  const bytes = source.bytes;
  if (bytes[0] === T_SIDE) {
    moved = buffers ?? [];
    at = 1;
    try {
      return read(bytes, source.view);
    } finally {
      moved = [];
    }
  }
  switch (bytes[0]) {
    case T_V8:
      return v8.deserialize(bytes.subarray(1, length));
    case T_V8_MARKED:
      return revive(v8.deserialize(bytes.subarray(1, length)));
    case T_BYTES:
      return bytes.slice(1, length);
  }
  at = 0;
  return read(bytes, source.view);
}

function read(bytes: Uint8Array, view: DataView): unknown {
  const tag = bytes[at++];
  switch (tag) {
    case T_UNDEFINED:
      return undefined;
    case T_NULL:
      return null;
    case T_TRUE:
      return true;
    case T_FALSE:
      return false;
    case T_INT:
      at += 4;
      return view.getInt32(at - 4, true);
    case T_FLOAT:
    case T_DATE: {
      const x = view.getFloat64(at, true);
      at += 8;
      return tag === T_DATE ? new Date(x) : x;
    }
    case T_ASCII:
    case T_UTF8:
      return readString(bytes, view, tag);
    case T_ARRAY: {
      const n = view.getUint32(at, true);
      at += 4;
      const array = new Array(n);
      for (let i = 0; i < n; i++) array[i] = read(bytes, view);
      return array;
    }
    case T_OBJECT: {
      const n = view.getUint32(at, true);
      at += 4;
      const object: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key = readString(bytes, view, bytes[at++]);
        object[key] = read(bytes, view);
      }
      return object;
    }
    case T_TYPED: {
      const kind = bytes[at];
      const n = view.getUint32(at + 1, true);
      // A fresh, aligned buffer: the receiver owns it.
      const buffer = bytes.slice(at + 5, at + 5 + n).buffer;
      at += 5 + n;
      return new TYPED[kind](buffer);
    }
    case T_ARRAYBUFFER: {
      const n = view.getUint32(at, true);
      const buffer = bytes.slice(at + 4, at + 4 + n).buffer;
      at += 4 + n;
      return buffer;
    }
    case T_MOVED: {
      const kind = bytes[at];
      const buffer = moved[view.getUint32(at + 1, true)];
      const offset = view.getFloat64(at + 5, true);
      const n = view.getFloat64(at + 13, true);
      at += 21;
      if (kind === KIND_BUFFER) return buffer;
      const type = TYPED[kind] as unknown as new (
        buffer: ArrayBuffer,
        offset: number,
        length: number,
      ) => ArrayBufferView;
      const unit = (type as unknown as { BYTES_PER_ELEMENT?: number })
        .BYTES_PER_ELEMENT ?? 1;
      return new type(buffer, offset, n / unit);
    }
    default:
      throw new TypeError(`corrupt mailbox message: unknown tag ${tag}`);
  }
}

function readString(bytes: Uint8Array, view: DataView, tag: number): string {
  const n = view.getUint32(at, true);
  at += 4;
  const start = at;
  at += n;
  if (tag === T_ASCII && n <= 256) {
    return String.fromCharCode.apply(
      null,
      bytes.subarray(start, at) as unknown as number[],
    );
  }
  return decoder.decode(bytes.subarray(start, at));
}
