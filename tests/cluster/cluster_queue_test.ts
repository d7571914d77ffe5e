import assert from "node:assert/strict";
import { Empty, Full, Lock, ProcessError } from "../../mod.ts";
import { ClusterQueue } from "../../src/cluster/mod.ts";
import {
  clusterTest,
  eventually,
  fixture,
  inspect,
  release,
  uniqueName,
} from "./_cluster.ts";

clusterTest(
  "a producer and a consumer in separate programs exchange jobs and results",
  async (url) => {
    const name = uniqueName("jobs");
    const consumer = fixture("consumer.ts", [url, name, "2000"]);
    const producer = fixture("producer.ts", [url, name, "200"]);
    try {
      await consumer.line(/waiting/);
      const sum = await producer.line(/sum \d+/);
      // Σ n² for n < 200, each job once.
      assert.equal(sum.trim(), `sum ${(199 * 200 * 399) / 6}`);
      await consumer.line(/took 200, then empty/);
      assert.equal((await producer.ended()).code, 0);
      assert.equal((await consumer.ended()).code, 0);
    } finally {
      await Promise.all([producer.stop(), consumer.stop()]);
    }
  },
);

clusterTest("items come out in the order they went in", async (url) => {
  await using queue = await ClusterQueue.connect<unknown>(url, {
    name: uniqueName("fifo"),
  });
  const items = [
    1,
    "two",
    { three: [3] },
    null,
    new Date(4),
    new Map([[5, 5]]),
  ];
  for (const item of items) await queue.put(item);
  assert.equal(await queue.qsize(), items.length);
  const out = [];
  for (let i = 0; i < items.length; i++) out.push(await queue.get());
  assert.deepEqual(out, items);
  assert.equal(await queue.empty(), true);
});

clusterTest(
  "get on an empty queue rejects with Empty: at once without blocking, after the timeout with one",
  async (url) => {
    await using queue = await ClusterQueue.connect(url, {
      name: uniqueName("empty"),
    });
    await assert.rejects(queue.get({ block: false }), Empty);
    await assert.rejects(queue.getNowait(), Empty);
    const start = performance.now();
    await assert.rejects(queue.get({ timeout: 150 }), Empty);
    assert.ok(performance.now() - start >= 140, "it waited for its timeout");
  },
);

clusterTest(
  "a blocked get takes the item another program puts",
  async (url) => {
    const name = uniqueName("handoff");
    await using queue = await ClusterQueue.connect<string>(url, { name });
    const got = queue.get({ timeout: 20_000 });
    const putter = fixture("queue_putter.ts", [url, name, "1000"]);
    try {
      assert.equal(await got, "late");
      await putter.line(/^put$/m);
    } finally {
      await putter.stop();
    }
  },
);

clusterTest(
  "a full queue refuses puts with Full and takes them once another program makes room",
  async (url) => {
    const name = uniqueName("bounded");
    await using queue = await ClusterQueue.connect<string>(url, {
      name,
      maxsize: 2,
    });
    await queue.put("a");
    await queue.put("b");
    assert.equal(await queue.full(), true);
    await assert.rejects(queue.putNowait("c"), Full);
    await assert.rejects(queue.put("c", { timeout: 100 }), Full);
    // Another program waits for room; a get here makes it.
    const putter = fixture("queue_putter.ts", [url, name, "20000"]);
    try {
      await putter.line(/putting/);
      const redis = await inspect(url);
      try {
        await eventually(async () => {
          const list = await redis.client("LIST") as string;
          return list.split("\n").some((line) =>
            line.includes(`name=mp-queue-wait:${name} `) &&
            line.includes("cmd=blpop")
          );
        }, "the other program to wait for room");
      } finally {
        await release(redis);
      }
      assert.equal(await queue.get(), "a");
      await putter.line(/^put$/m);
      assert.deepEqual([await queue.get(), await queue.get()], ["b", "late"]);
    } finally {
      await putter.stop();
    }
  },
);

clusterTest(
  "an aborted get rejects with the reason and takes nothing",
  async (url) => {
    const name = uniqueName("abort");
    await using queue = await ClusterQueue.connect<number>(url, { name });
    const controller = new AbortController();
    const reason = new Error("no longer needed");
    const waiting = assert.rejects(
      queue.get({ signal: controller.signal }),
      (error) => error === reason,
    );
    setTimeout(() => controller.abort(reason), 50);
    await waiting;
    await queue.put(7);
    assert.equal(await queue.get({ timeout: 1000 }), 7);
  },
);

clusterTest(
  "what cannot cross machines is refused by put with its path",
  async (url) => {
    await using queue = await ClusterQueue.connect(url, {
      name: uniqueName("refuse"),
    });
    await assert.rejects(
      queue.put({ lock: new Lock() }),
      (error) =>
        error instanceof TypeError &&
        /Cannot send obj\.lock: it is a Lock/.test(error.message),
    );
    assert.equal(await queue.qsize(), 0);
  },
);

clusterTest(
  "a closed queue refuses calls, and its items stay for the others",
  async (url) => {
    const name = uniqueName("closed");
    const first = await ClusterQueue.connect<string>(url, { name });
    await first.put("kept");
    await first.close();
    await assert.rejects(first.put("more"), ProcessError);
    await assert.rejects(first.get(), ProcessError);
    await using second = await ClusterQueue.connect<string>(url, { name });
    assert.equal(await second.get({ timeout: 1000 }), "kept");
  },
);
