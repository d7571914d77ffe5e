/**
 * How values cross into another process: the one place that teaches every
 * shareable object (connection ends, queues, locks, values, proxies) to
 * cross by reference, and that rejects what cannot cross before it is sent.
 *
 * Plain data crosses by structured clone. An instance of a class registered
 * with {@linkcode registerReducer} is replaced by a small marker holding its
 * state, and revived from that state on the other side, at any depth inside
 * arrays, plain objects, `Map`s and `Set`s. Errors keep their class, message,
 * stack, `cause` and own fields (see {@linkcode registerErrorClass}).
 *
 * @module
 */

import { describe } from "./describe.ts";
import {
  AuthenticationError,
  BrokenBarrierError,
  BufferTooShort,
  Empty,
  EOFError,
  Full,
  IndexError,
  KeyError,
  LockOwnerDiedError,
  ProcessError,
  TimeoutError,
  ValueError,
} from "../errors.ts";

/**
 * What a reducer may ask for while it reduces a value: where the value
 * stands, and a way to move (not copy) a port or buffer with the message.
 *
 * @example A reducer that moves a port with the message
 * ```ts
 * import { type ReduceContext, registerReducer } from "@seed/multiprocessing";
 *
 * class Inbox {
 *   constructor(readonly port: MessagePort) {}
 * }
 * registerReducer({
 *   name: "example.Inbox",
 *   type: Inbox,
 *   reduce(inbox: Inbox, context: ReduceContext) {
 *     context.transfer(inbox.port);
 *     return inbox.port;
 *   },
 *   revive: (port: MessagePort) => new Inbox(port),
 * });
 * ```
 */
export interface ReduceContext {
  /** Where the value stands in the message, such as `args[1].queue`. */
  readonly path: string;
  /** Moves `object` with the message instead of copying it (a port, a buffer). */
  transfer(object: Transferable): void;
  /**
   * The pid of the process the message is for, when the channel knows it
   * (a process's start message); `undefined` when any process may receive
   * it (a queue's item).
   */
  readonly receiver?: number;
  /**
   * Set when the channel carries bytes only (a ring, a socket): the state
   * must then be plain data, with no shared buffer, port or moved buffer
   * (those are refused with a `TypeError` naming the path).
   */
  readonly bytesOnly?: boolean;
}

/**
 * Teaches one class to cross into another process by reference.
 *
 * `reduce` turns an instance into structured-cloneable state; `revive`
 * rebuilds an equivalent instance from that state on the receiving side.
 *
 * @example A counter shared by reference
 * ```ts
 * import { type Reducer, registerReducer } from "@seed/multiprocessing";
 *
 * class Counter {
 *   constructor(readonly cells: Int32Array = new Int32Array(new SharedArrayBuffer(4))) {}
 * }
 * const reducer: Reducer<Counter, Int32Array> = {
 *   name: "example.Counter",
 *   type: Counter,
 *   reduce: (counter) => counter.cells,
 *   revive: (cells) => new Counter(cells),
 * };
 * registerReducer(reducer);
 * ```
 */
export interface Reducer<T extends object, S> {
  /** A name unique among reducers, such as `"Queue"`. */
  readonly name: string;
  /** The class whose instances (and subclasses' instances) this reduces. */
  readonly type: abstract new (...args: any[]) => T;
  /** Returns the state that stands for `value` in the message. */
  reduce(value: T, context: ReduceContext): S;
  /** Rebuilds the object from the state `reduce` returned. */
  revive(state: S): T;
}

const reducers: Reducer<object, unknown>[] = [];
const reducersByName = new Map<string, Reducer<object, unknown>>();

/**
 * Registers how instances of a class cross into processes (Python's
 * `copyreg`/`ForkingPickler.register`). Register in a module that both the
 * sending and the receiving process import, so both sides know the name.
 *
 * @example A class that crosses as its state
 * ```ts
 * import { registerReducer } from "@seed/multiprocessing";
 *
 * class Point {
 *   constructor(readonly x: number, readonly y: number) {}
 * }
 * registerReducer({
 *   name: "example.Point",
 *   type: Point,
 *   reduce: (p) => [p.x, p.y],
 *   revive: ([x, y]) => new Point(x, y),
 * });
 * ```
 */
