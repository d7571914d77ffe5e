// The client's connection: order, size and shared buffers.

import assert from "node:assert/strict";
import { Manager } from "../../mod.ts";

Deno.test("many calls at once from one process keep their order and all settle", async () => {
  await using manager = await Manager.start();
  const l = await manager.list<number>();
  const calls = Array.from({ length: 20_000 }, (_, i) => l.append(i));
  await Promise.all(calls);
  const items = await l.toArray();
  assert.equal(items.length, 20_000);
  assert.ok(items.every((x, i) => x === i));
  const d = await manager.dict();
  const set = d.set("k", 1);
  const got = d.get("k"); // sent after the set, without awaiting it
  await set;
  assert.equal(await got, 1);
});

Deno.test("large values cross in both directions", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict();
  const text = "é€😀".repeat(300_000);
  const bytes = new Uint8Array(3_000_000).map((_, i) => i & 255);
  await d.set("text", text);
  await d.set("bytes", bytes);
  assert.equal(await d.get("text"), text);
  assert.deepEqual(await d.get("bytes"), bytes);
});

Deno.test("shared buffers cross by reference, through the port", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict();
  const shared = new Int32Array(new SharedArrayBuffer(8));
  await d.set("cells", shared);
  const back = await d.get("cells") as Int32Array;
  back[1] = 7; // the same memory
  assert.equal(shared[1], 7);
});
