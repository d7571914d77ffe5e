import assert from "node:assert/strict";
import {
  Lock,
  LockOwnerDiedError,
  Manager,
  Process,
  ProcessError,
  RLock,
} from "../../../mod.ts";
import { holdLockAndEnd, holdLockForever } from "../_fixtures/targets.ts";
import { assertNoChildren } from "../../_helpers.ts";

/** The error `fn` throws. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("it did not throw");
}

Deno.test("an RLock is reentrant for its owner, a Lock is not", async () => {
  await using manager = await Manager.start();
  const rlock = await manager.RLock();
  assert.equal(await rlock.acquire(), true);
  assert.equal(await rlock.acquire(), true);
  await rlock.release();
  await rlock.release();
  const lock = await manager.Lock();
  assert.equal(await lock.acquire(), true);
  assert.equal(await lock.acquire({ timeout: 20 }), false);
  assert.equal(await lock.acquire({ block: false }), false);
  await lock.release();
  assert.equal(await lock.withLock(() => "inside"), "inside");
  assert.equal(await lock.acquire({ block: false }), true);
});

Deno.test("releasing an unheld lock is the same error through a proxy as locally", async () => {
  await using manager = await Manager.start();
  const pairs: [Error, () => Promise<unknown>][] = [
    [
      thrown(() => new Lock().release()),
      async () => await (await manager.Lock()).release(),
    ],
    [
      thrown(() => new RLock().release()),
      async () => await (await manager.RLock()).release(),
    ],
  ];
  for (const [local, release] of pairs) {
    await assert.rejects(release(), (error: Error) => {
      assert.ok(error instanceof ProcessError);
      assert.equal(error.constructor, local.constructor);
      assert.equal(error.message, local.message);
      return true;
    });
  }
});

Deno.test("a semaphore lets at most its value through", async () => {
  await using manager = await Manager.start();
  const s = await manager.Semaphore(2);
  assert.equal(await s.acquire(), true);
  assert.equal(await s.acquire(), true);
  assert.equal(await s.acquire({ block: false }), false);
  const waiting = s.acquire();
  await s.release();
  assert.equal(await waiting, true);
});

Deno.test("an aborted acquire rejects and leaves the lock to the next waiter", async () => {
  await using manager = await Manager.start();
  const lock = await manager.Lock();
  await lock.acquire();
  const controller = new AbortController();
  const aborted = lock.acquire({ signal: controller.signal });
  const next = lock.acquire();
  controller.abort("gave up");
  await assert.rejects(aborted, (error) => error === "gave up");
  await lock.release();
  assert.equal(await next, true); // not swallowed by the withdrawn acquire
  await lock.release();
});

Deno.test("withLock releases when its function throws, and times out with TimeoutError", async () => {
  await using manager = await Manager.start();
  const lock = await manager.Lock();
  await assert.rejects(
    lock.withLock(() => {
      throw new Error("inside");
    }),
    /inside/,
  );
  assert.equal(await lock.acquire({ block: false }), true);
  await assert.rejects(
    lock.withLock(() => 1, { timeout: 10 }),
    (error: Error) => error.name === "TimeoutError",
  );
  await lock.release();
});

Deno.test("a lock held by a process that ended is taken over with LockOwnerDiedError", async () => {
  {
    await using manager = await Manager.start();
    const lock = await manager.Lock();
    const p = new Process({ target: holdLockAndEnd, args: [lock] });
    p.start();
    assert.equal(await p.join(20_000), 0);
    await assert.rejects(lock.acquire(), LockOwnerDiedError);
    await lock.release(); // the caller owns it now
  }
  assertNoChildren();
});

Deno.test("a waiter on a lock whose holder is terminated gets it with LockOwnerDiedError", async () => {
  {
    await using manager = await Manager.start();
    const lock = await manager.RLock();
    const held = await manager.Event();
    const p = new Process({ target: holdLockForever, args: [lock, held] });
    p.start();
    assert.equal(await held.wait(20_000), true);
    // Its handler is attached now: it may reject while this test awaits.
    const waiting = assert.rejects(lock.acquire(), LockOwnerDiedError);
    await lock.acquire({ block: false }).catch(() => {}); // still held
    p.terminate();
    await p.join();
    await waiting;
    await lock.release(); // this process owns it now
    assert.equal(await lock.acquire({ block: false }), true);
    await lock.release();
  }
  assertNoChildren();
});

Deno.test("a condition's notify wakes a waiter, which gets the lock back", async () => {
  await using manager = await Manager.start();
  const lock = await manager.Lock();
  const cond = await manager.Condition(lock);
  await assert.rejects(cond.wait(10), /lock this process does not hold/);
  await cond.acquire();
  const woke = cond.wait(5000);
  // The waiter released the lock: this acquire gets it.
  await cond.acquire();
  await cond.notify();
  await cond.release();
  assert.equal(await woke, true);
  assert.equal(await lock.acquire({ block: false }), false); // held again
  await cond.release();
  await cond.acquire();
  const ready = { value: false };
  const waiter = cond.waitFor(() => ready.value, 5000);
  await cond.acquire();
  ready.value = true;
  await cond.notifyAll();
  await cond.release();
  assert.equal(await waiter, true);
  await cond.release();
});

Deno.test("a condition wait times out with false, holding the lock again", async () => {
  await using manager = await Manager.start();
  const cond = await manager.Condition(); // over its own RLock
  await cond.acquire();
  await cond.acquire();
  assert.equal(await cond.wait({ timeout: 10 }), false);
  await cond.release();
  await cond.release(); // both levels came back
  await assert.rejects(cond.release(), ProcessError);
});

Deno.test("an aborted condition wait rejects with the reason, holding the lock again", async () => {
  await using manager = await Manager.start();
  const lock = await manager.Lock();
  const cond = await manager.Condition(lock);
  await cond.acquire();
  const controller = new AbortController();
  const waiting = cond.wait({ signal: controller.signal });
  assert.equal(await lock.acquire({ block: false }), true); // released meanwhile
  await lock.release();
  controller.abort("stop waiting");
  await assert.rejects(waiting, (error) => error === "stop waiting");
  assert.equal(await lock.acquire({ block: false }), false); // held again
  await cond.notify(); // no waiter left to wake
  await cond.release();
});
