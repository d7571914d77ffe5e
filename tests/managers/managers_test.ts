import assert from "node:assert/strict";
import {
  activeChildren,
  BrokenBarrierError,
  DictProxy,
  Empty,
  Full,
  IndexError,
  KeyError,
  ListProxy,
  LockOwnerDiedError,
  Manager,
  Process,
  ProcessError,
  ValueError,
} from "../../mod.ts";
import { Pool } from "../../mod.ts";
import {
  appendToNested,
  consume,
  fill,
  holdLockAndEnd,
  increment,
  passBarrier,
  produce,
  record,
  setInPool,
  useAfterShutdown,
  waitThenRecord,
} from "../fixtures/manager_targets.ts";
import { assertNoChildren, runProgram } from "../_helpers.ts";

// deno-lint-ignore no-explicit-any
function run(target: (...args: any[]) => unknown, ...args: unknown[]) {
  const p = new Process({ target, args });
  p.start();
  return p;
}

async function joinAll(processes: Process[]): Promise<number[]> {
  return await Promise.all(processes.map((p) => p.join(20_000))) as number[];
}

Deno.test("a process writes into a managed dict that its parent reads", async () => {
  {
    await using manager = await Manager.start();
    const d = await manager.dict();
    const p = run(record, d, "answer", 42);
    assert.deepEqual(await joinAll([p]), [0]);
    assert.equal(await d.get("answer"), 42);
  }
  assertNoChildren();
});

Deno.test("concurrent increments from four processes under a managed lock are exact", async () => {
  {
    await using manager = await Manager.start();
    const counter = await manager.Value("i", 0);
    const lock = await manager.Lock();
    const ps = await Promise.all(
      [0, 1, 2, 3].map(() => run(increment, counter, lock, 50)),
    );
    assert.deepEqual(await joinAll(ps), [0, 0, 0, 0]);
    assert.equal(await counter.get(), 200);
  }
  assertNoChildren();
});

Deno.test("several processes filling one dict at once leave every key exactly once", async () => {
  {
    await using manager = await Manager.start();
    const d = await manager.dict<string, number>();
    const ps = await Promise.all(
      ["a", "b", "c"].map((prefix) => run(fill, d, prefix, 200)),
    );
    assert.deepEqual(await joinAll(ps), [0, 0, 0]);
    assert.equal(await d.len(), 600);
    const object = await d.toObject();
    for (const prefix of ["a", "b", "c"]) {
      for (let i = 0; i < 200; i++) assert.equal(object[`${prefix}${i}`], i);
    }
  }
  assertNoChildren();
});

Deno.test("a list stored in a dict reads back as a working proxy, here and in processes", async () => {
  {
    await using manager = await Manager.start();
    const d = await manager.dict();
    const inner = await manager.list(["main"]);
    await d.set("log", inner);
    const back = await d.get("log");
    assert.ok(back instanceof ListProxy);
    await back.append("again");
    const ps = await Promise.all(
      ["p1", "p2"].map((tag) => run(appendToNested, d, "log", tag)),
    );
    assert.deepEqual(await joinAll(ps), [0, 0]);
    const items = await inner.toArray();
    assert.deepEqual(items.slice(0, 2), ["main", "again"]);
    assert.deepEqual(items.slice(2).sort(), ["p1", "p2"]);
  }
  assertNoChildren();
});

Deno.test("a dict of dicts keeps its inner proxies through toObject()", async () => {
  await using manager = await Manager.start();
  const outer = await manager.dict();
  await outer.set("inner", await manager.dict({ x: 1 }));
  const { inner } = await outer.toObject();
  assert.ok(inner instanceof DictProxy);
  assert.equal(await inner.get("x"), 1);
});

Deno.test("a missing key rejects with KeyError and the manager keeps serving", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict({ a: 1 });
  await assert.rejects(d.getItem("missing"), (error: Error) => {
    assert.ok(error instanceof KeyError);
    assert.equal(error.message, '"missing"');
    return true;
  });
  await assert.rejects(d.delete("missing"), KeyError);
  await assert.rejects(d.pop("missing"), KeyError);
  assert.equal(await d.pop("missing", 7), 7);
  assert.equal(await d.get("missing"), undefined);
  assert.equal(await d.get("missing", "fallback"), "fallback");
  assert.equal(await d.getItem("a"), 1);
});

