import assert from "node:assert/strict";
import { KeyError, Manager, Process } from "../../../mod.ts";
import { fill } from "../_fixtures/targets.ts";
import { assertNoChildren } from "../../_helpers.ts";

Deno.test("a missing key rejects with KeyError and the manager keeps serving", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict({ a: 1 });
  await assert.rejects(d.getItem("missing"), (error: Error) => {
    assert.ok(error instanceof KeyError);
    assert.equal(error.message, '"missing"');
    return true;
  });
  await assert.rejects(d.delete("missing"), KeyError);
  await assert.rejects(d.pop("missing"), KeyError);
  assert.equal(await d.pop("missing", 7), 7);
  assert.equal(await d.get("missing"), undefined);
  assert.equal(await d.get("missing", "fallback"), "fallback");
  assert.equal(await d.getItem("a"), 1);
});

Deno.test("dict methods follow Python's dict, camelCased", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<unknown, unknown>([[1, "one"]]);
  await d.update({ b: 2 });
  await d.update(new Map([[[1, 2], "tuple key"]]));
  assert.equal(await d.get([1, 2]), "tuple key");
  assert.equal(await d.get("1"), undefined); // 1 and "1" are different keys
  assert.equal(await d.has(1), true);
  assert.equal(await d.setDefault("c", 3), 3);
  assert.equal(await d.setDefault("c", 4), 3);
  assert.deepEqual(await d.keys(), [1, "b", [1, 2], "c"]);
  assert.deepEqual(await d.popItem(), ["c", 3]);
  assert.deepEqual(await d.values(), ["one", 2, "tuple key"]);
  assert.deepEqual(await d.items(), [[1, "one"], ["b", 2], [
    [1, 2],
    "tuple key",
  ]]);
  assert.deepEqual(
    await d.toMap(),
    new Map<unknown, unknown>([[1, "one"], ["b", 2], [[1, 2], "tuple key"]]),
  );
  await d.delete([1, 2]);
  assert.equal(await d.len(), 2);
  await d.clear();
  assert.equal(await d.len(), 0);
  await assert.rejects(d.popItem(), KeyError);
  // The never-camelCased spellings are gone.
  assert.equal("popitem" in d, false);
  assert.equal("setdefault" in d, false);
});

Deno.test("setting a key again keeps its place and its first key value", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<unknown, number>();
  await d.set(0, 1);
  await d.set("x", 2);
  await d.set(-0, 3); // the same key as 0
  assert.deepEqual(await d.items(), [[0, 3], ["x", 2]]);
  assert.ok(Object.is((await d.keys())[0], 0));
});

Deno.test("several processes filling one dict at once leave every key exactly once", async () => {
  {
    await using manager = await Manager.start();
    const d = await manager.dict<string, number>();
    const ps = ["a", "b", "c"].map((prefix) =>
      new Process({ target: fill, args: [d, prefix, 200] })
    );
    for (const p of ps) p.start();
    assert.deepEqual(await Promise.all(ps.map((p) => p.join(20_000))), [
      0,
      0,
      0,
    ]);
    assert.equal(await d.len(), 600);
    const object = await d.toObject();
    for (const prefix of ["a", "b", "c"]) {
      for (let i = 0; i < 200; i++) assert.equal(object[`${prefix}${i}`], i);
    }
  }
  assertNoChildren();
});

Deno.test("a bad update is a TypeError naming the argument", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict();
  await assert.rejects(d.update(5 as never), /'other' must be an object/);
  await assert.rejects(
    d.update([[1, 2, 3]] as never),
    /'other' must hold \[key, value\] pairs/,
  );
  await assert.rejects(
    d.set("f", () => 1),
    (error: Error) =>
      error instanceof TypeError &&
      /args\[1\]: it is a function/.test(error.message),
  );
  await d.set("ok", 1);
  assert.equal(await d.get("ok"), 1);
});

Deno.test("dict keys follow the list's value identity: objects in any key order are one key", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<unknown, string>();
  await d.set({ a: 1, b: 2 }, "first");
  await d.set({ b: 2, a: 1 }, "second"); // the same key
  assert.equal(await d.len(), 1);
  assert.equal(await d.get({ a: 1, b: 2 }), "second");
  await d.set(new Date(0), "epoch");
  assert.equal(await d.get(new Date(0)), "epoch");
  await d.set(new Map([[1, [2]]]), "map");
  assert.equal(await d.get(new Map([[1, [2]]])), "map");
  // What the dict holds as one key, a list holds as equal items.
  const l = await manager.list<unknown>(await d.keys());
  assert.equal(await l.includes({ b: 2, a: 1 }), true);
  assert.equal(await l.includes(new Date(0)), true);
});
