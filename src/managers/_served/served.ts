// What the server holds for each managed object, and what it tells the
// object about the call it serves. A kind (see kinds.ts) makes the served
// object; the server calls `invoke` for each request on it.

import type { Caller, Waiters } from "./waiters.ts";

/** The call being served: who made it, and what may cut it short. */
export interface Call extends Caller {
  /** The pid of the calling process (a lock's owner). */
  readonly caller: number;
  /** Aborted when the caller withdraws the call, or ends. */
  readonly signal: AbortSignal;
  /** Aborted only when the caller ends. */
  readonly ended: AbortSignal;
}

/** A managed object as the server holds it. */
export interface Served {
  /**
   * Calls `method` with `args` for `call`: returns the result, or a promise
   * of it for a call that waits; throws (or rejects) what the object
   * throws. A method the object does not expose is a `TypeError`.
   */
  invoke(method: string, args: unknown[], call: Call): unknown;
  /**
   * The objects whose waiting calls a call on this one may let through,
   * besides itself (a condition's lock).
   */
  readonly related?: readonly object[];
}

/** What a kind's factory may use: the server's waiting calls, its objects. */
export interface ServerContext {
  readonly waiters: Waiters;
  /** The served object `id`, if any. */
  lookup(id: number): Served | undefined;
}

/** A `TypeError` for a method the object does not expose. */
export function noSuchMethod(typeid: string, method: string): TypeError {
  return new TypeError(
    `Cannot call '${method}' on a managed ${typeid}: it has no such method`,
  );
}

/**
 * Turns the `{ block, timeout }` a proxy sent into a deadline (a
 * `performance.now()` time): `0` for "try once", `Infinity` for no limit.
 * The proxy checked the options; a client that sent anything else gets a
 * `TypeError`, not a server that stops.
 */
export function deadlineOf(options: unknown): number {
  if (options === undefined || options === null) return Infinity;
  const { block, timeout } = options as { block?: unknown; timeout?: unknown };
  if (block === false) return 0;
  if (timeout === undefined) return Infinity;
  if (typeof timeout !== "number" || !(timeout >= 0)) {
    throw new TypeError(
      `Cannot wait as 'timeout' must be a number of milliseconds ≥ 0: current value is ${
        String(timeout)
      }`,
    );
  }
  return performance.now() + timeout;
}

/** The timeout a deadline stood for, in whole ms, for messages. */
export function msOf(options: unknown): string {
  const timeout = (options as { timeout?: number } | undefined)?.timeout;
  return `${Math.round(timeout ?? 0)} ms`;
}
