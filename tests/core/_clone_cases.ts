// The values every path must carry exactly as structuredClone does, and
// the values every path must refuse. The codec's unit test and the table
// test over every channel (Pipe, Queue, Process, Pool, Manager) share them.

/** A value that crosses, named for failure messages. */
export interface CloneCase {
  name: string;
  make: () => unknown;
  /**
   * What must arrive, when it is not `structuredClone(value)`: errors keep
   * their class here, where a structured clone keeps only the built-in ones.
   */
  expected?: (value: unknown) => unknown;
}

function withExtra(): unknown[] {
  // deno-lint-ignore no-sparse-arrays
  const array: unknown[] & { extra?: string } = [1, , 3];
  array.extra = "x";
  return array;
}

function sparse(): unknown[] {
  const array: unknown[] = [];
  array[2 ** 32 - 2] = "last";
  array[5] = "fifth";
  return array;
}

function cyclic(): unknown {
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  a.list = [a, { back: a }];
  return a;
}

function sharedDag(levels: number): unknown {
  let node: unknown = { leaf: true };
  for (let i = 0; i < levels; i++) node = [node, node];
  return node;
}

function selfCause(): Error {
  const error = new Error("loops");
  (error as { cause?: unknown }).cause = error;
  return error;
}

function resizable(): ArrayBuffer {
  const buffer = new ArrayBuffer(8, { maxByteLength: 64 });
  new Uint8Array(buffer).set([1, 2, 3]);
  return buffer;
}

function lengthTracking(): Uint8Array {
  const buffer = new ArrayBuffer(4, { maxByteLength: 16 });
  return new Uint8Array(buffer);
}

function twoViewsOneBuffer(): unknown {
  const buffer = new ArrayBuffer(16);
  return [new Uint8Array(buffer, 0, 4), new Int32Array(buffer, 8, 2)];
}

function nullProto(): unknown {
  const object = Object.create(null);
  object.a = 1;
  object.nested = Object.create(null);
  return object;
}

function protoKey(): unknown {
  return JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
}

function getter(): unknown {
  return {
    get computed() {
      return 42;
    },
  };
}

const float16 = (globalThis as unknown as {
  Float16Array?: new (values: number[]) => ArrayBufferView;
}).Float16Array;

/** Values that cross: what arrives must equal `structuredClone(value)`. */
export const CLONE_CASES: CloneCase[] = [
  { name: "undefined", make: () => undefined },
  { name: "null", make: () => null },
  { name: "booleans", make: () => [true, false] },
  { name: "-0", make: () => -0 },
  { name: "NaN and infinities", make: () => [NaN, Infinity, -Infinity] },
  { name: "int32 bounds", make: () => [2 ** 31 - 1, -(2 ** 31), 2 ** 31] },
  { name: "floats", make: () => [1.5, 2 ** 60, Number.MIN_VALUE] },
  { name: "bigints", make: () => [0n, 123n, -123n, 2n ** 100n] },
  { name: "empty string", make: () => "" },
  { name: "latin1 string", make: () => "caf\u00e9 \u00ff" },
  { name: "unicode string", make: () => "\u65e5\u672c \ud83d\ude00" },
  { name: "lone surrogates", make: () => ["\ud800", "x\udc00y", "\ud83d"] },
  { name: "long string", make: () => "ab\u00e9".repeat(50_000) },
  { name: "dense array", make: () => [1, "two", { three: 3 }, [4]] },
  // deno-lint-ignore no-sparse-arrays
  { name: "array with a hole", make: () => [1, , 3] },
  { name: "array with a hole and an extra property", make: withExtra },
  { name: "sparse array of length 2**32 - 1", make: sparse },
  {
    name: "long array",
    make: () => Array.from({ length: 40_000 }, (_, i) => i),
  },
  { name: "plain object", make: () => ({ b: 1, a: [2], "0": "index first" }) },
  { name: "null-prototype objects", make: nullProto },
  { name: "an own __proto__ key", make: protoKey },
  { name: "a getter", make: getter },
  {
    name: "our former marker key",
    make: () => ({ __multiprocessing_reduced__: "Error", s: { message: "x" } }),
  },
  {
    name: "our marker key",
    make: () => ({ "\u0000multiprocessing": 1, s: 2 }),
  },
  { name: "dates", make: () => [new Date(0), new Date(NaN)] },
  { name: "regexp", make: () => /a+b/giu },
  {
    name: "map with a null-prototype key",
    make: () =>
      new Map<unknown, unknown>([[Object.create(null), 1], ["k", [2]]]),
  },
  { name: "set", make: () => new Set([1, "a", { b: 2 }]) },
  { name: "boxed primitives", make: () => [new Number(1), new String("s")] },
  { name: "Uint8Array", make: () => new Uint8Array([1, 2, 3, 4]) },
  { name: "Float64Array", make: () => new Float64Array([1.5, -0, NaN]) },
  { name: "BigInt64Array", make: () => new BigInt64Array([1n, -2n]) },
  { name: "BigUint64Array", make: () => new BigUint64Array([2n ** 64n - 1n]) },
  { name: "Uint8ClampedArray", make: () => new Uint8ClampedArray([300, -5]) },
  {
    name: "every typed array kind",
    make: () => [
      new Int8Array([-1]),
      new Int16Array([-2]),
      new Uint16Array([2]),
      new Int32Array([-3]),
      new Uint32Array([3]),
      new Float32Array([0.5]),
    ],
  },
  ...(float16
    ? [{ name: "Float16Array", make: () => new float16([1.5, 2]) }]
    : []),
  {
    name: "a subarray with an offset",
    make: () => new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]).subarray(2, 5),
  },
  {
    name: "a DataView with an offset",
    make: () => new DataView(new ArrayBuffer(12), 4, 4),
  },
  { name: "two views of one buffer", make: twoViewsOneBuffer },
  { name: "an ArrayBuffer", make: () => new Uint8Array([5, 6]).buffer },
  { name: "a resizable ArrayBuffer", make: resizable },
  { name: "a length-tracking view", make: lengthTracking },
  { name: "an error with a cause", make: () => new Error("top", { cause: 1 }) },
  { name: "a RangeError", make: () => new RangeError("range") },
  { name: "an error that is its own cause", make: selfCause },
  {
    name: "an AggregateError",
    make: () => new AggregateError([new Error("one")], "many"),
    expected: (value) => value,
  },
  { name: "a cycle", make: cyclic },
  {
    name: "shared references",
    make: () => {
      const x = { x: 1 };
      return [x, x, { x }];
    },
  },
  { name: "shared references 40 levels deep", make: () => sharedDag(40) },
];

/** Values no path carries: each is refused with a TypeError naming its path. */
export const REFUSED_CASES: {
  name: string;
  make: () => unknown;
  path: RegExp;
}[] = [
  { name: "a function", make: () => ({ f: () => 1 }), path: /\.f\b/ },
  { name: "a symbol", make: () => [Symbol("s")], path: /\[0\]/ },
  {
    name: "an instance of an unregistered class",
    make: () => ({
      p: new (class Point {
        x = 1;
      })(),
    }),
    path: /\.p\b.*Point/,
  },
  {
    name: "a symbol-keyed property",
    make: () => ({ [Symbol("k")]: 1 }),
    path: /Symbol\(k\)/,
  },
  { name: "a Blob", make: () => ({ b: new Blob(["x"]) }), path: /\.b\b.*Blob/ },
];
