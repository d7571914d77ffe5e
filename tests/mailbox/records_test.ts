import assert from "node:assert/strict";
import { type Connection, Process, Queue } from "../../mod.ts";
import { heap } from "../../src/mailbox/_heap.ts";
import {
  addCopy,
  createRecord,
  dropCopy,
  isCurrent,
  isHeld,
  PIPE,
  QUEUE,
  takeOverCopy,
  totalOf,
} from "../../src/mailbox/_records.ts";
import { allocatePid } from "../../src/runtime/_context.ts";
import {
  makeQueuesAndEnd,
  putPipeEndAndEnd,
} from "../queues/_fixtures/targets.ts";
import { deadPid } from "./_dead_pid.ts";
import { assertNoChildren } from "../_helpers.ts";

Deno.test("the creator holds one copy of each end; the last drop frees the record", () => {
  const h = heap();
  const ref = createRecord(h, PIPE);
  assert.deepEqual([totalOf(h, ref, 0), totalOf(h, ref, 1)], [1, 1]);
  assert.equal(dropCopy(h, ref, 0), true); // end 0 closed for good
  assert.equal(isCurrent(h, ref), true); // end 1 is still held
  assert.equal(dropCopy(h, ref, 1), true);
  assert.equal(isCurrent(h, ref), false); // freed: its generation moved on
});

Deno.test("a copy counted for a receiver keeps the end open until that process ends", async () => {
  const h = heap();
  const ref = createRecord(h, QUEUE);
  const receiver = allocatePid(); // not started yet: counts as alive
  assert.equal(addCopy(h, ref, 0, receiver), true);
  dropCopy(h, ref, 0);
  assert.equal(isHeld(h, ref, 0), true);
  const dead = await deadPid();
  const other = createRecord(h, QUEUE);
  addCopy(h, other, 0, dead);
  dropCopy(h, other, 0); // the dead receiver's copy does not count
  assert.equal(isCurrent(h, other), false);
  assertNoChildren();
});

Deno.test("a copy counted for its sender is taken over by the receiver, once", () => {
  const h = heap();
  const ref = createRecord(h, QUEUE);
  const sender = allocatePid(); // stands for a live sender
  addCopy(h, ref, 0, sender);
  assert.equal(totalOf(h, ref, 0), 2);
  assert.equal(takeOverCopy(h, ref, 0, sender), true); // now ours
  assert.equal(totalOf(h, ref, 0), 2); // ours twice, the sender's gone
  dropCopy(h, ref, 0);
  dropCopy(h, ref, 0);
  assert.equal(isCurrent(h, ref), false);
  assert.equal(takeOverCopy(h, ref, 0, sender), false); // freed: born closed
});

Deno.test("many holders of one end overflow the inline slots", () => {
  const h = heap();
  const ref = createRecord(h, QUEUE);
  const pids = Array.from({ length: 40 }, () => allocatePid());
  for (const pid of pids) addCopy(h, ref, 0, pid);
  assert.equal(totalOf(h, ref, 0), 41);
  for (const pid of pids) takeOverCopy(h, ref, 0, pid);
  for (let i = 0; i < 41; i++) dropCopy(h, ref, 0);
  assert.equal(isCurrent(h, ref), false);
});

Deno.test("queues whose every holder ended are swept and their memory reused", async () => {
  const made = new Int32Array(new SharedArrayBuffer(4));
  const p = new Process({ target: makeQueuesAndEnd, args: [300, made] });
  p.start();
  await p.join();
  assert.equal(made[0], 300);
  const h = heap();
  const top = h.top;
  const mine = [];
  for (let i = 0; i < 300; i++) mine.push(new Queue());
  // 300 records need ~5 chunks of 32 KiB; the sweep freed the child's.
  assert.ok((h.top - top) * 4 < 3 * 32768, `grew ${(h.top - top) * 4} bytes`);
  for (const q of mine) q.close();
  assertNoChildren();
});

Deno.test("a Pipe end whose every holder ended before it was revived arrives closed", async () => {
  const out = new Queue<unknown>();
  const p = new Process({ target: putPipeEndAndEnd, args: [out] });
  p.start();
  await p.join();
  const end = await out.get({ timeout: 5000 }) as Connection;
  assert.equal(end.closed, true);
  out.close();
  assertNoChildren();
});
