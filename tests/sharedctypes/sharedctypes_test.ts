import assert from "node:assert/strict";
import {
  CArray,
  CValue,
  Lock,
  Process,
  RawArray,
  RawValue,
  RLock,
  SharedArray,
  Synchronized,
  SynchronizedArray,
  Value,
} from "../../mod.ts";
import { incrementSync, sumArray } from "../fixtures/sync_targets.ts";
import { assertNoChildren } from "../_helpers.ts";

Deno.test("Value works as a plain call and with new, with .value, getLock() and getObj()", () => {
  const a = Value("i", 7);
  const b = new Value("i", 8);
  assert.ok(a instanceof Synchronized);
  assert.ok(b instanceof Value);
  assert.equal(a.value + b.value, 15);
  assert.ok(a.getLock() instanceof RLock);
  assert.ok(a.getObj() instanceof CValue);
  a.getObj().value = 1;
  assert.equal(a.value, 1);
});

Deno.test("Value with lock: false is raw, and with a given lock shares it", () => {
  const raw = Value("d", 0.5, { lock: false });
  assert.ok(raw instanceof CValue);
  const lock = new Lock();
  const x = Value("h", 1, { lock });
  const y = SharedArray("h", 2, { lock });
  assert.equal(x.getLock(), lock);
  assert.equal(y.getLock(), lock);
  assert.throws(() => Value("i", 0, { lock: 1 as never }), /options\.lock/);
});

Deno.test("a bad typecode throws a TypeError listing the typecodes", () => {
  assert.throws(
    () => Value("z" as never, 0 as never),
    /typecode must be one of/,
  );
  assert.throws(() => RawArray("int" as never, 3), TypeError);
});

Deno.test("values are checked against their typecode's type and range", () => {
  assert.throws(() => Value("B", 256), RangeError);
  assert.throws(() => Value("b", -129), RangeError);
  assert.throws(() => Value("i", 1.5), /integer/);
  assert.throws(() => Value("i", "1" as never), TypeError);
  const v = Value("H", 0);
  assert.throws(() => {
    v.value = 70000;
  }, RangeError);
  assert.equal(Value("I", 2 ** 32 - 1).value, 2 ** 32 - 1);
  assert.equal(Value("f", 0.5).value, 0.5);
});

Deno.test("typecodes q and Q hold bigints", () => {
  const q = Value("q", -(2n ** 62n));
  assert.equal(q.value, -(2n ** 62n));
  q.value = 5n;
  assert.equal(q.value, 5n);
  assert.equal(Value("Q", 3 as never).value, 3n); // a safe integer is accepted
  assert.throws(() => Value("Q", -1n), RangeError);
  assert.throws(() => Value("q", 1.5 as never), TypeError);
});

Deno.test("typecode c holds one-byte strings", () => {
  const c = Value("c", "x");
  assert.equal(c.value, "x");
  assert.equal(Value("c").value, "\0");
  assert.throws(() => Value("c", "xy"), /one-byte string/);
  assert.throws(() => Value("c", "€"), /one-byte string/);
  const word = SharedArray("c", "hey");
  assert.deepEqual([...word], ["h", "e", "y"]);
  word[0] = "t";
  assert.equal(word.slice().join(""), "tey");
});

Deno.test("SharedArray is indexable, iterable and has a length, as a call or with new", () => {
  const a = SharedArray("i", [1, 2, 3]);
  const b = new SharedArray("d", 2);
  assert.ok(a instanceof SynchronizedArray);
  assert.ok(b instanceof SharedArray);
  assert.equal(a.length, 3);
  a[1] = 20;
  assert.deepEqual([...a], [1, 20, 3]);
  assert.deepEqual(a.slice(1), [20, 3]);
  assert.equal(a.at(-1), 3);
  assert.deepEqual([...b], [0, 0]);
  assert.ok(a.getObj() instanceof CArray);
  assert.ok(a.getLock() instanceof RLock);
});

Deno.test("an out-of-range index throws a RangeError naming the index and length", () => {
  const a = SharedArray("i", 3);
  assert.throws(
    () => a[3],
    /index 3 is out of range for a shared array of length 3/,
  );
  assert.throws(() => {
    a[-1] = 1;
  }, /at\(-1\)/);
  const raw = RawArray("b", 2);
  assert.throws(() => raw[2], RangeError);
  assert.throws(() => raw.set(5, 1), RangeError);
  assert.throws(() => SharedArray("i", -1), RangeError);
  assert.throws(() => SharedArray("i", {} as never), /sizeOrValues/);
});

Deno.test("RawValue and RawArray have no lock and work with or without new", () => {
  const v = RawValue("i", 3);
  const w = new RawValue("b", -1);
  assert.ok(v instanceof CValue && w instanceof RawValue);
  assert.equal(v.value + w.value, 2);
  const a = RawArray("B", [1, 2]);
  const b = new RawArray("B", 1);
  assert.ok(a instanceof RawArray && b instanceof CArray);
  assert.equal("getLock" in a, false);
  assert.deepEqual([...a, ...b], [1, 2, 0]);
});

Deno.test("a SharedArray and a Value cross into a process by reference", async () => {
  const array = SharedArray("d", [1.5, 2.5, 3]);
  const out = Value("d", 0);
  const p = new Process({ target: sumArray, args: [array, out] });
  p.start();
  assert.equal(await p.join(), 0);
  assert.equal(out.value, 7);
  assert.equal(array[0], p.pid);
  assertNoChildren();
});

Deno.test("a Value nested in an object and shared by two processes counts exactly", async () => {
  const counter = Value("i", 0);
  const ps = [0, 1].map(() =>
    new Process({ target: incrementSync, args: [counter, 10_000] })
  );
  for (const p of ps) p.start();
  await Promise.all(ps.map((p) => p.join()));
  assert.equal(counter.value, 20_000);
  assertNoChildren();
});

Deno.test("view is a typed array over the same shared memory", () => {
  const a = SharedArray("h", [1, 2]);
  assert.ok(a.view instanceof Int16Array);
  a.view[0] = 7;
  assert.equal(a[0], 7);
  assert.ok(RawArray("Q", 1).view instanceof BigUint64Array);
});
