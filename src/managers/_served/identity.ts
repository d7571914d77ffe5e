// Value identity: when two values held by a managed dict or list are "the
// same" — one definition for dict keys and for a list's `includes`, `index`,
// `remove` and `count`.
//
// The rule follows what the codec carries: two values are the same when
// they are the same data, whichever copy of it arrived.
// - Primitives: SameValueZero, as `Map` keys and `Array.includes` (`NaN` is
//   `NaN`, `0` is `-0`); types differ (`1`, `"1"` and `1n` are three).
// - Objects of the same kind with the same content: arrays element by
//   element in order (a hole is not `undefined`), with the same extra
//   properties; plain objects (null-prototype ones too: they arrive as
//   plain objects) by their own keys and values **in any order**; `Map`s by
//   their entries and `Set`s by their members, in any order; a `Date` by its
//   time (invalid dates are alike); a `RegExp` by source and flags; typed
//   arrays and `DataView`s by kind and the bytes they view; `ArrayBuffer`s
//   by their bytes; boxed primitives by type and value; errors by class
//   name, message, cause and own fields.
// - Objects that stand for something shared (a proxy) by what they stand
//   for (see `valueIdentity`); any other object only when it is the very
//   same object.
// - Shared references and cycles: two graphs are the same when they cannot
//   be told apart by walking them (a copy of `x` matches `x`).

/**
 * A method an object may have that names what it stands for: two objects
 * whose identities are equal strings are the same value (a proxy names
 * its manager and object).
 */
export const valueIdentity: unique symbol = Symbol("valueIdentity");

interface Identified {
  [valueIdentity](): string;
}

/** Whether `a` and `b` are the same value (see the rule above). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (
    typeof a !== "object" || typeof b !== "object" || a === null ||
    b === null
  ) {
    return a !== a && b !== b; // NaN
  }
  return sameObject(a, b, new Map());
}

/**
 * A hash of `value` that agrees with {@linkcode sameValue}: equal values
 * have equal hashes (different values may share one).
 */
export function hashOf(value: unknown): number {
  return hash(value, new Map()) >>> 0;
}

// Equality -----------------------------------------------------------------------

type Kind =
  | "array"
  | "plain"
  | "date"
  | "regexp"
  | "map"
  | "set"
  | "view"
  | "buffer"
  | "boxed"
  | "error"
  | "identified"
  | "other";

function kindOf(value: object): Kind {
  if (Array.isArray(value)) return "array";
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return "plain";
  if (typeof (value as Partial<Identified>)[valueIdentity] === "function") {
    return "identified";
  }
  if (value instanceof Date) return "date";
  if (value instanceof RegExp) return "regexp";
  if (value instanceof Map) return "map";
  if (value instanceof Set) return "set";
  if (ArrayBuffer.isView(value)) return "view";
  if (value instanceof ArrayBuffer) return "buffer";
  if (
    value instanceof Number || value instanceof String ||
    value instanceof Boolean || value instanceof BigInt
  ) return "boxed";
  if (value instanceof Error) return "error";
  return "other";
}

function same(a: unknown, b: unknown, pairs: Map<object, Set<object>>) {
  if (a === b) return true;
  if (
    typeof a !== "object" || typeof b !== "object" || a === null ||
    b === null
  ) {
    return a !== a && b !== b;
  }
  return sameObject(a, b, pairs);
}

