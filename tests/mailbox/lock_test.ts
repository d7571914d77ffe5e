import assert from "node:assert/strict";
import {
  acquire,
  BUSY,
  commit,
  LOCK_CELLS,
  release,
  stage,
  tryAcquire,
} from "../../src/mailbox/_lock.ts";
import { allocatePid } from "../../src/runtime/_context.ts";
import { deadPid } from "./_dead_pid.ts";
import { assertNoChildren } from "../_helpers.ts";

function lockCells(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * (LOCK_CELLS + 8)));
}
const DATA = LOCK_CELLS; // cells after the lock, for the changes

Deno.test("a commit makes every staged write, and only then", () => {
  const cells = lockCells();
  assert.equal(acquire(cells, 0), false);
  let n = stage(cells, 0, 0, DATA, 7);
  n = stage(cells, 0, n, DATA + 1, 8);
  assert.deepEqual([cells[DATA], cells[DATA + 1]], [0, 0]); // staged only
  commit(cells, 0, n);
  assert.deepEqual([cells[DATA], cells[DATA + 1]], [7, 8]);
  release(cells, 0);
});

Deno.test("a lock a dead process held is taken over, and its committed change replayed", async () => {
  const cells = lockCells();
  const dead = await deadPid();
  // As if it died between its commit point and applying the writes.
  Atomics.store(cells, 0, dead);
  let n = stage(cells, 0, 0, DATA, 42);
  n = stage(cells, 0, n, DATA + 1, 43);
  Atomics.store(cells, 2, n); // the commit point
  cells[DATA + 1] = 43; // one write made, one not
  assert.equal(acquire(cells, 0), true); // taken over
  assert.deepEqual([cells[DATA], cells[DATA + 1]], [42, 43]);
  release(cells, 0);
  assertNoChildren();
});

Deno.test("an uncommitted change of a dead holder changes nothing", async () => {
  const cells = lockCells();
  const dead = await deadPid();
  Atomics.store(cells, 0, dead);
  stage(cells, 0, 0, DATA, 42); // staged, never committed
  assert.equal(tryAcquire(cells, 0), "busy"); // first sight: the grace starts
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(tryAcquire(cells, 0), "taken over");
  assert.equal(cells[DATA], 0);
  release(cells, 0);
  assertNoChildren();
});

Deno.test("a lock held by a live process is never taken over; a brief acquire gives up", () => {
  const cells = lockCells();
  Atomics.store(cells, 0, allocatePid()); // a process not ended: alive
  assert.equal(tryAcquire(cells, 0), "busy");
  const start = performance.now();
  assert.equal(acquire(cells, 0, true), BUSY);
  assert.ok(performance.now() - start < 1000);
  Atomics.store(cells, 0, 0);
});
