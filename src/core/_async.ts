// Small async helpers shared by the module: validated timeouts, a timer that
// never leaks, and waiting on a promise with a deadline.

import { TimeoutError } from "../errors.ts";
import { describe } from "./describe.ts";

/**
 * Checks a timeout in milliseconds: `undefined` and `null` mean "no limit";
 * otherwise a finite number ≥ 0, or `Infinity`.
 */
export function validateTimeout(
  name: string,
  value: unknown,
): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number") {
    throw new TypeError(
      `${name} must be a number of milliseconds, received ${describe(value)}`,
    );
  }
  if (value < 0 || Number.isNaN(value)) {
    throw new RangeError(
      `${name} must be a number of milliseconds ≥ 0, received ${value}`,
    );
  }
  return value === Infinity ? undefined : value;
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
 * Settles as `promise` does, or with `onTimeout()` once `ms` milliseconds
 * pass first (by default a rejection with {@linkcode TimeoutError}). The
 * timer is cleared either way, so nothing is left pending.
 */
export function deadline<T, U = never>(
  promise: Promise<T>,
  ms: number | undefined,
  onTimeout: () => U | Promise<U> = () => {
    throw new TimeoutError(`timed out after ${ms} ms`);
  },
): Promise<T | U> {
  if (ms === undefined) return promise;
  let timer: ReturnType<typeof setTimeout>;
  const expired = new Promise<U>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (error) {
        reject(error);
      }
    }, ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
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
