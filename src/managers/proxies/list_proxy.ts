/**
 * `ListProxy`: a managed list.
 *
 * @module
 */

import { BaseProxy, callProxy } from "./base_proxy.ts";
import { checked, checkInteger, itemsOf } from "../_arguments.ts";

/**
 * A managed list (Python's `ListProxy`); negative indexes count from the
 * end. Its equality (`includes`, `index`, `remove`, `count`) is the one a
 * managed dict's keys follow (see `DictProxy`): items are equal
 * when their data is — `new Date(0)` matches an equal date, `{ a: 1, b: 2 }`
 * matches `{ b: 2, a: 1 }`.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const l = await manager.list<unknown>([1, 2]);
 * await l.append(new Date(0));
 * assert.equal(await l.get(-1) instanceof Date, true);
 * assert.equal(await l.includes(new Date(0)), true);
 * assert.deepEqual(await l.slice(0, 2), [1, 2]);
 * ```
 */
export class ListProxy<T = unknown> extends BaseProxy {
  /** `l.append(item)`. */
  append(item: T): Promise<void> {
    return callProxy(this, "append", [item]) as Promise<void>;
  }

  /** `l.extend(items)`. */
  extend(items: Iterable<T>): Promise<void> {
    return checked(() => itemsOf("extend the list", "items", items))
      .then((array) => callProxy(this, "extend", [array])) as Promise<void>;
  }

  /** `l.insert(index, item)`. */
  insert(index: number, item: T): Promise<void> {
    return checked(() => checkInteger("insert", "index", index, -Infinity))
      .then(() => callProxy(this, "insert", [index, item])) as Promise<void>;
  }

  /**
   * `l.pop([index])`: removes and returns the item (the last by default).
   *
   * @throws {IndexError} When the list is empty or the index out of range.
   */
  pop(index = -1): Promise<T> {
    return callProxy(this, "pop", [index]) as Promise<T>;
  }

  /**
   * `l.remove(item)`: removes the first equal item.
   *
   * @throws {ValueError} When no item is equal.
   */
  remove(item: T): Promise<void> {
    return callProxy(this, "remove", [item]) as Promise<void>;
  }

  /**
   * `l.index(item[, start[, end]])`: the position of the first equal item.
   *
   * @throws {ValueError} When no item in the range is equal.
   */
  index(item: T, start?: number, end?: number): Promise<number> {
    return callProxy(this, "index", [item, start, end]) as Promise<number>;
  }

  /** `l.count(item)`: how many items are equal. */
  count(item: T): Promise<number> {
    return callProxy(this, "count", [item]) as Promise<number>;
  }

  /** `item in l`. */
  includes(item: T): Promise<boolean> {
    return callProxy(this, "includes", [item]) as Promise<boolean>;
  }

  /**
   * `l[index]`.
   *
   * @throws {IndexError} When the index is out of range.
   */
  get(index: number): Promise<T> {
    return callProxy(this, "get", [index]) as Promise<T>;
  }

  /**
   * `l[index] = item`.
   *
   * @throws {IndexError} When the index is out of range.
   */
  set(index: number, item: T): Promise<void> {
    return callProxy(this, "set", [index, item]) as Promise<void>;
  }

  /**
   * `del l[index]`.
   *
   * @throws {IndexError} When the index is out of range.
   */
  delete(index: number): Promise<void> {
    return callProxy(this, "delete", [index]) as Promise<void>;
  }

  /** `len(l)`. */
  len(): Promise<number> {
    return callProxy(this, "len", []) as Promise<number>;
  }

  /** `l.reverse()`. */
  reverse(): Promise<void> {
    return callProxy(this, "reverse", []) as Promise<void>;
  }

  /** `l.sort(reverse=...)`: numbers or strings, compared in the server. */
  sort(options: { reverse?: boolean } = {}): Promise<void> {
    return callProxy(this, "sort", [options.reverse === true]) as Promise<
      void
    >;
  }

  /** `l.clear()`. */
  clear(): Promise<void> {
    return callProxy(this, "clear", []) as Promise<void>;
  }

  /** `l[start:end]`, as an array. */
  slice(start?: number, end?: number): Promise<T[]> {
    return callProxy(this, "slice", [start, end]) as Promise<T[]>;
  }

  /** A snapshot as an array. */
  toArray(): Promise<T[]> {
    return callProxy(this, "toArray", []) as Promise<T[]>;
  }
}
