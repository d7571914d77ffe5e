import assert from "node:assert/strict";
import { Writer } from "../../src/core/codec.ts";
import { heap } from "../../src/mailbox/_heap.ts";
import { createRecord, QUEUE, ringOf } from "../../src/mailbox/_records.ts";
import {
  capacity,
  COUNT,
  DATA,
  EMPTY,
  FREEING,
  FREEING_CAP,
  GROWING,
  GROWING_CAP,
  lengthOf,
  put,
  REFUSED,
  SIDE_FLAG,
  TAIL,
  take,
  taskDone,
} from "../../src/mailbox/_ring.ts";
import { deadPid } from "./_dead_pid.ts";
import { assertNoChildren } from "../_helpers.ts";

function newRing(): number {
  return ringOf(createRecord(heap(), QUEUE).record, 0);
}

function bytes(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

Deno.test("records come out in order, whole, across wrap-arounds and growth", () => {
  const h = heap();
  const ring = newRing();
  const into = new Writer();
  let next = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 37; i++) {
      const n = (round * 37 + i) % 300;
      put(h, ring, bytes(n, n & 255), n, 0, 0, false);
    }
    for (let i = 0; i < 30; i++, next++) {
      const header = take(h, ring, into);
      const n = next % 300;
      assert.equal(lengthOf(header), n);
      assert.deepEqual(into.written(), bytes(n, n & 255));
    }
  }
  assert.ok(capacity(h, ring) >= 1024);
});

Deno.test("a bounded put refuses without writing when maxItems are there", () => {
  const h = heap();
  const ring = newRing();
  assert.equal(put(h, ring, bytes(4, 1), 4, 0, 2, false), true);
  assert.equal(put(h, ring, bytes(4, 2), 4, 0, 2, false), true);
  assert.equal(put(h, ring, bytes(4, 3), 4, 0, 2, false), false);
  assert.equal(Atomics.load(h.cells, ring + COUNT), 2);
});

Deno.test("take with accept leaves a refused record in place; flags come back", () => {
  const h = heap();
  const ring = newRing();
  put(h, ring, bytes(3, 9), 3, SIDE_FLAG, 0, false);
  const into = new Writer();
  assert.equal(take(h, ring, into, () => false), REFUSED);
  const header = take(h, ring, into);
  assert.equal(header & SIDE_FLAG, SIDE_FLAG);
  assert.equal(lengthOf(header), 3);
  assert.equal(take(h, ring, into), EMPTY);
});

Deno.test("a JoinableQueue's task count rises with the put and falls with taskDone", () => {
  const h = heap();
  const ring = newRing();
  put(h, ring, bytes(1, 1), 1, 0, 0, true);
  assert.equal(taskDone(h, ring), 0);
  assert.equal(taskDone(h, ring), -1);
});

Deno.test("a record a dead producer was copying is never published", async () => {
  const h = heap();
  const ring = newRing();
  const into = new Writer();
  put(h, ring, bytes(8, 1), 8, 0, 0, false);
  // As if a producer died holding the lock, half-way through its copy.
  const data = h.cells[ring + DATA];
  const tail = h.cells[ring + TAIL];
  h.cells[data + (tail >> 2)] = 8;
  h.bytes.fill(7, (data << 2) + tail + 4, (data << 2) + tail + 8);
  Atomics.store(h.cells, ring, await deadPid());
  assert.deepEqual(
    [lengthOf(take(h, ring, into)), [...into.written()]],
    [8, [...bytes(8, 1)]],
  );
  assert.equal(take(h, ring, into), EMPTY);
  put(h, ring, bytes(5, 3), 5, 0, 0, false);
  take(h, ring, into);
  assert.deepEqual(into.written(), bytes(5, 3));
  assertNoChildren();
});

Deno.test("a grow a dead producer never committed is undone, and its block freed", async () => {
  const h = heap();
  const ring = newRing();
  put(h, ring, bytes(8, 1), 8, 0, 0, false);
  // As if it died after allocating the bigger block, before switching.
  Atomics.store(h.cells, ring + GROWING_CAP, 4096);
  const block = h.allocate(4096, ring + GROWING);
  Atomics.store(h.cells, ring, await deadPid());
  const into = new Writer();
  take(h, ring, into); // takes the lock over, repairs
  assert.deepEqual(into.written(), bytes(8, 1));
  assert.equal(h.cells[ring + GROWING], 0);
  const owner = ringOf(createRecord(h, QUEUE).record, 0) + GROWING;
  assert.equal(h.allocate(4096, owner), block); // it was freed
  assertNoChildren();
});

Deno.test("a grow a dead producer committed but did not finish frees the old block", async () => {
  const h = heap();
  const ring = newRing();
  put(h, ring, bytes(8, 1), 8, 0, 0, false);
  const old = h.cells[ring + DATA];
  const oldCap = capacity(h, ring);
  // As if it died after the switch, before freeing the old block.
  Atomics.store(h.cells, ring + FREEING_CAP, oldCap);
  Atomics.store(h.cells, ring + FREEING, old);
  h.cells[ring + DATA] = h.allocate(oldCap * 2, ring + GROWING);
  h.cells.copyWithin(h.cells[ring + DATA], old, old + (oldCap >> 2));
  h.cells[ring + GROWING] = 0;
  Atomics.store(h.cells, ring, await deadPid());
  const into = new Writer();
  take(h, ring, into);
  assert.deepEqual(into.written(), bytes(8, 1));
  assert.equal(h.cells[ring + FREEING], 0);
  assertNoChildren();
});