export function registerReducer<T extends object, S>(
  reducer: Reducer<T, S>,
): void {
  if (typeof reducer?.name !== "string" || reducer.name === "") {
    throw new TypeError(
      `registerReducer expected reducer.name to be a non-empty string, received ${
        describe(reducer?.name)
      }`,
    );
  }
  if (typeof reducer.type !== "function") {
    throw new TypeError(
      `registerReducer expected reducer.type to be a class, received ${
        describe(reducer.type)
      }`,
    );
  }
  const known = reducersByName.get(reducer.name);
  if (known !== undefined) {
    if (known.type === reducer.type) return; // a module evaluated twice
    throw new TypeError(
      `registerReducer received a second reducer named "${reducer.name}"; choose a unique name`,
    );
  }
  const generic = reducer as unknown as Reducer<object, unknown>;
  // Subclasses first, so that the most specific reducer wins.
  const index = reducers.findIndex((r) =>
    reducer.type.prototype instanceof r.type
  );
  if (index === -1) reducers.push(generic);
  else reducers.splice(index, 0, generic);
  reducersByName.set(reducer.name, generic);
}

/** The reducer for `value`'s class (the most specific), if one is registered. */
export function reducerFor(
  value: object,
): Reducer<object, unknown> | undefined {
  for (const reducer of reducers) {
    if (value instanceof reducer.type) return reducer;
  }
  return undefined;
}

/** The reducer registered as `name`; a `TypeError` says how to register it. */
export function reducerNamed(name: string): Reducer<object, unknown> {
  return reviverFor(name);
}

/** The error class registered (or built in) as `name`. */
export function errorClassNamed(name: string): ErrorClass | undefined {
  return errorClasses.get(name);
}

const MARK = "__multiprocessing_reduced__";
const ERROR_MARK = "Error";

interface Marker {
  [MARK]: string;
  s: unknown;
}

/** The result of {@linkcode reduce}: what to post, and what to transfer. */
export interface Reduced {
  /** The structured-cloneable message. */
  value: unknown;
  /** Objects to move with the message. */
  transfer: Transferable[];
  /** Whether `value` holds markers that {@linkcode revive} must replace. */
  marked: boolean;
}

/**
 * Prepares `value` to cross into another process: shareable objects become
 * markers, and anything that cannot cross throws a `TypeError` naming its
 * path (e.g. `args[1].callback`). Plain data is returned as is, not copied.
 */
export function reduce(
  value: unknown,
  path: string,
  receiver?: number,
): Reduced {
  const transfer: Transferable[] = [];
  if (value === null || (typeof value !== "object" && !isRejected(value))) {
    return { value, transfer, marked: false };
  }
  const state = {
    marked: false,
    seen: new Map<object, unknown>(),
    transfer,
    receiver,
  };
  return { value: walk(value, path, state), transfer, marked: state.marked };
}

interface WalkState {
  marked: boolean;
  seen: Map<object, unknown>;
  transfer: Transferable[];
  receiver: number | undefined;
}

function isRejected(value: unknown): boolean {
  return typeof value === "function" || typeof value === "symbol";
}

const CLONEABLE: (abstract new (...args: any[]) => unknown)[] = [
  Date,
  RegExp,
  ArrayBuffer,
  SharedArrayBuffer,
  DataView,
  Blob,
  Number,
  String,
  Boolean,
  BigInt as unknown as abstract new () => unknown,
];

function walk(value: unknown, path: string, state: WalkState): unknown {
  if (value === null) return value;
  switch (typeof value) {
    case "function":
      throw new TypeError(
        `${path} is a function${
          (value as { name?: string }).name
            ? ` (${(value as { name: string }).name})`
            : ""
        }, which cannot cross into another process: pass data instead, and give functions to a process as its target`,
      );
    case "symbol":
      throw new TypeError(
        `${path} is a symbol, which cannot cross into another process: pass a string instead`,
      );
    case "object":
      break;
    default:
      return value;
  }
  const object = value as object;
  if (state.seen.has(object)) return state.seen.get(object);
  if (Array.isArray(object)) return walkArray(object, path, state);
  const proto = Object.getPrototypeOf(object);
  if (proto === Object.prototype || proto === null) {
    return walkObject(object as Record<string, unknown>, path, state);
  }
  for (const reducer of reducers) {
    if (object instanceof reducer.type) {
      const marker: Marker = {
        [MARK]: reducer.name,
        s: reducer.reduce(object, {
          path,
          transfer: (t) => {
            if (!state.transfer.includes(t)) state.transfer.push(t);
          },
          receiver: state.receiver,
        }),
      };
      state.marked = true;
      state.seen.set(object, marker);
      return marker;
    }
  }
  if (object instanceof Error) {
    state.marked = true;
    const marker: Marker = { [MARK]: ERROR_MARK, s: serializeError(object) };
    state.seen.set(object, marker);
    return marker;
  }
  if (object instanceof Map) return walkMap(object, path, state);
  if (object instanceof Set) return walkSet(object, path, state);
  if (ArrayBuffer.isView(object)) return object;
  if (object instanceof MessagePort) {
    state.transfer.push(object);
    return object;
  }
  for (const type of CLONEABLE) if (object instanceof type) return object;
  const className = (proto?.constructor as { name?: string })?.name ||
    "an unnamed class";
  throw new TypeError(
    `${path} is an instance of ${className}, which cannot cross into another process: pass plain data, or teach the class to cross with registerReducer()`,
  );
}

