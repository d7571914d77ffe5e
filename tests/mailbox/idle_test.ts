// Idle is free: a process parked in `await q.get()`, `await conn.recv()`
// or `await conn.poll()` costs ≤ 0.1% of a core and < 20 wake-ups a
// second; 200 parked in `await q.get()` cost < 5% of one core together.
// Measured in a program of its own (see _fixtures/idle.ts): under
// `deno test --parallel` every test module shares one OS process.

import assert from "node:assert/strict";
import { runProgram } from "../_helpers.ts";

interface Figures {
  children: number;
  programPercent: number;
  workers: { name: string; corePercent: number; wakeupsPerSecond: number }[];
}

async function measure(mode: string): Promise<Figures> {
  const result = await runProgram(
    new URL("./_fixtures/idle.ts", import.meta.url),
    { ms: 120_000, flags: ["-A"], args: [mode] },
  );
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  return JSON.parse(result.stdout);
}

function assertEachIdle(figures: Figures): void {
  assert.ok(figures.workers.length >= figures.children);
  for (const worker of figures.workers) {
    assert.ok(
      worker.corePercent <= 0.1,
      `${worker.name} took ${worker.corePercent}% of a core`,
    );
    assert.ok(
      worker.wakeupsPerSecond < 20,
      `${worker.name} woke ${worker.wakeupsPerSecond} times a second`,
    );
  }
}

Deno.test("a process parked in get, recv or poll costs ≤ 0.1% of a core and < 20 wake-ups a second", async () => {
  assertEachIdle(await measure("one"));
});

Deno.test("200 processes parked in await q.get() cost < 5% of one core together", async () => {
  const figures = await measure("200");
  assert.equal(figures.children, 200);
  assertEachIdle(figures);
  assert.ok(
    figures.programPercent < 5,
    `the program took ${figures.programPercent}% of a core`,
  );
});
