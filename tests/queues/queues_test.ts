import assert from "node:assert/strict";
import {
  Empty,
  Full,
  JoinableQueue,
  Process,
  ProcessError,
  Queue,
  SimpleQueue,
} from "../../mod.ts";
import {
  blockInGet,
  doTasks,
  doubler,
  fillAndReturn,
  produce,
  putSquare,
  putThenClose,
  QueueFieldProcess,
  stressConsume,
  stressProduce,
} from "../fixtures/mailboxes.ts";
import { noop } from "../fixtures/targets.ts";
import { Pool } from "../../mod.ts";
import { assertNoChildren, until } from "../_helpers.ts";
import { Mailbox } from "../../src/mailbox/_mailbox.ts";
import { encode, outbox } from "../../src/mailbox/_codec.ts";

Deno.test("items put by a producer process arrive in order", async () => {
  const q = new Queue<number>();
  const p = new Process({ target: produce, args: [q, 1000] });
  p.start();
  for (let i = 0; i < 1000; i++) assert.equal(await q.get(), i);
  assert.equal(await p.join(), 0);
  assertNoChildren();
});

Deno.test("plain data keeps its value and type through a queue", async () => {
  const q = new Queue();
  const values: unknown[] = [
    0,
    -0,
    1.5,
    NaN,
    -Infinity,
    2 ** 31,
    -(2 ** 31),
    "",
    "ascii",
    "héllo wörld ✓ 😀",
    "lone \ud800 surrogate",
    "x".repeat(100_000),
    true,
    false,
    null,
    undefined,
    [1, [2, [3, []]], "a"],
    { a: 1, nested: { b: [null, { c: "d" }] }, "": "empty key", "é": 1 },
    new Date(1_700_000_000_000),
    new Float64Array([1.5, -2, 3]),
    new Uint8Array([1, 2, 255]).subarray(1),
    new BigInt64Array([1n, -2n]),
    new Uint8Array([9, 8, 7]).buffer,
  ];
  for (const value of values) await q.put(value);
  for (const value of values) assert.deepEqual(await q.get(), value);
  assert.ok(Object.is(values[1], -0));
});

Deno.test("values outside plain data cross by structured clone", async () => {
  const q = new Queue();
  const cyclic: Record<string, unknown> = { name: "loop" };
  cyclic.self = cyclic;
  await q.put(new Map([[1, { a: 2 }]]));
  await q.put(new Set(["x"]));
  await q.put(123n);
  await q.put(/re+/gi);
  await q.put(cyclic);
  await q.put(new Empty("kept its class"));
  assert.deepEqual(await q.get(), new Map([[1, { a: 2 }]]));
  assert.deepEqual(await q.get(), new Set(["x"]));
  assert.equal(await q.get(), 123n);
  assert.deepEqual(await q.get(), /re+/gi);
  const back = await q.get() as Record<string, unknown>;
  assert.equal(back.self, back);
  const error = await q.get();
  assert.ok(error instanceof Empty);
  assert.equal((error as Empty).message, "kept its class");
});

Deno.test("put rejects a value that cannot cross with a TypeError naming its path", async () => {
  const q = new Queue();
  await assert.rejects(
    q.put({ a: [1, { callback: () => 1 }] }),
    (e: Error) => e instanceof TypeError && e.message.includes("item.a[1]"),
  );
  assert.throws(() => q.putSync(Symbol("s")), TypeError);
  class Opaque {}
  assert.throws(
    () => q.putNowait([new Opaque()]),
    (e: Error) => e instanceof TypeError && e.message.includes("Opaque"),
  );
  assert.throws(
    () => q.putNowait({ inner: new Queue() }),
    (e: Error) => e instanceof TypeError && e.message.includes("item"),
  );
  assert.equal(q.qsize(), 0);
});

Deno.test("get({ block: false }) and getNowait on an empty queue raise Empty at once", async () => {
  const q = new Queue();
  assert.throws(() => q.getNowait(), Empty);
  await assert.rejects(q.get({ block: false }), Empty);
  assert.throws(() => q.getSync({ block: false, timeout: 1000 }), Empty);
});

Deno.test("put({ block: false }) and putNowait on a full queue raise Full at once", async () => {
  const q = new Queue(2);
  q.putNowait(1);
  await q.put(2);
  assert.equal(q.full(), true);
  assert.throws(() => q.putNowait(3), Full);
  await assert.rejects(q.put(3, { block: false }), Full);
  assert.equal(q.qsize(), 2);
});

