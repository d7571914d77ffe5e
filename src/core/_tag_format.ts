// The tag format of the codec (see codec.ts): a tag byte per value, for the
// small plain messages that make up most traffic. It writes only what it
// can reproduce exactly as a structured clone would, and throws FALLBACK
// for the rest, which the V8 format then takes.

import type { ReduceContext } from "./reduction.ts";
import { reducerFor, reducerNamed } from "./reduction.ts";
import type { Sidecar, Writer } from "./_message.ts";
import { refusedFromOutside } from "./_message.ts";

/** Thrown inside the tag encoder to switch to the V8 format. */
export const FALLBACK: unique symbol = Symbol("fallback");

const T_UNDEFINED = 0;
const T_NULL = 1;
const T_TRUE = 2;
const T_FALSE = 3;
const T_INT = 4; // int32, not -0
const T_FLOAT = 5; // float64: -0, NaN, fractions, large
const T_LATIN1 = 6; // one byte per UTF-16 unit (all < 256)
const T_UTF8 = 7; // well-formed strings
const T_UTF16 = 8; // strings with lone surrogates: raw units
const T_ARRAY = 9;
const T_OBJECT = 10;
const T_DATE = 11;
const T_BIGINT = 12;
const T_TYPED = 13; // a view covering its whole, fixed-length buffer
const T_BUFFER = 14; // an ArrayBuffer, fixed-length
const T_REDUCED = 15; // a registered object: name, then its state
const T_SIDE = 16; // an object of the sidecar: index
const T_SIDE_VIEW = 17; // a view of a sidecar buffer: index, kind, offset, length
const T_OBJECT_NULL_PROTO = 18; // a plain object with a null prototype (arrives as {})

/** Typed array kinds, by the index written after T_TYPED / T_SIDE_VIEW. */
export const VIEW_KINDS: (new (
  buffer: ArrayBufferLike,
  byteOffset?: number,
  length?: number,
) => ArrayBufferView)[] = [
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
  ...("Float16Array" in globalThis
    ? [
      (globalThis as unknown as { Float16Array: typeof Float32Array })
        .Float16Array,
    ]
    : []),
];

export function viewKind(view: ArrayBufferView): number {
  const kind = VIEW_KINDS.indexOf(view.constructor as never);
  return kind;
}

/** Elements per array written as tags; longer arrays take the V8 format. */
const MAX_TAG_ARRAY = 16_384;
/** Objects the encoder remembers in a list before it uses a Set. */
const SEEN_LIST = 8;

/** Index keys as Object.keys spells them, kept for small arrays. */
const INDEX_STRINGS = Array.from({ length: 256 }, (_, i) => String(i));

function indexString(i: number): string {
  return i < INDEX_STRINGS.length ? INDEX_STRINGS[i] : String(i);
}

/** Nesting depth written as tags; deeper values take the V8 format. */
const MAX_TAG_DEPTH = 128;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * Writes `value` if it is a primitive the tag format carries (a number, a
 * string, a boolean, `undefined`, `null`); returns whether it did. The
 * common small message then needs no encoder at all.
 */
export function writePrimitive(value: unknown, out: Writer): boolean {
  switch (typeof value) {
    case "number":
      writeNumber(value, out);
      return true;
    case "string":
      writeString(value, out);
      return true;
    case "boolean":
      out.reserve(1);
      out.bytes[out.length++] = value ? T_TRUE : T_FALSE;
      return true;
    case "undefined":
      out.reserve(1);
      out.bytes[out.length++] = T_UNDEFINED;
      return true;
    case "object":
      if (value !== null) return false;
      out.reserve(1);
      out.bytes[out.length++] = T_NULL;
      return true;
    default:
      return false;
  }
}

