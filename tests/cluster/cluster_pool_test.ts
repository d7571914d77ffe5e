import assert from "node:assert/strict";
import { Lock, ProcessError, TimeoutError, ValueError } from "../../mod.ts";
import { ClusterPool } from "../../src/cluster/mod.ts";
import {
  add,
  burn,
  burnThenPid,
  echoLater,
  failsWithCause,
  failsWithValueError,
  square,
} from "./_fixtures/tasks.ts";
import { clusterTest, startWorkers, stopAll, uniqueName } from "./_cluster.ts";

clusterTest(
  "map of 10,000 items across three worker programs returns every result in order",
  async (url) => {
    const name = uniqueName("map");
    const workers = await startWorkers(url, name, 3);
    try {
      await using pool = await ClusterPool.connect(url, { name });
      const items = Array.from({ length: 10_000 }, (_, i) => i);
      const squares = await pool.map(square, items);
      assert.deepEqual(squares, items.map((x) => x * x));
      // Python's chunk rule over the workers' 3 processes: 834 per task.
      assert.equal(pool.stats.tasksCompleted, Math.ceil(10_000 / 834));
      assert.equal(pool.stats.tasksFailed, 0);
    } finally {
      await stopAll(workers);
    }
  },
);

clusterTest("tasks run on every worker program that has room", async (url) => {
  const name = uniqueName("spread");
  const workers = await startWorkers(url, name, 2);
  try {
    await using pool = await ClusterPool.connect(url, { name });
    // Four 300 ms tasks at once: a worker with one process holds two at most.
    const pids = await Promise.all(
      Array.from({ length: 4 }, () => pool.apply(burnThenPid, [300])),
    );
    assert.deepEqual(new Set(pids), new Set(workers.map((w) => w.pid)));
  } finally {
    await stopAll(workers);
  }
});

clusterTest(
  "apply, starmap and applyAsync with a callback give the local pool's results",
  async (url) => {
    const name = uniqueName("apply");
    const workers = await startWorkers(url, name, 2);
    try {
      await using pool = await ClusterPool.connect(url, { name });
      assert.equal(await pool.apply(add, [2, 3]), 5);
      assert.deepEqual(await pool.starmap(add, [[1, 2], [3, 4], [5, 6]]), [
        3,
        7,
        11,
      ]);
      const seen: number[] = [];
      const result = pool.applyAsync(square, [9], {
        callback: (value) => seen.push(value),
      });
      assert.equal(await result.get(10_000), 81);
      assert.deepEqual(seen, [81]);
      assert.equal(result.successful(), true);
    } finally {
      await stopAll(workers);
    }
  },
);

clusterTest(
  "imap yields in input order though later items finish first",
  async (url) => {
    const name = uniqueName("imap");
    const workers = await startWorkers(url, name, 2);
    try {
      await using pool = await ClusterPool.connect(url, { name });
      const delays = [400, 10, 250, 10, 100, 10];
      const ordered: number[] = [];
      for await (const ms of pool.imap(echoLater, delays)) ordered.push(ms);
      assert.deepEqual(ordered, delays);
      const unordered: number[] = [];
      for await (const ms of pool.imapUnordered(echoLater, delays)) {
        unordered.push(ms);
      }
      assert.deepEqual(unordered.toSorted(), delays.toSorted());
    } finally {
      await stopAll(workers);
    }
  },
);

clusterTest(
  "imap stops reading its input when the loop breaks",
  async (url) => {
    const name = uniqueName("imap-break");
    const workers = await startWorkers(url, name, 1);
    try {
      await using pool = await ClusterPool.connect(url, { name });
      let read = 0;
      const naturals = function* () {
        for (let i = 1;; i++) {
          read++;
          yield i;
        }
      };
      const out: number[] = [];
      for await (const sq of pool.imap(square, naturals())) {
        out.push(sq);
        if (out.length === 5) break;
      }
      assert.deepEqual(out, [1, 4, 9, 16, 25]);
      assert.ok(read < 50, `read ${read} items of an endless input`);
    } finally {
      await stopAll(workers);
    }
  },
);

