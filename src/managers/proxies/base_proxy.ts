/**
 * `BaseProxy`: what every proxy of a manager's objects shares.
 *
 * @module
 */

import type { Connection } from "../_client.ts";
import { valueIdentity } from "../_served/identity.ts";

/** What a proxy stands for: an object of a manager, by its id. */
export interface ProxyTarget {
  readonly connection: Connection;
  /** Python's type id of the object (`"dict"`, `"Queue"`, …). */
  readonly typeid: string;
  readonly id: number;
}

// Targets made for a proxy being constructed; `new` with anything else
// is refused (proxies come from a manager).
const issued = new WeakSet<object>();
const targets = new WeakMap<BaseProxy, ProxyTarget>();

/**
 * What every proxy shares: the managed object it stands for, and how it
 * prints. A proxy crosses into processes by reference (as a process or
 * pool task argument, at any depth), and can be stored in a managed
 * container (a dict of lists), as in Python 3.6+.
 *
 * @example
 * ```ts
 * import { BaseProxy, Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const d = await manager.dict();
 * assert.ok(d instanceof BaseProxy);
 * assert.match(Deno.inspect(d), /DictProxy/);
 * ```
 */
export abstract class BaseProxy {
  /**
   * Proxies come from a `Manager` (`await manager.dict()`, …): `new`
   * throws a `TypeError`.
   */
  constructor(target: unknown) {
    if (typeof target !== "object" || target === null || !issued.has(target)) {
      throw new TypeError(
        "Cannot construct a proxy as proxies are made by a Manager: use `await manager.dict()` and the like",
      );
    }
    issued.delete(target);
    targets.set(this, target as ProxyTarget);
  }

  /** Two proxies of one managed object are the same value (a dict key). */
  [valueIdentity](): string {
    const { connection, id } = targets.get(this)!;
    return `${connection.managerId}#${id}`;
  }

  /** `DictProxy { id: 1, manager pid: <server pid> }`, and whether it is shut down. */
  [Symbol.for("Deno.customInspect")](): string {
    const { connection, id } = targets.get(this)!;
    return `${this.constructor.name} { id: ${id}, manager pid: ${connection.serverPid}${
      connection.stopped ? ", shut down" : ""
    } }`;
  }
}

/** A proxy class, as the manager makes them. */
export type ProxyType<T extends BaseProxy = BaseProxy> = new (
  target: unknown,
) => T;

/** Makes a proxy of `type` for `target`. */
export function issueProxy<T extends BaseProxy>(
  type: ProxyType<T>,
  target: ProxyTarget,
): T {
  const token = { ...target };
  issued.add(token);
  return new type(token);
}

/** What `proxy` stands for. */
export function targetOf(proxy: BaseProxy): ProxyTarget {
  return targets.get(proxy)!;
}

/** Calls `method` of the object `proxy` stands for. */
export function callProxy(
  proxy: BaseProxy,
  method: string,
  args: unknown[],
  signal?: AbortSignal,
): Promise<unknown> {
  const { connection, id } = targets.get(proxy)!;
  return connection.call(id, method, args, signal);
}
