/**
 * Python's shared ctypes: `Value`, `RawValue`, `SharedArray` (Python's
 * `Array`) and `RawArray`, typed numbers in a `SharedArrayBuffer` that every
 * process sees. `Value` and `SharedArray` carry a lock (`getLock()`); the
 * raw forms do not. Each crosses into processes by reference.
 *
 * Typecodes are those of Python's `array` module: `b B h H i I l L` (8- to
 * 32-bit integers, as numbers), `q Q` (64-bit, as bigints), `f d` (floats)
 * and `c` (one-byte strings). `l`/`L` are 32 bits here, as in C's minimum
 * and on Windows: use `q`/`Q` for 64 bits.
 *
 * @module
 */

import { registerReducer } from "../core/reduction.ts";
import { describe } from "../core/describe.ts";
import {
  type AcquireOptions,
  type Held,
  Lock,
  type LockState,
  reduceLock,
  reviveLock,
  RLock,
} from "../synchronize/synchronize.ts";

/**
 * A typecode of Python's `array` module, plus `c`.
 *
 * @example
 * ```ts
 * import { RawArray, type Typecode } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const codes: Typecode[] = ["b", "h", "i", "q", "d", "c"];
 * const sizes = codes.map((code) => RawArray(code, 1).view.BYTES_PER_ELEMENT);
 * assert.deepEqual(sizes, [1, 2, 4, 8, 8, 1]);
 * ```
 */
export type Typecode =
  | "b"
  | "B"
  | "h"
  | "H"
  | "i"
  | "I"
  | "l"
  | "L"
  | "q"
  | "Q"
  | "f"
  | "d"
  | "c";

/**
 * What an element of typecode `C` reads as in JavaScript.
 *
 * @example
 * ```ts
 * import { type ElementOf, RawValue } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const big: ElementOf<"q"> = 2n ** 40n; // 64-bit: a bigint
 * const char: ElementOf<"c"> = "x"; // a one-byte string
 * const real: ElementOf<"d"> = 0.5; // everything else: a number
 * assert.equal(RawValue("q", big).value, big);
 * assert.equal(RawValue("c", char).value, "x");
 * assert.equal(RawValue("d", real).value, 0.5);
 * ```
 */
export type ElementOf<C extends Typecode> = C extends "q" | "Q" ? bigint
  : C extends "c" ? string
  : number;

/**
 * The typed array under a shared array or value.
 *
 * @example
 * ```ts
 * import { RawArray, type View } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const a = RawArray("i", [1, 2, 3]);
 * const view: View = a.view;
 * assert.ok(view instanceof Int32Array);
 * view[0] = 10; // the same memory as the array
 * assert.equal(a[0], 10);
 * ```
 */
export type View =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

interface Kind {
  make: new (
    buffer: SharedArrayBuffer,
    offset?: number,
    length?: number,
  ) => View;
  bytes: number;
  min?: number;
  max?: number;
  big?: boolean;
}

const KINDS: Record<Typecode, Kind> = {
  b: { make: Int8Array, bytes: 1, min: -128, max: 127 },
  B: { make: Uint8Array, bytes: 1, min: 0, max: 255 },
  h: { make: Int16Array, bytes: 2, min: -32768, max: 32767 },
  H: { make: Uint16Array, bytes: 2, min: 0, max: 65535 },
  i: { make: Int32Array, bytes: 4, min: -(2 ** 31), max: 2 ** 31 - 1 },
  I: { make: Uint32Array, bytes: 4, min: 0, max: 2 ** 32 - 1 },
  l: { make: Int32Array, bytes: 4, min: -(2 ** 31), max: 2 ** 31 - 1 },
  L: { make: Uint32Array, bytes: 4, min: 0, max: 2 ** 32 - 1 },
  q: { make: BigInt64Array, bytes: 8, big: true },
  Q: { make: BigUint64Array, bytes: 8, big: true },
  f: { make: Float32Array, bytes: 4 },
  d: { make: Float64Array, bytes: 8 },
  c: { make: Uint8Array, bytes: 1 },
};

const Q_MIN = { q: -(2n ** 63n), Q: 0n };
const Q_MAX = { q: 2n ** 63n - 1n, Q: 2n ** 64n - 1n };

