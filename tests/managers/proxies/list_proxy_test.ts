import assert from "node:assert/strict";
import { IndexError, Manager, ValueError } from "../../../mod.ts";

Deno.test("list methods follow Python's list, with its errors", async () => {
  await using manager = await Manager.start();
  const l = await manager.list([3, 1, 2]);
  await l.sort();
  assert.deepEqual(await l.toArray(), [1, 2, 3]);
  await l.insert(0, 0);
  await l.extend([4, 5]);
  assert.equal(await l.pop(), 5);
  assert.equal(await l.pop(0), 0);
  assert.equal(await l.index(3), 2);
  assert.equal(await l.count(2), 1);
  assert.equal(await l.includes(4), true);
  await l.set(-1, 40);
  await l.delete(0);
  assert.deepEqual(await l.slice(0, 2), [2, 3]);
  await l.reverse();
  assert.deepEqual(await l.toArray(), [40, 3, 2]);
  await l.sort({ reverse: true });
  assert.deepEqual(await l.toArray(), [40, 3, 2]);
  await assert.rejects(l.get(3), IndexError);
  await assert.rejects(l.remove(99), ValueError);
  await assert.rejects(l.index(99), ValueError);
  await l.clear();
  await assert.rejects(l.pop(), IndexError);
  assert.equal(await l.len(), 0);
});

Deno.test("a list's index takes Python's start and end, negative from the end", async () => {
  await using manager = await Manager.start();
  const l = await manager.list(["a", "b", "a", "b"]);
  assert.equal(await l.index("a", 1), 2);
  assert.equal(await l.index("b", -1), 3);
  await assert.rejects(l.index("a", 0, -4), ValueError);
  assert.equal(await l.index("a", -10, 1), 0);
});

Deno.test("sorting mixed items is a TypeError and leaves the list as it was", async () => {
  await using manager = await Manager.start();
  const l = await manager.list<unknown>([2, "a", 1]);
  await assert.rejects(l.sort(), /must all be numbers or all strings/);
  assert.equal(await l.len(), 3);
});

Deno.test("bad list arguments are TypeErrors naming the argument", async () => {
  await using manager = await Manager.start();
  const l = await manager.list();
  await assert.rejects(l.extend(5 as never), /'items' must be an iterable/);
  await assert.rejects(l.insert(1.5, "x"), /'index' must be an integer/);
  await assert.rejects(l.get("0" as never), /'index' must be an integer/);
});

Deno.test("list equality follows value identity: an equal Date, objects in any key order", async () => {
  await using manager = await Manager.start();
  const l = await manager.list<unknown>([new Date(0), { a: 1, b: 2 }, NaN]);
  assert.equal(await l.includes(new Date(0)), true);
  assert.equal(await l.includes(new Date(1)), false);
  assert.equal(await l.index({ b: 2, a: 1 }), 1);
  assert.equal(await l.count({ a: 1, b: 2 }), 1);
  assert.equal(await l.includes(NaN), true);
  await l.remove({ b: 2, a: 1 });
  assert.equal(await l.len(), 2);
  assert.equal(await l.includes({ a: 1 }), false);
});