Deno.test("dict methods follow Python's dict", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<unknown, unknown>([[1, "one"]]);
  await d.update({ b: 2 });
  await d.update(new Map([[[1, 2], "tuple key"]]));
  assert.equal(await d.get([1, 2]), "tuple key");
  assert.equal(await d.get("1"), undefined); // 1 and "1" are different keys
  assert.equal(await d.has(1), true);
  assert.equal(await d.setdefault("c", 3), 3);
  assert.equal(await d.setdefault("c", 4), 3);
  assert.deepEqual(await d.keys(), [1, "b", [1, 2], "c"]);
  assert.deepEqual(await d.popitem(), ["c", 3]);
  assert.deepEqual(await d.values(), ["one", 2, "tuple key"]);
  assert.deepEqual(
    await d.toMap(),
    new Map<unknown, unknown>([[1, "one"], ["b", 2], [[1, 2], "tuple key"]]),
  );
  await d.clear();
  assert.equal(await d.len(), 0);
  await assert.rejects(d.popitem(), KeyError);
});

Deno.test("values JSON cannot carry round-trip unchanged", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict();
  const value = {
    missing: undefined,
    map: new Map([["k", new Set([1, 2])]]),
    date: new Date(0),
    big: 10n,
    nan: NaN,
    bytes: new Uint8Array([1, 2, 3]),
  };
  await d.set("v", value);
  assert.deepEqual(await d.get("v"), value);
  await d.set(undefined, -0);
  assert.ok(Object.is(await d.get(undefined), -0));
});

Deno.test("list methods follow Python's list, with its errors", async () => {
  await using manager = await Manager.start();
  const l = await manager.list([3, 1, 2]);
  await l.sort();
  assert.deepEqual(await l.toArray(), [1, 2, 3]);
  await l.insert(0, 0);
  await l.extend([4, 5]);
  assert.equal(await l.pop(), 5);
  assert.equal(await l.pop(0), 0);
  assert.equal(await l.index(3), 2);
  assert.equal(await l.count(2), 1);
  assert.equal(await l.includes(4), true);
  await l.set(-1, 40);
  await l.delete(0);
  assert.deepEqual(await l.slice(0, 2), [2, 3]);
  await l.reverse();
  assert.deepEqual(await l.toArray(), [40, 3, 2]);
  await assert.rejects(l.get(3), IndexError);
  await assert.rejects(l.remove(99), ValueError);
  await assert.rejects(l.index(99), ValueError);
  await l.clear();
  await assert.rejects(l.pop(), IndexError);
  assert.equal(await l.len(), 0);
});

Deno.test("a namespace holds named values", async () => {
  await using manager = await Manager.start();
  const ns = await manager.namespace({ x: 1 });
  await ns.set("y", [2]);
  await ns.update({ z: "three" });
  assert.equal(await ns.get("x"), 1);
  assert.equal(await ns.get("missing"), undefined);
  assert.equal(await ns.delete("x"), true);
  assert.equal(await ns.has("x"), false);
  assert.deepEqual(await ns.toObject(), { y: [2], z: "three" });
  await assert.rejects(ns.get(1 as unknown as string), TypeError);
});

Deno.test("bad arguments are TypeErrors or RangeErrors naming the argument", async () => {
  await using manager = await Manager.start();
  await assert.rejects(manager.Queue(-1), /Queue\(\) maxsize must be ≥ 0/);
  await assert.rejects(manager.Value("x", 1), /Value\(\) expected a typecode/);
  await assert.rejects(manager.Barrier(0), RangeError);
  await assert.rejects(
    manager.list(5 as never),
    /list\(\) expected an iterable/,
  );
  const d = await manager.dict();
  await assert.rejects(d.update(5 as never), /update\(\) expected an object/);
  await assert.rejects(
    d.set("f", () => 1),
    (error: Error) =>
      error instanceof TypeError && /is a function/.test(error.message),
  );
  const q = await manager.Queue();
  await assert.rejects(q.get(true, -1), RangeError);
  await assert.rejects(
    q.get("yes" as never),
    /get\(\) block must be a boolean/,
  );
  // The manager still serves after all of that.
  await d.set("ok", 1);
  assert.equal(await d.get("ok"), 1);
});

Deno.test("a producer and a consumer process share a managed queue", async () => {
  {
    await using manager = await Manager.start();
    const q = await manager.Queue(4);
    const out = await manager.Value("i", 0);
    const consumer = run(consume, q, out);
    const producer = run(produce, q, 100);
    assert.deepEqual(await joinAll([producer, consumer]), [0, 0]);
    assert.equal(await out.get(), 4950);
  }
  assertNoChildren();
});