Deno.test("get with a timeout rejects with Empty once the time has passed", async () => {
  const q = new Queue();
  const start = performance.now();
  await assert.rejects(q.get({ timeout: 30 }), Empty);
  assert.ok(performance.now() - start >= 29);
  const syncStart = performance.now();
  assert.throws(() => q.getSync({ timeout: 20 }), Empty);
  assert.ok(performance.now() - syncStart >= 19);
});

Deno.test("put with a timeout on a full queue rejects with Full once the time has passed", async () => {
  const q = new Queue(1);
  await q.put("a");
  const start = performance.now();
  await assert.rejects(q.put("b", { timeout: 30 }), Full);
  assert.ok(performance.now() - start >= 29);
  assert.throws(() => q.putSync("b", { timeout: 10 }), Full);
});

Deno.test("a bounded put waits for room and completes when an item is taken", async () => {
  const q = new Queue<string>(1);
  await q.put("first");
  let done = false;
  const pending = q.put("second").then(() => done = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(done, false);
  assert.equal(await q.get(), "first");
  await pending;
  assert.equal(await q.get(), "second");
});

Deno.test("bad timeouts, options and maxsize are refused with clear errors", async () => {
  const q = new Queue();
  await assert.rejects(q.get({ timeout: -1 }), RangeError);
  await assert.rejects(q.get({ timeout: NaN }), RangeError);
  assert.throws(() => q.putSync(1, { timeout: -5 }), RangeError);
  await assert.rejects(
    q.put(1, { block: "no" as never }),
    (e: Error) => e instanceof TypeError && e.message.includes("block"),
  );
  await assert.rejects(q.get(5 as never), TypeError);
  assert.throws(() => new Queue(-1), RangeError);
  assert.throws(() => new Queue(1.5), TypeError);
  assert.throws(() => new Queue("3" as never), TypeError);
});

Deno.test("put and get after close throw in the closing process", async () => {
  const q = new Queue();
  await q.put(1);
  q.close();
  await assert.rejects(q.put(2), ProcessError);
  assert.throws(() => q.getNowait(), ProcessError);
});

Deno.test("items a process put before closing its queue still reach the others", async () => {
  const q = new Queue();
  const p = new Process({ target: putThenClose, args: [q, ["a", "b", "c"]] });
  p.start();
  assert.equal(await p.join(), 0);
  assert.deepEqual([await q.get(), await q.get(), await q.get()], [
    "a",
    "b",
    "c",
  ]);
  assertNoChildren();
});

Deno.test("joinThread resolves after close and refuses before; cancelJoinThread does nothing", async () => {
  const q = new Queue();
  await assert.rejects(q.joinThread(), ProcessError);
  q.cancelJoinThread();
  q.close();
  await q.joinThread();
});

Deno.test("qsize, empty and full follow the items", async () => {
  const q = new Queue(2);
  assert.equal(q.maxsize, 2);
  assert.deepEqual([q.qsize(), q.empty(), q.full()], [0, true, false]);
  await q.put("x");
  assert.deepEqual([q.qsize(), q.empty(), q.full()], [1, false, false]);
  await q.put("y");
  assert.deepEqual([q.qsize(), q.empty(), q.full()], [2, false, true]);
  assert.equal(new Queue().full(), false);
});

Deno.test("an unbounded queue never blocks put and grows for many and large items", async () => {
  const q = new Queue();
  for (let i = 0; i < 50_000; i++) q.putNowait({ i, name: `item ${i}` });
  const big = new Float64Array(2 ** 20).fill(1.25); // 8 MiB
  q.putNowait(big);
  assert.equal(q.qsize(), 50_001);
  for (let i = 0; i < 50_000; i++) {
    assert.deepEqual(q.getNowait(), { i, name: `item ${i}` });
  }
  assert.deepEqual(await q.get(), big);
});

Deno.test("4 producers and 4 consumers move 200k items through one bounded queue, each exactly once", async () => {
  const q = new Queue<[number, number] | null>(64);
  const results = new Queue<[number, number, number]>();
  const per = 50_000;
  const producers = [0, 1, 2, 3].map((id) =>
    new Process({ target: stressProduce, args: [q, id, per] })
  );
  const consumers = [0, 1, 2, 3].map(() =>
    new Process({ target: stressConsume, args: [q, results] })
  );
  for (const p of [...producers, ...consumers]) p.start();
  await Promise.all(producers.map((p) => p.join()));
  for (let i = 0; i < 4; i++) await q.put(null);
  let count = 0;
  let sum = 0;
  let violations = 0;
  for (let i = 0; i < 4; i++) {
    const [c, s, v] = await results.get();
    count += c;
    sum += s;
    violations += v;
  }
  await Promise.all(consumers.map((p) => p.join()));
  assert.equal(count, 4 * per);
  assert.equal(sum, 4 * (per * (per - 1) / 2));
  assert.equal(violations, 0, "items of one producer arrived out of order");
  assert.equal(q.qsize(), 0);
  assertNoChildren();
});

Deno.test("a producer that fills a bounded queue is joined before anyone reads", async () => {
  const q = new Queue<string>(100);
  const p = new Process({ target: fillAndReturn, args: [q, 100, 10] });
  p.start();
  assert.equal(await p.join(5000), 0);
  assert.equal(q.full(), true);
  for (let i = 0; i < 100; i++) {
    assert.equal(await q.get(), `${i}`.padEnd(10, "."));
  }
  assertNoChildren();
});

Deno.test("a producer that put 10 MB and returned is joined before the queue is read (cpython#73983)", async () => {
  const q = new Queue<string>();
  const p = new Process({ target: fillAndReturn, args: [q, 1000, 10_000] });
  p.start();
  assert.equal(await p.join(5000), 0); // Python deadlocks here
  let n = 0;
  while (!q.empty()) {
    assert.equal((await q.get()).length, 10_000);
    n++;
  }
  assert.equal(n, 1000);
  assertNoChildren();
});

Deno.test("a process blocked in getSync ends at once when terminated", async () => {
  const q = new Queue();
  const started = new Int32Array(new SharedArrayBuffer(4));
  const p = new Process({ target: blockInGet, args: [q, started] });
  p.start();
  await until(
    () => Atomics.load(started, 0) === 1,
    10_000,
    "the child to call getSync",
  );
  assert.equal(await p.join(20), null); // blocked, not ended
  p.terminate();
  assert.equal(await p.join(2000), -15);
  assertNoChildren();
});

Deno.test("a queue reaches a process inside an object and in a Process subclass's field", async () => {
  const q = new Queue<string>();
  const p = new QueueFieldProcess({ queue: q });
  p.start();
  assert.equal(await q.get({ timeout: 5000 }), "from a field");
  await p.join();
  assertNoChildren();
});

Deno.test("JoinableQueue.join resolves once every item is marked done", async () => {
  const q = new JoinableQueue<number>();
  for (let i = 0; i < 20; i++) await q.put(i);
  const p = new Process({ target: doTasks, args: [q, 20] });
  p.start();
  await q.join();
  assert.equal(q.qsize(), 0);
  await p.join();
  q.joinSync(); // nothing unfinished: returns at once
  assertNoChildren();
});

Deno.test("JoinableQueue.taskDone called more often than put throws", async () => {
  const q = new JoinableQueue();
  await q.put("only");
  await q.get();
  q.taskDone();
  assert.throws(
    () => q.taskDone(),
    (e: Error) => e instanceof ProcessError && e.message.includes("too many"),
  );
});

Deno.test("a failed non-blocking put on a JoinableQueue adds no unfinished task", async () => {
  const q = new JoinableQueue(1);
  await q.put(1);
  assert.throws(() => q.putNowait(2), Full);
  await q.get();
  q.taskDone();
  await q.join();
});

Deno.test("SimpleQueue carries items between processes", async () => {
  const input = new SimpleQueue<number | null>();
  const output = new SimpleQueue<number>();
  const p = new Process({ target: doubler, args: [input, output] });
  p.start();
  for (let i = 1; i <= 5; i++) await input.put(i);
  input.putSync(null);
  const got = [];
  for (let i = 0; i < 5; i++) got.push(await output.get());
  assert.deepEqual(got, [2, 4, 6, 8, 10]);
  await p.join();
  assert.equal(output.empty(), true);
  output.close();
  assert.throws(() => output.getSync(), ProcessError);
  assertNoChildren();
});

Deno.test("a mailbox lock left held by a process that ended is taken over", async () => {
  const p = new Process({ target: noop });
  p.start();
  await p.join();
  const box = new Mailbox();
  // As if the process had been terminated in the middle of a put.
  Atomics.store(box.ctrl, 0, p.pid! - Deno.pid + 1);
  const length = encode("after takeover", outbox, "item");
  assert.equal(box.put(outbox, length, 0), true);
  assert.equal(box.count(), 1);
  assertNoChildren();
});

Deno.test("a plain Queue works as an argument to Pool tasks", async () => {
  const queue = new Queue<number>();
  await using pool = new Pool(2);
  const done = await pool.starmap(putSquare, [[queue, 1], [queue, 2], [
    queue,
    3,
  ]]);
  assert.deepEqual(done, [1, 2, 3]);
  const got = [
    await queue.get({ timeout: 5000 }),
    await queue.get({ timeout: 5000 }),
    await queue.get({ timeout: 5000 }),
  ];
  assert.deepEqual(got.sort((a, b) => a - b), [1, 4, 9]);
  queue.close();
});
