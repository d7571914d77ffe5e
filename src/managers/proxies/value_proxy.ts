/**
 * `ValueProxy`: a managed Value.
 *
 * @module
 */

import { BaseProxy, callProxy } from "./base_proxy.ts";

/**
 * A managed value (Python's `Manager().Value(typecode, value)`): holds any
 * value; the typecode is kept for compatibility, as Python's manager keeps
 * it.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const v = await manager.Value("i", 1);
 * await v.set(2);
 * assert.equal(await v.get(), 2);
 * ```
 */
export class ValueProxy<T = unknown> extends BaseProxy {
  /** `v.value`. */
  get(): Promise<T> {
    return callProxy(this, "get", []) as Promise<T>;
  }

  /** `v.value = value`. */
  set(value: T): Promise<void> {
    return callProxy(this, "set", [value]) as Promise<void>;
  }
}
