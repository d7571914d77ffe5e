/**
 * `AcquirerProxy` and `ConditionProxy`: managed locks, semaphores and
 * conditions.
 *
 * @module
 */

import { waitOf, type WaitOptions } from "../../core/wait.ts";
import { describe } from "../../core/describe.ts";
import { TimeoutError } from "../../errors.ts";
import { BaseProxy, callProxy } from "./base_proxy.ts";
import { checked, checkInteger, waitArguments } from "../_arguments.ts";

/**
 * A managed `Lock`, `RLock` or `Semaphore` (Python's `AcquirerProxy`).
 * `acquire()` resolves to `true`, or `false` when `block: false` finds it
 * held or `timeout` ms pass; an aborted `signal` withdraws the wait
 * (rejecting with its reason). An RLock is owned by a process: it may
 * acquire it again. A lock whose holder's process ended passes to the next
 * acquirer, whose `acquire()` rejects with `LockOwnerDiedError` (it holds
 * the lock then).
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const lock = await manager.Lock();
 * assert.equal(await lock.acquire(), true);
 * assert.equal(await lock.acquire({ block: false }), false);
 * await lock.release();
 * assert.equal(await lock.withLock(() => "inside"), "inside");
 * ```
 */
export class AcquirerProxy extends BaseProxy {
  /**
   * `acquire(block, timeout)`: resolves `true` once held.
   *
   * @throws {LockOwnerDiedError} When the holder's process ended holding
   * it: the caller holds it now.
   */
  acquire(options?: WaitOptions): Promise<boolean> {
    return checked(() => waitArguments("acquire", options))
      .then(({ wire, signal }) =>
        callProxy(this, "acquire", [wire], signal)
      ) as Promise<boolean>;
  }

  /**
   * `release()`.
   *
   * @throws {ProcessError} When it is not held (an RLock: not by this
   * process), as a local lock does.
   */
  release(): Promise<void> {
    return callProxy(this, "release", []) as Promise<void>;
  }

  /**
   * Acquires, runs `fn`, and releases even if it throws (Python's
   * `with lock:`).
   *
   * @throws {TimeoutError} When `timeout` passes before it is acquired.
   */
  async withLock<R>(
    fn: () => R | Promise<R>,
    options?: WaitOptions,
  ): Promise<R> {
    if (!await this.acquire(options)) {
      throw new TimeoutError(
        `The lock was not acquired within ${options?.timeout ?? 0} ms`,
      );
    }
    try {
      return await fn();
    } finally {
      await this.release();
    }
  }
}

/**
 * A managed `Condition` (Python's `ConditionProxy`), over its own RLock or
 * a managed Lock/RLock given to `manager.Condition(lock)`. `wait()` takes
 * the lock back before it settles, as Python's does — after a timeout, and
 * after an abort too.
 *
 * @example
 * ```ts
 * import { Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const cond = await manager.Condition();
 * await cond.acquire();
 * assert.equal(await cond.wait(10), false); // nobody notified
 * await cond.release();
 * ```
 */
export class ConditionProxy extends AcquirerProxy {
  /**
   * `wait(timeout)`: releases the lock until notified, then takes it back;
   * `false` on timeout. Takes `{ timeout, signal }` or a timeout in ms.
   *
   * @throws {ProcessError} When this process does not hold the lock.
   */
  wait(options?: WaitOptions | number): Promise<boolean> {
    return checked(() => waitArguments("wait", options))
      .then(({ wire, signal }) =>
        callProxy(this, "wait", [wire], signal)
      ) as Promise<boolean>;
  }

  /**
   * `wait_for(predicate, timeout)`: waits until `predicate()` holds, and
   * returns its last value.
   */
  async waitFor<R>(
    predicate: () => R | Promise<R>,
    options?: WaitOptions | number,
  ): Promise<R> {
    if (typeof predicate !== "function") {
      throw new TypeError(
        `Cannot wait for a predicate as 'predicate' must be a function: current value is ${
          describe(predicate)
        }`,
      );
    }
    const { deadline, signal } = waitOf("waitFor", options);
    let result = await predicate();
    while (!result) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.wait(
        left === Infinity ? { signal } : { timeout: left, signal },
      );
      result = await predicate();
    }
    return result;
  }

  /** `notify(n=1)`: wakes the `n` oldest waiters. */
  notify(n = 1): Promise<void> {
    return checked(() => checkInteger("notify", "n", n, 0))
      .then(() => callProxy(this, "notify", [n])) as Promise<void>;
  }

  /** `notify_all()`. */
  notifyAll(): Promise<void> {
    return callProxy(this, "notifyAll", []) as Promise<void>;
  }
}
