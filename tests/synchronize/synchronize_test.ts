import assert from "node:assert/strict";
import {
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  Condition,
  Event,
  getpid,
  Lock,
  LockOwnerDiedError,
  Process,
  ProcessError,
  RLock,
  Semaphore,
  TimeoutError,
  Value,
} from "../../mod.ts";
import {
  acquireOnce,
  barrierAction,
  consumeWithCondition,
  consumeWithConditionSync,
  hammer,
  hammerSemaphore,
  holdAndBlock,
  holdAndReturn,
  holdUntil,
  incrementAsync,
  incrementSync,
  incrementUsing,
  LockHolder,
  passSemaphore,
  releaseOnce,
  takeOnce,
  waitAtBarrier,
  waitAtBarrierSync,
  waitEvent,
  waitEventSync,
  waitExpectBroken,
} from "../fixtures/sync_targets.ts";
import { assertNoChildren, until } from "../_helpers.ts";

function cells(n = 4): Int32Array {
  return new Int32Array(new SharedArrayBuffer(n * 4));
}

async function runAll(ps: Process[]): Promise<void> {
  for (const p of ps) p.start();
  const codes = await Promise.all(ps.map((p) => p.join(20_000)));
  assert.deepEqual(codes, ps.map(() => 0));
  assertNoChildren();
}

// Lock -----------------------------------------------------------------------

Deno.test("a Lock is held between acquire and release, and locked() says so", async () => {
  const lock = new Lock();
  assert.equal(lock.locked(), false);
  assert.equal(await lock.acquire(), true);
  assert.equal(lock.locked(), true);
  lock.release();
  assert.equal(lock.locked(), false);
  assert.equal(lock.acquireSync(), true);
  lock.release();
});

Deno.test("releasing an unlocked Lock throws ProcessError", () => {
  assert.throws(() => new Lock().release(), ProcessError);
});

Deno.test("a held Lock makes non-blocking and timed acquires return false", async () => {
  const lock = new Lock();
  await lock.acquire();
  assert.equal(await lock.acquire({ block: false }), false);
  assert.equal(lock.acquireSync({ block: false }), false);
  const t = performance.now();
  assert.equal(await lock.acquire({ timeout: 30 }), false);
  assert.ok(performance.now() - t >= 25);
  assert.equal(lock.acquireSync({ timeout: 10 }), false);
  lock.release();
});

Deno.test("acquire rejects bad timeouts and options with errors naming them", async () => {
  const lock = new Lock();
  assert.throws(() => lock.acquireSync({ timeout: -1 }), RangeError);
  assert.throws(() => lock.acquire({ timeout: NaN }), RangeError);
  assert.throws(
    () => lock.acquire({ block: "yes" as unknown as boolean }),
    /options\.block/,
  );
  assert.throws(() => lock.acquireSync(5 as never), /block, timeout/);
  assert.equal(await lock.acquire({ timeout: Infinity }), true);
  lock.release();
});

Deno.test("a using scope releases the Lock even when the scope throws", async () => {
  const lock = new Lock();
  await assert.rejects(async () => {
    using _held = await lock.hold();
    assert.equal(lock.locked(), true);
    throw new Error("boom");
  }, /boom/);
  assert.equal(lock.locked(), false);
  assert.throws(() => {
    using _held = lock.holdSync();
    throw new Error("sync boom");
  }, /sync boom/);
  assert.equal(lock.locked(), false);
});

Deno.test("hold() throws TimeoutError when the lock stays held past its timeout", async () => {
  const lock = new Lock();
  lock.acquireSync();
  await assert.rejects(lock.hold({ timeout: 5 }), TimeoutError);
  assert.throws(() => lock.holdSync({ block: false }), TimeoutError);
  lock.release();
});

