/**
 * `NamespaceProxy`: a managed Namespace.
 *
 * @module
 */

import { BaseProxy, callProxy } from "./base_proxy.ts";
import { checked, entriesOf } from "../_arguments.ts";
import { describe } from "../../core/describe.ts";

/**
 * A managed namespace (Python's `Namespace`): named values. A missing name
 * reads as `undefined`, as a missing property does in JavaScript.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const ns = await manager.Namespace({ x: 1 });
 * await ns.set("y", "two");
 * assert.deepEqual(await ns.toObject(), { x: 1, y: "two" });
 * ```
 */
export class NamespaceProxy extends BaseProxy {
  /** `ns.name`: its value, or `undefined`. */
  get(name: string): Promise<unknown> {
    return checked(() => checkName("read", name))
      .then(() => callProxy(this, "get", [name]));
  }

  /** `ns.name = value`. */
  set(name: string, value: unknown): Promise<void> {
    return checked(() => checkName("set", name))
      .then(() => callProxy(this, "set", [name, value])) as Promise<void>;
  }

  /** `del ns.name`; resolves to whether it was there. */
  delete(name: string): Promise<boolean> {
    return checked(() => checkName("delete", name))
      .then(() => callProxy(this, "delete", [name])) as Promise<boolean>;
  }

  /** `hasattr(ns, name)`. */
  has(name: string): Promise<boolean> {
    return checked(() => checkName("look up", name))
      .then(() => callProxy(this, "has", [name])) as Promise<boolean>;
  }

  /** Sets several names at once, in one call (atomically). */
  update(values: Record<string, unknown>): Promise<void> {
    return checked(() => {
      const entries = entriesOf("update the namespace", "values", values);
      for (const [name] of entries) checkName("update", name);
      return entries;
    }).then((entries) => callProxy(this, "update", [entries])) as Promise<
      void
    >;
  }

  /** A snapshot as a plain object. */
  toObject(): Promise<Record<string, unknown>> {
    return callProxy(this, "toObject", []) as Promise<Record<string, unknown>>;
  }
}

function checkName(action: string, name: unknown): void {
  if (typeof name !== "string") {
    throw new TypeError(
      `Cannot ${action} a name of the namespace as 'name' must be a string: current value is ${
        describe(name)
      }`,
    );
  }
}