Deno.test("queue waits time out with Empty and Full", async () => {
  await using manager = await Manager.start();
  const q = await manager.Queue(1);
  await assert.rejects(q.getNowait(), Empty);
  await assert.rejects(q.get(true, 20), Empty);
  await q.put("a");
  assert.equal(await q.full(), true);
  await assert.rejects(q.putNowait("b"), Full);
  await assert.rejects(q.put("b", true, 20), Full);
  assert.equal(await q.qsize(), 1);
  assert.equal(await q.get(), "a");
  assert.equal(await q.empty(), true);
});

Deno.test("a get waiting on an empty queue does not hold up other calls", async () => {
  await using manager = await Manager.start();
  const q = await manager.Queue();
  const d = await manager.dict();
  const waiting = q.get();
  await d.set("k", 1); // answered while the get waits
  assert.equal(await d.get("k"), 1);
  await q.put("item");
  assert.equal(await waiting, "item");
});

Deno.test("a JoinableQueue's join waits until every item is done", async () => {
  await using manager = await Manager.start();
  const q = await manager.JoinableQueue();
  await q.put(1);
  await q.put(2);
  let joined = false;
  const join = q.join().then(() => joined = true);
  await q.get();
  await q.taskDone();
  assert.equal(joined, false);
  await q.get();
  await q.taskDone();
  await join;
  assert.equal(joined, true);
  await assert.rejects(q.taskDone(), ValueError);
});

Deno.test("setting an event releases a process waiting on it", async () => {
  {
    await using manager = await Manager.start();
    const event = await manager.Event();
    const d = await manager.dict();
    const p = run(waitThenRecord, event, d, "woke");
    assert.equal(await event.wait(20), false);
    await event.set();
    assert.equal(await event.isSet(), true);
    assert.deepEqual(await joinAll([p]), [0]);
    assert.equal(await d.get("woke"), true);
    await event.clear();
    assert.equal(await event.isSet(), false);
  }
  assertNoChildren();
});

Deno.test("a barrier releases its parties together with distinct indexes", async () => {
  {
    await using manager = await Manager.start();
    const barrier = await manager.Barrier(3);
    const d = await manager.dict<string, number>();
    const ps = await Promise.all(
      ["a", "b", "c"].map((key) => run(passBarrier, barrier, d, key)),
    );
    assert.deepEqual(await joinAll(ps), [0, 0, 0]);
    assert.deepEqual((await d.values()).sort(), [0, 1, 2]);
    assert.equal(await barrier.parties(), 3);
    assert.equal(await barrier.nWaiting(), 0);
  }
  assertNoChildren();
});

Deno.test("a barrier that times out or is aborted breaks with BrokenBarrierError", async () => {
  await using manager = await Manager.start();
  const barrier = await manager.Barrier(2);
  await assert.rejects(barrier.wait(20), BrokenBarrierError);
  assert.equal(await barrier.broken(), true);
  await assert.rejects(barrier.wait(), BrokenBarrierError);
  await barrier.reset();
  const waiting = barrier.wait();
  await barrier.abort();
  await assert.rejects(waiting, BrokenBarrierError);
});

Deno.test("an RLock is reentrant for its owner, a Lock is not", async () => {
  await using manager = await Manager.start();
  const rlock = await manager.RLock();
  assert.equal(await rlock.acquire(), true);
  assert.equal(await rlock.acquire(), true);
  await rlock.release();
  await rlock.release();
  await assert.rejects(rlock.release(), ProcessError);
  const lock = await manager.Lock();
  assert.equal(await lock.acquire(), true);
  assert.equal(await lock.acquire(true, 20), false);
  await lock.release();
  await assert.rejects(lock.release(), /not held/);
  assert.equal(await lock.withLock(() => "inside"), "inside");
  assert.equal(await lock.acquire(false), true);
});

Deno.test("a semaphore lets at most its value through", async () => {
  await using manager = await Manager.start();
  const s = await manager.Semaphore(2);
  assert.equal(await s.acquire(), true);
  assert.equal(await s.acquire(), true);
  assert.equal(await s.acquire(false), false);
  const waiting = s.acquire();
  await s.release();
  assert.equal(await waiting, true);
});

