import assert from "node:assert/strict";
import { ProcessError } from "../../mod.ts";
import { ClusterPool } from "../../src/cluster/mod.ts";
import { poolKeys } from "../../src/cluster/_layout.ts";
import type { RedisClient } from "../../src/cluster/_redis.ts";
import { pidLater, square } from "./_fixtures/tasks.ts";
import { failsFirst } from "./_fixtures/tasks_redis.ts";
import {
  clusterTest,
  cutConnections,
  eventually,
  fixture,
  inspect,
  release,
  startWorkers,
  stopAll,
  uniqueName,
  WorkerProgram,
} from "./_cluster.ts";

/** Waits until workers hold `count` tasks; returns their holders. */
async function holders(
  redis: RedisClient,
  name: string,
  count: number,
): Promise<string[]> {
  let owners: string[] = [];
  await eventually(async () => {
    const pending = await redis.xpending(
      poolKeys(name).tasks,
      "workers",
      "-",
      "+",
      100,
    ) as [string, string][];
    owners = pending.map(([, owner]) => owner);
    return owners.length >= count;
  }, `a worker to take ${count} task(s)`);
  return owners;
}

async function programOf(
  workers: WorkerProgram[],
  consumer: string,
): Promise<WorkerProgram> {
  for (const worker of workers) {
    if (await worker.ready === consumer) return worker;
  }
  throw new Error(`no worker program is consumer ${consumer}`);
}

clusterTest(
  "a task whose worker is killed mid-task completes once on another worker after its lease",
  async (url) => {
    const name = uniqueName("kill");
    const workers = await startWorkers(url, name, 2);
    const redis = await inspect(url);
    try {
      await using pool = await ClusterPool.connect(url, {
        name,
        leaseMs: 1500,
      });
      const result = pool.apply(pidLater, [2000]);
      const [holder] = await holders(redis, name, 1);
      const victim = await programOf(workers, holder);
      victim.kill("SIGKILL");
      await victim.ended();
      const pid = await result;
      const survivor = workers.find((w) => w !== victim)!;
      assert.equal(pid, survivor.pid);
      const stats = pool.stats;
      assert.equal(stats.tasksCompleted, 1);
      assert.equal(stats.tasksRedelivered, 1);
      assert.equal(stats.resultsIgnored, 0);
    } finally {
      await release(redis);
      await stopAll(workers);
    }
  },
);

clusterTest(
  "a task lost more than maxDeliveries times fails with a ProcessError and becomes a dead letter",
  async (url) => {
    const name = uniqueName("dead");
    const workers = await startWorkers(url, name, 2);
    const redis = await inspect(url);
    try {
      await using pool = await ClusterPool.connect(url, {
        name,
        leaseMs: 1000,
        maxDeliveries: 1,
      });
      const result = assert.rejects(pool.apply(pidLater, [5000]), (error) => {
        assert.ok(error instanceof ProcessError);
        assert.match(error.message, /The task was lost: .*maxDeliveries 1/);
        return true;
      });
      const [holder] = await holders(redis, name, 1);
      const victim = await programOf(workers, holder);
      victim.kill("SIGKILL");
      await result;
      const dead = await redis.xrange(poolKeys(name).dead, "-", "+");
      assert.equal(dead.length, 1);
      const fields = dead[0][1];
      assert.equal(fields[fields.indexOf("last-owner") + 1], holder);
    } finally {
      await release(redis);
      await stopAll(workers);
    }
  },
);

clusterTest(
  "a worker stopped with SIGTERM releases its task to another worker at once and exits 0",
  async (url) => {
    const name = uniqueName("release");
    const workers = await startWorkers(url, name, 2);
    const redis = await inspect(url);
    try {
      // A lease far longer than the test: only the release can move it.
      await using pool = await ClusterPool.connect(url, {
        name,
        leaseMs: 120_000,
      });
      const result = pool.apply(pidLater, [1500]);
      const [holder] = await holders(redis, name, 1);
      const leaving = await programOf(workers, holder);
      const status = await leaving.stop();
      assert.equal(status.code, 0);
      assert.match(leaving.output, /released 1 task/);
      const staying = workers.find((w) => w !== leaving)!;
      assert.equal(await result, staying.pid);
      assert.equal(pool.stats.tasksRedelivered, 0); // released, not lost
    } finally {
      await release(redis);
      await stopAll(workers);
    }
  },
);

