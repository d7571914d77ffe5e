import assert from "node:assert/strict";
import { Empty, Full, JoinableQueue, Manager, Process } from "../../../mod.ts";
import { consume, produce } from "../_fixtures/targets.ts";
import { assertNoChildren } from "../../_helpers.ts";

Deno.test("a producer and a consumer process share a managed queue", async () => {
  {
    await using manager = await Manager.start();
    const q = await manager.Queue<number | null>(4);
    const out = await manager.Value("i", 0);
    const consumer = new Process({ target: consume, args: [q, out] });
    const producer = new Process({ target: produce, args: [q, 100] });
    consumer.start();
    producer.start();
    assert.deepEqual(
      await Promise.all([producer.join(20_000), consumer.join(20_000)]),
      [0, 0],
    );
    assert.equal(await out.get(), 4950);
  }
  assertNoChildren();
});

Deno.test("queue waits take { block, timeout } and time out with Empty and Full", async () => {
  await using manager = await Manager.start();
  const q = await manager.Queue(1);
  await assert.rejects(q.getNowait(), Empty);
  await assert.rejects(q.get({ block: false }), Empty);
  const start = performance.now();
  await assert.rejects(q.get({ timeout: 30 }), Empty);
  assert.ok(performance.now() - start >= 25);
  await q.put("a");
  assert.equal(await q.full(), true);
  await assert.rejects(q.putNowait("b"), Full);
  await assert.rejects(q.put("b", { timeout: 20 }), Full);
  assert.equal(await q.qsize(), 1);
  assert.equal(await q.get(), "a");
  assert.equal(await q.empty(), true);
});

Deno.test("bad wait options are TypeErrors or RangeErrors naming the option", async () => {
  await using manager = await Manager.start();
  const q = await manager.Queue();
  await assert.rejects(q.get({ timeout: -1 }), RangeError);
  await assert.rejects(q.get({ block: "yes" as never }), /'options.block'/);
  await assert.rejects(q.get({ timeout: null as never }), TypeError);
  await assert.rejects(q.put(1, { signal: 5 as never }), /'options.signal'/);
  await q.put(1); // the manager still serves
  assert.equal(await q.get(), 1);
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

Deno.test("waiting gets are served in the order they came", async () => {
  await using manager = await Manager.start();
  const q = await manager.Queue<number>();
  const gets = [q.get(), q.get(), q.get()];
  await q.qsize(); // the gets now wait on the server
  for (const item of [1, 2, 3]) await q.put(item);
  assert.deepEqual(await Promise.all(gets), [1, 2, 3]);
});

Deno.test("a put waiting on a full queue goes in once a get makes room", async () => {
  await using manager = await Manager.start();
  const q = await manager.Queue<string>(1);
  await q.put("first");
  const waiting = q.put("second");
  assert.equal(await q.get(), "first");
  await waiting;
  assert.equal(await q.get(), "second");
});

Deno.test("an aborted get rejects with the signal's reason and takes nothing", async () => {
  await using manager = await Manager.start();
  const q = await manager.Queue<string>();
  const controller = new AbortController();
  const waiting = q.get({ signal: controller.signal });
  await q.qsize(); // the get now waits on the server
  const reason = new Error("no longer needed");
  controller.abort(reason);
  await assert.rejects(waiting, (error) => error === reason);
  await q.put("kept");
  assert.equal(await q.qsize(), 1); // nobody took it
  assert.equal(await q.get(), "kept");
  await assert.rejects(
    q.get({ signal: AbortSignal.abort("already") }),
    (error) => error === "already",
  );
});

Deno.test("an aborted put rejects and puts nothing", async () => {
  await using manager = await Manager.start();
  const q = await manager.Queue<string>(1);
  await q.put("in");
  const controller = new AbortController();
  const waiting = q.put("never", { signal: controller.signal });
  await q.qsize();
  controller.abort("stop");
  await assert.rejects(waiting, (error) => error === "stop");
  assert.equal(await q.get(), "in");
  assert.equal(await q.empty(), true);
});

Deno.test("a call aborted before its turn is never sent", async () => {
  await using manager = await Manager.start();
  const q = await manager.Queue<unknown>();
  const controller = new AbortController();
  // The first call is too large for the slot: it goes by the port, and
  // holds the connection until the server answers; the second waits.
  const first = q.put(new Uint8Array(100_000));
  const second = assert.rejects(
    q.put(2, { signal: controller.signal }),
    (error) => error === "dropped",
  );
  await null; // both calls are made (their checks ran)
  await null;
  controller.abort("dropped");
  await first;
  await second;
  assert.equal(await q.qsize(), 1);
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
});

Deno.test("taskDone() too often is the same error through a proxy as locally", async () => {
  const local = new JoinableQueue();
  let localError: unknown;
  try {
    local.taskDone();
  } catch (error) {
    localError = error;
  }
  assert.ok(localError instanceof Error);
  await using manager = await Manager.start();
  for (const q of [await manager.JoinableQueue(), await manager.Queue()]) {
    await assert.rejects(q.taskDone(), (error: Error) => {
      assert.equal(error.constructor, (localError as Error).constructor);
      assert.equal(error.message, (localError as Error).message);
      return true;
    });
  }
});

Deno.test("an aborted join rejects with the signal's reason", async () => {
  await using manager = await Manager.start();
  const q = await manager.JoinableQueue();
  await q.put(1);
  const controller = new AbortController();
  const join = q.join({ signal: controller.signal });
  controller.abort("enough");
  await assert.rejects(join, (error) => error === "enough");
  await q.get();
  await q.taskDone();
  await q.join(); // resolves: nothing of the aborted join is left
});
