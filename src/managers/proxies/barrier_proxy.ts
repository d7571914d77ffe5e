/**
 * `BarrierProxy`: a managed Barrier.
 *
 * @module
 */

import type { WaitOptions } from "../../core/wait.ts";
import { BaseProxy, callProxy } from "./base_proxy.ts";
import { checked, waitArguments } from "../_arguments.ts";

/**
 * A managed `Barrier` (Python's `BarrierProxy`): a real `Barrier` in the
 * manager's process. `wait()` resolves, for each of the `parties`, to a
 * different index in `0..parties-1`. A party that times out, aborts its
 * wait or ends breaks the barrier for the others.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const barrier = await manager.Barrier(2);
 * const indexes = await Promise.all([barrier.wait(), barrier.wait()]);
 * assert.deepEqual(indexes.sort(), [0, 1]);
 * ```
 */
export class BarrierProxy extends BaseProxy {
  /**
   * `wait(timeout)`: waits for every party. Takes `{ timeout, signal }` or
   * a timeout in ms.
   *
   * @throws {BrokenBarrierError} When the barrier is or becomes broken
   * (aborted, reset, or a party's wait timed out).
   */
  wait(options?: WaitOptions | number): Promise<number> {
    return checked(() => waitArguments("wait", options))
      .then(({ wire, signal }) =>
        callProxy(this, "wait", [wire], signal)
      ) as Promise<number>;
  }

  /** `abort()`: breaks the barrier. */
  abort(): Promise<void> {
    return callProxy(this, "abort", []) as Promise<void>;
  }

  /** `reset()`: breaks the current wait and makes the barrier usable again. */
  reset(): Promise<void> {
    return callProxy(this, "reset", []) as Promise<void>;
  }

  /** `parties`. */
  parties(): Promise<number> {
    return callProxy(this, "parties", []) as Promise<number>;
  }

  /** `n_waiting`. */
  nWaiting(): Promise<number> {
    return callProxy(this, "nWaiting", []) as Promise<number>;
  }

  /** `broken`. */
  broken(): Promise<boolean> {
    return callProxy(this, "broken", []) as Promise<boolean>;
  }
}