function writeNumber(value: number, out: Writer): void {
  out.reserve(9);
  const bytes = out.bytes;
  const at = out.length;
  if ((value | 0) === value && !Object.is(value, -0)) {
    bytes[at] = T_INT;
    bytes[at + 1] = value;
    bytes[at + 2] = value >> 8;
    bytes[at + 3] = value >> 16;
    bytes[at + 4] = value >> 24;
    out.length = at + 5;
  } else {
    bytes[at] = T_FLOAT;
    out.view.setFloat64(at + 1, value, true);
    out.length = at + 9;
  }
}

function writeLength(bytes: Uint8Array, at: number, n: number): void {
  bytes[at] = n;
  bytes[at + 1] = n >>> 8;
  bytes[at + 2] = n >>> 16;
  bytes[at + 3] = n >>> 24;
}

function writeString(value: string, out: Writer): void {
  const n = value.length;
  out.reserve(5 + n);
  const bytes = out.bytes;
  const tagAt = out.length;
  const start = tagAt + 5;
  let i = 0;
  for (; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff) break;
    bytes[start + i] = c;
  }
  if (i === n) {
    bytes[tagAt] = T_LATIN1;
    writeLength(bytes, tagAt + 1, n);
    out.length = start + n;
    return;
  }
  if (value.isWellFormed()) {
    out.reserve(5 + n * 3);
    const { written } = utf8.encodeInto(
      value,
      out.bytes.subarray(tagAt + 5),
    );
    out.bytes[tagAt] = T_UTF8;
    writeLength(out.bytes, tagAt + 1, written);
    out.length = tagAt + 5 + written;
    return;
  }
  // Lone surrogates survive a structured clone; UTF-8 would replace them.
  out.reserve(5 + n * 2);
  out.bytes[tagAt] = T_UTF16;
  writeLength(out.bytes, tagAt + 1, n);
  let at = tagAt + 5;
  for (let j = 0; j < n; j++, at += 2) {
    out.view.setUint16(at, value.charCodeAt(j), true);
  }
  out.length = at;
}

/** What a channel tells the encoder (see codec.ts's EncodeOptions). */
export interface Channel {
  receiver?: number;
  bytesOnly?: string;
  portable?: boolean;
}

export class TagEncoder {
  readonly out: Writer;
  readonly moving: readonly ArrayBuffer[];
  sidecar: Sidecar | undefined;
  /**
   * Objects written so far (a second sight is a shared reference): a short
   * list first, a Set past SEEN_LIST of them — most messages hold few.
   */
  #seenList: object[] = [];
  #seen: Set<object> | undefined;
  /**
   * Registered objects' states, kept for the V8 format if it takes over
   * (made on the first registered object).
   */
  states: Map<object, unknown> | undefined;

  /** The receiver's pid, and what the channel cannot carry. */
  readonly channel: Channel;
  /**
   * Whether the value leaves this program: what only lives here goes to
   * the V8 format's pass, which refuses it naming its path.
   */
  readonly portable: boolean;

  constructor(
    out: Writer,
    moving: readonly ArrayBuffer[],
    states: Map<object, unknown> | undefined,
    channel: Channel = {},
  ) {
    this.out = out;
    this.moving = moving;
    this.states = states;
    this.channel = channel;
    this.portable = channel.portable === true;
  }

  tag(tag: number): void {
    const out = this.out;
    out.reserve(1);
    out.bytes[out.length++] = tag;
  }

  u32(n: number): void {
    const out = this.out;
    out.reserve(4);
    out.view.setUint32(out.length, n, true);
    out.length += 4;
  }

  f64(x: number): void {
    const out = this.out;
    out.reserve(8);
    out.view.setFloat64(out.length, x, true);
    out.length += 8;
  }

  write(value: unknown, depth: number): void {
    switch (typeof value) {
      case "number":
        return this.number(value);
      case "string":
        return this.string(value);
      case "boolean":
        return this.tag(value ? T_TRUE : T_FALSE);
      case "undefined":
        return this.tag(T_UNDEFINED);
      case "bigint":
        this.tag(T_BIGINT);
        return this.string(value.toString());
      case "object":
        if (value === null) return this.tag(T_NULL);
        return this.object(value, depth);
      default:
        // Functions and symbols: the reduce pass names them in its error.
        throw FALLBACK;
    }
  }