function sameObject(
  a: object,
  b: object,
  pairs: Map<object, Set<object>>,
): boolean {
  // A pair met again (a cycle, or a shared reference) is assumed the same:
  // if it is not, the first comparison of it fails the whole.
  let met = pairs.get(a);
  if (met?.has(b)) return true;
  if (met === undefined) pairs.set(a, met = new Set());
  met.add(b);
  const kind = kindOf(a);
  if (kind !== kindOf(b)) return false;
  switch (kind) {
    case "array":
      return sameArray(a as unknown[], b as unknown[], pairs);
    case "plain":
      return sameProperties(
        a as Record<string, unknown>,
        b as Record<string, unknown>,
        Object.keys(a),
        Object.keys(b),
        pairs,
      );
    case "identified":
      return (a as Identified)[valueIdentity]() ===
        (b as Identified)[valueIdentity]();
    case "date": {
      const x = (a as Date).getTime(), y = (b as Date).getTime();
      return x === y || (x !== x && y !== y);
    }
    case "regexp":
      return (a as RegExp).source === (b as RegExp).source &&
        (a as RegExp).flags === (b as RegExp).flags;
    case "map":
      return sameMap(
        a as Map<unknown, unknown>,
        b as Map<unknown, unknown>,
        pairs,
      );
    case "set":
      return sameSet(a as Set<unknown>, b as Set<unknown>, pairs);
    case "view":
      return a.constructor === b.constructor &&
        sameBytes(bytesOf(a as ArrayBufferView), bytesOf(b as ArrayBufferView));
    case "buffer":
      return sameBytes(
        new Uint8Array(a as ArrayBuffer),
        new Uint8Array(b as ArrayBuffer),
      );
    case "boxed": {
      if (a.constructor !== b.constructor) return false;
      const x = a.valueOf(), y = b.valueOf();
      return x === y || (x !== x && y !== y);
    }
    case "error": {
      const x = a as Error, y = b as Error;
      if (x.name !== y.name || x.message !== y.message) return false;
      if (Object.hasOwn(x, "cause") !== Object.hasOwn(y, "cause")) {
        return false;
      }
      if (!same(x.cause, y.cause, pairs)) return false;
      return sameProperties(
        x as unknown as Record<string, unknown>,
        y as unknown as Record<string, unknown>,
        Object.keys(x),
        Object.keys(y),
        pairs,
      );
    }
    default:
      return false; // only the very same object (a === b above)
  }
}

function sameArray(
  a: unknown[],
  b: unknown[],
  pairs: Map<object, Set<object>>,
): boolean {
  if (a.length !== b.length) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length === a.length && kb.length === b.length) {
    // Dense, no extra properties: the common case.
    for (let i = 0; i < a.length; i++) {
      if (!same(a[i], b[i], pairs)) return false;
    }
    return true;
  }
  // Holes and extra properties: compare own keys (indexes among them).
  return sameProperties(
    a as unknown as Record<string, unknown>,
    b as unknown as Record<string, unknown>,
    ka,
    kb,
    pairs,
  );
}

function sameProperties(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  ka: string[],
  kb: string[],
  pairs: Map<object, Set<object>>,
): boolean {
  if (ka.length !== kb.length) return false;
  for (const key of ka) {
    if (!Object.hasOwn(b, key)) return false;
    if (!same(a[key], b[key], pairs)) return false;
  }
  return true;
}

function sameMap(
  a: Map<unknown, unknown>,
  b: Map<unknown, unknown>,
  pairs: Map<object, Set<object>>,
): boolean {
  if (a.size !== b.size) return false;
  let objectKeys: [unknown, unknown][] | undefined;
  for (const [key, value] of a) {
    if (key === null || typeof key !== "object") {
      if (!b.has(key) || !same(value, b.get(key), pairs)) return false;
      continue;
    }
    objectKeys ??= [...b].filter(([k]) => k !== null && typeof k === "object");
    const at = objectKeys.findIndex(([k, v]) =>
      same(key, k, pairs) && same(value, v, pairs)
    );
    if (at === -1) return false;
    objectKeys.splice(at, 1);
  }
  return true;
}

function sameSet(
  a: Set<unknown>,
  b: Set<unknown>,
  pairs: Map<object, Set<object>>,
): boolean {
  if (a.size !== b.size) return false;
  let objects: unknown[] | undefined;
  for (const member of a) {
    if (member === null || typeof member !== "object") {
      if (!b.has(member)) return false;
      continue;
    }
    objects ??= [...b].filter((m) => m !== null && typeof m === "object");
    const at = objects.findIndex((m) => same(member, m, pairs));
    if (at === -1) return false;
    objects.splice(at, 1);
  }
  return true;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// Hashing ------------------------------------------------------------------------

const ON_STACK = -1;

function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x01000193);
  return h ^ (h >>> 15);
}