function kindOf(where: string, typecode: unknown): Kind {
  if (typeof typecode !== "string" || !Object.hasOwn(KINDS, typecode)) {
    throw new TypeError(
      `${where} typecode must be one of "b B h H i I l L q Q f d c" (as in Python's array module), received ${
        describe(typecode)
      }`,
    );
  }
  return KINDS[typecode as Typecode];
}

/** Checks `value` for `typecode` and returns what the typed array stores. */
function encode(
  where: string,
  typecode: Typecode,
  value: unknown,
): number | bigint {
  const kind = KINDS[typecode];
  if (typecode === "c") {
    if (
      typeof value !== "string" || value.length !== 1 ||
      value.charCodeAt(0) > 255
    ) {
      throw new TypeError(
        `${where} must be a one-byte string (one character, code < 256) for typecode "c", received ${
          describe(value)
        }`,
      );
    }
    return value.charCodeAt(0);
  }
  if (kind.big) {
    let big: bigint;
    if (typeof value === "bigint") big = value;
    else if (typeof value === "number" && Number.isSafeInteger(value)) {
      big = BigInt(value);
    } else {
      throw new TypeError(
        `${where} must be a bigint (or a safe integer) for typecode "${typecode}", received ${
          describe(value)
        }`,
      );
    }
    const t = typecode as "q" | "Q";
    if (big < Q_MIN[t] || big > Q_MAX[t]) {
      throw new RangeError(
        `${where} must be between ${Q_MIN[t]} and ${
          Q_MAX[t]
        } for typecode "${typecode}", received ${big}`,
      );
    }
    return big;
  }
  if (typeof value !== "number") {
    throw new TypeError(
      `${where} must be a number for typecode "${typecode}", received ${
        describe(value)
      }`,
    );
  }
  if (kind.min !== undefined) {
    if (!Number.isInteger(value)) {
      throw new TypeError(
        `${where} must be an integer for typecode "${typecode}", received ${value}`,
      );
    }
    if (value < kind.min || value > kind.max!) {
      throw new RangeError(
        `${where} must be between ${kind.min} and ${kind.max} for typecode "${typecode}", received ${value}`,
      );
    }
  }
  return value;
}

// Fast checks for the setters: when one passes, the value is stored as is;
// when it fails, encode() runs to throw the precise error. A fresh process
// runs `v.value += 1` interpreted at first, so the common case must be a
// few bytecodes.
const FAST: Record<Typecode, (v: unknown) => boolean> = {
  b: (v) => typeof v === "number" && (v << 24 >> 24) === v,
  B: (v) => typeof v === "number" && (v & 0xff) === v,
  h: (v) => typeof v === "number" && (v << 16 >> 16) === v,
  H: (v) => typeof v === "number" && (v & 0xffff) === v,
  i: (v) => typeof v === "number" && (v | 0) === v,
  I: (v) => typeof v === "number" && (v >>> 0) === v,
  l: (v) => typeof v === "number" && (v | 0) === v,
  L: (v) => typeof v === "number" && (v >>> 0) === v,
  q: () => false,
  Q: () => false,
  f: (v) => typeof v === "number",
  d: (v) => typeof v === "number",
  c: () => false,
};

function decode<C extends Typecode>(
  typecode: C,
  raw: number | bigint,
): ElementOf<C> {
  return (typecode === "c"
    ? String.fromCharCode(raw as number)
    : raw) as ElementOf<C>;
}

function lockOption(where: string, lock: unknown): Lock | RLock | undefined {
  if (lock === undefined || lock === true) return new RLock();
  if (lock === false) return undefined;
  if (lock instanceof Lock || lock instanceof RLock) return lock;
  throw new TypeError(
    `${where} options.lock must be true, false, a Lock or an RLock, received ${
      describe(lock)
    }`,
  );
}

// Raw value ----------------------------------------------------------------

const VIEW = Symbol("view");
const CODE = Symbol("typecode");

/**
 * One typed number in shared memory, without a lock: what `RawValue()`
 * returns and `Value(...).getObj()` wraps (Python's ctypes object).
 *
 * @example
 * ```ts
 * import { CValue, RawValue } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.ok(RawValue("i", 1) instanceof CValue);
 * ```
 */
