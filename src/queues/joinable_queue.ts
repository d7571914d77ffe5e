/**
 * `JoinableQueue`: Python's `multiprocessing.JoinableQueue`, a `Queue` that
 * counts unfinished tasks in its shared record.
 *
 * @module
 */

import type { WaitOptions } from "../core/wait.ts";
import { boxOf, countsTasks, Queue, registerQueue } from "./queue.ts";

/**
 * A `Queue` that counts unfinished tasks (Python's
 * `multiprocessing.JoinableQueue`): each `put` adds one (in the same commit
 * that publishes the item), each `taskDone()` removes one, and `join()`
 * waits until none is left.
 *
 * @example A worker marks each item done
 * ```ts
 * import { JoinableQueue, Process } from "@seed/multiprocessing";
 * import { doTasks } from "../../tests/queues/_fixtures/targets.ts";
 *
 * const q = new JoinableQueue<number>();
 * for (let i = 0; i < 5; i++) await q.put(i);
 * const worker = new Process({ target: doTasks, args: [q, 5], daemon: true });
 * worker.start();
 * await q.join(); // every item was taken and marked done
 * await worker.join();
 * ```
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /** A joinable queue holding at most `maxsize` items (0: no limit). */
  constructor(maxsize = 0) {
    super(maxsize);
  }

  /**
   * Marks one item taken with `get` as processed. Called more times than
   * items were put, it throws a `ProcessError` (Python's `ValueError`:
   * a runtime condition, not a bad argument).
   */
  taskDone(): void {
    boxOf(this).taskDone();
  }

  /**
   * Resolves once every item put has been marked with `taskDone()`. With
   * `options.timeout`, rejects with `Empty` if tasks are still unfinished
   * then; with `options.signal`, rejects with its reason when it aborts.
   */
  join(options?: WaitOptions): Promise<void> {
    return boxOf(this).join(options);
  }

  /** The blocking form of {@linkcode JoinableQueue.join}. */
  joinSync(options?: Omit<WaitOptions, "signal">): void {
    boxOf(this).joinSync(options);
  }
}

countsTasks(JoinableQueue);
registerQueue("JoinableQueue", JoinableQueue);
