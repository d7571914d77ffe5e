import assert from "node:assert/strict";
import { Heap, RECORD_CELLS } from "../../src/mailbox/_heap.ts";
import { programHeap } from "../../src/runtime/_context.ts";

function freshHeap(): Heap {
  return new Heap(
    new SharedArrayBuffer(65536, { maxByteLength: 64 * 2 ** 20 }),
  );
}
const OWNER = 200; // a header-free cell of the fresh heap, as an owner cell

Deno.test("an allocation is recorded in its owner cell, and a free clears it", () => {
  const heap = freshHeap();
  const block = heap.allocate(1000, OWNER);
  assert.equal(heap.cells[OWNER], block);
  heap.free(OWNER, 1000);
  assert.equal(heap.cells[OWNER], 0);
  heap.free(OWNER, 1000); // nothing left to free: nothing happens
  assert.equal(heap.allocate(1000, OWNER), block); // reused
});

Deno.test("a free block is split for a smaller allocation", () => {
  const heap = freshHeap();
  const big = heap.allocate(4096, OWNER);
  heap.free(OWNER, 4096);
  const top = heap.top;
  const small = heap.allocate(256, OWNER);
  assert.equal(small, big);
  assert.equal(heap.allocate(256, OWNER + 1), big + 64); // the other half's half
  assert.equal(heap.top, top); // nothing new was taken
});

Deno.test("the heap grows its buffer as blocks are needed, and every view sees it", () => {
  const buffer = new SharedArrayBuffer(65536, { maxByteLength: 64 * 2 ** 20 });
  const heap = new Heap(buffer);
  const other = new Heap(buffer); // another process's view of the same heap
  const block = heap.allocate(4 * 2 ** 20, OWNER);
  assert.ok(buffer.byteLength >= (block << 2) + 4 * 2 ** 20);
  heap.cells[block + 2 ** 20 - 1] = 9;
  other.reach(block + 2 ** 20);
  assert.equal(other.cells[block + 2 ** 20 - 1], 9);
  assert.deepEqual(other.id, heap.id);
});

Deno.test("a message larger than the largest block is a RangeError", () => {
  const heap = freshHeap();
  assert.throws(() => heap.allocate(2 ** 31, OWNER), RangeError);
});

Deno.test("records come from chunks and go back to the free records", () => {
  const heap = freshHeap();
  const a = heap.allocateRecord((cells, record) => {
    cells[record + 30] = 5; // any init write of a free record
    return [record + 40, 1];
  });
  assert.equal(heap.cells[a + 40], 1);
  assert.equal(heap.cells[a + 30], 5);
  const b = heap.allocateRecord(() => []);
  assert.equal(b, a + RECORD_CELLS);
  heap.freeRecord(a, [a + 40, 0]);
  assert.equal(heap.allocateRecord(() => []), a);
});

Deno.test("the program's heap is one growable buffer, reserved once", () => {
  const buffer = programHeap();
  assert.equal(buffer.growable, true);
  assert.ok(buffer.maxByteLength >= 2 ** 32);
});