clusterTest(
  "a worker whose copy of the task module differs fails the task with a version skew error",
  async (url) => {
    const name = uniqueName("skew");
    const here = new URL("_fixtures/skew/", import.meta.url);
    const workers = await startWorkers(url, name, 1, [
      "--processes",
      "1",
      "--root",
      new URL("worker/", here).pathname,
    ]);
    try {
      const clientRoot = new URL("client/", here);
      const { version } = await import(new URL("skew.ts", clientRoot).href);
      assert.equal(version(), "client");
      await using pool = await ClusterPool.connect(url, {
        name,
        root: clientRoot,
      });
      await assert.rejects(pool.apply(version), (error) => {
        assert.ok(error instanceof ProcessError);
        assert.match(
          error.message,
          /\(version skew\): the module skew\.ts on worker/,
        );
        return true;
      });
    } finally {
      await stopAll(workers);
    }
  },
);

clusterTest(
  "a task that throws runs again as many times as retries asks",
  async (url) => {
    const name = uniqueName("retry");
    const workers = await startWorkers(url, name, 2);
    try {
      await using pool = await ClusterPool.connect(url, { name, retries: 2 });
      const key = uniqueName("attempts");
      assert.equal(await pool.apply(failsFirst, [url, key, 2]), 3);
      await assert.rejects(
        pool.apply(failsFirst, [url, uniqueName("attempts"), 3]),
        /failure 3/,
      );
    } finally {
      await stopAll(workers);
    }
  },
);

clusterTest("a task that throws is not retried by default", async (url) => {
  const name = uniqueName("no-retry");
  const workers = await startWorkers(url, name, 1);
  try {
    await using pool = await ClusterPool.connect(url, { name });
    await assert.rejects(
      pool.apply(failsFirst, [url, uniqueName("attempts"), 1]),
      /failure 1/,
    );
  } finally {
    await stopAll(workers);
  }
});

clusterTest(
  "a client killed mid-work leaves no task running or waiting",
  async (url) => {
    const name = uniqueName("orphan");
    const workers = await startWorkers(url, name, 1);
    const redis = await inspect(url);
    const client = fixture("orphan_client.ts", [url, name]);
    try {
      await client.line(/submitted/);
      await holders(redis, name, 1); // the long task runs
      client.kill("SIGKILL");
      await client.ended();
      const { tasks } = poolKeys(name);
      // The client's liveness (5 s) runs out; the worker drops all its work.
      await eventually(async () => {
        const [length, pending] = await Promise.all([
          redis.xlen(tasks),
          redis.xpending(tasks, "workers") as Promise<[number]>,
        ]);
        return length === 0 && pending[0] === 0;
      }, "the dead client's tasks to be dropped");
      // The 120 s burn was stopped: the worker serves a new client at once.
      await using pool = await ClusterPool.connect(url, { name });
      assert.equal(await pool.apply(square, [6], { timeout: 10_000 }), 36);
    } finally {
      client.kill("SIGKILL");
      await client.ended();
      await release(redis);
      await stopAll(workers);
    }
  },
);

clusterTest(
  "a worker that loses its connections to Redis reconnects and goes on serving",
  async (url) => {
    const name = uniqueName("reconnect");
    const workers = await startWorkers(url, name, 1);
    const redis = await inspect(url);
    try {
      await using pool = await ClusterPool.connect(url, { name });
      assert.equal(await pool.apply(square, [2]), 4);
      // The worker's and the pool's connections go, as in a network failure.
      assert.ok(await cutConnections(redis, name) >= 5);
      await workers[0].line(/connection to .* lost: reconnecting/);
      assert.equal(await pool.apply(square, [3], { timeout: 20_000 }), 9);
    } finally {
      await release(redis);
      await stopAll(workers);
    }
  },
);

clusterTest(
  "the worker program refuses unknown flags with its usage line",
  async (url) => {
    const worker = new WorkerProgram(url, uniqueName("flags"), [
      "--procs",
      "2",
    ]);
    const status = await worker.ended();
    assert.equal(status.code, 2);
    assert.match(
      worker.output,
      /unknown flag --procs\nusage: cluster-worker --connect/,
    );
  },
);
