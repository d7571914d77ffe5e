// The one codec: the only definition of what crosses between processes and
// how. Every path that moves a value (mailboxes, the pool's lanes and
// batches, the manager wire, sockets, process start messages) encodes with
// `encode` and decodes with `decode`, so a value arrives the same way
// whichever path it took: equal to `structuredClone(value)` for plain data,
// with registered classes revived by reference (see reduction.ts), errors
// with their class, and everything it refuses refused with a `TypeError`
// that names the value's path.
//
// Two encodings, chosen per message:
// - A tag stream written here, for the common small messages (primitives,
//   well-formed or not strings, dense arrays, plain objects, dates, bigints,
//   whole typed arrays, registered objects). A small item costs ≈ 0.1–0.5 µs,
//   where one `node:v8` or `structuredClone` round trip costs 8–15 µs
//   (shared/DENO_FACTS.md). It gives up (FALLBACK) on anything whose
//   structured clone it does not reproduce exactly: a shared reference or a
//   cycle, holes or extra properties on an array, a `Map`, a `RegExp`, an
//   error, a view that is not its whole buffer, a resizable buffer, a very
//   long array.
// - V8's own structured-serialization format (`node:v8`'s base
//   `Serializer`, not `DefaultSerializer`: the base keeps a typed array's
//   whole buffer and offset, resizable buffers, sparse arrays in O(present
//   elements), exactly as `structuredClone`), written after a reduce pass
//   that replaces registered objects, errors and out-of-band objects by
//   markers. The pass walks each object once (a graph of shared references
//   costs its size, not its number of paths).
//
// Objects that cannot live in bytes — `SharedArrayBuffer`s (and views of
// them), `MessagePort`s, buffers moved with `transfer` — go in the
// message's sidecar, a list the bytes refer to by index. A channel built on
// `postMessage` posts the sidecar with the bytes; a channel made of bytes
// only (a ring, a socket) refuses a message that needs one, naming its path.
//
// What a process receives is its own: decoding copies every buffer out of
// the bytes it reads, so the bytes (a ring's scratch, say) can be reused.

import {
  FORMAT_BYTES,
  FORMAT_TAGS,
  FORMAT_V8,
  type Sidecar,
  Writer,
} from "./_message.ts";
import {
  FALLBACK,
  TagDecoder,
  TagEncoder,
  writePrimitive,
} from "./_tag_format.ts";
import { decodeV8, encodeV8 } from "./_v8_format.ts";

export { FORMAT_BYTES, type Sidecar, Writer };

/** What {@linkcode encode} needs besides the value. */
export interface EncodeOptions {
  /** Names the value in errors: `obj`, `args`, `item`. */
  path: string;
  /** Buffers to move rather than copy (`send(obj, { transfer })`). */
  transfer?: readonly ArrayBuffer[];
  /** The pid of the process the message is for, when the channel knows it. */
  receiver?: number;
  /**
   * Set by a channel that carries bytes only, to name it in errors (such as
   * `"a Queue"`): a value that would need the sidecar is refused with a
   * `TypeError` naming its path, and reducers are told (see
   * `ReduceContext.bytesOnly`). `encode` then never returns a sidecar.
   */
  bytesOnly?: string;
  /**
   * For channels that leave this program (another machine): refuses, with
   * a `TypeError` naming its path, whatever only lives here — an object of
   * a registered class, which crosses by reference (a `Lock`, a `Queue`, a
   * `Pipe` end, `SharedMemory`), and anything the sidecar would carry (a
   * `SharedArrayBuffer` or a view of one, a `MessagePort`, a buffer to
   * transfer). Errors still cross with their class. `false` by default.
   */
  portable?: boolean;
}

/**
 * Encodes `value` into `out` (from offset 0) and returns the sidecar the
 * message needs, or `undefined` when it needs none.
 */
export function encode(
  value: unknown,
  out: Writer,
  options: EncodeOptions,
): Sidecar | undefined {
  const moving = options.transfer ?? NONE;
  if (options.portable === true && moving.length > 0) {
    throw new TypeError(
      `Cannot send ${options.path} as 'transfer' must be empty for a value that leaves this program: buffers cannot move to another machine: current value is ${moving.length} buffer(s)`,
    );
  }
  out.length = 0;
  out.reserve(1);
  out.bytes[out.length++] = FORMAT_TAGS;
  // A primitive needs no encoder state (the common small message).
  if (writePrimitive(value, out)) return undefined;
  const encoder = new TagEncoder(out, moving, undefined, options);
  try {
    encoder.write(value, 0);
    return encoder.sidecar;
  } catch (error) {
    if (error !== FALLBACK) throw error;
  }
  return encodeV8(value, out, options, moving, encoder.states ?? new Map());
}

/** Encodes raw bytes (a `sendBytes` message) into `out`. */
export function encodeBytes(bytes: Uint8Array, out: Writer): void {
  out.length = 0;
  out.reserve(1 + bytes.length);
  out.bytes[0] = FORMAT_BYTES;
  out.bytes.set(bytes, 1);
  out.length = 1 + bytes.length;
}

/**
 * Decodes a message that {@linkcode encode} or {@linkcode encodeBytes}
 * wrote. `bytes` may be reused afterwards: nothing decoded refers to it.
 * `outside` names the channel when the message came from outside this
 * program (a socket): a registered object in it is then refused.
 */
export function decode(
  bytes: Uint8Array,
  sidecar?: Sidecar,
  outside?: string,
): unknown {
  switch (bytes[0]) {
    case FORMAT_TAGS:
      return new TagDecoder(bytes, sidecar ?? NONE_SIDECAR, outside).read();
    case FORMAT_V8:
      return decodeV8(bytes, sidecar ?? NONE_SIDECAR, outside);
    case FORMAT_BYTES:
      return bytes.slice(1);
    default:
      throw new TypeError(
        `Cannot decode a message: its format byte is ${
          bytes[0]
        }, expected 1, 2 or 3 (the bytes are not a message of this module)`,
      );
  }
}

/**
 * Whether bytes start as a message of {@linkcode encode} does (a value), for
 * a channel whose bytes may come from elsewhere (a socket).
 */
export function isValueMessage(bytes: Uint8Array): boolean {
  return bytes[0] === FORMAT_TAGS || bytes[0] === FORMAT_V8;
}

/** Whether a message holds raw bytes (sent with `sendBytes`). */
export function isBytesMessage(bytes: Uint8Array): boolean {
  return bytes[0] === FORMAT_BYTES;
}

/** The ports and moved buffers of a sidecar, for a `postMessage` transfer list. */
export function transferablesOf(sidecar: Sidecar | undefined): Transferable[] {
  if (sidecar === undefined) return [];
  return sidecar.filter((item) =>
    !(item instanceof SharedArrayBuffer)
  ) as Transferable[];
}

const NONE: readonly ArrayBuffer[] = [];
const NONE_SIDECAR: Sidecar = [];
