// What travels beside a message's bytes: buffers moved with `transfer`,
// and shared objects (SharedArrayBuffers, Locks, ports), over the Pipe's
// side channel — or, where a copy of an end has none, copied or refused,
// never dropped.

import assert from "node:assert/strict";
import { Lock, Pipe, Process, ProcessError, Queue } from "../../mod.ts";
import { echo } from "./_fixtures/targets.ts";
import { sendOne } from "./_fixtures/slow_start.ts";
import { assertNoChildren } from "../_helpers.ts";

Deno.test("send with transfer moves the buffer to a process, which sees its data", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echo, args: [there] });
  p.start();
  there.close();
  const array = new Float64Array(1 << 16).fill(2.5);
  here.send({ data: array, note: "moved" }, { transfer: [array.buffer] });
  assert.equal(array.buffer.detached, true);
  const back = await here.recv() as { data: Float64Array; note: string };
  assert.equal(back.note, "moved");
  assert.equal(back.data.length, 1 << 16);
  assert.equal(back.data[12345], 2.5);
  here.close();
  await p.join();
  assertNoChildren();
});

Deno.test("send with transfer between ends of one process moves the buffer and keeps the order", async () => {
  const [a, b] = Pipe();
  const buffer = new Uint8Array([7, 7, 7]).buffer;
  a.send("before");
  a.send(buffer, { transfer: [buffer] });
  a.send("after");
  assert.equal(buffer.detached, true);
  assert.equal(await b.recv(), "before");
  assert.deepEqual(
    new Uint8Array(await b.recv() as ArrayBuffer),
    new Uint8Array([7, 7, 7]),
  );
  assert.equal(await b.recv(), "after");
  assert.throws(
    () => a.send(1, { transfer: [buffer] }), // already detached
    TypeError,
  );
});

Deno.test("a transfer sent before the end crossed into a process still reaches it, in order", async () => {
  const [here, there] = Pipe();
  const early = new Uint8Array([1, 2]).buffer;
  here.send(early, { transfer: [early] });
  here.send("plain");
  const p = new Process({ target: echo, args: [there] });
  p.start();
  there.close();
  assert.deepEqual(
    new Uint8Array(await here.recv() as ArrayBuffer),
    new Uint8Array([1, 2]),
  );
  assert.equal(await here.recv(), "plain");
  here.close();
  await p.join();
  assertNoChildren();
});

Deno.test("a SharedArrayBuffer, a Lock and a Queue cross a Pipe into a process and back by reference", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echo, args: [there] });
  p.start();
  there.close();
  const shared = new Int32Array(new SharedArrayBuffer(8));
  const lock = new Lock();
  const queue = new Queue<string>();
  here.send({ shared, lock, queue });
  const back = await here.recv() as {
    shared: Int32Array;
    lock: Lock;
    queue: Queue<string>;
  };
  back.shared[1] = 41;
  assert.equal(shared[1], 41); // the same memory
  await back.lock.acquire();
  assert.equal(lock.acquireSync({ block: false }), false); // the same lock
  back.lock.release();
  await back.queue.put("same queue");
  assert.equal(await queue.get({ timeout: 1000 }), "same queue");
  here.close();
  await p.join();
  assertNoChildren();
});

Deno.test("a copy of an end whose side channel went elsewhere copies transfers and refuses shared objects, naming the path", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echo, args: [there] }); // the port goes
  p.start();
  const buffer = new Uint8Array([5, 6]).buffer;
  there.send(buffer, { transfer: [buffer] }); // this copy has no port
  assert.equal(buffer.detached, true); // detached all the same
  assert.deepEqual(
    new Uint8Array(await here.recv() as ArrayBuffer),
    new Uint8Array([5, 6]),
  );
  assert.throws(
    () => there.send({ s: new SharedArrayBuffer(8) }),
    (e: Error) => e instanceof TypeError && e.message.includes("obj.s"),
  );
  there.close();
  here.close();
  await p.join();
  assertNoChildren();
});

Deno.test("a message whose shared objects went to another copy's side channel is left for it, not dropped", async () => {
  const [a, b] = Pipe();
  const p = new Process({ target: sendOne, args: [b] }); // b's port goes
  p.start(); // its module takes 10 s to load: it does not read
  a.send({ shared: new SharedArrayBuffer(4) });
  await assert.rejects(
    b.recv(),
    (e: Error) =>
      e instanceof ProcessError && e.message.includes("side channel"),
  );
  assert.equal(b.pollSync(), true); // still there for the child's copy
  p.terminate();
  await p.join();
  assertNoChildren();
});
