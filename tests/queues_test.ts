import assert from "node:assert/strict";
import { Pipe, Process, Queue } from "../mod.ts";
import { echo, produce } from "./fixtures/mailboxes.ts";
import { assertNoChildren } from "./_helpers.ts";

Deno.test("smoke: queue with a producer process", async () => {
  const q = new Queue<number>();
  const p = new Process({ target: produce, args: [q, 1000] });
  p.start();
  let sum = 0;
  for (let i = 0; i < 1000; i++) sum += await q.get();
  assert.equal(sum, 499500);
  await p.join();
  assertNoChildren();
});

Deno.test("smoke: pipe echo", async () => {
  const [a, b] = Pipe();
  const p = new Process({ target: echo, args: [b] });
  p.start();
  for (
    const v of [
      1,
      "x",
      { a: [1, 2, "é"] },
      null,
      undefined,
      1.5,
      new Date(0),
      new Map([[1, 2]]),
    ]
  ) {
    a.send(v);
    assert.deepEqual(await a.recv(), v);
  }
  a.close();
  await p.join();
  assertNoChildren();
});
