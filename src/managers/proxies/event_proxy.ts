/**
 * `EventProxy`: a managed Event.
 *
 * @module
 */

import type { WaitOptions } from "../../core/wait.ts";
import { BaseProxy, callProxy } from "./base_proxy.ts";
import { checked, waitArguments } from "../_arguments.ts";

/**
 * A managed `Event` (Python's `EventProxy`): a real `Event` in the
 * manager's process.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const event = await manager.Event();
 * assert.equal(await event.wait(10), false);
 * await event.set();
 * assert.equal(await event.wait(), true);
 * ```
 */
export class EventProxy extends BaseProxy {
  /** `is_set()`. */
  isSet(): Promise<boolean> {
    return callProxy(this, "isSet", []) as Promise<boolean>;
  }

  /** `set()`: wakes every waiter. */
  set(): Promise<void> {
    return callProxy(this, "set", []) as Promise<void>;
  }

  /** `clear()`. */
  clear(): Promise<void> {
    return callProxy(this, "clear", []) as Promise<void>;
  }

  /**
   * `wait(timeout)`: `true` once set, `false` on timeout. Takes
   * `{ timeout, signal }` or a timeout in ms.
   */
  wait(options?: WaitOptions | number): Promise<boolean> {
    return checked(() => waitArguments("wait", options))
      .then(({ wire, signal }) =>
        callProxy(this, "wait", [wire], signal)
      ) as Promise<boolean>;
  }
}