function hashString(text: string, h = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) h = mix(h, text.charCodeAt(i));
  return h;
}

function hashNumber(x: number): number {
  if (x !== x) return 0x7ff80000; // every NaN
  if (x === 0) return 0; // 0 and -0
  if ((x | 0) === x) return mix(0x9e3779b9, x);
  return hashString(String(x), 0x85ebca6b);
}

function hash(value: unknown, memo: Map<object, number>): number {
  switch (typeof value) {
    case "number":
      return hashNumber(value);
    case "string":
      return hashString(value);
    case "boolean":
      return value ? 0x1 : 0x2;
    case "undefined":
      return 0x3;
    case "bigint":
      return hashString(value.toString(), 0x27d4eb2f);
    case "object":
      if (value === null) return 0x4;
      return hashObject(value, memo);
    default:
      return 0x5;
  }
}

function hashObject(value: object, memo: Map<object, number>): number {
  const known = memo.get(value);
  if (known !== undefined) return known === ON_STACK ? 0x6 : known;
  memo.set(value, ON_STACK);
  const h = hashOfKind(value, memo);
  memo.set(value, h);
  return h;
}

/** Combines unordered parts: the same whatever their order. */
function unordered(
  seed: number,
  parts: Iterable<unknown>,
  part: (item: unknown) => number,
): number {
  let sum = 0;
  for (const item of parts) sum = (sum + mix(0x2545f491, part(item))) | 0;
  return mix(seed, sum);
}

function hashOfKind(value: object, memo: Map<object, number>): number {
  const kind = kindOf(value);
  switch (kind) {
    case "array": {
      const array = value as unknown[];
      let h = mix(0xa11, array.length);
      const keys = Object.keys(array);
      if (keys.length === array.length) {
        for (const item of array) h = mix(h, hash(item, memo));
        return h;
      }
      return mix(h, hashProperties(value, keys, memo));
    }
    case "plain":
      return mix(0xb22, hashProperties(value, Object.keys(value), memo));
    case "identified":
      return hashString((value as Identified)[valueIdentity](), 0xc33);
    case "date":
      return mix(0xd44, hashNumber((value as Date).getTime()));
    case "regexp":
      return hashString(
        `${(value as RegExp).source}/${(value as RegExp).flags}`,
        0xe55,
      );
    case "map":
      return unordered(
        0xf66,
        (value as Map<unknown, unknown>).entries(),
        (entry) => {
          const [k, v] = entry as [unknown, unknown];
          return mix(hash(k, memo), hash(v, memo));
        },
      );
    case "set":
      return unordered(0x177, value as Set<unknown>, (m) => hash(m, memo));
    case "view": {
      const bytes = bytesOf(value as ArrayBufferView);
      return hashBytes(bytes, hashString(value.constructor.name, 0x288));
    }
    case "buffer":
      return hashBytes(new Uint8Array(value as ArrayBuffer), 0x399);
    case "boxed":
      return mix(0x4aa, hash(value.valueOf(), memo));
    case "error":
      return hashString(
        `${(value as Error).name}: ${(value as Error).message}`,
        0x5bb,
      );
    default:
      return hashString(value.constructor?.name ?? "", 0x6cc);
  }
}

function hashProperties(
  value: object,
  keys: string[],
  memo: Map<object, number>,
): number {
  const record = value as Record<string, unknown>;
  return unordered(
    keys.length,
    keys,
    (key) => mix(hashString(key as string), hash(record[key as string], memo)),
  );
}

function hashBytes(bytes: Uint8Array, h: number): number {
  h = mix(h, bytes.length);
  for (let i = 0; i < bytes.length; i++) h = mix(h, bytes[i]);
  return h;
}