Deno.test("a waiting async acquire does not block the event loop and wins on release", async () => {
  const lock = new Lock();
  lock.acquireSync();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const waiting = lock.acquire({ timeout: 2000 });
  await until(() => ticks >= 3, 2000, "timer ticks while acquire waits");
  lock.release();
  assert.equal(await waiting, true);
  clearInterval(timer);
  lock.release();
});

Deno.test("two processes doing locked increments with await acquire() lose no update", async () => {
  const counter = Value("i", 0, { lock: new Lock() });
  await runAll(
    [0, 1].map(() =>
      new Process({ target: incrementAsync, args: [counter, 20_000] })
    ),
  );
  assert.equal(counter.value, 40_000);
});

Deno.test("three processes doing locked increments with acquireSync() lose no update", async () => {
  const counter = Value("i", 0);
  await runAll(
    [0, 1, 2].map(() =>
      new Process({ target: incrementSync, args: [counter, 20_000] })
    ),
  );
  assert.equal(counter.value, 60_000);
});

Deno.test("processes and the main program incrementing inside using scopes lose no update", async () => {
  const counter = Value("i", 0);
  const ps = [0, 1].map(() =>
    new Process({ target: incrementUsing, args: [counter, 5_000] })
  );
  for (const p of ps) p.start();
  await incrementUsing(counter, 5_000);
  await Promise.all(ps.map((p) => p.join()));
  assertNoChildren();
  assert.equal(counter.value, 15_000);
});

Deno.test("a Lock in a Process subclass field is the same lock in the child", async () => {
  const lock = new Lock();
  const ready = new Event();
  const p = new LockHolder(lock, ready);
  p.start();
  assert.equal(await ready.wait(10_000), true);
  assert.equal(lock.locked(), true);
  p.terminate();
  await p.join();
  assertNoChildren();
});

Deno.test("a waiter takes over the lock of an owner that ended holding it, with LockOwnerDiedError", async () => {
  const lock = new Lock();
  const ready = new Event();
  const p = new Process({ target: holdAndReturn, args: [lock, ready] });
  p.start();
  await ready.wait(10_000);
  const waiting = lock.acquire({ timeout: 10_000 });
  await p.join();
  await assert.rejects(waiting, LockOwnerDiedError);
  // The acquirer now owns it: it is locked until this process releases it.
  assert.equal(lock.locked(), true);
  assert.equal(lock.acquireSync({ block: false }), false);
  lock.release();
  assert.equal(lock.acquireSync({ block: false }), true);
  lock.release();
  assertNoChildren();
});

Deno.test("acquireSync throws LockOwnerDiedError after the owner is terminated", async () => {
  const lock = new Lock();
  const ready = new Event();
  const p = new Process({ target: holdAndBlock, args: [lock, ready] });
  p.start();
  await ready.wait(10_000);
  assert.equal(lock.acquireSync({ timeout: 20 }), false); // owner alive
  p.terminate();
  await p.join();
  assert.throws(() => lock.acquireSync({ timeout: 5000 }), LockOwnerDiedError);
  lock.release();
  assertNoChildren();
});

Deno.test("a process blocked in acquireSync ends at once when terminated", async () => {
  const lock = new Lock();
  lock.acquireSync();
  const done = new Event();
  const ms = new Float64Array(new SharedArrayBuffer(8));
  const p = new Process({ target: acquireOnce, args: [lock, done, ms] });
  p.start();
  await until(() => lockWaiters(lock) > 0, 10_000, "the child to wait");
  const t = performance.now();
  p.terminate();
  assert.equal(await p.join(2000), -15);
  assert.ok(performance.now() - t < 1000);
  assert.equal(done.isSet(), false);
  lock.release();
  assertNoChildren();
});

function lockWaiters(lock: Lock): number {
  return Atomics.load(new Int32Array(lock.buffer), 1);
}

