import assert from "node:assert/strict";
import { Process, ProcessError, SharedMemory } from "../../mod.ts";
import {
  attachAndWrite,
  attachByName,
  attachExpectMissing,
  attachInGrandchild,
  createAndPublish,
  createNamed,
  lookupWhileChildEnds,
  writeHello,
} from "../fixtures/sync_targets.ts";
import { assertNoChildren } from "../_helpers.ts";

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
  assert.throws(
    () => new SharedMemory("nope"),
    (error) =>
      error instanceof ProcessError && /"nope"/.test(error.message) &&
      /FileNotFoundError/.test(error.message),
  );
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

async function run(
  target: (...args: never[]) => unknown,
  args: unknown[],
): Promise<number | null> {
  const p = new Process({ target, args: args as never[] });
  p.start();
  return await p.join(30_000);
}

Deno.test("a child attaches by name alone and shares the bytes", async () => {
  const shm = new SharedMemory({ create: true, size: 4 });
  shm.buf[1] = 5;
  assert.equal(await run(attachAndWrite, [shm.name, 42, 5]), 0);
  assert.equal(shm.buf[0], 42);
  shm.unlink();
  assertNoChildren();
});

Deno.test("a grandchild attaches by name alone", async () => {
  using shm = new SharedMemory({
    name: "test_grandchild",
    create: true,
    size: 4,
  });
  assert.equal(await run(attachInGrandchild, [shm.name, 77]), 0);
  assert.equal(shm.buf[0], 77);
  shm.unlink();
  assertNoChildren();
});

Deno.test("a name no process created raises in a child, naming it", async () => {
  const out = new Int32Array(new SharedArrayBuffer(4));
  assert.equal(await run(attachExpectMissing, ["test_never_created", out]), 0);
  assert.equal(out[0], 1);
  assertNoChildren();
});

Deno.test("creating a name that exists raises, in this process and in a child", async () => {
  const shm = new SharedMemory({ name: "test_taken", create: true, size: 4 });
  assert.throws(
    () => new SharedMemory({ name: "test_taken", create: true, size: 8 }),
    (error) =>
      error instanceof ProcessError && /already exists/.test(error.message),
  );
  const out = new Int32Array(new SharedArrayBuffer(4));
  assert.equal(await run(createNamed, ["test_taken", out]), 0);
  assert.equal(out[0], 2);
  shm.unlink();
  assertNoChildren();
});

Deno.test("a name whose only holder ended is free again", async () => {
  const out = new Int32Array(new SharedArrayBuffer(4));
  const first = new Int32Array(new SharedArrayBuffer(4));
  assert.equal(await run(createNamed, ["test_child_made", first]), 0);
  assert.equal(first[0], 1);
  // Its creator ended, so the name was released with it.
  assert.equal(await run(createNamed, ["test_child_made", out]), 0);
  assert.equal(out[0], 1);
  assert.throws(() => new SharedMemory("test_child_made"), ProcessError);
  assertNoChildren();
});

Deno.test("after unlink() the name resolves nowhere, and can be created again", async () => {
  const shm = new SharedMemory({
    name: "test_unlinked",
    create: true,
    size: 4,
  });
  shm.unlink();
  assert.throws(() => new SharedMemory("test_unlinked"), ProcessError);
  const out = new Int32Array(new SharedArrayBuffer(4));
  assert.equal(await run(attachExpectMissing, ["test_unlinked", out]), 0);
  assert.equal(out[0], 1);
  shm.buf[0] = 1; // the handle keeps its bytes
  const again = new SharedMemory({
    name: "test_unlinked",
    create: true,
    size: 4,
  });
  assert.equal(again.buf[0], 0);
  again.unlink();
  assertNoChildren();
});

Deno.test("a child's exit notice arrives while its parent looks a name up", async () => {
  const shm = new SharedMemory({ create: true, size: 4 });
  assert.equal(await run(lookupWhileChildEnds, [shm.name, 9]), 0);
  assert.equal(shm.buf[0], 9);
  shm.unlink();
  assertNoChildren();
});

Deno.test("the main thread attaches by name to a block a child just created", async () => {
  const nameOut = new Int32Array(new SharedArrayBuffer(4 * 64));
  const go = new Int32Array(new SharedArrayBuffer(4));
  const p = new Process({ target: createAndPublish, args: [nameOut, go, 3] });
  p.start();
  // Blocking this thread: the child's registration cannot have been taken
  // in by the event loop, so the attach must find it in the child's port.
  const end = performance.now() + 20_000;
  while (Atomics.load(nameOut, 0) === 0 && performance.now() < end) {
    Atomics.wait(nameOut, 0, 0, 10);
  }
  const length = Atomics.load(nameOut, 0);
  assert.notEqual(length, 0, "the child never published the name");
  const name = String.fromCharCode(...nameOut.slice(1, length + 1));
  const shm = new SharedMemory(name);
  shm.buf[0] = 3;
  Atomics.store(go, 0, 1);
  Atomics.notify(go, 0);
  assert.equal(await p.join(30_000), 0);
  assertNoChildren();
});