  number(value: number): void {
    writeNumber(value, this.out);
  }

  string(value: string): void {
    writeString(value, this.out);
  }

  /** Records `value` as written; returns whether it was already. */
  #sawBefore(value: object): boolean {
    const seen = this.#seen;
    if (seen !== undefined) {
      if (seen.has(value)) return true;
      seen.add(value);
      return false;
    }
    const list = this.#seenList;
    if (list.includes(value)) return true;
    if (list.length < SEEN_LIST) list.push(value);
    else this.#seen = new Set([...list, value]);
    return false;
  }

  object(value: object, depth: number): void {
    if (depth > MAX_TAG_DEPTH) throw FALLBACK;
    if (this.#sawBefore(value)) throw FALLBACK; // shared or cyclic
    const proto = Object.getPrototypeOf(value);
    if (proto === Array.prototype) return this.array(value as unknown[], depth);
    if (proto === Object.prototype || proto === null) {
      return this.plain(value as Record<string, unknown>, proto, depth);
    }
    if (value instanceof Date) {
      this.tag(T_DATE);
      return this.f64(value.getTime());
    }
    if (ArrayBuffer.isView(value)) return this.view(value);
    if (value instanceof ArrayBuffer) return this.buffer(value);
    if (value instanceof SharedArrayBuffer || value instanceof MessagePort) {
      if (this.portable) throw FALLBACK;
      this.tag(T_SIDE);
      return this.u32(this.side(value));
    }
    const reducer = reducerFor(value);
    if (reducer !== undefined) {
      // On a bytes-only or portable channel a reducer refuses (or may),
      // naming its path: the V8 format's pass knows paths.
      if (this.channel.bytesOnly !== undefined || this.portable) {
        throw FALLBACK;
      }
      this.tag(T_REDUCED);
      this.string(reducer.name);
      const state = reducer.reduce(value, this.context());
      (this.states ??= new Map()).set(value, state);
      return this.write(state, depth + 1);
    }
    throw FALLBACK; // Map, Set, RegExp, errors, boxed primitives, refused
  }

  array(array: unknown[], depth: number): void {
    const n = array.length;
    if (n > MAX_TAG_ARRAY) throw FALLBACK;
    // Holes and extra properties survive a structured clone: leave them to V8.
    // Object.keys lists indexes first, in order: n keys ending at n - 1 are
    // exactly 0..n-1 (a hole and an extra property cannot cancel out).
    const keys = Object.keys(array);
    if (keys.length !== n || (n > 0 && keys[n - 1] !== indexString(n - 1))) {
      throw FALLBACK;
    }
    this.tag(T_ARRAY);
    this.u32(n);
    for (let i = 0; i < n; i++) this.write(array[i], depth + 1);
  }

  plain(
    object: Record<string, unknown>,
    proto: object | null,
    depth: number,
  ): void {
    const keys = Object.keys(object);
    if (Object.getOwnPropertySymbols(object).length > 0) throw FALLBACK;
    this.tag(proto === null ? T_OBJECT_NULL_PROTO : T_OBJECT);
    this.u32(keys.length);
    for (const key of keys) {
      this.string(key);
      this.write(object[key], depth + 1);
    }
  }

  view(view: ArrayBufferView): void {
    const buffer = view.buffer;
    const kind = viewKind(view);
    if (kind === -1) throw FALLBACK;
    if (buffer instanceof SharedArrayBuffer) {
      if (this.portable) throw FALLBACK;
      this.tag(T_SIDE_VIEW);
      this.u32(this.side(buffer));
      return this.viewShape(view, kind);
    }
    if (this.moving.includes(buffer as ArrayBuffer)) {
      this.tag(T_SIDE_VIEW);
      this.u32(this.side(buffer as ArrayBuffer));
      return this.viewShape(view, kind);
    }
    // Exact only for a fixed-length view over the whole of a fixed buffer
    // that no other view in the message shares.
    if (
      (buffer as ArrayBuffer).resizable || (buffer as ArrayBuffer).detached ||
      view.byteOffset !== 0 || view.byteLength !== buffer.byteLength ||
      this.#sawBefore(buffer)
    ) throw FALLBACK;
    const n = view.byteLength;
    const out = this.out;
    out.reserve(6 + n);
    out.bytes[out.length] = T_TYPED;
    out.bytes[out.length + 1] = kind;
    out.view.setUint32(out.length + 2, n, true);
    out.bytes.set(new Uint8Array(buffer, 0, n), out.length + 6);
    out.length += 6 + n;
  }

  viewShape(view: ArrayBufferView, kind: number): void {
    const out = this.out;
    out.reserve(17);
    out.bytes[out.length] = kind;
    out.view.setFloat64(out.length + 1, view.byteOffset, true);
    out.view.setFloat64(out.length + 9, view.byteLength, true);
    out.length += 17;
  }

  buffer(buffer: ArrayBuffer): void {
    if (this.moving.includes(buffer)) {
      this.tag(T_SIDE);
      return this.u32(this.side(buffer));
    }
    if (buffer.resizable || buffer.detached) throw FALLBACK;
    const n = buffer.byteLength;
    const out = this.out;
    out.reserve(5 + n);
    out.bytes[out.length] = T_BUFFER;
    out.view.setUint32(out.length + 1, n, true);
    out.bytes.set(new Uint8Array(buffer), out.length + 5);
    out.length += 5 + n;
  }

  side(item: SharedArrayBuffer | MessagePort | ArrayBuffer): number {
    // The V8 format's pass refuses it, naming its path.
    if (this.channel.bytesOnly !== undefined) throw FALLBACK;
    this.sidecar ??= [];
    const known = this.sidecar.indexOf(item);
    if (known !== -1) return known;
    this.sidecar.push(item);
    return this.sidecar.length - 1;
  }

  context(): ReduceContext {
    return {
      path: "",
      receiver: this.channel.receiver,
      transfer: (item) => {
        if (item instanceof MessagePort || item instanceof ArrayBuffer) {
          this.side(item);
        }
      },
    };
  }
}