Deno.test("a process looping on a Lock cannot starve another that waits for it", async () => {
  const lock = new Lock();
  const stop = new Event();
  const rounds = cells(2);
  const ms = new Float64Array(new SharedArrayBuffer(8));
  const hammerer = new Process({ target: hammer, args: [lock, stop, rounds] });
  hammerer.start();
  await until(() => Atomics.load(rounds, 0) > 1000, 10_000, "hammering");
  const waiter = new Process({ target: acquireOnce, args: [lock, stop, ms] });
  waiter.start();
  await Promise.all([hammerer.join(), waiter.join()]);
  // The waiter got the lock while the other still looped on it.
  assert.equal(
    Atomics.load(rounds, 1),
    1,
    "the hammering process was stopped by the waiter",
  );
  assert.ok(ms[0] < 2000, `waited ${ms[0]} ms`);
  assertNoChildren();
});

Deno.test("a release hands the lock to a waiter that waited over 1 ms, not back to the releaser", async () => {
  const lock = new Lock();
  lock.acquireSync();
  const got = new Event();
  const letGo = new Event();
  const p = new Process({ target: holdUntil, args: [lock, got, letGo] });
  p.start();
  const cells = new Int32Array(lock.buffer);
  // STARVING (cell 3) counts waiters that waited too long: hand-off mode,
  // to a waiter parked (cell 2) in Atomics.wait.
  await until(
    () => Atomics.load(cells, 3) > 0 && Atomics.load(cells, 2) > 0,
    10_000,
    "a starving waiter, parked",
  );
  lock.release();
  // Barging would let this process take it straight back.
  assert.equal(lock.acquireSync({ block: false }), false);
  assert.equal(await got.wait(10_000), true);
  letGo.set();
  await p.join();
  assert.equal(lock.locked(), false);
  assertNoChildren();
});

// RLock ----------------------------------------------------------------------

Deno.test("an RLock is re-acquired by its owner and released as many times", async () => {
  const lock = new RLock();
  assert.equal(await lock.acquire(), true);
  assert.equal(lock.acquireSync(), true);
  lock.release();
  assert.equal(lock.locked(), true);
  lock.release();
  assert.equal(lock.locked(), false);
  assert.throws(() => lock.release(), /un-acquired RLock/);
});

Deno.test("an RLock held by another process cannot be released here", async () => {
  const lock = new RLock();
  const ready = new Event();
  const p = new Process({ target: holdAndBlock, args: [lock, ready] });
  p.start();
  await ready.wait(10_000);
  assert.throws(() => lock.release(), /held by process/);
  assert.equal(await lock.acquire({ block: false }), false);
  p.terminate();
  await p.join();
  // Its owner died: the next acquire takes it over.
  await assert.rejects(lock.acquire({ timeout: 5000 }), LockOwnerDiedError);
  lock.release();
  assert.equal(lock.locked(), false);
  assertNoChildren();
});

// Semaphores -------------------------------------------------------------------

Deno.test("Semaphore rejects a negative or non-integer value", () => {
  assert.throws(() => new Semaphore(-1), RangeError);
  assert.throws(() => new Semaphore(1.5), TypeError);
  assert.throws(() => new BoundedSemaphore("2" as never), /integer/);
});

Deno.test("a Semaphore counts units and getValue() reports them", async () => {
  const sem = new Semaphore(2);
  assert.equal(sem.getValue(), 2);
  await sem.acquire();
  sem.acquireSync();
  assert.equal(sem.getValue(), 0);
  assert.equal(await sem.acquire({ timeout: 5 }), false);
  assert.equal(sem.acquireSync({ block: false }), false);
  sem.release();
  sem.release();
  sem.release(); // an unbounded semaphore may exceed its initial value
  assert.equal(sem.getValue(), 3);
});

Deno.test("a Semaphore of 2 lets at most 2 of 4 processes in at once", async () => {
  const sem = new Semaphore(2);
  const inside = cells(2);
  await runAll(
    [0, 1, 2, 3].map(() =>
      new Process({ target: passSemaphore, args: [sem, inside, 200] })
    ),
  );
  assert.ok(inside[1] <= 2, `max inside was ${inside[1]}`);
  assert.ok(inside[1] >= 1);
  assert.equal(sem.getValue(), 2);
});

