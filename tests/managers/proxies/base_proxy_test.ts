import assert from "node:assert/strict";
import {
  BaseProxy,
  DictProxy,
  ListProxy,
  Manager,
  Pool,
  Process,
} from "../../../mod.ts";
import { appendToNested, setInPool, waitInPool } from "../_fixtures/targets.ts";
import { assertNoChildren } from "../../_helpers.ts";

Deno.test("printing a proxy shows its kind, id and server", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict();
  const q = await manager.Queue();
  assert.match(Deno.inspect(d), /^DictProxy \{ id: \d+, manager pid: \d+ \}$/);
  assert.match(Deno.inspect(q), /^QueueProxy/);
  assert.ok(d instanceof BaseProxy);
});

Deno.test("a proxy cannot be made with new", () => {
  assert.throws(
    () => new DictProxy({ connection: null, typeid: "dict", id: 1 }),
    /made by a Manager/,
  );
});

Deno.test("a list stored in a dict reads back as a working proxy, here and in processes", async () => {
  {
    await using manager = await Manager.start();
    const d = await manager.dict();
    const inner = await manager.list(["main"]);
    await d.set("log", inner);
    const back = await d.get("log");
    assert.ok(back instanceof ListProxy);
    await back.append("again");
    const ps = ["p1", "p2"].map((tag) =>
      new Process({ target: appendToNested, args: [d, "log", tag] })
    );
    for (const p of ps) p.start();
    assert.deepEqual(await Promise.all(ps.map((p) => p.join(20_000))), [0, 0]);
    const items = await inner.toArray();
    assert.deepEqual(items.slice(0, 2), ["main", "again"]);
    assert.deepEqual(items.slice(2).sort(), ["p1", "p2"]);
  }
  assertNoChildren();
});

Deno.test("a dict of dicts keeps its inner proxies through toObject()", async () => {
  await using manager = await Manager.start();
  const outer = await manager.dict<string, unknown>();
  await outer.set("inner", await manager.dict({ x: 1 }));
  const { inner } = await outer.toObject();
  assert.ok(inner instanceof DictProxy);
  assert.equal(await inner.get("x"), 1);
});

Deno.test("proxies of one object are one dict key and equal list items", async () => {
  await using manager = await Manager.start();
  const target = await manager.list();
  const d = await manager.dict<unknown, string>();
  await d.set(target, "by proxy");
  assert.equal(await d.get(await d.keys().then((keys) => keys[0])), "by proxy");
  const l = await manager.list([target]);
  assert.equal(await l.includes(target), true);
  assert.equal(await l.includes(await manager.list()), false);
});

Deno.test("a managed queue carries proxies", async () => {
  await using manager = await Manager.start();
  const q = await manager.Queue<DictProxy>();
  const d = await manager.dict({ k: "v" });
  await q.put(d);
  const back = await q.get();
  assert.ok(back instanceof DictProxy);
  assert.equal(await back.get("k"), "v");
});

Deno.test("a proxy works as an argument to Pool tasks", async () => {
  {
    await using manager = new Manager();
    const d = await manager.dict<string, number>();
    const event = await manager.Event();
    {
      await using pool = new Pool(2);
      const keys = await pool.starmap(setInPool, [[d, "a", 1], [d, "b", 2], [
        d,
        "c",
        3,
      ]]);
      assert.deepEqual(keys, ["a", "b", "c"]);
      // A waiting call from a pool worker (its port has no close event).
      const waited = pool.apply(waitInPool, [event]);
      await event.set();
      assert.equal(await waited, true);
    }
    assert.deepEqual(await d.toObject(), { a: 1, b: 2, c: 3 });
  }
  assertNoChildren();
});
