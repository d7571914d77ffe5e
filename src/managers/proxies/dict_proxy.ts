/**
 * `DictProxy`: a managed dict.
 *
 * @module
 */

import { BaseProxy, callProxy } from "./base_proxy.ts";
import { checked, entriesOf } from "../_arguments.ts";

/**
 * A managed dict (Python's `DictProxy`), in insertion order, keyed by
 * value: keys are the same when their data is, whichever copy arrives —
 * primitives by SameValueZero (`NaN` is one key, `0` and `-0` are one,
 * `1` and `"1"` are two); arrays, plain objects (in any key order), `Map`s,
 * `Set`s, dates, typed arrays… by their content (`[1, 2]` is one key, as a
 * tuple is in Python); proxies by the object they stand for. A managed
 * list's equality (`includes`, `index`, `remove`, `count`) is the same.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const d = await manager.dict<unknown, number>({ a: 1 });
 * await d.set("b", 2);
 * await d.set({ x: 1, y: 2 }, 3);
 * assert.equal(await d.get({ y: 2, x: 1 }), 3); // the same key
 * assert.equal(await d.get("b"), 2);
 * assert.equal(await d.setDefault("c", 4), 4);
 * assert.deepEqual(await d.popItem(), ["c", 4]);
 * ```
 */
export class DictProxy<K = unknown, V = unknown> extends BaseProxy {
  /** `d.get(key)`: the value, or `undefined` when the key is missing. */
  get(key: K): Promise<V | undefined>;
  /** `d.get(key, default)`: the value, or `fallback` when the key is missing. */
  get<D>(key: K, fallback: D): Promise<V | D>;
  get(key: K, fallback?: unknown): Promise<unknown> {
    return callProxy(this, "get", [key, fallback]);
  }

  /**
   * `d[key]`: the value.
   *
   * @throws {KeyError} When the key is missing.
   */
  getItem(key: K): Promise<V> {
    return callProxy(this, "getItem", [key]) as Promise<V>;
  }

  /** `d[key] = value`. */
  set(key: K, value: V): Promise<void> {
    return callProxy(this, "set", [key, value]) as Promise<void>;
  }

  /**
   * `del d[key]`.
   *
   * @throws {KeyError} When the key is missing.
   */
  delete(key: K): Promise<void> {
    return callProxy(this, "delete", [key]) as Promise<void>;
  }

  /** `key in d`. */
  has(key: K): Promise<boolean> {
    return callProxy(this, "has", [key]) as Promise<boolean>;
  }

  /**
   * `d.pop(key[, default])`: removes the key and returns its value, or
   * `fallback` when it is missing and one is given.
   *
   * @throws {KeyError} When the key is missing and no fallback is given.
   */
  pop(key: K, ...fallback: [] | [V]): Promise<V> {
    return callProxy(this, "pop", [key, ...fallback]) as Promise<V>;
  }

  /**
   * `d.popitem()`: removes and returns the last `[key, value]` inserted.
   *
   * @throws {KeyError} When the dict is empty.
   */
  popItem(): Promise<[K, V]> {
    return callProxy(this, "popItem", []) as Promise<[K, V]>;
  }

  /** `d.setdefault(key, default)`: the value, set to `fallback` if missing. */
  setDefault(key: K, fallback: V): Promise<V> {
    return callProxy(this, "setDefault", [key, fallback]) as Promise<V>;
  }

  /** `d.update(other)`: from an object, a `Map` or `[key, value]` pairs. */
  update(
    other: Record<string, V> | Map<K, V> | Iterable<[K, V]>,
  ): Promise<void> {
    return checked(() => entriesOf("update the dict", "other", other))
      .then((entries) => callProxy(this, "update", [entries])) as Promise<
        void
      >;
  }

  /** `list(d.keys())`, in insertion order. */
  keys(): Promise<K[]> {
    return callProxy(this, "keys", []) as Promise<K[]>;
  }

  /** `list(d.values())`. */
  values(): Promise<V[]> {
    return callProxy(this, "values", []) as Promise<V[]>;
  }

  /** `list(d.items())`, as `[key, value]` pairs. */
  items(): Promise<[K, V][]> {
    return callProxy(this, "items", []) as Promise<[K, V][]>;
  }

  /** `len(d)`. */
  len(): Promise<number> {
    return callProxy(this, "len", []) as Promise<number>;
  }

  /** `d.clear()`. */
  clear(): Promise<void> {
    return callProxy(this, "clear", []) as Promise<void>;
  }

  /** A snapshot as a plain object (keys become strings). */
  async toObject(): Promise<Record<string, V>> {
    return Object.fromEntries(await this.items() as [string, V][]);
  }

  /** A snapshot as a `Map`, keeping keys as they are. */
  async toMap(): Promise<Map<K, V>> {
    return new Map(await this.items());
  }
}
