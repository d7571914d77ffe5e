import assert from "node:assert/strict";
import {
  AGAIN,
  bump,
  park,
  parkSync,
  retry,
  waitUntil,
  waitUntilSync,
} from "../../src/core/park.ts";

Deno.test("waitUntilSync returns true at once when the condition holds", () => {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  assert.equal(waitUntilSync(cells, 0, () => true, 0), true);
});

Deno.test("waitUntilSync returns false once its deadline passes", () => {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  const start = performance.now();
  assert.equal(
    waitUntilSync(cells, 0, () => false, performance.now() + 20),
    false,
  );
  assert.ok(performance.now() - start >= 19);
});

Deno.test("waitUntil wakes when the waker changes the cell", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  const waited = waitUntil(cells, 0, () => cells[0] === 1, Infinity);
  setTimeout(() => bump(cells, 0), 5);
  assert.equal(await waited, true);
});

Deno.test("waitUntil rejects with the signal's reason when aborted", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  const controller = new AbortController();
  const waited = waitUntil(
    cells,
    0,
    () => false,
    Infinity,
    controller.signal,
  );
  const reason = new Error("stop");
  setTimeout(() => controller.abort(reason), 5);
  await assert.rejects(waited, (error) => error === reason);
});

Deno.test("waitUntil rejects at once with an already aborted signal", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  await assert.rejects(
    waitUntil(cells, 0, () => true, Infinity, AbortSignal.abort("no")),
    (error) => error === "no",
  );
});

Deno.test("a park lasts at most one slice, so conditions are re-checked", () => {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  const start = performance.now();
  assert.equal(parkSync(cells, 0, 0, 10_000), "timed-out");
  assert.ok(performance.now() - start < 1_000);
});

Deno.test("an async park resolves not-equal when the cell already differs", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  cells[0] = 5;
  assert.equal(await park(cells, 0, 4, 100), "not-equal");
});

Deno.test("retry calls its attempt until it gives a value", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  let tries = 0;
  const result = retry(
    cells,
    0,
    Infinity,
    () => (++tries >= 3 ? "done" : AGAIN),
    () => "timeout",
  );
  setTimeout(() => bump(cells, 0), 2);
  setTimeout(() => bump(cells, 0), 4);
  assert.equal(await result, "done");
});

Deno.test("waitUntil with options.also wakes when the other cell changes", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(8));
  let flag = false;
  const waited = waitUntil(cells, 0, () => flag, Infinity, undefined, {
    slice: 60_000,
    also: { cells, index: 1 },
  });
  setTimeout(() => {
    flag = true;
    bump(cells, 1); // not the cell it parks on
  }, 5);
  const start = performance.now();
  assert.equal(await waited, true);
  assert.ok(performance.now() - start < 5_000);
});

Deno.test("waitUntil with options.slice re-checks an un-notified condition after one slice", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  let flag = false;
  setTimeout(() => flag = true, 5); // nobody wakes the cell
  const start = performance.now();
  assert.equal(
    await waitUntil(cells, 0, () => flag, Infinity, undefined, { slice: 20 }),
    true,
  );
  assert.ok(performance.now() - start < 5_000);
});

Deno.test("an aborted wait watching a second cell leaves no waiter behind", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(8));
  const controller = new AbortController();
  const waited = waitUntil(cells, 0, () => false, Infinity, controller.signal, {
    also: { cells, index: 1 },
  });
  controller.abort("stop");
  await assert.rejects(waited, (e) => e === "stop");
  bump(cells, 1); // fires the watcher with nobody left on it
});
