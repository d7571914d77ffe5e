import assert from "node:assert/strict";
import { Manager } from "../../../mod.ts";

Deno.test("a namespace holds named values", async () => {
  await using manager = await Manager.start();
  const ns = await manager.Namespace({ x: 1 });
  await ns.set("y", [2]);
  await ns.update({ z: "three" });
  assert.equal(await ns.get("x"), 1);
  assert.equal(await ns.get("missing"), undefined);
  assert.equal(await ns.delete("x"), true);
  assert.equal(await ns.has("x"), false);
  assert.deepEqual(await ns.toObject(), { y: [2], z: "three" });
});

Deno.test("a namespace name must be a string", async () => {
  await using manager = await Manager.start();
  const ns = await manager.Namespace();
  await assert.rejects(ns.get(1 as never), /'name' must be a string/);
  await assert.rejects(ns.set(1 as never, 2), /'name' must be a string/);
});
