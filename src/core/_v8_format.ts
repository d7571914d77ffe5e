// The V8 format of the codec (see codec.ts): V8's structured serialization
// of a value after a reduce pass, for everything the tag format leaves.

import v8 from "node:v8";
import { describe } from "./describe.ts";
import {
  errorClassNamed,
  type ReduceContext,
  reducerFor,
  reducerNamed,
} from "./reduction.ts";
import {
  FORMAT_V8,
  refusedFromOutside,
  type Sidecar,
  type Writer,
} from "./_message.ts";
import { type Channel, makeView, viewKind } from "./_tag_format.ts";

/** The key of a marker object in a reduced graph. */
const MARK = "\u0000multiprocessing";
const M_REDUCED = 0; // [MARK]: 0, n: reducer name, s: state
const M_ERROR = 1; // [MARK]: 1, s: envelope
const M_SIDE = 2; // [MARK]: 2, s: sidecar index
const M_SIDE_VIEW = 3; // [MARK]: 3, s: [index, kind, offset, byteLength]
const M_ESCAPED = 4; // [MARK]: 4, s: a user object that has a key MARK

interface Marker {
  [MARK]: number;
  n?: string;
  s: unknown;
}

export function encodeV8(
  value: unknown,
  out: Writer,
  channel: Channel & { path: string },
  moving: readonly ArrayBuffer[],
  states: Map<object, unknown>,
): Sidecar | undefined {
  const path = channel.path;
  const pass = new ReducePass(moving, states, channel);
  const reduced = pass.walk(value, path);
  let bytes: Uint8Array;
  try {
    const serializer = new v8.Serializer();
    serializer.writeHeader();
    serializer.writeValue(reduced);
    bytes = serializer.releaseBuffer();
  } catch (error) {
    throw new TypeError(
      `Cannot send ${path}: ${
        (error as Error).message
      } (only structured-cloneable data, and objects taught to cross with registerReducer(), can cross into another process)`,
      { cause: error },
    );
  }
  out.length = 0;
  out.reserve(2 + bytes.length);
  out.bytes[0] = FORMAT_V8;
  out.bytes[1] = pass.marked ? 1 : 0;
  out.bytes.set(bytes, 2);
  out.length = 2 + bytes.length;
  return pass.sidecar;
}

export function decodeV8(
  bytes: Uint8Array,
  sidecar: Sidecar,
  outside?: string,
): unknown {
  const deserializer = new v8.Deserializer(bytes.subarray(2));
  deserializer.readHeader();
  const value = deserializer.readValue();
  return bytes[1] === 1 ? new Revival(sidecar, outside).revive(value) : value;
}

/** Built-in classes a structured clone copies, which V8 writes as such. */
const CLONEABLE: (abstract new (...args: never[]) => unknown)[] = [
  Date,
  RegExp,
  Boolean,
  Number,
  String,
  BigInt as unknown as abstract new () => unknown,
];

/**
 * Replaces, copy-on-write, what V8 cannot write or would write wrongly:
 * registered objects, errors (their class and fields), sidecar objects, and
 * user objects that happen to use the marker's key. Refuses functions,
 * symbols and instances of unknown classes, naming their path.
 */
class ReducePass {
  readonly moving: readonly ArrayBuffer[];
  readonly seen = new Map<object, unknown>();
  sidecar: Sidecar | undefined;
  marked = false;
  /**
   * States the tag encoder already took: a reducer runs once per object per
   * message (reducing may hand a port over, which cannot happen twice).
   */
  readonly states: Map<object, unknown>;
  /** Whether to refuse what only lives in this program (see codec.ts). */
  readonly portable: boolean;

  /** The receiver's pid, and what the channel cannot carry. */
  readonly channel: Channel;

  constructor(
    moving: readonly ArrayBuffer[],
    states: Map<object, unknown>,
    channel: Channel,
  ) {
    this.moving = moving;
    this.states = states;
    this.channel = channel;
    this.portable = channel.portable === true;
  }

