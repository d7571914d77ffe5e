// Task functions for the cluster's tests: a module under the agreed root
// (the repository), registered with one line as any task module.

import { registerTargets, ValueError } from "../../../mod.ts";

/** `x * x`. */
export function square(x: number): number {
  return x * x;
}

/** `a + b`. */
export function add(a: number, b: number): number {
  return a + b;
}

/** The process id of the worker program that ran the task. */
export function workerPid(): number {
  return Deno.pid;
}

/** Resolves to `value` after `ms` milliseconds. */
export async function later<T>(value: T, ms: number): Promise<T> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return value;
}

/** Resolves to this worker's pid after `ms` milliseconds. */
export async function pidLater(ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return Deno.pid;
}

/** Throws a `RangeError` with a cause. */
export function failsWithCause(message: string): never {
  throw new RangeError(message, { cause: new TypeError("the root cause") });
}

/** Throws one of the module's own errors, with a field. */
export function failsWithValueError(message: string): never {
  throw Object.assign(new ValueError(message), { code: 42 });
}

/** Resolves to `ms` after `ms` milliseconds. */
export async function echoLater(ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
}

/** Busy for `ms` milliseconds, then says which worker program ran it. */
export function burnThenPid(ms: number): number {
  burn(ms);
  return Deno.pid;
}

/** Busy-waits for `ms` milliseconds: a task only a timeout stops. */
export function burn(ms: number): number {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n++;
  return n;
}

registerTargets(import.meta, {
  square,
  add,
  workerPid,
  later,
  pidLater,
  failsWithCause,
  failsWithValueError,
  burn,
  echoLater,
  burnThenPid,
});