export class TagDecoder {
  readonly bytes: Uint8Array;
  readonly sidecar: Sidecar;
  at = 1; // after the format byte
  #view: DataView | undefined;
  /** Names the channel when the bytes came from outside this program. */
  readonly outside: string | undefined;

  constructor(bytes: Uint8Array, sidecar: Sidecar, outside?: string) {
    this.bytes = bytes;
    this.sidecar = sidecar;
    this.outside = outside;
  }

  /** Made on first use: most small messages need none. */
  get view(): DataView {
    return this.#view ??= new DataView(
      this.bytes.buffer,
      this.bytes.byteOffset,
      this.bytes.byteLength,
    );
  }

  u32(): number {
    const b = this.bytes;
    const at = this.at;
    this.at = at + 4;
    return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) |
      (b[at + 3] << 24)) >>>
      0;
  }

  f64(): number {
    const x = this.view.getFloat64(this.at, true);
    this.at += 8;
    return x;
  }

  read(): unknown {
    const tag = this.bytes[this.at++];
    switch (tag) {
      case T_UNDEFINED:
        return undefined;
      case T_NULL:
        return null;
      case T_TRUE:
        return true;
      case T_FALSE:
        return false;
      case T_INT: {
        const b = this.bytes;
        const at = this.at;
        this.at = at + 4;
        return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);
      }
      case T_FLOAT:
        return this.f64();
      case T_LATIN1:
      case T_UTF8:
      case T_UTF16:
        return this.string(tag);
      case T_ARRAY: {
        const n = this.u32();
        const array = new Array(n);
        for (let i = 0; i < n; i++) array[i] = this.read();
        return array;
      }
      case T_OBJECT:
      case T_OBJECT_NULL_PROTO: {
        const n = this.u32();
        const object: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const key = this.string(this.bytes[this.at++]);
          const value = this.read();
          if (key === "__proto__") {
            Object.defineProperty(object, key, {
              value,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          } else object[key] = value;
        }
        return object;
      }
      case T_DATE:
        return new Date(this.f64());
      case T_BIGINT:
        return BigInt(this.string(this.bytes[this.at++]));
      case T_TYPED: {
        const kind = this.bytes[this.at];
        const n = this.view.getUint32(this.at + 1, true);
        const start = this.at + 5;
        this.at = start + n;
        // A fresh, aligned buffer: the receiver owns it.
        const buffer = this.bytes.slice(start, start + n).buffer;
        return new VIEW_KINDS[kind](buffer);
      }
      case T_BUFFER: {
        const n = this.u32();
        const start = this.at;
        this.at += n;
        return this.bytes.slice(start, start + n).buffer;
      }
      case T_REDUCED: {
        const name = this.string(this.bytes[this.at++]);
        if (this.outside !== undefined) {
          throw refusedFromOutside(name, this.outside);
        }
        const state = this.read();
        return reducerNamed(name).revive(state);
      }
      case T_SIDE:
        return this.sideItem(this.u32());
      case T_SIDE_VIEW: {
        const buffer = this.sideItem(this.u32()) as ArrayBuffer;
        const kind = this.bytes[this.at++];
        const offset = this.f64();
        const byteLength = this.f64();
        return makeView(kind, buffer, offset, byteLength);
      }
      default:
        throw new TypeError(
          `Cannot decode a message: unknown tag ${tag} at byte ${
            this.at - 1
          } (the message is corrupt)`,
        );
    }
  }

  string(tag: number): string {
    const n = this.u32();
    const start = this.at;
    if (tag === T_UTF8) {
      this.at += n;
      return utf8Decoder.decode(this.bytes.subarray(start, this.at));
    }
    if (tag === T_LATIN1) {
      this.at += n;
      return unitsToString(this.bytes, start, n);
    }
    this.at += 2 * n;
    const units = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      units[i] = this.view.getUint16(start + 2 * i, true);
    }
    return unitsToString(units, 0, n);
  }

  sideItem(index: number): unknown {
    if (index >= this.sidecar.length) {
      throw new TypeError(
        `Cannot decode a message: it refers to object ${index} of its sidecar, which has ${this.sidecar.length} (the channel lost them)`,
      );
    }
    return this.sidecar[index];
  }
}

export function makeView(
  kind: number,
  buffer: ArrayBufferLike,
  byteOffset: number,
  byteLength: number,
): ArrayBufferView {
  const type = VIEW_KINDS[kind];
  const unit = (type as unknown as { BYTES_PER_ELEMENT?: number })
    .BYTES_PER_ELEMENT ?? 1;
  return new type(buffer, byteOffset, byteLength / unit);
}

function unitsToString(
  units: ArrayLike<number>,
  start: number,
  n: number,
): string {
  if (n <= 16) {
    // Short strings (keys, mostly): a loop beats building an argument list.
    let text = "";
    for (let i = start; i < start + n; i++) {
      text += String.fromCharCode(units[i]);
    }
    return text;
  }
  if (n <= 1024) {
    return String.fromCharCode.apply(
      null,
      Array.prototype.slice.call(units, start, start + n) as number[],
    );
  }
  let text = "";
  for (let i = 0; i < n; i += 1024) {
    text += String.fromCharCode.apply(
      null,
      Array.prototype.slice.call(
        units,
        start + i,
        start + Math.min(n, i + 1024),
      ) as number[],
    );
  }
  return text;
}