  walk(value: unknown, path: string): unknown {
    switch (typeof value) {
      case "function":
        throw new TypeError(
          `Cannot send ${path}: it is a function${
            value.name ? ` (${value.name})` : ""
          }, which cannot cross into another process: pass data instead, or give the function to a process as its target`,
        );
      case "symbol":
        throw new TypeError(
          `Cannot send ${path}: it is a symbol, which cannot cross into another process: use a string instead`,
        );
      case "object":
        if (value === null) return value;
        break;
      default:
        return value;
    }
    const known = this.seen.get(value);
    if (known !== undefined) return known;
    const proto = Object.getPrototypeOf(value);
    if (Array.isArray(value)) return this.array(value, path);
    if (proto === Object.prototype || proto === null) {
      return this.plain(value as Record<string, unknown>, path);
    }
    if (value instanceof SharedArrayBuffer || value instanceof MessagePort) {
      if (this.portable) {
        this.local(
          path,
          value instanceof MessagePort
            ? "a MessagePort"
            : "a SharedArrayBuffer",
        );
      }
      return this.mark(value, { [MARK]: M_SIDE, s: this.side(value, path) });
    }
    if (value instanceof ArrayBuffer) {
      if (this.moving.includes(value)) {
        return this.mark(value, {
          [MARK]: M_SIDE,
          s: this.side(value, path),
        });
      }
      return value;
    }
    if (ArrayBuffer.isView(value)) {
      const buffer = value.buffer;
      if (
        buffer instanceof SharedArrayBuffer ||
        this.moving.includes(buffer as ArrayBuffer)
      ) {
        if (this.portable) {
          this.local(
            path,
            `${withArticle(value.constructor.name)} of a SharedArrayBuffer`,
          );
        }
        return this.mark(value, {
          [MARK]: M_SIDE_VIEW,
          s: [
            this.side(buffer, path),
            viewKind(value),
            value.byteOffset,
            value.byteLength,
          ],
        });
      }
      return value;
    }
    const reducer = reducerFor(value);
    if (reducer !== undefined) {
      if (this.portable) {
        const name = (proto?.constructor as { name?: string })?.name ||
          reducer.name;
        this.local(
          path,
          `${withArticle(name)} (it crosses between processes by reference)`,
        );
      }
      const marker: Marker = { [MARK]: M_REDUCED, n: reducer.name, s: null };
      this.mark(value, marker);
      const state = this.states.has(value)
        ? this.states.get(value)
        : reducer.reduce(value, this.context(path));
      marker.s = this.walk(state, path);
      return marker;
    }
    if (value instanceof Error) return this.error(value, path);
    if (value instanceof Map) return this.map(value, path);
    if (value instanceof Set) return this.set(value, path);
    for (const type of CLONEABLE) if (value instanceof type) return value;
    const name = (proto?.constructor as { name?: string })?.name ||
      "an unnamed class";
    throw new TypeError(
      `Cannot send ${path}: it is an instance of ${name}, which cannot cross into another process: pass plain data, or teach the class to cross with registerReducer()`,
    );
  }

  /** Refuses an object that only lives in this program, naming its path. */
  local(path: string, what: string): never {
    throw new TypeError(
      `Cannot send ${path}: it is ${what}, which lives in this program only and cannot cross to another machine: pass plain data instead`,
    );
  }

  mark(original: object, marker: Marker): Marker {
    this.marked = true;
    this.seen.set(original, marker);
    return marker;
  }

  side(
    item: SharedArrayBuffer | MessagePort | ArrayBuffer,
    path: string,
  ): number {
    const bytesOnly = this.channel.bytesOnly;
    if (bytesOnly !== undefined) {
      const what = item instanceof SharedArrayBuffer
        ? "a SharedArrayBuffer (or holds one)"
        : item instanceof MessagePort
        ? "a MessagePort (or holds one)"
        : "a buffer to transfer";
      throw new TypeError(
        `Cannot send ${path}: it is ${what}, which ${bytesOnly} cannot carry (it carries bytes only): give it to the process as an argument instead`,
      );
    }
    this.sidecar ??= [];
    const known = this.sidecar.indexOf(item);
    if (known !== -1) return known;
    this.sidecar.push(item);
    return this.sidecar.length - 1;
  }

  context(path: string): ReduceContext {
    return {
      path,
      transfer: (item) => {
        if (item instanceof MessagePort || item instanceof ArrayBuffer) {
          this.side(item, path);
        }
      },
      receiver: this.channel.receiver,
      bytesOnly: this.channel.bytesOnly !== undefined,
    };
  }

