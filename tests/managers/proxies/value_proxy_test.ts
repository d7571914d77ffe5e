import assert from "node:assert/strict";
import { Manager, Process } from "../../../mod.ts";
import { increment } from "../_fixtures/targets.ts";
import { assertNoChildren } from "../../_helpers.ts";

Deno.test("concurrent increments from four processes under a managed lock are exact", async () => {
  {
    await using manager = await Manager.start();
    const counter = await manager.Value("i", 0);
    const lock = await manager.Lock();
    const ps = [0, 1, 2, 3].map(() =>
      new Process({ target: increment, args: [counter, lock, 50] })
    );
    for (const p of ps) p.start();
    assert.deepEqual(await Promise.all(ps.map((p) => p.join(20_000))), [
      0,
      0,
      0,
      0,
    ]);
    assert.equal(await counter.get(), 200);
  }
  assertNoChildren();
});

Deno.test("a managed value holds any value, as Python's manager Value does", async () => {
  await using manager = await Manager.start();
  const v = await manager.Value<unknown>("i", 1);
  await v.set({ not: "an int" });
  assert.deepEqual(await v.get(), { not: "an int" });
});
