/**
 * `ClusterAsyncResult`: the result of a `ClusterPool` submission, with the
 * methods of the local pool's `AsyncResult`.
 *
 * @module
 */

import { ProcessError, TimeoutError } from "../errors.ts";
import { signalled, waitOf, type WaitOptions, within } from "../core/wait.ts";

let settle: (r: ClusterAsyncResult<any>, ok: boolean, value: unknown) => void;

/** Settles a result once (later calls do nothing); for the pool only. */
export function settleResult(
  result: ClusterAsyncResult<any>,
  ok: boolean,
  value: unknown,
): void {
  settle(result, ok, value);
}

/**
 * The result of `ClusterPool.applyAsync`, `mapAsync` or `starmapAsync`
 * (Python's `AsyncResult`): `get`, `wait`, `ready`, `successful`, as the
 * local `Pool`'s `AsyncResult` has them. Its waits take a timeout in ms or
 * `{ timeout, signal }`.
 *
 * @example
 * ```ts
 * import { ClusterAsyncResult } from "@seed/multiprocessing/cluster";
 * import assert from "node:assert/strict";
 *
 * // Results come from ClusterPool.applyAsync(); a new one is pending.
 * const result = new ClusterAsyncResult<number>();
 * assert.equal(result.ready(), false);
 * assert.equal(await result.wait(1), false);
 * ```
 */
export class ClusterAsyncResult<T> {
  #state: "pending" | "fulfilled" | "rejected" = "pending";
  #done = signalled<void>();
  #value: unknown;

  static {
    settle = (result, ok, value) => result.#settle(ok, value);
  }

  #settle(ok: boolean, value: unknown): void {
    if (this.#state !== "pending") return;
    this.#state = ok ? "fulfilled" : "rejected";
    this.#value = value;
    this.#done.resolve();
  }

  /**
   * Resolves to the result; rejects with the task's own error (its class,
   * message, stack and `cause`, from the worker), or with `TimeoutError`
   * when the wait ends first (the task itself goes on).
   */
  async get(options?: number | WaitOptions): Promise<T> {
    const wait = waitOf("get the result", options);
    await within(this.#done.promise, wait, () => {
      throw new TimeoutError("The result was not ready within the timeout");
    });
    if (this.#state === "rejected") throw this.#value;
    return this.#value as T;
  }

  /**
   * Waits until the result is ready or the wait ends; resolves to whether
   * it is ready.
   */
  async wait(options?: number | WaitOptions): Promise<boolean> {
    const wait = waitOf("wait for the result", options);
    await within(this.#done.promise, wait, () => undefined);
    return this.#state !== "pending";
  }

  /** Whether the task has finished (and its callback has run). */
  ready(): boolean {
    return this.#state !== "pending";
  }

  /**
   * Whether the task finished without an error; throws `ProcessError` when
   * it is not ready yet.
   */
  successful(): boolean {
    if (this.#state === "pending") {
      throw new ProcessError(
        "Cannot tell whether the task succeeded: it is not ready yet (await wait() first)",
      );
    }
    return this.#state === "fulfilled";
  }
}