clusterTest(
  "a task's error arrives with its class, message, stack, cause and fields",
  async (url) => {
    const name = uniqueName("errors");
    const workers = await startWorkers(url, name, 1);
    try {
      await using pool = await ClusterPool.connect(url, { name });
      await assert.rejects(
        pool.apply(failsWithCause, ["bad input"]),
        (error) => {
          assert.ok(error instanceof RangeError);
          assert.equal(error.message, "bad input");
          assert.match(error.stack!, /failsWithCause .*tasks\.ts/);
          assert.ok(error.cause instanceof TypeError);
          assert.equal((error.cause as Error).message, "the root cause");
          return true;
        },
      );
      await assert.rejects(pool.map(failsWithValueError, ["x"]), (error) => {
        assert.ok(error instanceof ValueError);
        assert.equal((error as ValueError & { code: number }).code, 42);
        return true;
      });
      const failures: unknown[] = [];
      const result = pool.applyAsync(failsWithCause, ["again"], {
        errorCallback: (error) => failures.push(error),
      });
      assert.equal(await result.wait(10_000), true);
      assert.equal(result.successful(), false);
      assert.ok(failures[0] instanceof RangeError);
      assert.equal(pool.stats.tasksFailed, 3);
    } finally {
      await stopAll(workers);
    }
  },
);

clusterTest(
  "a task's timeout stops it on its worker with a TimeoutError",
  async (url) => {
    const name = uniqueName("timeout");
    const workers = await startWorkers(url, name, 1);
    try {
      await using pool = await ClusterPool.connect(url, { name });
      await assert.rejects(
        pool.apply(burn, [20_000], { timeout: 200 }),
        TimeoutError,
      );
      // The worker is free again: the burn was stopped, not left running.
      assert.equal(await pool.apply(square, [3], { timeout: 10_000 }), 9);
    } finally {
      await stopAll(workers);
    }
  },
);

clusterTest(
  "aborting a task rejects it with the reason and stops it on its worker",
  async (url) => {
    const name = uniqueName("abort");
    const workers = await startWorkers(url, name, 1);
    try {
      await using pool = await ClusterPool.connect(url, { name });
      const controller = new AbortController();
      const started = pool.apply(burn, [20_000], { signal: controller.signal });
      const reason = new Error("enough");
      setTimeout(() => controller.abort(reason), 300);
      await assert.rejects(started, (error) => error === reason);
      assert.equal(pool.stats.tasksCancelled, 1);
      // Served within seconds: the 20 s burn no longer holds the worker.
      assert.equal(await pool.apply(square, [4], { timeout: 10_000 }), 16);
    } finally {
      await stopAll(workers);
    }
  },
);

clusterTest(
  "what cannot cross machines is refused at submission with its path",
  async (url) => {
    await using pool = await ClusterPool.connect(url, {
      name: uniqueName("refuse"),
    });
    const lock = new Lock();
    assert.throws(
      () => pool.applyAsync(add, [1, { lock }] as never),
      (error) =>
        error instanceof TypeError &&
        /Cannot send args\[1\]\.lock: it is a Lock/.test(error.message),
    );
    assert.throws(
      () => pool.mapAsync(square, [1, new SharedArrayBuffer(4)] as never),
      /Cannot send iterable \(the chunk from index 1\)\[0\]: it is a SharedArrayBuffer.*another machine/,
    );
    assert.throws(
      () => pool.applyAsync((x: number) => x, [1]),
      /anonymous function/,
    );
    assert.equal(pool.stats.tasksSubmitted, 0);
  },
);

clusterTest(
  "a closed pool refuses work, and join needs close first",
  async (url) => {
    const pool = await ClusterPool.connect(url, { name: uniqueName("closed") });
    await assert.rejects(pool.join(), ProcessError);
    pool.close();
    assert.throws(() => pool.applyAsync(square, [1]), ProcessError);
    await pool.join();
  },
);

clusterTest(
  "terminate fails the work not finished with a ProcessError",
  async (url) => {
    const name = uniqueName("terminate");
    const pool = await ClusterPool.connect(url, { name });
    // No worker serves this name: the task waits in the stream.
    const waiting = assert.rejects(
      pool.apply(square, [2]),
      /terminated before this task finished/,
    );
    await pool.terminate();
    await waiting;
    assert.equal(pool.stats.tasksCancelled, 1);
  },
);