export class CValue<C extends Typecode = Typecode> {
  /** @internal */
  readonly [VIEW]: View;
  /** @internal */
  readonly [CODE]: C;

  /** Use `RawValue(typecode, initial)`. */
  constructor(typecode: C, buffer: SharedArrayBuffer, byteOffset = 0) {
    this[CODE] = typecode;
    this[VIEW] = new KINDS[typecode].make(buffer, byteOffset, 1);
  }

  /** The typecode. */
  get typecode(): C {
    return this[CODE];
  }

  /** The shared memory holding the value. */
  get buffer(): SharedArrayBuffer {
    return this[VIEW].buffer as SharedArrayBuffer;
  }

  /** The value; setting it checks its type and range. */
  get value(): ElementOf<C> {
    const raw = this[VIEW][0];
    return (this[CODE] === "c"
      ? String.fromCharCode(raw as number)
      : raw) as ElementOf<C>;
  }
  set value(value: ElementOf<C>) {
    (this[VIEW] as Int32Array)[0] = FAST[this[CODE]](value)
      ? value as number
      : encode(`the ${this[CODE]} value`, this[CODE], value) as number;
  }

  /** `CValue { typecode, value }`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `${this.constructor.name}(${JSON.stringify(this[CODE])}, ${
      String(this.value)
    })`;
  }
}

function makeValue<C extends Typecode>(
  where: string,
  typecode: C,
  initial: unknown,
): CValue<C> {
  const kind = kindOf(where, typecode);
  const encoded = encode(
    `${where} initial`,
    typecode,
    initial ?? (typecode === "c" ? "\0" : kind.big ? 0n : 0),
  );
  // Its own buffer, apart from its lock's: measured against a value in
  // the lock's buffer (same cache line), two processes did as many guarded
  // increments per second either way, within this machine's noise.
  const value = new CValue(typecode, new SharedArrayBuffer(kind.bytes));
  (value[VIEW] as Int32Array)[0] = encoded as number;
  return value;
}

/**
 * Python's `RawValue`: callable with or without `new`.
 *
 * @example
 * ```ts
 * import { CValue, RawValue, type RawValueFactory } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const make: RawValueFactory = RawValue;
 * const called = make("i", 7);
 * const constructed = new make("i", 7);
 * assert.ok(called instanceof CValue && constructed instanceof CValue);
 * assert.equal(called.value, constructed.value);
 * ```
 */
export interface RawValueFactory {
  /** A value without a lock; `initial` is 0 (or `"\0"`) by default. */
  <C extends Typecode>(typecode: C, initial?: ElementOf<C>): CValue<C>;
  /** A value without a lock; `initial` is 0 (or `"\0"`) by default. */
  new <C extends Typecode>(typecode: C, initial?: ElementOf<C>): CValue<C>;
}

/**
 * A typed value in shared memory without a lock (Python's
 * `multiprocessing.RawValue`). Works as a plain call and with `new`.
 *
 * @example
 * ```ts
 * import { RawValue } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const x = RawValue("d", 1.5);
 * x.value *= 2;
 * assert.equal(x.value, 3);
 * ```
 */
export const RawValue: RawValueFactory = function RawValue<
  C extends Typecode,
>(typecode: C, initial?: ElementOf<C>): CValue<C> {
  return makeValue("RawValue()", typecode, initial);
} as unknown as RawValueFactory;
RawValue.prototype = CValue.prototype;

// Synchronized value ---------------------------------------------------------

/**
 * What `Value()` options accept.
 *
 * @example One lock guarding two shared objects
 * ```ts
 * import {
 *   Lock,
 *   SharedArray,
 *   type SharedOptions,
 *   Value,
 * } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const shared = { lock: new Lock() } satisfies SharedOptions;
 * const count = Value("i", 0, shared);
 * const totals = SharedArray("i", 2, shared);
 * assert.equal(count.getLock(), shared.lock);
 * assert.equal(totals.getLock(), shared.lock);
 * ```
 */
export interface SharedOptions {
  /**
   * `true` (default): a new `RLock` guards the object; `false`: no lock
   * (the raw object is returned); or a `Lock`/`RLock` to share.
   */
  lock?: boolean | Lock | RLock;
}

/**
 * A shared value with the lock that guards it (Python's `Synchronized`):
 * what `Value()` returns. `.value` reads and writes are each atomic for
 * their width, but `v.value += 1` is a read then a write: hold the lock
 * around it.
 *
 * @example
 * ```ts
 * import { Synchronized, Value } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const v: Synchronized<"i"> = Value("i", 1);
 * v.getLock().acquireSync();
 * v.value += 1;
 * v.getLock().release();
 * assert.equal(v.value, 2);
 * ```
 */
export class Synchronized<C extends Typecode = Typecode> {
  readonly #obj: CValue<C>;
  readonly #lock: Lock | RLock;
  // The raw object's view and typecode, read directly: two calls fewer per
  // `v.value += 1`, which matters while a fresh process is not yet JIT-warm.
  readonly #view: View;
  readonly #code: C;