  array(array: unknown[], path: string): unknown {
    let out: unknown[] = array;
    this.seen.set(array, array);
    // Present indexes only: a sparse array of length 2³² − 1 costs nothing.
    const keys = array.length > 1 << 16 && !isDense(array)
      ? Object.keys(array)
      : undefined;
    const visit = (key: string | number) => {
      const item = (array as unknown as Record<string, unknown>)[key];
      if (item === null || (typeof item !== "object" && !isRefused(item))) {
        return;
      }
      const next = this.walk(
        item,
        typeof key === "number" ? `${path}[${key}]` : `${path}.${key}`,
      );
      if (next !== item) {
        if (out === array) {
          out = array.slice();
          copyExtraProperties(array, out);
          this.seen.set(array, out);
        }
        (out as unknown as Record<string, unknown>)[key] = next;
      }
    };
    if (keys !== undefined) { for (const key of keys) visit(key); }
    else {
      for (let i = 0; i < array.length; i++) visit(i);
      if (array.length <= 1 << 16) {
        for (const key of Object.keys(array)) {
          if (!isIndex(key)) visit(key);
        }
      }
    }
    return out;
  }

  plain(object: Record<string, unknown>, path: string): unknown {
    if (Object.hasOwn(object, MARK)) {
      // A user's object that uses our marker's key stays a plain object.
      const escaped: Marker = { [MARK]: M_ESCAPED, s: null };
      this.mark(object, escaped);
      const copy = { ...object };
      for (const key of Object.keys(copy)) {
        copy[key] = this.walk(copy[key], `${path}.${key}`);
      }
      escaped.s = copy;
      return escaped;
    }
    let out = object;
    this.seen.set(object, object);
    for (const symbol of Object.getOwnPropertySymbols(object)) {
      if (Object.prototype.propertyIsEnumerable.call(object, symbol)) {
        throw new TypeError(
          `Cannot send ${path}[${
            String(symbol)
          }]: a symbol-keyed property cannot cross into another process (a structured clone would drop it): use a string key`,
        );
      }
    }
    for (const key of Object.keys(object)) {
      const item = object[key];
      if (item === null || (typeof item !== "object" && !isRefused(item))) {
        continue;
      }
      const next = this.walk(item, `${path}.${key}`);
      if (next !== item) {
        if (out === object) {
          out = { ...object };
          this.seen.set(object, out);
        }
        out[key] = next;
      }
    }
    return out;
  }

  map(map: Map<unknown, unknown>, path: string): unknown {
    const out = new Map();
    this.seen.set(map, out);
    let changed = false;
    let i = 0;
    for (const [k, v] of map) {
      const key = this.walk(k, `${path}.keys()[${i}]`);
      const item = this.walk(v, `${path}.get(${describeKey(k)})`);
      changed ||= key !== k || item !== v;
      out.set(key, item);
      i++;
    }
    if (!changed) this.seen.set(map, map);
    return changed ? out : map;
  }

  set(set: Set<unknown>, path: string): unknown {
    const out = new Set();
    this.seen.set(set, out);
    let changed = false;
    let i = 0;
    for (const v of set) {
      const item = this.walk(v, `${path}.values()[${i++}]`);
      changed ||= item !== v;
      out.add(item);
    }
    if (!changed) this.seen.set(set, set);
    return changed ? out : set;
  }

  error(error: Error, path: string): Marker {
    const envelope: Record<string, unknown> = {
      name: error.name,
      message: error.message,
      stack: error.stack,
    };
    const marker: Marker = { [MARK]: M_ERROR, s: envelope };
    this.mark(error, marker); // before the cause: an error may cause itself
    if (Object.hasOwn(error, "cause")) {
      envelope.cause = this.safeWalk(error.cause, `${path}.cause`);
      envelope.hasCause = true;
    }
    if (error instanceof AggregateError) {
      envelope.errors = error.errors.map((e, i) =>
        this.safeWalk(e, `${path}.errors[${i}]`)
      );
    }
    const fields: Record<string, unknown> = {};
    let any = false;
    for (const key of Object.keys(error)) {
      if (key === "name" || key === "message" || key === "cause") continue;
      fields[key] = this.safeWalk(
        (error as unknown as Record<string, unknown>)[key],
        `${path}.${key}`,
      );
      any = true;
    }
    if (any) envelope.fields = fields;
    return marker;
  }

  /** An error's parts cross as best they can: what cannot becomes its text. */
  safeWalk(value: unknown, path: string): unknown {
    try {
      return this.walk(value, path);
    } catch {
      try {
        return String(value);
      } catch {
        return describe(value);
      }
    }
  }
}

function withArticle(name: string): string {
  return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
}

function isRefused(value: unknown): boolean {
  return typeof value === "function" || typeof value === "symbol";
}

function isIndex(key: string): boolean {
  const n = Number(key);
  return Number.isInteger(n) && n >= 0 && String(n) === key;
}

