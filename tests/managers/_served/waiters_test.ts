import assert from "node:assert/strict";
import { AGAIN, Waiters } from "../../../src/managers/_served/waiters.ts";

const me = () => ({ caller: 0, signal: new AbortController().signal });

/** A waiting call as a promise (`wait` returns a value when it can go). */
function waitOn<R>(
  waiters: Waiters,
  key: object,
  attempt: () => R | typeof AGAIN,
  deadline: number,
  onTimeout: () => R,
  caller = me(),
): Promise<R> {
  return Promise.resolve(
    waiters.wait(key, attempt, deadline, onTimeout, caller),
  );
}

Deno.test("a call that can go at once is not kept", () => {
  const waiters = new Waiters();
  assert.equal(waiters.wait({}, () => 1, Infinity, () => 0, me()), 1);
  assert.equal(waiters.size, 0);
});

Deno.test("a waiting call goes once its object changes, oldest first", async () => {
  const waiters = new Waiters();
  const key = {};
  let free = 0;
  const take = () => free > 0 ? free-- : AGAIN;
  const first = waitOn(waiters, key, take, Infinity, () => -1);
  const second = waitOn(waiters, key, take, Infinity, () => -1);
  assert.equal(waiters.size, 2);
  free = 1;
  waiters.changed(key);
  assert.equal(await first, 1);
  assert.equal(waiters.size, 1);
  waiters.changed({}); // another object: nothing moves
  assert.equal(waiters.size, 1);
  free = 1;
  waiters.changed(key);
  assert.equal(await second, 1);
});

Deno.test("a waiting call times out once its deadline is rechecked", async () => {
  const waiters = new Waiters();
  const deadline = performance.now() + 5;
  const call = waitOn(waiters, {}, () => AGAIN, deadline, () => "timed out");
  assert.equal(waiters.nextDeadline(), deadline);
  waiters.recheck(deadline + 1);
  assert.equal(await call, "timed out");
  assert.equal(waiters.nextDeadline(), Infinity);
});

Deno.test("an aborted waiting call leaves nothing behind and rejects with the reason", async () => {
  const waiters = new Waiters();
  const controller = new AbortController();
  const key = {};
  let tries = 0;
  const call = waitOn(waiters, key, () => (tries++, AGAIN), Infinity, () => 0, {
    caller: 0,
    signal: controller.signal,
  });
  controller.abort("gone");
  await assert.rejects(call, (error) => error === "gone");
  assert.equal(waiters.size, 0);
  const before = tries;
  waiters.changed(key);
  assert.equal(tries, before); // its attempt never runs again
});

Deno.test("a throwing attempt rejects its call", async () => {
  const waiters = new Waiters();
  const key = {};
  let fail = false;
  const call = waitOn(
    waiters,
    key,
    () => {
      if (fail) throw new Error("taken over");
      return AGAIN;
    },
    Infinity,
    () => 0,
  );
  fail = true;
  waiters.changed(key);
  await assert.rejects(call, /taken over/);
});

Deno.test("closing rejects every waiting call", async () => {
  const waiters = new Waiters();
  const calls = [1, 2].map(() =>
    waitOn(waiters, {}, () => AGAIN, Infinity, () => 0)
  );
  waiters.closeAll(new Error("closing"));
  for (const call of calls) await assert.rejects(call, /closing/);
  assert.equal(waiters.size, 0);
});