Deno.test("a condition's notify wakes a waiter, which gets the lock back", async () => {
  await using manager = await Manager.start();
  const lock = await manager.Lock();
  const cond = await manager.Condition(lock);
  await assert.rejects(cond.wait(10), /lock is not held/);
  await cond.acquire();
  const woke = cond.wait(5000);
  // The waiter released the lock: this acquire gets it.
  await cond.acquire();
  await cond.notify();
  await cond.release();
  assert.equal(await woke, true);
  assert.equal(await lock.acquire(false), false); // the waiter holds it again
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

Deno.test("a lock held by a process that ended is taken over with LockOwnerDiedError", async () => {
  {
    await using manager = await Manager.start();
    const lock = await manager.Lock();
    const p = run(holdLockAndEnd, lock);
    assert.deepEqual(await joinAll([p]), [0]);
    await assert.rejects(lock.acquire(), LockOwnerDiedError);
    await lock.release(); // the caller owns it now
  }
  assertNoChildren();
});

Deno.test("calls after shutdown reject with a ProcessError, and waiting calls too", async () => {
  const manager = await Manager.start();
  const d = await manager.dict({ a: 1 });
  const q = await manager.Queue();
  const waiting = assert.rejects(q.get(), ProcessError);
  await manager.shutdown();
  await waiting;
  await assert.rejects(d.get("a"), /has shut down/);
  await assert.rejects(manager.dict(), ProcessError);
  await manager.shutdown(); // twice is fine
  assert.match(Deno.inspect(d), /shut down/);
  assertNoChildren();
});

Deno.test("a proxy used in a process after shutdown rejects with a ProcessError", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(12));
  const manager = await Manager.start();
  const d = await manager.dict();
  const p = run(useAfterShutdown, d, cells);
  const end = performance.now() + 10_000;
  while (Atomics.load(cells, 0) === 0 && performance.now() < end) {
    await Atomics.waitAsync(cells, 0, 0, 50).value;
  }
  assert.equal(await d.get("ready"), true);
  await manager.shutdown();
  Atomics.store(cells, 1, 1);
  assert.deepEqual(await joinAll([p]), [0]);
  assert.equal(cells[2], 2);
  assertNoChildren();
});

Deno.test("printing a proxy or a manager shows its kind, id and server", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict();
  const q = await manager.Queue();
  assert.match(Deno.inspect(d), /^DictProxy \{ id: \d+, manager pid: \d+ \}$/);
  assert.match(Deno.inspect(q), /^QueueProxy/);
  assert.match(Deno.inspect(manager), /^Manager \{ pid: \d+, running \}$/);
});

Deno.test("a proxy cannot be made with new", () => {
  assert.throws(
    () => new DictProxy(null, "dict", 1, "DictProxy"),
    /made by a Manager/,
  );
});

Deno.test("new Manager() works without waiting for start()", async () => {
  const manager = new Manager();
  try {
    const d = await manager.dict();
    await d.set("k", "v");
    assert.equal(await d.get("k"), "v");
  } finally {
    await manager.shutdown();
  }
});

Deno.test("a program that forgets shutdown() still exits", async () => {
  const result = await runProgram("manager_forget.ts");
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), "answer=42");
});

Deno.test("many calls at once from one process keep their order and all settle", async () => {
  await using manager = await Manager.start();
  const l = await manager.list<number>();
  const calls = Array.from({ length: 20_000 }, (_, i) => l.append(i));
  await Promise.all(calls);
  const items = await l.toArray();
  assert.equal(items.length, 20_000);
  assert.ok(items.every((x, i) => x === i));
  const d = await manager.dict();
  const set = d.set("k", 1);
  const got = d.get("k"); // sent after the set, without awaiting it
  await set;
  assert.equal(await got, 1);
});

Deno.test("large values cross in both directions", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict();
  const text = "é€😀".repeat(300_000);
  const bytes = new Uint8Array(3_000_000).map((_, i) => i & 255);
  await d.set("text", text);
  await d.set("bytes", bytes);
  assert.equal(await d.get("text"), text);
  assert.deepEqual(await d.get("bytes"), bytes);
});

Deno.test("a manager whose server process is killed rejects waiting and later calls", async () => {
  const manager = await Manager.start();
  const q = await manager.Queue();
  const d = await manager.dict();
  const waiting = assert.rejects(q.get(), ProcessError);
  await d.len(); // answered after the get: the get now waits on the server
  const server = activeChildren().find((p) => p.pid === manager.pid)!;
  assert.equal(server.name, "SyncManager");
  assert.equal(server.daemon, true);
  server.kill();
  await server.join();
  await waiting;
  await assert.rejects(d.get("k"), /has shut down/);
  await manager.shutdown();
  assertNoChildren();
});

Deno.test("a proxy works as an argument to Pool tasks", async () => {
  await using manager = new Manager();
  const d = await manager.dict<string, number>();
  {
    await using pool = new Pool(2);
    const keys = await pool.starmap(setInPool, [[d, "a", 1], [d, "b", 2], [
      d,
      "c",
      3,
    ]]);
    assert.deepEqual(keys, ["a", "b", "c"]);
  }
  assert.deepEqual(await d.toObject(), { a: 1, b: 2, c: 3 });
});
