// The server under the ends of its clients, and idle.

import assert from "node:assert/strict";
import {
  LockOwnerDiedError,
  Manager,
  Process,
  type QueueProxy,
} from "../../mod.ts";
import { getForever, hammer } from "./_fixtures/targets.ts";
import { assertNoChildren, runProgram } from "../_helpers.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every item left in `q`, without waiting. */
async function drain<T>(q: QueueProxy<T>): Promise<T[]> {
  const items: T[] = [];
  for (let left = await q.qsize(); left > 0; left--) items.push(await q.get());
  return items;
}

Deno.test("a client terminated while its get waits leaves the next item to others", async () => {
  {
    await using manager = await Manager.start();
    const q = await manager.Queue<string>();
    const started = await manager.Event();
    const p = new Process({ target: getForever, args: [q, started] });
    p.start();
    assert.equal(await started.wait(20_000), true);
    await q.qsize(); // the child's get is now parked on the server
    p.terminate();
    await p.join();
    await q.put("for the living");
    assert.equal(await q.get({ timeout: 5000 }), "for the living");
  }
  assertNoChildren();
});

Deno.test("clients terminated at random points while hammering a dict, a queue and a lock leave everything consistent", async () => {
  {
    await using manager = await Manager.start();
    const d = await manager.dict<string, unknown>();
    const q = await manager.Queue<[number, number]>();
    const lock = await manager.Lock();
    let ids = 0;
    for (let round = 0; round < 10; round++) {
      const ps = [0, 1, 2].map(() =>
        new Process({ target: hammer, args: [d, q, lock, ids++] })
      );
      for (const p of ps) p.start();
      // Each has made calls; then each ends at its own random point.
      for (let id = ids - 3; id < ids; id++) {
        const end = performance.now() + 20_000;
        while (!await d.has(`w${id}`) && performance.now() < end) {
          await delay(1);
        }
      }
      await Promise.all(ps.map(async (p) => {
        await delay(Math.random() * 30);
        p.terminate();
        await p.join();
      }));
      // The server serves on.
      await d.set("alive", round);
      assert.equal(await d.get("alive"), round);
    }
    const values = await d.toObject();
    assert.deepEqual(
      Object.keys(values).filter((key) => key.startsWith("error")),
      [],
      "no hammer met an error it did not expect",
    );
    // Each producer's items: whole, in the order it put them, each once,
    // and none beyond the last value it set.
    const items = await drain(q);
    const last = new Map<number, number>();
    for (const item of items) {
      assert.ok(
        Array.isArray(item) && item.length === 2 &&
          item.every(Number.isInteger),
        `a whole item: ${Deno.inspect(item)}`,
      );
      const [id, n] = item;
      assert.ok(n > (last.get(id) ?? -1), `FIFO without duplicates for ${id}`);
      last.set(id, n);
      assert.ok(n <= (values[`w${id}`] as number), "put after its set");
    }
    // The lock is free, or held by a hammer that ended: it passes on.
    try {
      assert.equal(await lock.acquire({ timeout: 5000 }), true);
    } catch (error) {
      assert.ok(error instanceof LockOwnerDiedError, String(error));
    }
    await lock.release();
  }
  assertNoChildren();
});

Deno.test("an idle server and a process parked in a managed call cost under 0.1% of a core and 20 wake-ups a second", async () => {
  const windowMs = 3000;
  const result = await runProgram(
    new URL("./_fixtures/idle_cost.ts", import.meta.url),
    // Reading another thread's /proc entries needs every permission.
    { args: [String(windowMs)], flags: ["--allow-all"] },
  );
  assert.equal(result.code, 0, result.stderr);
  const { threads } = JSON.parse(result.stdout) as {
    threads: { name: string; cpuMs: number; runs: number }[];
  };
  assert.ok(threads.some((t) => t.name.startsWith("worker")), result.stdout);
  for (const thread of threads) {
    const share = thread.cpuMs / windowMs;
    const perSecond = thread.runs / (windowMs / 1000);
    assert.ok(
      share <= 0.001 && perSecond < 20,
      `thread ${thread.name}: ${(share * 100).toFixed(3)}% of a core, ${
        perSecond.toFixed(1)
      } wake-ups/s`,
    );
  }
});
