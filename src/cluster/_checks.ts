// Argument checks shared by the cluster's classes, in Deno std's form:
// "Cannot X as 'arg' must be …: current value is …".

import { describe } from "../core/describe.ts";
import { checkedSignal, checkTimeout } from "../core/wait.ts";
import type { Callbacks } from "./_jobs.ts";

/** A per-task `{ timeout, signal }`: the timeout is `Infinity` when omitted. */
export function checkMethodOptions(
  method: string,
  options: unknown,
): { timeout: number; signal?: AbortSignal } {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot call ${method}() as 'options' must be an object such as { timeout, signal }: current value is ${
        describe(options)
      }`,
    );
  }
  const { timeout, signal } = options as {
    timeout?: unknown;
    signal?: unknown;
  };
  return {
    timeout: checkTimeout("options.timeout", timeout),
    signal: checkedSignal(signal, "options.signal"),
  };
}

/** Python's `callback` and `error_callback`, checked. */
export function checkCallbacks(method: string, options: Callbacks): Callbacks {
  for (const name of ["callback", "errorCallback"] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== "function") {
      throw new TypeError(
        `Cannot call ${method}() as 'options.${name}' must be a function: current value is ${
          describe(value)
        }`,
      );
    }
  }
  return { callback: options.callback, errorCallback: options.errorCallback };
}

/** A chunk size: a whole number ≥ 1, or `undefined` for the default rule. */
export function checkChunksize(
  method: string,
  value: unknown,
): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot call ${method}() as 'chunksize' must be a whole number ≥ 1: current value is ${
        describe(value)
      }`,
    );
  }
  return value;
}

/** A whole-number option ≥ `min`, `fallback` when omitted. */
export function checkWhole(
  method: string,
  name: string,
  value: unknown,
  fallback: number,
  min: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Cannot ${method} as '${name}' must be a whole number ≥ ${min}: current value is ${
        describe(value)
      }`,
    );
  }
  return value;
}
