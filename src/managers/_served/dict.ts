// A managed dict as the server holds it: a plain server-side object whose
// keys follow the value identity of identity.ts, in insertion order (as
// Python's dict).

import { KeyError } from "../../errors.ts";
import { describe } from "../../core/describe.ts";
import { hashOf, sameValue } from "./identity.ts";
import { noSuchMethod, type Served } from "./served.ts";

/** One key and its value. */
type Entry = [key: unknown, value: unknown];

/** A dict keyed by value: `[1, 2]` is one key, however many copies arrive. */
export class ServedDict implements Served {
  // Primitive keys index `order` directly (a Map compares them by
  // SameValueZero, as identity.ts does); an object key is indexed by a
  // token, found through the bucket of its hash.
  readonly #order = new Map<unknown, Entry>();
  readonly #buckets = new Map<number, { token: object; entry: Entry }[]>();

  constructor(entries: Iterable<Entry> = []) {
    for (const [key, value] of entries) this.set(key, value);
  }

  invoke(method: string, args: unknown[]): unknown {
    switch (method) {
      case "get": {
        const entry = this.#find(args[0]);
        return entry === undefined ? args[1] : entry[1];
      }
      case "getItem":
        return this.getItem(args[0]);
      case "set":
        return this.set(args[0], args[1]);
      case "delete":
        this.getItem(args[0]);
        return void this.#delete(args[0]);
      case "has":
        return this.has(args[0]);
      case "pop":
        return this.pop(args[0], args.length > 1, args[1]);
      case "popItem":
        return this.popItem();
      case "setDefault":
        return this.setDefault(args[0], args[1]);
      case "update":
        for (const [key, value] of args[0] as Entry[]) this.set(key, value);
        return;
      case "keys":
        return [...this.#order.values()].map((entry) => entry[0]);
      case "values":
        return [...this.#order.values()].map((entry) => entry[1]);
      case "items":
        return [...this.#order.values()].map((entry) => [...entry]);
      case "len":
        return this.#order.size;
      case "clear":
        this.#order.clear();
        this.#buckets.clear();
        return;
      default:
        throw noSuchMethod("dict", method);
    }
  }

  has(key: unknown): boolean {
    return this.#find(key) !== undefined;
  }

  getItem(key: unknown): unknown {
    const entry = this.#find(key);
    if (entry === undefined) throw missing(key);
    return entry[1];
  }

  set(key: unknown, value: unknown): void {
    const entry = this.#find(key);
    if (entry !== undefined) {
      entry[1] = value;
      return;
    }
    if (isPrimitive(key)) {
      this.#order.set(key, [key, value]);
      return;
    }
    const token = {};
    const created: Entry = [key, value];
    this.#order.set(token, created);
    const hash = hashOf(key);
    let bucket = this.#buckets.get(hash);
    if (bucket === undefined) this.#buckets.set(hash, bucket = []);
    bucket.push({ token, entry: created });
  }

  pop(key: unknown, hasFallback: boolean, fallback: unknown): unknown {
    const entry = this.#find(key);
    if (entry === undefined) {
      if (hasFallback) return fallback;
      throw missing(key);
    }
    this.#delete(key);
    return entry[1];
  }

  popItem(): Entry {
    let last: unknown;
    for (const entry of this.#order.values()) last = entry;
    if (last === undefined) {
      throw new KeyError("Cannot pop an item from an empty dict");
    }
    const entry = last as Entry;
    this.#delete(entry[0]);
    return [...entry];
  }

  setDefault(key: unknown, fallback: unknown): unknown {
    const entry = this.#find(key);
    if (entry !== undefined) return entry[1];
    this.set(key, fallback);
    return fallback;
  }

  #find(key: unknown): Entry | undefined {
    if (isPrimitive(key)) return this.#order.get(key);
    const bucket = this.#buckets.get(hashOf(key));
    return bucket?.find((item) => sameValue(item.entry[0], key))?.entry;
  }

  #delete(key: unknown): void {
    if (isPrimitive(key)) {
      this.#order.delete(key);
      return;
    }
    const hash = hashOf(key);
    const bucket = this.#buckets.get(hash);
    const at = bucket?.findIndex((item) => sameValue(item.entry[0], key)) ??
      -1;
    if (at === -1) return;
    this.#order.delete(bucket![at].token);
    bucket!.splice(at, 1);
    if (bucket!.length === 0) this.#buckets.delete(hash);
  }
}

function isPrimitive(value: unknown): boolean {
  return value === null || typeof value !== "object";
}

/** Python's `KeyError(key)`: the message is the key. */
function missing(key: unknown): KeyError {
  return new KeyError(
    typeof key === "string"
      ? JSON.stringify(key)
      : isPrimitive(key)
      ? String(key)
      : describe(key),
  );
}