function walkArray(array: unknown[], path: string, state: WalkState) {
  let out: unknown[] = array;
  state.seen.set(array, array);
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    if (item === null || (typeof item !== "object" && !isRejected(item))) {
      continue;
    }
    const next = walk(item, `${path}[${i}]`, state);
    if (next !== item) {
      if (out === array) {
        out = array.slice();
        state.seen.set(array, out);
      }
      out[i] = next;
    }
  }
  return out;
}

function walkObject(
  object: Record<string, unknown>,
  path: string,
  state: WalkState,
) {
  let out = object;
  state.seen.set(object, object);
  for (const key of Object.keys(object)) {
    const item = object[key];
    if (item === null || (typeof item !== "object" && !isRejected(item))) {
      continue;
    }
    const next = walk(item, `${path}.${key}`, state);
    if (next !== item) {
      if (out === object) {
        out = { ...object };
        state.seen.set(object, out);
      }
      out[key] = next;
    }
  }
  for (const symbol of Object.getOwnPropertySymbols(object)) {
    if (Object.prototype.propertyIsEnumerable.call(object, symbol)) {
      throw new TypeError(
        `${path}[${
          String(symbol)
        }] is a symbol-keyed property, which cannot cross into another process: use a string key`,
      );
    }
  }
  return out;
}

function walkMap(map: Map<unknown, unknown>, path: string, state: WalkState) {
  const out = new Map();
  state.seen.set(map, out);
  let changed = false;
  let i = 0;
  for (const [k, v] of map) {
    const key = walk(k, `${path}.keys()[${i}]`, state);
    const item = walk(v, `${path}.get(${describeKey(k)})`, state);
    changed ||= key !== k || item !== v;
    out.set(key, item);
    i++;
  }
  if (!changed) state.seen.set(map, map);
  return changed ? out : map;
}

function walkSet(set: Set<unknown>, path: string, state: WalkState) {
  const out = new Set();
  state.seen.set(set, out);
  let changed = false;
  let i = 0;
  for (const v of set) {
    const item = walk(v, `${path}.values()[${i++}]`, state);
    changed ||= item !== v;
    out.add(item);
  }
  if (!changed) state.seen.set(set, set);
  return changed ? out : set;
}

function describeKey(key: unknown): string {
  return typeof key === "string" ? JSON.stringify(key) : String(key);
}

/**
 * Rebuilds the shareable objects in a received message (the inverse of
 * {@linkcode reduce}). Replaces markers in place: the message is the
 * receiver's own copy.
 */
export function revive(value: unknown): unknown {
  return reviveValue(value, new Map());
}