function isDense(array: unknown[]): boolean {
  // A cheap look at a long array: a hole anywhere in a sample means sparse.
  const n = array.length;
  const step = Math.max(1, Math.floor(n / 64));
  for (let i = 0; i < n; i += step) if (!(i in array)) return false;
  return n === 0 || (n - 1) in array;
}

function copyExtraProperties(from: unknown[], to: unknown[]): void {
  for (const key of Object.keys(from)) {
    if (!isIndex(key)) {
      (to as unknown as Record<string, unknown>)[key] =
        (from as unknown as Record<string, unknown>)[key];
    }
  }
  // Holes stay holes: slice() keeps them.
}

function describeKey(key: unknown): string {
  if (typeof key === "string") return JSON.stringify(key);
  if (key === null || typeof key !== "object") return String(key);
  return describe(key);
}

/** Rebuilds markers in a freshly deserialized graph, in place. */
class Revival {
  readonly sidecar: Sidecar;
  readonly seen = new Map<object, unknown>();
  /** Names the channel when the bytes came from outside this program. */
  readonly outside: string | undefined;

  constructor(sidecar: Sidecar, outside?: string) {
    this.sidecar = sidecar;
    this.outside = outside;
  }

  revive(value: unknown): unknown {
    if (value === null || typeof value !== "object") return value;
    const known = this.seen.get(value);
    if (known !== undefined) return known;
    if (Array.isArray(value)) {
      this.seen.set(value, value);
      for (const key of Object.keys(value)) {
        const record = value as unknown as Record<string, unknown>;
        record[key] = this.revive(record[key]);
      }
      return value;
    }
    if (value instanceof Map) {
      const out = new Map();
      this.seen.set(value, out);
      for (const [k, v] of value) out.set(this.revive(k), this.revive(v));
      return out;
    }
    if (value instanceof Set) {
      const out = new Set();
      this.seen.set(value, out);
      for (const v of value) out.add(this.revive(v));
      return out;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const record = value as Record<string, unknown>;
    if (Object.hasOwn(record, MARK)) {
      return this.marker(record as unknown as Marker);
    }
    this.seen.set(value, value);
    for (const key of Object.keys(record)) {
      record[key] = this.revive(record[key]);
    }
    return value;
  }

  marker(marker: Marker): unknown {
    switch (marker[MARK]) {
      case M_REDUCED: {
        if (this.outside !== undefined) {
          throw refusedFromOutside(marker.n!, this.outside);
        }
        const revived = reducerNamed(marker.n!).revive(this.revive(marker.s));
        this.seen.set(marker, revived);
        return revived;
      }
      case M_ERROR:
        return this.error(marker);
      case M_SIDE: {
        const item = this.sideItem(marker.s as number);
        this.seen.set(marker, item);
        return item;
      }
      case M_SIDE_VIEW: {
        const [index, kind, offset, byteLength] = marker.s as number[];
        const view = makeView(
          kind,
          this.sideItem(index) as ArrayBuffer,
          offset,
          byteLength,
        );
        this.seen.set(marker, view);
        return view;
      }
      case M_ESCAPED: {
        const object = marker.s as Record<string, unknown>;
        this.seen.set(marker, object);
        this.seen.set(object, object);
        for (const key of Object.keys(object)) {
          object[key] = this.revive(object[key]);
        }
        return object;
      }
      default:
        throw new TypeError(
          `Cannot decode a message: unknown marker ${
            marker[MARK]
          } (the message is corrupt)`,
        );
    }
  }

  error(marker: Marker): Error {
    const envelope = marker.s as {
      name: string;
      message: string;
      stack?: string;
      cause?: unknown;
      hasCause?: boolean;
      errors?: unknown[];
      fields?: Record<string, unknown>;
    };
    const type = errorClassNamed(envelope.name) ?? Error;
    const error: Error = envelope.errors !== undefined
      ? new AggregateError([], envelope.message)
      : Object.create(type.prototype);
    this.seen.set(marker, error); // before the cause: it may be this error
    define(error, "message", envelope.message);
    if (error.name !== envelope.name) define(error, "name", envelope.name);
    define(
      error,
      "stack",
      envelope.stack ?? `${envelope.name}: ${envelope.message}`,
    );
    if (envelope.hasCause) define(error, "cause", this.revive(envelope.cause));
    if (envelope.errors !== undefined) {
      define(error, "errors", envelope.errors.map((e) => this.revive(e)));
    }
    if (envelope.fields !== undefined) {
      for (const [key, value] of Object.entries(envelope.fields)) {
        (error as unknown as Record<string, unknown>)[key] = this.revive(value);
      }
    }
    return error;
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

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    writable: true,
    configurable: true,
  });
}
