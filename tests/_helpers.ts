// Helpers for tests: waiting on a condition with a bounded deadline, running
// a fixture program, and checking that a test left no child behind.

import assert from "node:assert/strict";
import { activeChildren } from "../mod.ts";

/** Waits until `predicate()` holds, polling with `Atomics.waitAsync`-free ticks. */
export async function until(
  predicate: () => boolean,
  ms = 5000,
  what = "condition",
): Promise<void> {
  const end = performance.now() + ms;
  while (!predicate()) {
    if (performance.now() > end) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Fails if a test left a running child behind. */
export function assertNoChildren(): void {
  const left = activeChildren();
  assert.equal(
    left.length,
    0,
    `children left running: ${left.map((p) => p.name)}`,
  );
}

/** The result of running a fixture program. */
export interface ProgramResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `deno run --allow-read <fixture>` as its own OS process and returns
 * what it printed; kills it after `ms` (a hang is a failure, not a stall).
 */
export async function runProgram(
  fixture: string | URL,
  { ms = 20_000, flags = ["--allow-read"], args = [] as string[] } = {},
): Promise<ProgramResult> {
  const path = fixture instanceof URL
    ? fixture.pathname
    : new URL(`./fixtures/${fixture}`, import.meta.url).pathname;
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", ...flags, path, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already ended */ }
  }, ms);
  const output = await child.output();
  clearTimeout(timer);
  const elapsed = performance.now() - start;
  const decoder = new TextDecoder();
  const result = {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    ms: elapsed,
  };
  if (output.signal === "SIGKILL") {
    throw new Error(
      `${path} did not end within ${ms} ms\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
  return result;
}
