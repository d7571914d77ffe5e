// Checks of a proxy's or a manager's arguments, made in the caller's
// process before anything is sent: a bad argument is a `TypeError` or
// `RangeError` naming it, in Deno std's form.

import { describe } from "../core/describe.ts";
import { waitOf } from "../core/wait.ts";

/** What a waiting call sends: `{ block, timeout }` (the signal stays here). */
export interface WireWait {
  block?: false;
  timeout?: number;
}

/**
 * Checks the options of a waiting call (`{ block, timeout, signal }`, or a
 * number of ms where Python takes a positional timeout) and splits them
 * into what the server needs and the signal that stays in this process.
 */
export function waitArguments(
  method: string,
  options: unknown,
): { wire: WireWait | undefined; signal?: AbortSignal } {
  const { deadline, signal } = waitOf(method, options);
  if (deadline === Infinity) return { wire: undefined, signal };
  if (deadline === 0) return { wire: { block: false }, signal };
  return {
    wire: { timeout: Math.max(0, deadline - performance.now()) },
    signal,
  };
}

/** Checks an integer argument ≥ `min`. */
export function checkInteger(
  action: string,
  name: string,
  value: unknown,
  min: number,
): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(
      `Cannot ${action} as '${name}' must be an integer: current value is ${
        describe(value)
      }`,
    );
  }
  if (value < min) {
    throw new RangeError(
      `Cannot ${action} as '${name}' must be an integer ≥ ${min}: current value is ${value}`,
    );
  }
  return value;
}

/** Entries of a `Map`, a plain object or an iterable of pairs, checked. */
export function entriesOf(
  action: string,
  name: string,
  value: unknown,
): [unknown, unknown][] {
  if (value instanceof Map) return [...value];
  if (value !== null && typeof value === "object") {
    if (!(Symbol.iterator in value)) return Object.entries(value);
    const entries: [unknown, unknown][] = [];
    for (const pair of value as Iterable<unknown>) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError(
          `Cannot ${action} as '${name}' must hold [key, value] pairs: current value holds ${
            describe(pair)
          }`,
        );
      }
      entries.push([pair[0], pair[1]]);
    }
    return entries;
  }
  throw new TypeError(
    `Cannot ${action} as '${name}' must be an object, a Map or an iterable of [key, value] pairs: current value is ${
      describe(value)
    }`,
  );
}

/** Checks an iterable argument and returns its items. */
export function itemsOf(action: string, name: string, value: unknown) {
  if (
    value === null ||
    (typeof value !== "object" && typeof value !== "string") ||
    !(Symbol.iterator in Object(value))
  ) {
    throw new TypeError(
      `Cannot ${action} as '${name}' must be an iterable such as an array: current value is ${
        describe(value)
      }`,
    );
  }
  return [...(value as Iterable<unknown>)];
}

/** Runs `check` and turns its throw into a rejection (methods are async). */
export function checked<T>(check: () => T): Promise<T> {
  try {
    return Promise.resolve(check());
  } catch (error) {
    return Promise.reject(error);
  }
}