Deno.test("a BoundedSemaphore throws when released above its initial value", async () => {
  const sem = new BoundedSemaphore(2);
  await sem.acquire();
  sem.release();
  assert.throws(() => sem.release(), /above its initial value 2/);
  assert.equal(sem.getValue(), 2);
});

Deno.test("a BoundedSemaphore stays bounded in the process it crosses into", async () => {
  const sem = new BoundedSemaphore(1);
  const out = cells(1);
  const p = new Process({ target: releaseOnce, args: [sem, out] });
  p.start();
  await p.join();
  assert.equal(out[0], 1);
  assert.equal(sem.getValue(), 1);
  assertNoChildren();
});

Deno.test("a waiting Semaphore acquire is woken by a release from a process", async () => {
  const sem = new Semaphore(0);
  const waiting = sem.acquire({ timeout: 10_000 });
  const out = cells(1);
  const p = new Process({ target: releaseOnce, args: [sem, out] });
  p.start();
  assert.equal(await waiting, true);
  await p.join();
  assert.equal(out[0], 2);
  assert.equal(sem.getValue(), 0);
  assertNoChildren();
});

Deno.test("a process looping on a Semaphore cannot starve another that waits for it", async () => {
  const sem = new Semaphore(1);
  const stop = new Event();
  const rounds = cells(2);
  const hammerer = new Process({
    target: hammerSemaphore,
    args: [sem, stop, rounds],
  });
  hammerer.start();
  await until(() => Atomics.load(rounds, 0) > 1000, 10_000, "hammering");
  const waiter = new Process({ target: takeOnce, args: [sem, stop] });
  waiter.start();
  await Promise.all([hammerer.join(), waiter.join()]);
  assert.equal(Atomics.load(rounds, 1), 1, "stopped by the waiter");
  assert.equal(sem.getValue(), 1);
  assertNoChildren();
});

// Event ------------------------------------------------------------------------

Deno.test("Event.set() wakes processes waiting sync and async", async () => {
  const event = new Event();
  const passed = cells(2);
  const ps = [
    new Process({ target: waitEventSync, args: [event, passed] }),
    new Process({ target: waitEvent, args: [event, passed] }),
  ];
  for (const p of ps) p.start();
  await until(() => Atomics.load(passed, 1) === 2, 10_000, "2 waiters");
  event.set();
  await Promise.all(ps.map((p) => p.join()));
  assert.equal(passed[0], 2);
  assertNoChildren();
});

Deno.test("Event.wait() times out with false, and clear() unsets", async () => {
  const event = new Event();
  assert.equal(await event.wait(10), false);
  assert.equal(event.waitSync(0), false);
  event.set();
  assert.equal(event.isSet(), true);
  assert.equal(event.waitSync(), true);
  event.clear();
  assert.equal(event.isSet(), false);
  assert.throws(() => event.wait(-5), RangeError);
});

// Condition ----------------------------------------------------------------------

Deno.test("Condition.wait() and notify() require the lock", async () => {
  const cond = new Condition(new Lock());
  await assert.rejects(cond.wait(1), /does not hold/);
  assert.throws(() => cond.notify(), /does not hold/);
  assert.throws(() => new Condition({} as never), TypeError);
});

Deno.test("Condition.wait() times out with false and holds the lock again", async () => {
  const cond = new Condition();
  using _held = await cond.hold();
  assert.equal(await cond.wait(10), false);
  assert.equal(cond.lock.locked(), true);
  assert.equal(cond.waitSync(5), false);
  assert.equal(await cond.waitFor(() => 0, 5), 0);
});

