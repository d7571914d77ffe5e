// The bookkeeping of one ClusterPool submission, as the local Pool keeps
// it: a Job settles one AsyncResult when all its tasks have (applyAsync,
// mapAsync), a Stream hands an imap loop its results in order or as they
// come. Both drop their remaining tasks on the first error and on abort.

import { type ClusterAsyncResult, settleResult } from "./async_result.ts";

/** One task at the client, until its first result. */
export interface Task {
  /** Its number at this client; results name it. */
  seq: number;
  /** The stream entry's id once `XADD` answered. */
  entryId?: string;
  /** Set when it was cancelled before `XADD` answered. */
  cancelled?: boolean;
  /** `performance.now()` at submission. */
  submittedAt: number;
  /** Where its result goes. */
  sink: Sink;
}

/** What a task reports to when it ends. */
export interface Sink {
  done(task: Task, ok: boolean, value: unknown): void;
}

/** What a Job or Stream may ask of its pool. */
export interface Canceller {
  /**
   * Drops a task not yet settled: removes it from the stream and, with
   * `stopRunning`, asks the worker running it to stop.
   */
  cancel(task: Task, stopRunning: boolean): void;
}

/** Python's `callback` and `error_callback`. */
export interface Callbacks {
  callback?: (value: any) => void;
  errorCallback?: (error: unknown) => void;
}

/** Runs a user callback; its error is reported, not swallowed or thrown here. */
export function runCallback(fn: (value: any) => void, value: unknown): void {
  try {
    fn(value);
  } catch (error) {
    reportError(error);
  }
}

/** One `applyAsync`/`mapAsync` call: settles when all its tasks have. */
export class Job implements Sink {
  #pool: Canceller;
  #result: ClusterAsyncResult<unknown>;
  #callbacks: Callbacks;
  #tasks = new Set<Task>();
  #sealed = false;
  #failed = false;
  #value: () => unknown = () => this.#single;
  #single: unknown;
  #signal?: AbortSignal;
  #onAbort?: () => void;

  constructor(
    pool: Canceller,
    result: ClusterAsyncResult<unknown>,
    callbacks: Callbacks,
    signal: AbortSignal | undefined,
  ) {
    this.#pool = pool;
    this.#result = result;
    this.#callbacks = callbacks;
    this.#signal = signal;
    if (signal !== undefined) {
      this.#onAbort = () => this.#fail(signal.reason, true);
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** Whether the job has failed already (its later tasks are not sent). */
  get failed(): boolean {
    return this.#failed;
  }

  add(task: Task): void {
    this.#tasks.add(task);
  }

  /** No more tasks; `value` builds the result from the tasks' results. */
  seal(value?: () => unknown): void {
    if (value) this.#value = value;
    this.#sealed = true;
    this.#maybeDone();
  }

  done(task: Task, ok: boolean, value: unknown): void {
    this.#tasks.delete(task);
    if (this.#failed) return;
    if (!ok) return this.#fail(value, false);
    this.#single = value;
    this.#maybeDone();
  }

  /** Fails the job (a task that could not be sent, a terminated pool). */
  fail(error: unknown): void {
    this.#fail(error, false);
  }

  #maybeDone(): void {
    if (!this.#sealed || this.#tasks.size > 0 || this.#failed) return;
    this.#cleanup();
    const value = this.#value();
    if (this.#callbacks.callback) runCallback(this.#callbacks.callback, value);
    settleResult(this.#result, true, value);
  }

  #fail(error: unknown, stopRunning: boolean): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#cleanup();
    for (const task of [...this.#tasks]) this.#pool.cancel(task, stopRunning);
    this.#tasks.clear();
    if (this.#callbacks.errorCallback) {
      runCallback(this.#callbacks.errorCallback, error);
    }
    settleResult(this.#result, false, error);
  }

  #cleanup(): void {
    if (this.#onAbort) {
      this.#signal!.removeEventListener("abort", this.#onAbort);
    }
  }
}

/** The tasks of one `imap`: results by chunk number, or as they arrive. */
export class Stream implements Sink {
  #pool: Canceller;
  #tasks = new Map<Task, number>();
  #results = new Map<number, { ok: boolean; value: unknown }>();
  #arrived: { ok: boolean; value: unknown }[] = [];
  #wake?: () => void;
  #next = 0;
  #ordered: boolean;
  #aborted?: { reason: unknown };
  #signal?: AbortSignal;
  #onAbort?: () => void;

  constructor(
    pool: Canceller,
    ordered: boolean,
    signal: AbortSignal | undefined,
  ) {
    this.#pool = pool;
    this.#ordered = ordered;
    this.#signal = signal;
    if (signal !== undefined) {
      this.#onAbort = () => {
        this.#aborted = { reason: signal.reason };
        for (const task of this.#tasks.keys()) this.#pool.cancel(task, true);
        this.#tasks.clear();
        this.#wake?.();
      };
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** Chunks submitted and not yet handed to the consumer. */
  get pending(): number {
    return this.#tasks.size + this.#results.size + this.#arrived.length;
  }

  add(task: Task, number: number): void {
    this.#tasks.set(task, number);
  }

  done(task: Task, ok: boolean, value: unknown): void {
    const number = this.#tasks.get(task);
    if (number === undefined) return;
    this.#tasks.delete(task);
    if (this.#ordered) this.#results.set(number, { ok, value });
    else this.#arrived.push({ ok, value });
    this.#wake?.();
  }

  throwIfAborted(): void {
    if (this.#aborted) throw this.#aborted.reason;
  }

  async next(): Promise<ArrayLike<unknown>> {
    while (
      this.#ordered
        ? !this.#results.has(this.#next)
        : this.#arrived.length === 0
    ) {
      this.throwIfAborted();
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    let outcome: { ok: boolean; value: unknown };
    if (this.#ordered) {
      outcome = this.#results.get(this.#next)!;
      this.#results.delete(this.#next++);
    } else {
      outcome = this.#arrived.shift()!;
    }
    if (!outcome.ok) throw outcome.value;
    return outcome.value as ArrayLike<unknown>;
  }

  /** The consumer is gone: drop the chunks not yet done. */
  stop(): void {
    if (this.#onAbort) {
      this.#signal!.removeEventListener("abort", this.#onAbort);
    }
    for (const task of this.#tasks.keys()) this.#pool.cancel(task, false);
    this.#tasks.clear();
  }
}
