import assert from "node:assert/strict";
import {
  Empty,
  Full,
  Lock,
  Pipe,
  Pool,
  Process,
  ProcessError,
  Queue,
} from "../../mod.ts";
import {
  blockInGet,
  fillAndReturn,
  forwardOne,
  produce,
  putSquare,
  putThenClose,
  QueueFieldProcess,
  stressConsume,
  stressProduce,
} from "./_fixtures/targets.ts";
import { assertNoChildren, until } from "../_helpers.ts";

Deno.test("items put by a producer process arrive in order", async () => {
  const q = new Queue<number>();
  const p = new Process({ target: produce, args: [q, 1000] });
  p.start();
  for (let i = 0; i < 1000; i++) assert.equal(await q.get(), i);
  assert.equal(await p.join(), 0);
  assertNoChildren();
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
  assert.equal(q.qsize(), 0);
});

Deno.test("put refuses a shared buffer or a Lock, naming its path: a Queue carries bytes only", () => {
  const q = new Queue();
  assert.throws(
    () => q.putNowait({ shared: new SharedArrayBuffer(8) }),
    (e: Error) =>
      e instanceof TypeError && e.message.includes("item.shared") &&
      e.message.includes("a Queue"),
  );
  assert.throws(
    () => q.putNowait([1, { lock: new Lock() }]),
    (e: Error) => e instanceof TypeError && e.message.includes("item[1].lock"),
  );
  assert.equal(q.qsize(), 0);
});

Deno.test("a Queue and a Pipe end cross through a Queue by reference", async () => {
  const outer = new Queue<{ inner: Queue<string>; end: unknown }>();
  const inner = new Queue<string>();
  const [a, b] = Pipe<string>();
  outer.putNowait({ inner, end: b });
  const got = outer.getNowait();
  got.inner.putNowait("through");
  assert.equal(inner.getNowait(), "through");
  (got.end as typeof b).send("over the pipe");
  assert.equal(await a.recv(), "over the pipe");
});

Deno.test("a Queue given to a process inside another queue's item reaches it", async () => {
  const input = new Queue<unknown>();
  const out = new Queue<unknown>();
  const inner = new Queue<string>();
  await input.put({ reply: inner });
  const p = new Process({ target: forwardOne, args: [input, out] });
  p.start();
  const item = await out.get({ timeout: 10_000 }) as { reply: Queue<string> };
  await item.reply.put("round trip");
  assert.equal(await inner.get(), "round trip");
  await p.join();
  assertNoChildren();
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
  assert.equal(q.qsize(), 1);
});

Deno.test("an aborted get or put rejects with the signal's reason and leaves nothing behind", async () => {
  const q = new Queue<string>(1);
  const controller = new AbortController();
  const reason = new Error("stop");
  const get = new Queue<string>().get({ signal: controller.signal });
  await q.put("full");
  const put = q.put("no room", { signal: controller.signal });
  controller.abort(reason);
  await assert.rejects(get, (e) => e === reason);
  await assert.rejects(put, (e) => e === reason);
  assert.equal(q.getNowait(), "full");
  assert.equal(q.qsize(), 0); // the aborted put never landed
  await assert.rejects(
    q.get({ signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  );
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
  await assert.rejects(q.get({ timeout: null as never }), TypeError);
  assert.throws(() => q.putSync(1, { timeout: -5 }), RangeError);
  await assert.rejects(
    q.put(1, { block: "no" as never }),
    (e: Error) => e instanceof TypeError && e.message.includes("block"),
  );
  await assert.rejects(q.get("5" as never), TypeError);
  assert.throws(() => new Queue(-1), RangeError);
  assert.throws(() => new Queue(2 ** 31), RangeError);
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

Deno.test("a pending get rejects when its queue is closed in this process", async () => {
  const q = new Queue();
  const pending = q.get();
  q.close();
  await assert.rejects(pending, ProcessError);
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
  assert.equal(Deno.inspect(q), "Queue { qsize: 2, maxsize: 2 }");
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
  assert.equal(await p.join(10_000), 0);
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
  assert.equal(await p.join(10_000), 0); // Python deadlocks here
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
  assert.equal(await p.join(5000), -15);
  assertNoChildren();
});

Deno.test("a queue reaches a process inside an object and in a Process subclass's field", async () => {
  const q = new Queue<string>();
  const p = new QueueFieldProcess({ queue: q });
  p.start();
  assert.equal(await q.get({ timeout: 10_000 }), "from a field");
  await p.join();
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
