/**
 * The one vocabulary of waiting, shared by every wait of the module:
 * `{ block, timeout, signal }`. A timeout is in milliseconds; omitting it
 * (or passing `Infinity`) means no limit, and `0` means "try once, do not
 * wait" — as does `block: false`, which ignores `timeout` as Python does.
 * An aborted `signal` makes the wait reject with the signal's reason and
 * leaves nothing behind.
 *
 * @module
 */

import { describe } from "./describe.ts";
import { TimeoutError } from "../errors.ts";

/**
 * How long a wait may last, and what may cut it short (Python's
 * `block`/`timeout` arguments, plus an `AbortSignal`).
 *
 * @example A queue get that gives up after 10 ms
 * ```ts
 * import { Empty, Queue, type WaitOptions } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const q = new Queue<number>();
 * const options: WaitOptions = { timeout: 10 };
 * await assert.rejects(q.get(options), Empty);
 * q.close();
 * ```
 */
export interface WaitOptions {
  /** Whether to wait at all; `true` by default. `false` ignores `timeout`. */
  block?: boolean;
  /** The longest wait, in ms; no limit when omitted (or `Infinity`). */
  timeout?: number;
  /** Cuts the wait short: it rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A checked wait: when it ends, and what may cut it short. */
export interface Wait {
  /** The `performance.now()` time the wait ends by; `Infinity` for none. */
  deadline: number;
  /** The signal that aborts it, if any. */
  signal?: AbortSignal;
}

/**
 * Checks a timeout in milliseconds and returns it (`Infinity` when
 * omitted). `name` names the argument in the error.
 */
export function checkTimeout(name: string, value: unknown): number {
  if (value === undefined) return Infinity;
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot wait as '${name}' must be a number of milliseconds (omit it to wait without limit): current value is ${
        describe(value)
      }`,
    );
  }
  if (!(value >= 0)) {
    throw new RangeError(
      `Cannot wait as '${name}' must be a number of milliseconds ≥ 0: current value is ${value}`,
    );
  }
  return value;
}

/** Checks an `AbortSignal` argument. */
export function checkedSignal(
  signal: unknown,
  name = "signal",
): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError(
      `Cannot wait as '${name}' must be an AbortSignal: current value is ${
        describe(signal)
      }`,
    );
  }
  return signal;
}

/**
 * Checks the options of a wait and returns when it ends. `options` may be
 * a {@linkcode WaitOptions} object, or (where Python takes a positional
 * timeout, as `join(timeout)`) a number of milliseconds.
 */
export function waitOf(method: string, options: unknown): Wait {
  if (options === undefined) return { deadline: Infinity };
  if (typeof options === "number") {
    const ms = checkTimeout(`${method} timeout`, options);
    return { deadline: performance.now() + ms };
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot ${method} as its options must be an object such as { timeout, signal }: current value is ${
        describe(options)
      }`,
    );
  }
  const { block, timeout, signal } = options as WaitOptions;
  if (block !== undefined && typeof block !== "boolean") {
    throw new TypeError(
      `Cannot ${method} as 'options.block' must be a boolean: current value is ${
        describe(block)
      }`,
    );
  }
  const ms = checkTimeout(`options.timeout`, timeout);
  const checked = checkedSignal(signal, "options.signal");
  return {
    deadline: block === false ? 0 : performance.now() + ms,
    signal: checked,
  };
}

/** Milliseconds left before `deadline` (never negative). */
export function remaining(deadline: number): number {
  return Math.max(0, deadline - performance.now());
}

/** Resolves after `ms` milliseconds; rejects with the signal's reason on abort. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Settles as `promise` does, or with `onTimeout()` once `wait.deadline`
 * passes first (by default a {@linkcode TimeoutError}), or rejects with the
 * signal's reason when it aborts first. Its timer and listener are removed
 * either way.
 */
export function within<T, U = never>(
  promise: Promise<T>,
  wait: Wait,
  onTimeout: () => U | Promise<U> = () => {
    throw new TimeoutError("The wait timed out");
  },
): Promise<T | U> {
  const { deadline, signal } = wait;
  if (deadline === Infinity && signal === undefined) return promise;
  if (signal?.aborted) return Promise.reject(signal.reason);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const cut = new Promise<U>((resolve, reject) => {
    if (deadline !== Infinity) {
      timer = setTimeout(() => {
        try {
          resolve(onTimeout());
        } catch (error) {
          reject(error);
        }
      }, remaining(deadline));
    }
    if (signal !== undefined) {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  return Promise.race([promise, cut]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal!.removeEventListener("abort", onAbort);
  });
}

/** A promise with its resolve and reject functions, for one-shot events. */
export function signalled<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
