// The channel part of the table test: every value of the codec's table
// through a Pipe and a Queue, in this process and through another process
// (there and back), arrives as `structuredClone` makes it; every refused
// value is refused the same way, naming its path, and nothing is sent.

import assert from "node:assert/strict";
import { Pipe, Process, Queue } from "../../mod.ts";
import { CLONE_CASES, REFUSED_CASES } from "../core/_clone_cases.ts";
import { assertSameClone } from "../core/_same_clone.ts";
import { echo } from "../connection/_fixtures/targets.ts";
import { forwardAll } from "../queues/_fixtures/targets.ts";
import { assertNoChildren } from "../_helpers.ts";

function expectedOf(index: number, value: unknown): unknown {
  const expected = CLONE_CASES[index].expected;
  return expected ? expected(value) : structuredClone(value);
}

Deno.test("every value of the table crosses a Pipe in one process as structuredClone makes it", async () => {
  const [a, b] = Pipe();
  for (const [i, { name, make }] of CLONE_CASES.entries()) {
    const value = make();
    a.send(value);
    try {
      assertSameClone(await b.recv(), expectedOf(i, value));
    } catch (error) {
      throw new Error(`${name}: ${(error as Error).message}`);
    }
  }
});

Deno.test("every value of the table crosses a Queue in one process as structuredClone makes it", async () => {
  const q = new Queue();
  for (const [i, { name, make }] of CLONE_CASES.entries()) {
    const value = make();
    await q.put(value);
    try {
      assertSameClone(await q.get(), expectedOf(i, value));
    } catch (error) {
      throw new Error(`${name}: ${(error as Error).message}`);
    }
  }
});

Deno.test("every value of the table crosses a Pipe to a process and back as structuredClone makes it", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echo, args: [there] });
  p.start();
  there.close();
  for (const [i, { name, make }] of CLONE_CASES.entries()) {
    const value = make();
    here.send(value);
    try {
      assertSameClone(await here.recv(), expectedOf(i, value));
    } catch (error) {
      throw new Error(`${name}: ${(error as Error).message}`);
    }
  }
  here.close();
  await p.join();
  assertNoChildren();
});

Deno.test("every value of the table crosses a Queue to a process and back as structuredClone makes it", async () => {
  const out = new Queue();
  const back = new Queue();
  const p = new Process({
    target: forwardAll,
    args: [out, back, CLONE_CASES.length],
  });
  p.start();
  for (const [i, { name, make }] of CLONE_CASES.entries()) {
    const value = make();
    await out.put(value);
    try {
      assertSameClone(await back.get(), expectedOf(i, value));
    } catch (error) {
      throw new Error(`${name}: ${(error as Error).message}`);
    }
  }
  await p.join();
  assertNoChildren();
});

for (const { name, make, path } of REFUSED_CASES) {
  Deno.test(`a Pipe and a Queue refuse ${name} with a TypeError naming its path`, async () => {
    const [a, b] = Pipe();
    assert.throws(
      () => a.send(make()),
      (error: unknown) =>
        error instanceof TypeError && /^Cannot send obj/.test(error.message) &&
        path.test(error.message),
    );
    assert.equal(b.pollSync(), false);
    const q = new Queue();
    await assert.rejects(
      q.put(make()),
      (error: unknown) =>
        error instanceof TypeError &&
        /^Cannot send item/.test(error.message) && path.test(error.message),
    );
    assert.equal(q.qsize(), 0);
  });
}
