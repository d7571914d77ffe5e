import assert from "node:assert/strict";
import {
  Empty,
  Full,
  JoinableQueue,
  Process,
  ProcessError,
} from "../../mod.ts";
import { doTasks } from "./_fixtures/targets.ts";
import { assertNoChildren } from "../_helpers.ts";

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

Deno.test("JoinableQueue.join takes a timeout and a signal", async () => {
  const q = new JoinableQueue();
  await q.put("pending");
  await assert.rejects(q.join({ timeout: 10 }), Empty);
  assert.throws(() => q.joinSync({ timeout: 5 }), Empty);
  const reason = new Error("stop");
  await assert.rejects(
    q.join({ signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  );
  await q.get();
  q.taskDone();
  await q.join({ timeout: 1000 });
});
