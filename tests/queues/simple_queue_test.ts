import assert from "node:assert/strict";
import { Process, ProcessError, SimpleQueue } from "../../mod.ts";
import { doubler } from "./_fixtures/targets.ts";
import { assertNoChildren } from "../_helpers.ts";

Deno.test("SimpleQueue carries items between processes", async () => {
  const input = new SimpleQueue<number | null>();
  const output = new SimpleQueue<number>();
  const p = new Process({ target: doubler, args: [input, output] });
  p.start();
  for (let i = 1; i <= 5; i++) await input.put(i);
  input.putSync(null);
  const got = [];
  for (let i = 0; i < 5; i++) got.push(await output.get());
  assert.deepEqual(got, [2, 4, 6, 8, 10]);
  await p.join();
  assert.equal(output.empty(), true);
  output.close();
  assert.throws(() => output.getSync(), ProcessError);
  assertNoChildren();
});
