import assert from "node:assert/strict";
import { BrokenBarrierError, Manager, Process } from "../../../mod.ts";
import { passBarrier } from "../_fixtures/targets.ts";
import { assertNoChildren } from "../../_helpers.ts";

Deno.test("a barrier releases its parties together with distinct indexes", async () => {
  {
    await using manager = await Manager.start();
    const barrier = await manager.Barrier(3);
    const d = await manager.dict<string, number>();
    const ps = ["a", "b", "c"].map((key) =>
      new Process({ target: passBarrier, args: [barrier, d, key] })
    );
    for (const p of ps) p.start();
    assert.deepEqual(await Promise.all(ps.map((p) => p.join(20_000))), [
      0,
      0,
      0,
    ]);
    assert.deepEqual((await d.values()).sort(), [0, 1, 2]);
    assert.equal(await barrier.parties(), 3);
    assert.equal(await barrier.nWaiting(), 0);
  }
  assertNoChildren();
});

Deno.test("a barrier that times out or is aborted breaks with BrokenBarrierError", async () => {
  await using manager = await Manager.start();
  const barrier = await manager.Barrier(2);
  await assert.rejects(barrier.wait(20), BrokenBarrierError);
  assert.equal(await barrier.broken(), true);
  await assert.rejects(barrier.wait(), BrokenBarrierError);
  await barrier.reset();
  assert.equal(await barrier.broken(), false);
  const waiting = assert.rejects(barrier.wait(), BrokenBarrierError);
  await barrier.abort();
  await waiting;
});

Deno.test("a party that aborts its wait breaks the barrier for the others", async () => {
  await using manager = await Manager.start();
  const barrier = await manager.Barrier(3);
  const controller = new AbortController();
  const leaving = assert.rejects(
    barrier.wait({ signal: controller.signal }),
    (error) => error === "left",
  );
  const staying = assert.rejects(barrier.wait(), BrokenBarrierError);
  await barrier.nWaiting();
  controller.abort("left");
  await leaving;
  await staying;
});
