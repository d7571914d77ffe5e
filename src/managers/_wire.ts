// The wire between manager clients and the manager's server: one
// SharedArrayBuffer "slot" per connection carrying one request or one reply
// at a time, and one shared "doorbell" cell the server parks on.
//
// Why not postMessage: a postMessage round trip costs ~64 µs here, while an
// Atomics hand-off costs ~1 µs when both sides spin briefly. Plain data is
// written as JSON text in UTF-8 (a JSON round trip of a small
// value costs ~0.6 µs, `node:v8` serialize ~14 µs), anything else (undefined,
// Map, Date, proxies, errors…) as `node:v8` bytes.

import v8 from "node:v8";

/** Int32 cells at the start of a slot. */
export const STATE = 0;
/** Length of the payload in bytes (UTF-8 for JSON). */
export const LENGTH = 1;
/** {@linkcode JSON_FORMAT} or {@linkcode V8_FORMAT}. */
export const FORMAT = 2;
/** A reply's status: {@linkcode OK}, {@linkcode FAILED}, {@linkcode DEFERRED}, {@linkcode CLOSED}. */
export const STATUS = 3;
/** 1 when the JSON payload is ASCII (decoded without TextDecoder). */
const ASCII = 4;

/** `STATE` values. */
export const IDLE = 0;
export const REQUEST = 1;
export const REPLY = 2;

export const JSON_FORMAT = 0;
export const V8_FORMAT = 1;

/** The call returned a value. */
export const OK = 0;
/** The call threw: the payload is an error envelope. */
export const FAILED = 1;
/** The call waits on the server: the payload is a ticket, answered on the port. */
export const DEFERRED = 2;
/** The manager has shut down. */
export const CLOSED = 3;

/** Doorbell cells: a ring counter, and a flag set once the server stops. */
export const RING = 0;
export const STOPPED = 1;

const HEADER_BYTES = 32;
const INITIAL_BYTES = 64 * 1024;
// A growable buffer reserves address space only; it grows as messages do.
const MAX_BYTES = 1 << 30;

/** A new slot for one connection. */
export function newSlot(): SharedArrayBuffer {
  return new SharedArrayBuffer(INITIAL_BYTES, { maxByteLength: MAX_BYTES });
}

/** A value ready to be written: JSON text or v8 bytes. */
export interface Encoded {
  format: number;
  text?: string;
  bytes?: Uint8Array;
}

/**
 * Whether `value` survives `JSON.stringify` + `JSON.parse` unchanged: finite
 * numbers (not -0), strings, booleans, null, dense arrays and plain objects
 * of those. Everything else takes the v8 path.
 */
export function isJsonSafe(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth > 32) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !isJsonSafe(value[i], depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      if (Object.getOwnPropertySymbols(value).length > 0) return false;
      for (const key in value) {
        if (!isJsonSafe((value as Record<string, unknown>)[key], depth + 1)) {
          return false;
        }
      }
      return true;
    }
    default:
      return false;
  }
}

/** Encodes plain data (already reduced) for the wire. */
export function encodeData(value: unknown): Encoded {
  // `undefined` (what most calls return) is the empty text.
  if (value === undefined) return { format: JSON_FORMAT, text: "" };
  if (isJsonSafe(value)) {
    return { format: JSON_FORMAT, text: JSON.stringify(value) };
  }
  return { format: V8_FORMAT, bytes: v8.serialize(value) };
}

/** Decodes what {@linkcode encodeData} produced. */
export function decodeData(format: number, payload: string | Uint8Array) {
  return format === JSON_FORMAT
    ? (payload === "" ? undefined : JSON.parse(payload as string))
    : v8.deserialize(payload as Uint8Array);
}

/** Writes `encoded` into `slot` (growing it if needed) and sets the header. */
export function writeSlot(
  slot: SharedArrayBuffer,
  header: Int32Array,
  encoded: Encoded,
  status: number,
): void {
  if (encoded.format === JSON_FORMAT) {
    // UTF-8 through one native call: fewer bytecodes than a loop, which
    // matters in a fresh process whose code is not compiled yet.
    const text = encoded.text!;
    let written = 0;
    if (text.length > 0) {
      ensure(slot, HEADER_BYTES + text.length * 3);
      written = encoder.encodeInto(text, new Uint8Array(slot, HEADER_BYTES))
        .written;
    }
    header[LENGTH] = written;
    // One byte per character: plain ASCII, the common case.
    header[ASCII] = written === text.length ? 1 : 0;
  } else {
    const bytes = encoded.bytes!;
    ensure(slot, HEADER_BYTES + bytes.length);
    new Uint8Array(slot, HEADER_BYTES, bytes.length).set(bytes);
    header[LENGTH] = bytes.length;
  }
  header[FORMAT] = encoded.format;
  header[STATUS] = status;
}

function ensure(slot: SharedArrayBuffer, bytes: number): void {
  if (bytes <= slot.byteLength) return;
  if (bytes > MAX_BYTES) {
    throw new RangeError(
      `a manager message is limited to ${MAX_BYTES} bytes, this one needs ${bytes}`,
    );
  }
  slot.grow(Math.min(MAX_BYTES, Math.max(bytes, slot.byteLength * 2)));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ASCII_CHUNK = 4096;

/** Reads the payload the header describes: text for JSON, a copy of the bytes for v8. */
export function readSlot(
  slot: SharedArrayBuffer,
  header: Int32Array,
): string | Uint8Array {
  const n = header[LENGTH];
  if (header[FORMAT] === JSON_FORMAT) {
    if (n === 0) return "";
    const bytes = new Uint8Array(slot, HEADER_BYTES, n);
    // TextDecoder copies a shared buffer first (~1.2 µs for a short text);
    // ASCII bytes are characters as they are.
    if (header[ASCII] === 1 && n <= ASCII_CHUNK) {
      return String.fromCharCode.apply(null, bytes as never);
    }
    return decoder.decode(bytes);
  }
  return new Uint8Array(slot, HEADER_BYTES, n).slice();
}

/** Encoded payloads posted on a port (deferred replies) keep their format. */
export function toPortPayload(encoded: Encoded): string | Uint8Array {
  return encoded.format === JSON_FORMAT ? encoded.text! : encoded.bytes!;
}

/**
 * How long to spin before blocking, adapted to what the waits take. On an
 * idle machine spinning wins (a hand-off costs ~1 µs against ~20 µs through
 * a futex), but on a busy one a spinner burns the CPU time the other side
 * needs to answer. A wait that ends within the spin doubles it (up to
 * `max`); two in a row that outlast it halve it, down to no spin at all, as
 * adaptive mutexes do. Without spin, one wait in 32 still spins for `probe`
 * ms, to notice when spinning would pay again.
 */
export class Spinner {
  /** The current spin, in ms. */
  spin: number;
  #waits = 0;
  #misses = 0;
  constructor(readonly probe: number, readonly max: number) {
    this.spin = max;
  }
  /** How long to spin for the next wait, in ms. */
  next(): number {
    if (this.spin > 0) return this.spin;
    return (++this.#waits & 31) === 0 ? this.probe : 0;
  }
  /** Records that a wait for which `spun` ms of spin were allowed took `waited` ms. */
  record(waited: number, spun: number): void {
    if (waited <= spun) {
      this.#misses = 0;
      this.spin = Math.min(this.max, Math.max(spun, this.probe) * 2);
    } else if (++this.#misses >= 2) {
      // Only misses in a row: one late answer (a GC pause) is no trend.
      this.#misses = 0;
      this.spin = this.spin / 2 < this.probe ? 0 : this.spin / 2;
    }
  }
}
