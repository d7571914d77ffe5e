/**
 * `QueueProxy`: a managed Queue or JoinableQueue.
 *
 * @module
 */

import type { WaitOptions } from "../../core/wait.ts";
import { BaseProxy, callProxy } from "./base_proxy.ts";
import { checked, waitArguments } from "../_arguments.ts";

/**
 * A managed queue (Python's `Manager().Queue()` / `JoinableQueue()`, both
 * joinable as Python's are): a real `JoinableQueue` in the manager's
 * process. `put` waits while it is full, `get` while it is empty, on the
 * server, without holding up other calls. Waits take
 * `{ block, timeout, signal }` (timeouts in ms); an aborted wait rejects
 * with the signal's reason and takes nothing from the queue.
 *
 * @example
 * ```ts
 * import { Empty, Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const q = await manager.Queue<string>();
 * await q.put("job");
 * assert.equal(await q.get(), "job");
 * await assert.rejects(q.get({ timeout: 10 }), Empty);
 * ```
 */
export class QueueProxy<T = unknown> extends BaseProxy {
  /**
   * `q.put(item, block, timeout)`: puts `item`, waiting for room in a full
   * queue.
   *
   * @throws {Full} When the queue stays full (or is full and
   * `block: false`).
   */
  put(item: T, options?: WaitOptions): Promise<void> {
    return checked(() => waitArguments("put", options))
      .then(({ wire, signal }) =>
        callProxy(this, "put", [item, wire], signal)
      ) as Promise<void>;
  }

  /**
   * `q.put_nowait(item)`.
   *
   * @throws {Full} When the queue is full.
   */
  putNowait(item: T): Promise<void> {
    return this.put(item, { block: false });
  }

  /**
   * `q.get(block, timeout)`: takes the first item, waiting for one.
   *
   * @throws {Empty} When the queue stays empty (or is empty and
   * `block: false`).
   */
  get(options?: WaitOptions): Promise<T> {
    return checked(() => waitArguments("get", options))
      .then(({ wire, signal }) =>
        callProxy(this, "get", [wire], signal)
      ) as Promise<T>;
  }

  /**
   * `q.get_nowait()`.
   *
   * @throws {Empty} When the queue is empty.
   */
  getNowait(): Promise<T> {
    return this.get({ block: false });
  }

  /** `q.qsize()`. */
  qsize(): Promise<number> {
    return callProxy(this, "qsize", []) as Promise<number>;
  }

  /** `q.empty()`. */
  empty(): Promise<boolean> {
    return callProxy(this, "empty", []) as Promise<boolean>;
  }

  /** `q.full()`. */
  full(): Promise<boolean> {
    return callProxy(this, "full", []) as Promise<boolean>;
  }

  /**
   * `q.task_done()`: one item taken with `get` is processed. Throws what a
   * local `JoinableQueue`'s `taskDone()` throws when called too often.
   */
  taskDone(): Promise<void> {
    return callProxy(this, "taskDone", []) as Promise<void>;
  }

  /**
   * `q.join()`: resolves once every item put is marked done; `signal` (of
   * `{ signal }`) withdraws the wait.
   */
  join(options?: Pick<WaitOptions, "signal">): Promise<void> {
    return checked(() => waitArguments("join", options))
      .then(({ signal }) => callProxy(this, "join", [], signal)) as Promise<
        void
      >;
  }
}