function reviveValue(value: unknown, seen: Map<object, unknown>): unknown {
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return seen.get(value);
  if (Array.isArray(value)) {
    seen.set(value, value);
    for (let i = 0; i < value.length; i++) {
      value[i] = reviveValue(value[i], seen);
    }
    return value;
  }
  if (value instanceof Map) {
    const out = new Map();
    seen.set(value, out);
    for (const [k, v] of value) {
      out.set(reviveValue(k, seen), reviveValue(v, seen));
    }
    return out;
  }
  if (value instanceof Set) {
    const out = new Set();
    seen.set(value, out);
    for (const v of value) out.add(reviveValue(v, seen));
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const record = value as Record<string, unknown>;
  if (typeof record[MARK] === "string") {
    const name = record[MARK] as string;
    const revived = name === ERROR_MARK
      ? deserializeError(record.s as ErrorEnvelope)
      : reviverFor(name).revive(record.s);
    seen.set(value, revived);
    return revived;
  }
  seen.set(value, value);
  for (const key of Object.keys(record)) {
    record[key] = reviveValue(record[key], seen);
  }
  return value;
}

function reviverFor(name: string): Reducer<object, unknown> {
  const reducer = reducersByName.get(name);
  if (reducer === undefined) {
    throw new TypeError(
      `received a "${name}" object, but this process has no reducer for it: call registerReducer() in a module both processes import`,
    );
  }
  return reducer;
}

// Errors -------------------------------------------------------------------

/** The structured-cloneable form of a thrown value. */
export interface ErrorEnvelope {
  /** The class name to rebuild (`"TypeError"`, `"Empty"`, …). */
  name: string;
  /** `error.message`. */
  message: string;
  /** `error.stack`, from the process that threw it. */
  stack?: string;
  /** `error.cause`, itself enveloped when it is an error. */
  cause?: unknown;
  /** Whether `cause` was set at all (it may be `undefined`). */
  hasCause?: boolean;
  /** Whether `cause` is itself an envelope. */
  causeIsError?: boolean;
  /** Own enumerable fields (such as `code`), reduced. */
  fields?: Record<string, unknown>;
  /** `AggregateError.errors`, enveloped. */
  errors?: ErrorEnvelope[];
  /** A thrown value that is not an `Error`, as is. */
  thrown?: unknown;
}

type ErrorClass = new (message?: string, options?: ErrorOptions) => Error;

const errorClasses = new Map<string, ErrorClass>();
for (
  const type of [
    Error,
    TypeError,
    RangeError,
    SyntaxError,
    ReferenceError,
    EvalError,
    URIError,
    ProcessError,
    TimeoutError,
    EOFError,
    Empty,
    Full,
    BrokenBarrierError,
    BufferTooShort,
    LockOwnerDiedError,
    KeyError,
    IndexError,
    ValueError,
    AuthenticationError,
  ] as ErrorClass[]
) errorClasses.set(type.name, type);

/**
 * Lets errors of your own class keep their class when they cross between
 * processes (a task that throws `MyError` rejects with a `MyError` in the
 * caller). Register it in a module both processes import. Unregistered
 * classes arrive as `Error` with their original `name`.
 *
 * @example
 * ```ts
 * import { registerErrorClass } from "@seed/multiprocessing";
 *
 * class QuotaError extends Error {
 *   override name = "QuotaError";
 * }
 * registerErrorClass(QuotaError);
 * ```
 */
export function registerErrorClass(
  type: new (message?: string, options?: ErrorOptions) => Error,
): void {
  if (typeof type !== "function" || !(type.prototype instanceof Error)) {
    throw new TypeError(
      `registerErrorClass expected a class extending Error, received ${
        describe(type)
      }`,
    );
  }
  errorClasses.set(type.name, type);
}

/** Turns a thrown value into an {@linkcode ErrorEnvelope}. */
export function serializeError(error: unknown): ErrorEnvelope {
  if (!(error instanceof Error)) {
    try {
      return { name: "", message: "", thrown: reduce(error, "error").value };
    } catch {
      return { name: "Error", message: String(error) };
    }
  }
  const envelope: ErrorEnvelope = {
    name: error.name,
    message: error.message,
    stack: error.stack,
  };
  if ("cause" in error) {
    envelope.hasCause = true;
    envelope.causeIsError = error.cause instanceof Error;
    envelope.cause = error.cause instanceof Error
      ? serializeError(error.cause)
      : safeReduce(error.cause);
  }
  if (error instanceof AggregateError) {
    envelope.errors = error.errors.map(serializeError);
  }
  const fields: Record<string, unknown> = {};
  let any = false;
  for (const key of Object.keys(error)) {
    if (key === "name" || key === "message" || key === "cause") continue;
    fields[key] = safeReduce(
      (error as unknown as Record<string, unknown>)[key],
    );
    any = true;
  }
  if (any) envelope.fields = fields;
  return envelope;
}

function safeReduce(value: unknown): unknown {
  try {
    const reduced = reduce(value, "error");
    return reduced.marked ? String(value) : reduced.value;
  } catch {
    return String(value);
  }
}

/** Rebuilds a thrown value from its {@linkcode ErrorEnvelope}. */
export function deserializeError(envelope: ErrorEnvelope): unknown {
  if ("thrown" in envelope) return envelope.thrown;
  const type = errorClasses.get(envelope.name) ?? Error;
  const options = envelope.hasCause
    ? {
      cause: envelope.causeIsError
        ? deserializeError(envelope.cause as ErrorEnvelope)
        : envelope.cause,
    }
    : undefined;
  let error: Error;
  if (envelope.errors !== undefined) {
    error = new AggregateError(
      envelope.errors.map(deserializeError),
      envelope.message,
      options,
    );
  } else {
    error = Object.create(type.prototype) as Error;
    Object.defineProperty(error, "message", {
      value: envelope.message,
      writable: true,
      configurable: true,
    });
    if (options) {
      Object.defineProperty(error, "cause", {
        value: options.cause,
        writable: true,
        configurable: true,
      });
    }
  }
  if (error.name !== envelope.name) {
    Object.defineProperty(error, "name", {
      value: envelope.name,
      writable: true,
      configurable: true,
    });
  }
  Object.defineProperty(error, "stack", {
    value: envelope.stack ?? `${envelope.name}: ${envelope.message}`,
    writable: true,
    configurable: true,
  });
  if (envelope.fields) Object.assign(error, envelope.fields);
  return error;
}
