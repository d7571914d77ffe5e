// The Manager: its lifecycle (start, shutdown, a server that ends), and
// Python's names for the objects it makes.

import assert from "node:assert/strict";
import {
  AcquirerProxy,
  activeChildren,
  BarrierProxy,
  ConditionProxy,
  DictProxy,
  EventProxy,
  ListProxy,
  Manager,
  NamespaceProxy,
  Process,
  ProcessError,
  QueueProxy,
  ValueProxy,
} from "../../mod.ts";
import { record, useAfterShutdown } from "./_fixtures/targets.ts";
import { assertNoChildren, runProgram, until } from "../_helpers.ts";

Deno.test("a process writes into a managed dict that its parent reads", async () => {
  {
    await using manager = await Manager.start();
    const d = await manager.dict();
    const p = new Process({ target: record, args: [d, "answer", 42] });
    p.start();
    assert.equal(await p.join(20_000), 0);
    assert.equal(await d.get("answer"), 42);
  }
  assertNoChildren();
});

Deno.test("a manager makes each object under Python's name, in camelCase", async () => {
  await using manager = await Manager.start();
  const made: [unknown, unknown][] = [
    [await manager.dict(), DictProxy],
    [await manager.list(), ListProxy],
    [await manager.Namespace(), NamespaceProxy],
    [await manager.Queue(), QueueProxy],
    [await manager.JoinableQueue(), QueueProxy],
    [await manager.Value("i", 0), ValueProxy],
    [await manager.Lock(), AcquirerProxy],
    [await manager.RLock(), AcquirerProxy],
    [await manager.Semaphore(), AcquirerProxy],
    [await manager.Event(), EventProxy],
    [await manager.Condition(), ConditionProxy],
    [await manager.Barrier(1), BarrierProxy],
  ];
  for (const [proxy, type] of made) {
    assert.ok(proxy instanceof (type as typeof DictProxy), Deno.inspect(proxy));
  }
  // The lowercase spelling is not there: one name per object.
  assert.equal("namespace" in manager, false);
});

Deno.test("bad arguments to a manager are TypeErrors or RangeErrors naming the argument", async () => {
  await using manager = await Manager.start();
  await assert.rejects(manager.Queue(-1), RangeError);
  await assert.rejects(manager.Queue(1.5), /'maxsize' must be an integer/);
  await assert.rejects(manager.Value("x", 1), /'typecode' must be one of/);
  await assert.rejects(manager.Barrier(0), RangeError);
  await assert.rejects(manager.Semaphore(-1), RangeError);
  await assert.rejects(manager.list(5 as never), /'init' must be an iterable/);
  await assert.rejects(manager.dict(5 as never), /'init' must be an object/);
  await assert.rejects(
    manager.Namespace(5 as never),
    /'init' must be an object/,
  );
  await assert.rejects(
    manager.Condition(await manager.Event() as never),
    /'lock' must be a Lock or RLock of this manager/,
  );
  // The manager still serves after all of that.
  const d = await manager.dict();
  await d.set("ok", 1);
  assert.equal(await d.get("ok"), 1);
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
  assertNoChildren();
});

Deno.test("calls after shutdown reject with a ProcessError, and waiting calls too", async () => {
  const manager = await Manager.start();
  const d = await manager.dict({ a: 1 });
  const q = await manager.Queue();
  const waiting = assert.rejects(q.get(), ProcessError);
  await d.len(); // answered after the get: the get now waits on the server
  await manager.shutdown();
  await waiting;
  await assert.rejects(d.get("a"), /has shut down/);
  await assert.rejects(manager.dict(), ProcessError);
  await manager.shutdown(); // twice is fine
  assert.match(Deno.inspect(d), /shut down/);
  assert.match(Deno.inspect(manager), /shut down/);
  assertNoChildren();
});

Deno.test("a proxy used in a process after shutdown rejects with a ProcessError", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(12));
  const manager = await Manager.start();
  const d = await manager.dict();
  const p = new Process({ target: useAfterShutdown, args: [d, cells] });
  p.start();
  await until(() => Atomics.load(cells, 0) === 1, 10_000, "the child's call");
  assert.equal(await d.get("ready"), true);
  await manager.shutdown();
  Atomics.store(cells, 1, 1);
  assert.equal(await p.join(20_000), 0);
  assert.equal(cells[2], 2);
  assertNoChildren();
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

Deno.test("printing a manager shows its server's pid and whether it runs", async () => {
  await using manager = await Manager.start();
  assert.match(Deno.inspect(manager), /^Manager \{ pid: \d+, running \}$/);
  assert.equal(typeof manager.pid, "number");
});

Deno.test("a program that forgets shutdown() still exits", async () => {
  const result = await runProgram(
    new URL("./_fixtures/forget.ts", import.meta.url),
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), "answer=42");
});