  /** Use `Value(typecode, initial)`. */
  constructor(obj: CValue<C>, lock: Lock | RLock) {
    this.#obj = obj;
    this.#lock = lock;
    this.#view = obj[VIEW];
    this.#code = obj[CODE];
  }

  /** The value. */
  get value(): ElementOf<C> {
    const raw = this.#view[0];
    return (this.#code === "c"
      ? String.fromCharCode(raw as number)
      : raw) as ElementOf<C>;
  }
  set value(value: ElementOf<C>) {
    (this.#view as Int32Array)[0] = FAST[this.#code](value)
      ? value as number
      : encode(`the ${this.#code} value`, this.#code, value) as number;
  }

  /** The typecode. */
  get typecode(): C {
    return this.#obj.typecode;
  }

  /** The lock guarding the value. */
  getLock(): Lock | RLock {
    return this.#lock;
  }

  /** The raw value without its lock. */
  getObj(): CValue<C> {
    return this.#obj;
  }

  /** Acquires the lock (`getLock().acquire()`). */
  acquire(options?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(options);
  }

  /** Acquires the lock, blocking. */
  acquireSync(options?: AcquireOptions): boolean {
    return this.#lock.acquireSync(options);
  }

  /** Releases the lock. */
  release(): void {
    this.#lock.release();
  }

  /** Holds the lock for a `using` scope. */
  hold(options?: AcquireOptions): Promise<Held> {
    return this.#lock.hold(options);
  }

  /** Holds the lock for a `using` scope, blocking. */
  holdSync(options?: AcquireOptions): Held {
    return this.#lock.holdSync(options);
  }

  /** `Synchronized(typecode, value)`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `Synchronized(${JSON.stringify(this.typecode)}, ${
      String(this.value)
    })`;
  }
}

/**
 * Python's `Value`: callable with or without `new`.
 *
 * @example
 * ```ts
 * import {
 *   CValue,
 *   Synchronized,
 *   Value,
 *   type ValueFactory,
 * } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const make: ValueFactory = Value;
 * assert.ok(make("i", 1) instanceof Synchronized);
 * // With `lock: false`, the raw value.
 * assert.ok(new make("i", 1, { lock: false }) instanceof CValue);
 * ```
 */
export interface ValueFactory {
  /** A value guarded by a lock (unless `lock: false`). */
  <C extends Typecode>(
    typecode: C,
    initial?: ElementOf<C>,
    options?: SharedOptions & { lock?: true | Lock | RLock },
  ): Synchronized<C>;
  /** With `lock: false`, the raw value. */
  <C extends Typecode>(
    typecode: C,
    initial: ElementOf<C> | undefined,
    options: { lock: false },
  ): CValue<C>;
  /** A value guarded by a lock (unless `lock: false`). */
  new <C extends Typecode>(
    typecode: C,
    initial?: ElementOf<C>,
    options?: SharedOptions & { lock?: true | Lock | RLock },
  ): Synchronized<C>;
  /** With `lock: false`, the raw value. */
  new <C extends Typecode>(
    typecode: C,
    initial: ElementOf<C> | undefined,
    options: { lock: false },
  ): CValue<C>;
}

/**
 * A typed value in shared memory, guarded by a lock (Python's
 * `multiprocessing.Value`): `.value`, `getLock()`, `getObj()`. Works as a
 * plain call and with `new`; `{ lock: false }` returns a `RawValue`.
 *
 * @example A counter bumped under its lock
 * ```ts
 * import { Value } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const counter = Value("i", 0);
 * {
 *   using _held = await counter.getLock().hold();
 *   counter.value += 1;
 * }
 * assert.equal(counter.value, 1);
 * assert.equal(new Value("q", 2n ** 40n).value, 2n ** 40n);
 * ```
 */
export const Value: ValueFactory = function Value<C extends Typecode>(
  typecode: C,
  initial?: ElementOf<C>,
  options: SharedOptions = {},
): Synchronized<C> | CValue<C> {
  checkOptions("Value()", options);
  const obj = makeValue("Value()", typecode, initial);
  const lock = lockOption("Value()", options.lock);
  return lock === undefined ? obj : new Synchronized(obj, lock);
} as unknown as ValueFactory;
Value.prototype = Synchronized.prototype;

function checkOptions(where: string, options: unknown): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${where} expected options such as { lock }, received ${
        describe(options)
      }`,
    );
  }
}

// Raw array ------------------------------------------------------------------

function isIndexKey(key: string | symbol): key is string {
  if (typeof key !== "string") return false;
  const c = key.charCodeAt(0);
  return (c >= 48 && c <= 57) || c === 45; // a digit, or "-"
}

function indexOf(length: number, key: string | number): number {
  const index = Number(key);
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new RangeError(
      `index ${key} is out of range for a shared array of length ${length}${
        index < 0 ? " (use at(-1) to count from the end)" : ""
      }`,
    );
  }
  return index;
}

// Index access goes through a Proxy: a typed array cannot also carry
// getLock(), read "c" elements as strings, nor throw on an out-of-range
// index. The price, measured on Deno 2.9.6: ~150 ns per indexed read
// against ~1 ns for a typed array (V8 turns the index into a string for the
// trap). Loops that need raw speed use `.view`, the typed array itself.
const arrayHandler: ProxyHandler<CArray<Typecode>> = {
  get(target, key, receiver) {
    if (isIndexKey(key)) {
      const view = target[VIEW];
      return decode(target[CODE], view[indexOf(view.length, key)]);
    }
    return Reflect.get(target, key, receiver);
  },
  set(target, key, value, receiver) {
    if (isIndexKey(key)) {
      target.set(Number(key), value);
      return true;
    }
    return Reflect.set(target, key, value, receiver);
  },
  has(target, key) {
    if (isIndexKey(key)) {
      const i = Number(key);
      return Number.isInteger(i) && i >= 0 && i < target.length;
    }
    return Reflect.has(target, key);
  },
};

/**
 * Typed numbers in shared memory without a lock: what `RawArray()` returns
 * and `SharedArray(...).getObj()` wraps. Indexable (`a[0]`), iterable, with
 * `length`; an out-of-range index throws `RangeError`.
 *
 * @example
 * ```ts
 * import { CArray, RawArray } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const a: CArray<"b"> = RawArray("b", [1, -1]);
 * assert.equal(a[1], -1);
 * ```
 */
export class CArray<C extends Typecode = Typecode> {
  /** @internal */
  readonly [VIEW]: View;
  /** @internal */
  readonly [CODE]: C;
  /** Elements by index. */
  [index: number]: ElementOf<C>;

  /** Use `RawArray(typecode, sizeOrValues)`. */
  constructor(typecode: C, buffer: SharedArrayBuffer, length: number) {
    this[CODE] = typecode;
    this[VIEW] = new KINDS[typecode].make(buffer, 0, length);
    return new Proxy(this, arrayHandler as ProxyHandler<CArray<C>>);
  }

  /** The number of elements. */
  get length(): number {
    return this[VIEW].length;
  }

  /** The typecode. */
  get typecode(): C {
    return this[CODE];
  }

  /** The shared memory holding the elements. */
  get buffer(): SharedArrayBuffer {
    return this[VIEW].buffer as SharedArrayBuffer;
  }

  /**
   * The elements as a typed array over the same shared memory (bytes for
   * `c`): ~100× faster indexing than through the array, without its range
   * and type checks.
   */
  get view(): View {
    return this[VIEW];
  }

  /** The element at `index`; negative counts from the end. */
  at(index: number): ElementOf<C> | undefined {
    const raw = this[VIEW].at(index);
    return raw === undefined ? undefined : decode(this[CODE], raw);
  }

  /** Reads element `index`; out of range throws `RangeError`. */
  get(index: number): ElementOf<C> {
    const view = this[VIEW];
    return decode(this[CODE], view[indexOf(view.length, index)]);
  }

  /** Writes element `index`; out of range throws `RangeError`. */
  set(index: number, value: ElementOf<C>): void {
    const view = this[VIEW];
    (view as Int32Array)[indexOf(view.length, index)] = encode(
      `element ${index}`,
      this[CODE],
      value,
    ) as number;
  }

  /** The elements from `start` to `end` as a plain array (Python's `a[:]`). */
  slice(start?: number, end?: number): ElementOf<C>[] {
    const code = this[CODE];
    return Array.from(
      this[VIEW].slice(start, end) as ArrayLike<number | bigint>,
      (raw) => decode(code, raw),
    );
  }

  /** Iterates the elements. */
  *[Symbol.iterator](): IterableIterator<ElementOf<C>> {
    const view = this[VIEW];
    for (let i = 0; i < view.length; i++) yield decode(this[CODE], view[i]);
  }

  /** `CArray(typecode, [...])`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `${this.constructor.name}(${JSON.stringify(this[CODE])}, ${
      JSON.stringify(
        this.slice(),
        (_, v) => typeof v === "bigint" ? `${v}n` : v,
      )
    })`;
  }
}

function makeArray<C extends Typecode>(
  where: string,
  typecode: C,
  sizeOrValues: unknown,
): CArray<C> {
  const kind = kindOf(where, typecode);
  let values: unknown[] | undefined;
  let length: number;
  if (typeof sizeOrValues === "number") {
    if (!Number.isInteger(sizeOrValues) || sizeOrValues < 0) {
      throw new RangeError(
        `${where} size must be an integer ≥ 0, received ${sizeOrValues}`,
      );
    }
    length = sizeOrValues;
  } else if (typecode === "c" && typeof sizeOrValues === "string") {
    values = [...sizeOrValues];
    length = values.length;
  } else if (
    sizeOrValues !== null && typeof sizeOrValues === "object" &&
    Symbol.iterator in sizeOrValues
  ) {
    values = [...(sizeOrValues as Iterable<unknown>)];
    length = values.length;
  } else {
    throw new TypeError(
      `${where} sizeOrValues must be a size or an iterable of values, received ${
        describe(sizeOrValues)
      }`,
    );
  }
  const array = new CArray(
    typecode,
    new SharedArrayBuffer(Math.max(1, length) * kind.bytes),
    length,
  );
  if (values !== undefined) {
    const view = array[VIEW] as Int32Array;
    values.forEach((v, i) => {
      view[i] = encode(`${where} value [${i}]`, typecode, v) as number;
    });
  }
  return array;
}

/**
 * Python's `RawArray`: callable with or without `new`.
 *
 * @example
 * ```ts
 * import { RawArray, type RawArrayFactory } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const make: RawArrayFactory = RawArray;
 * assert.deepEqual([...make("B", 3)], [0, 0, 0]); // a size: zeros
 * assert.deepEqual([...new make("B", [1, 2])], [1, 2]); // values
 * ```
 */
export interface RawArrayFactory {
  /** An array without a lock, of `size` zeros or of the given values. */
  <C extends Typecode>(
    typecode: C,
    sizeOrValues: number | Iterable<ElementOf<C>>,
  ): CArray<C>;
  /** An array without a lock, of `size` zeros or of the given values. */
  new <C extends Typecode>(
    typecode: C,
    sizeOrValues: number | Iterable<ElementOf<C>>,
  ): CArray<C>;
}

/**
 * Typed numbers in shared memory without a lock (Python's
 * `multiprocessing.RawArray`): a size gives zeros, an iterable gives its
 * values. Works as a plain call and with `new`.
 *
 * @example
 * ```ts
 * import { RawArray } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const a = RawArray("h", [1, 2, 3]);
 * a[0] = 10;
 * assert.deepEqual([...a], [10, 2, 3]);
 * assert.throws(() => a[3], RangeError);
 * ```
 */
export const RawArray: RawArrayFactory = function RawArray<
  C extends Typecode,
>(typecode: C, sizeOrValues: number | Iterable<ElementOf<C>>): CArray<C> {
  return makeArray("RawArray()", typecode, sizeOrValues);
} as unknown as RawArrayFactory;
RawArray.prototype = CArray.prototype;

// Synchronized array ---------------------------------------------------------

/**
 * A shared array with the lock that guards it (Python's
 * `SynchronizedArray`): what `SharedArray()` returns. Indexable and
 * iterable; each element access is atomic for its width, a
 * read-modify-write needs the lock.
 *
 * @example
 * ```ts
 * import { SharedArray, SynchronizedArray } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const a: SynchronizedArray<"d"> = SharedArray("d", [0.5, 1.5]);
 * assert.equal(a.length, 2);
 * assert.deepEqual([...a], [0.5, 1.5]);
 * ```
 */
export class SynchronizedArray<C extends Typecode = Typecode> {
  readonly #obj: CArray<C>;
  readonly #lock: Lock | RLock;
  /** Elements by index. */
  [index: number]: ElementOf<C>;

  /** Use `SharedArray(typecode, sizeOrValues)`. */
  constructor(obj: CArray<C>, lock: Lock | RLock) {
    this.#obj = obj;
    this.#lock = lock;
    // Methods run on the target (not the Proxy), so private fields work.
    return new Proxy(this, {
      get(target, key) {
        if (isIndexKey(key)) return obj.get(indexOf(obj.length, key));
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
      set(target, key, value) {
        if (isIndexKey(key)) {
          obj.set(indexOf(obj.length, key), value);
          return true;
        }
        return Reflect.set(target, key, value, target);
      },
    });
  }

  /** The number of elements. */
  get length(): number {
    return this.#obj.length;
  }

  /** The typecode. */
  get typecode(): C {
    return this.#obj.typecode;
  }

  /** The elements as a typed array over the same memory (see `CArray.view`). */
  get view(): View {
    return this.#obj.view;
  }

  /** The element at `index`; negative counts from the end. */
  at(index: number): ElementOf<C> | undefined {
    return this.#obj.at(index);
  }

  /** The elements from `start` to `end` as a plain array. */
  slice(start?: number, end?: number): ElementOf<C>[] {
    return this.#obj.slice(start, end);
  }

  /** Iterates the elements. */
  [Symbol.iterator](): IterableIterator<ElementOf<C>> {
    return this.#obj[Symbol.iterator]();
  }

  /** The lock guarding the array. */
  getLock(): Lock | RLock {
    return this.#lock;
  }

  /** The raw array without its lock. */
  getObj(): CArray<C> {
    return this.#obj;
  }

  /** Acquires the lock. */
  acquire(options?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(options);
  }

  /** Acquires the lock, blocking. */
  acquireSync(options?: AcquireOptions): boolean {
    return this.#lock.acquireSync(options);
  }

  /** Releases the lock. */
  release(): void {
    this.#lock.release();
  }

  /** Holds the lock for a `using` scope. */
  hold(options?: AcquireOptions): Promise<Held> {
    return this.#lock.hold(options);
  }

  /** Holds the lock for a `using` scope, blocking. */
  holdSync(options?: AcquireOptions): Held {
    return this.#lock.holdSync(options);
  }

  /** `SynchronizedArray(typecode, [...])`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `SynchronizedArray(${JSON.stringify(this.typecode)}, ${
      JSON.stringify(
        this.slice(),
        (_, v) => typeof v === "bigint" ? `${v}n` : v,
      )
    })`;
  }
}

/**
 * Python's `Array`: callable with or without `new`.
 *
 * @example
 * ```ts
 * import {
 *   CArray,
 *   SharedArray,
 *   type SharedArrayFactory,
 *   SynchronizedArray,
 * } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const make: SharedArrayFactory = SharedArray;
 * assert.ok(make("d", 2) instanceof SynchronizedArray);
 * // With `lock: false`, the raw array.
 * assert.ok(new make("d", [1.5], { lock: false }) instanceof CArray);
 * ```
 */
export interface SharedArrayFactory {
  /** An array guarded by a lock, of `size` zeros or of the given values. */
  <C extends Typecode>(
    typecode: C,
    sizeOrValues: number | Iterable<ElementOf<C>>,
    options?: SharedOptions & { lock?: true | Lock | RLock },
  ): SynchronizedArray<C>;
  /** With `lock: false`, the raw array. */
  <C extends Typecode>(
    typecode: C,
    sizeOrValues: number | Iterable<ElementOf<C>>,
    options: { lock: false },
  ): CArray<C>;
  /** An array guarded by a lock, of `size` zeros or of the given values. */
  new <C extends Typecode>(
    typecode: C,
    sizeOrValues: number | Iterable<ElementOf<C>>,
    options?: SharedOptions & { lock?: true | Lock | RLock },
  ): SynchronizedArray<C>;
  /** With `lock: false`, the raw array. */
  new <C extends Typecode>(
    typecode: C,
    sizeOrValues: number | Iterable<ElementOf<C>>,
    options: { lock: false },
  ): CArray<C>;
}

/**
 * Typed numbers in shared memory, guarded by a lock (Python's
 * `multiprocessing.Array`, renamed so as not to shadow JavaScript's
 * `Array`). Indexable, iterable, `length`, `getLock()`, `getObj()`. Works
 * as a plain call and with `new`.
 *
 * @example
 * ```ts
 * import { SharedArray } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const a = SharedArray("i", 4);
 * {
 *   using _held = a.getLock().holdSync();
 *   for (let i = 0; i < a.length; i++) a[i] = i * i;
 * }
 * assert.deepEqual([...a], [0, 1, 4, 9]);
 * assert.equal(SharedArray("c", "hi")[1], "i");
 * ```
 */
export const SharedArray: SharedArrayFactory = function SharedArray<
  C extends Typecode,
>(
  typecode: C,
  sizeOrValues: number | Iterable<ElementOf<C>>,
  options: SharedOptions = {},
): SynchronizedArray<C> | CArray<C> {
  checkOptions("SharedArray()", options);
  const obj = makeArray("SharedArray()", typecode, sizeOrValues);
  const lock = lockOption("SharedArray()", options.lock);
  return lock === undefined ? obj : new SynchronizedArray(obj, lock);
} as unknown as SharedArrayFactory;
SharedArray.prototype = SynchronizedArray.prototype;

// Crossing into processes ---------------------------------------------------------

interface RawState {
  t: Typecode;
  b: SharedArrayBuffer;
  n?: number;
  o?: number;
}

function reviveRawValue(state: RawState): CValue {
  kindOf("received value", state.t);
  return new CValue(state.t, state.b, state.o ?? 0);
}

function reviveRawArray(state: RawState): CArray {
  kindOf("received array", state.t);
  return new CArray(state.t, state.b, state.n ?? 0);
}

registerReducer({
  name: "multiprocessing.RawValue",
  type: CValue,
  reduce: (v): RawState => ({
    t: v.typecode,
    b: v.buffer,
    o: v[VIEW].byteOffset,
  }),
  revive: reviveRawValue,
});
registerReducer({
  name: "multiprocessing.RawArray",
  type: CArray,
  reduce: (a): RawState => ({ t: a.typecode, b: a.buffer, n: a.length }),
  revive: reviveRawArray,
});
registerReducer({
  name: "multiprocessing.Value",
  type: Synchronized,
  reduce: (v) => ({
    o: {
      t: v.typecode,
      b: v.getObj().buffer,
      o: v.getObj()[VIEW].byteOffset,
    } as RawState,
    l: reduceLock(v.getLock()),
  }),
  revive: (s: { o: RawState; l: LockState }) =>
    new Synchronized(reviveRawValue(s.o), reviveLock(s.l)),
});
registerReducer({
  name: "multiprocessing.Array",
  type: SynchronizedArray,
  reduce: (a) => ({
    o: { t: a.typecode, b: a.getObj().buffer, n: a.length } as RawState,
    l: reduceLock(a.getLock()),
  }),
  revive: (s: { o: RawState; l: LockState }) =>
    new SynchronizedArray(reviveRawArray(s.o), reviveLock(s.l)),
});
