import assert from "node:assert/strict";
import { Process, ProcessError, SharedMemory } from "../mod.ts";
import { attachByName, writeHello } from "./fixtures/sync_targets.ts";
import { assertNoChildren } from "./_helpers.ts";

Deno.test("SharedMemory(size) creates zeroed bytes with a fresh psm_ name", () => {
  const a = new SharedMemory(8);
  const b = new SharedMemory(8);
  assert.equal(a.size, 8);
  assert.equal(a.buf.length, 8);
  assert.deepEqual([...a.buf], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.match(a.name, /^psm_[0-9a-f]{12}$/);
  assert.notEqual(a.name, b.name);
});

Deno.test("a SharedMemory name attaches to the same bytes in this process", () => {
  const shm = new SharedMemory({ name: "test_attach", create: true, size: 4 });
  const again = new SharedMemory("test_attach");
  again.buf[3] = 9;
  assert.equal(shm.buf[3], 9);
  assert.throws(
    () => new SharedMemory({ name: "test_attach", create: true, size: 4 }),
    /already exists/,
  );
  shm.unlink();
  assert.throws(() => new SharedMemory("test_attach"), ProcessError);
});

Deno.test("an unknown name or a bad size throws a clear error", () => {
  assert.throws(() => new SharedMemory("nope"), /pass the SharedMemory object/);
  assert.throws(() => new SharedMemory(0), RangeError);
  assert.throws(() => new SharedMemory(1.5), RangeError);
  assert.throws(() => new SharedMemory(true as never), TypeError);
  assert.throws(
    () => new SharedMemory({ create: true, size: "8" as never }),
    TypeError,
  );
});

Deno.test("close() drops the view, and using closes on scope exit", () => {
  const shm = new SharedMemory(4);
  shm.close();
  assert.throws(() => shm.buf, /is closed/);
  let kept: SharedMemory;
  {
    using scoped = new SharedMemory(4);
    kept = scoped;
  }
  assert.throws(() => kept.buf, ProcessError);
});

Deno.test("a SharedMemory crosses into a process by reference", async () => {
  const shm = new SharedMemory(5);
  const p = new Process({ target: writeHello, args: [shm] });
  p.start();
  assert.equal(await p.join(), 0);
  assert.equal(new TextDecoder().decode(shm.buf), "hello");
  assertNoChildren();
});

Deno.test("a process attaches by name to a block it received nested in an object", async () => {
  const shm = new SharedMemory(2);
  const p = new Process({
    target: attachByName,
    args: [{ shm }, shm.name],
  });
  p.start();
  assert.equal(await p.join(), 0);
  assert.equal(shm.buf[1], 1);
  assertNoChildren();
});