Deno.test("Condition.wait() over an RLock held twice restores both levels", async () => {
  const lock = new RLock();
  const cond = new Condition(lock);
  await lock.acquire();
  await lock.acquire();
  assert.equal(await cond.wait(5), false);
  assert.equal(cond.waitSync(5), false);
  lock.release();
  assert.equal(lock.locked(), true);
  lock.release();
  assert.equal(lock.locked(), false);
});

Deno.test("Condition.notify(1) wakes one waiting process, notifyAll() the rest", async () => {
  const cond = new Condition();
  const items = cells(1);
  const taken = cells(1);
  const ps = [
    new Process({ target: consumeWithCondition, args: [cond, items, taken] }),
    new Process({ target: consumeWithCondition, args: [cond, items, taken] }),
    new Process({
      target: consumeWithConditionSync,
      args: [cond, items, taken],
    }),
  ];
  for (const p of ps) p.start();
  await until(() => conditionWaiters(cond) === 3, 10_000, "3 waiters");
  {
    using _held = await cond.hold();
    items[0] = 1;
    cond.notify();
  }
  await until(() => taken[0] === 1, 5000, "one item taken");
  {
    using _held = await cond.hold();
    items[0] = 2;
    cond.notifyAll();
  }
  await Promise.all(ps.map((p) => p.join()));
  assert.equal(taken[0], 3);
  assertNoChildren();
});

function conditionWaiters(cond: Condition): number {
  const view = new Int32Array(cond.buffer);
  let n = 0;
  for (let i = 2; i < view.length; i += 2) if (view[i] > 0) n++;
  return n;
}

// Barrier ----------------------------------------------------------------------

Deno.test("a Barrier lets 3 processes pass together with indices 0, 1 and 2", async () => {
  const barrier = new Barrier(3, { action: barrierAction });
  assert.equal(barrier.parties, 3);
  const indices = cells(3);
  indices.fill(-1);
  await runAll([
    new Process({ target: waitAtBarrier, args: [barrier, indices, 0] }),
    new Process({ target: waitAtBarrier, args: [barrier, indices, 1] }),
    new Process({ target: waitAtBarrierSync, args: [barrier, indices, 2] }),
  ]);
  assert.deepEqual([...indices].sort(), [0, 1, 2]);
  assert.equal(barrier.nWaiting, 0);
  assert.equal(barrier.broken, false);
});

Deno.test("Barrier.abort() breaks it for a waiting process and later waits", async () => {
  const barrier = new Barrier(2);
  const outcome = cells(1);
  const p = new Process({
    target: waitExpectBroken,
    args: [barrier, outcome, 0],
  });
  p.start();
  await until(() => barrier.nWaiting === 1, 10_000, "one waiting party");
  barrier.abort();
  await p.join();
  assert.equal(outcome[0], 1);
  assert.equal(barrier.broken, true);
  await assert.rejects(barrier.wait(), BrokenBarrierError);
  await barrier.reset();
  assert.equal(barrier.broken, false);
  assertNoChildren();
});

Deno.test("a Barrier wait that times out breaks the barrier", async () => {
  const barrier = new Barrier(2, { timeout: 20 });
  await assert.rejects(barrier.wait(), BrokenBarrierError);
  assert.equal(barrier.broken, true);
  assert.throws(() => barrier.waitSync(), BrokenBarrierError);
  barrier.resetSync();
  assert.equal(barrier.broken, false);
});

Deno.test("Barrier rejects bad parties and options", () => {
  assert.throws(() => new Barrier(0), RangeError);
  assert.throws(() => new Barrier("2" as never), TypeError);
  assert.throws(() => new Barrier(2, { timeout: -1 }), RangeError);
  assert.throws(() => new Barrier(2, { action: 5 as never }), /action/);
});

Deno.test("getpid() is the owner an RLock records", async () => {
  const lock = new RLock();
  await lock.acquire();
  assert.match(Deno.inspect(lock), new RegExp(`owner: ${getpid()}`));
  lock.release();
});
