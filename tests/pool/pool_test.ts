import assert from "node:assert/strict";
import {
  activeChildren,
  AsyncResult,
  cpuCount,
  Pool,
  ProcessError,
  TimeoutError,
} from "../../mod.ts";
import {
  add,
  blocksAfterSignal,
  bump,
  countInWorker,
  doubleLater,
  doubleMoney,
  echo,
  exitsWorker,
  failingInitializer,
  failsWithCause,
  failsWithProcessError,
  initialize,
  initialized,
  keepCells,
  Money,
  postsOn,
  repeat,
  returnsFunction,
  signalsThenBlocks,
  spinsForever,
  square,
  throwsAfterReturning,
  trackConcurrency,
  workerName,
} from "../fixtures/pool_tasks.ts";
import { assertNoChildren, runProgram, until } from "../_helpers.ts";
import { slotCounters } from "../../src/pool/_fast_lane.ts";

/** Waits until a worker's task has set `cells[0]`, without sleeping. */
async function started(cells: Int32Array): Promise<void> {
  while (Atomics.load(cells, 0) === 0) {
    const wait = Atomics.waitAsync(cells, 0, 0, 5000);
    if ((await wait.value) === "timed-out") {
      throw new Error("the task did not start within 5 s");
    }
  }
}

function poolWorkers() {
  return activeChildren().filter((p) => p.name.startsWith("PoolWorker-"));
}

Deno.test("map returns the results in input order", async () => {
  await using pool = new Pool(2);
  const input = Array.from({ length: 1000 }, (_, i) => i);
  assert.deepEqual(await pool.map(square, input), input.map((x) => x * x));
  assert.deepEqual(await pool.map(square, input, 7), input.map((x) => x * x));
  assert.deepEqual(await pool.map(square, new Set([3, 4])), [9, 16]);
  assert.deepEqual(await pool.map(square, []), []);
});

Deno.test("starmap spreads each item as arguments", async () => {
  await using pool = new Pool(2);
  assert.deepEqual(await pool.starmap(add, [[1, 2], [3, 4], [5, 6]]), [
    3,
    7,
    11,
  ]);
  assert.deepEqual(await pool.starmapAsync(add, [[2, 2]], 1).get(), [4]);
});

Deno.test("apply and applyAsync run the task in a PoolWorker process", async () => {
  const pool = new Pool(2);
  assert.equal(await pool.apply(add, [2, 3]), 5);
  assert.match(await pool.apply(workerName), /^PoolWorker-\d+$/);
  const result = pool.applyAsync(doubleLater, [21, 5]);
  assert.ok(result instanceof AsyncResult);
  assert.equal(await result.get(), 42);
  pool.close();
  await pool.join();
  assertNoChildren();
});

Deno.test("applyAsync's callback runs before the result is ready", async () => {
  await using pool = new Pool(2);
  const seen: number[] = [];
  let readyInCallback: boolean | undefined;
  const result = pool.applyAsync(square, [6], {
    callback: (value) => {
      seen.push(value);
      readyInCallback = result.ready();
    },
  });
  assert.equal(await result.get(), 36);
  assert.deepEqual(seen, [36]);
  assert.equal(readyInCallback, false);
});

Deno.test("errorCallback receives the task's error", async () => {
  await using pool = new Pool(1);
  const errors: unknown[] = [];
  const result = pool.applyAsync(failsWithCause, ["bad"], {
    errorCallback: (error) => errors.push(error),
  });
  await result.wait();
  assert.equal(result.successful(), false);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof RangeError);
});

Deno.test("Pool(n) never runs more than n tasks at once, async tasks included", async () => {
  await using pool = new Pool(2);
  const cells = new Int32Array(new SharedArrayBuffer(8));
  const results = Array.from(
    { length: 8 },
    () => pool.applyAsync(trackConcurrency, [cells, 20]),
  );
  await Promise.all(results.map((r) => r.get()));
  assert.equal(Atomics.load(cells, 1), 2);
});

Deno.test("a failed task rejects with its own class, message, stack and cause", async () => {
  await using pool = new Pool(1);
  const error: unknown = await pool.apply(failsWithCause, ["out of range"])
    .then(() => assert.fail("should reject"), (e) => e);
  assert.ok(error instanceof RangeError);
  assert.equal(error.message, "out of range");
  assert.match(error.stack ?? "", /failsWithCause/);
  assert.ok(error.cause instanceof TypeError);
  assert.equal(error.cause.message, "the root cause");
  await assert.rejects(
    pool.apply(failsWithProcessError, ["mine"]),
    (e: unknown) => e instanceof ProcessError && e.message === "mine",
  );
});

Deno.test("a map fails with the first error of its tasks", async () => {
  await using pool = new Pool(2);
  await assert.rejects(
    pool.map(failsWithProcessError, ["a", "b", "c"]),
    ProcessError,
  );
});

Deno.test("AsyncResult.get(timeoutMs) rejects with TimeoutError and the task goes on", async () => {
  await using pool = new Pool(1);
  const result = pool.applyAsync(doubleLater, [1, 300]);
  await assert.rejects(result.get(10), TimeoutError);
  assert.equal(result.ready(), false);
  assert.throws(() => result.successful(), ProcessError);
  assert.equal(await result.wait(10), false);
  assert.equal(await result.get(), 2);
  assert.equal(await result.wait(), true);
  assert.equal(result.successful(), true);
});

Deno.test("a worker terminated mid-task is replaced and its task fails naming it", async () => {
  const pool = new Pool(1);
  const cells = new Int32Array(new SharedArrayBuffer(8));
  const result = pool.applyAsync(blocksAfterSignal, [cells]);
  await started(cells);
  const [worker] = poolWorkers();
  worker.terminate();
  const error = await result.get().then(() => undefined, (e) => e);
  assert.ok(error instanceof ProcessError);
  assert.match(error.message, new RegExp(`${worker.name}.*-15`));
  assert.equal(await pool.apply(square, [3]), 9);
  assert.equal(pool.stats.workersReplaced, 1);
  pool.close();
  await pool.join();
  assertNoChildren();
});

Deno.test("a task that calls exit() fails with the worker's exit code, and the pool goes on", async () => {
  await using pool = new Pool(2);
  await assert.rejects(
    pool.apply(exitsWorker, [5]),
    (e: unknown) =>
      e instanceof ProcessError &&
      /PoolWorker-\d+.*exit code 5/.test(e.message),
  );
  assert.deepEqual(await pool.map(square, [1, 2, 3]), [1, 4, 9]);
});

Deno.test("a worker killed by an error outside any task is replaced, and no task is lost", async () => {
  const pool = new Pool(1);
  const name = await pool.apply(throwsAfterReturning);
  const next = await Promise.all([1, 2, 3].map((x) => pool.apply(square, [x])));
  assert.deepEqual(next, [1, 4, 9]);
  assert.notEqual(await pool.apply(workerName), name);
  assert.equal(pool.stats.workersReplaced, 1);
  pool.close();
  await pool.join();
  assertNoChildren();
});

Deno.test("a task that never ends is stopped by its timeout and its worker replaced", async () => {
  const pool = new Pool(1);
  await assert.rejects(
    pool.apply(spinsForever, [], { timeout: 50 }),
    (e: unknown) => e instanceof TimeoutError && /PoolWorker-/.test(e.message),
  );
  assert.equal(await pool.apply(square, [4]), 16);
  assert.equal(pool.stats.workersReplaced, 1);
  pool.close();
  await pool.join();
  assertNoChildren();
});

Deno.test("a task's timeout counts from when it starts, not while it is queued", async () => {
  await using pool = new Pool(1);
  const first = pool.applyAsync(doubleLater, [1, 150]);
  const second = pool.applyAsync(square, [5], { timeout: 100 });
  assert.equal(await second.get(), 25); // queued ~150 ms, ran in < 100 ms
  assert.equal(await first.get(), 2);
});

Deno.test("aborting a queued task removes it from the queue", async () => {
  await using pool = new Pool(1);
  const cells = new Int32Array(new SharedArrayBuffer(4));
  const controller = new AbortController();
  const first = pool.applyAsync(doubleLater, [1, 100]);
  const queued = pool.applyAsync(bump, [cells], { signal: controller.signal });
  controller.abort(new Error("not needed"));
  await assert.rejects(queued.get(), { message: "not needed" });
  assert.equal(await first.get(), 2);
  assert.equal(await pool.apply(bump, [cells]), 1); // the aborted one never ran
  assert.equal(pool.stats.tasksCancelled, 1);
});

Deno.test("aborting a running task rejects it and replaces its worker", async () => {
  const pool = new Pool(1);
  const controller = new AbortController();
  const cells = new Int32Array(new SharedArrayBuffer(8));
  const running = pool.applyAsync(blocksAfterSignal, [cells], {
    signal: controller.signal,
  });
  await started(cells);
  controller.abort(new Error("stop"));
  await assert.rejects(running.get(), { message: "stop" });
  assert.equal(await pool.apply(square, [2]), 4);
  assert.equal(pool.stats.workersReplaced, 1);
  pool.close();
  await pool.join();
  assertNoChildren();
});

Deno.test("an already aborted signal rejects without running the task", async () => {
  await using pool = new Pool(1);
  const signal = AbortSignal.abort(new Error("early"));
  await assert.rejects(pool.apply(square, [1], { signal }), {
    message: "early",
  });
});

Deno.test("imap yields results in order, from sync and async iterables", async () => {
  await using pool = new Pool(2);
  const out: number[] = [];
  for await (const x of pool.imap(square, [3, 2, 1])) out.push(x);
  assert.deepEqual(out, [9, 4, 1]);
  async function* numbers() {
    for (let i = 0; i < 50; i++) yield i;
  }
  const squares: number[] = [];
  for await (const x of pool.imap(square, numbers(), 4)) squares.push(x);
  assert.deepEqual(squares, Array.from({ length: 50 }, (_, i) => i * i));
});

Deno.test("imapUnordered yields every result", async () => {
  await using pool = new Pool(2);
  const out: number[] = [];
  for await (const x of pool.imapUnordered(square, [5, 4, 3, 2, 1], 2)) {
    out.push(x);
  }
  assert.deepEqual(out.sort((a, b) => a - b), [1, 4, 9, 16, 25]);
});

Deno.test("imap reads an infinite input lazily and stops pulling after break", async () => {
  await using pool = new Pool(2);
  let pulled = 0;
  let returned = false;
  function* naturals() {
    try {
      for (let i = 0;; i++) {
        pulled++;
        yield i;
      }
    } finally {
      returned = true;
    }
  }
  const out: number[] = [];
  for await (const x of pool.imap(square, naturals(), 3)) {
    out.push(x);
    if (out.length === 20) break;
  }
  assert.deepEqual(out, Array.from({ length: 20 }, (_, i) => i * i));
  assert.equal(returned, true);
  const pulledAtBreak = pulled;
  // Read-ahead is bounded: 2 × processes chunks of 3 beyond what was used.
  assert.ok(pulledAtBreak <= 20 + 2 * 2 * 3 + 3, `pulled ${pulledAtBreak}`);
});

Deno.test("an aborted imap stops with the signal's reason", async () => {
  await using pool = new Pool(2);
  const controller = new AbortController();
  function* naturals() {
    for (let i = 0;; i++) yield i;
  }
  const out: number[] = [];
  await assert.rejects(
    (async () => {
      for await (
        const x of pool.imap(square, naturals(), { signal: controller.signal })
      ) {
        out.push(x);
        if (out.length === 5) controller.abort(new Error("enough"));
      }
    })(),
    { message: "enough" },
  );
  assert.equal(out.length, 5);
});

Deno.test("maxTasksPerChild replaces a worker after that many tasks", async () => {
  await using pool = new Pool({ processes: 1, maxTasksPerChild: 2 });
  const counts: number[] = [];
  const names = new Set<string>();
  for (let i = 0; i < 5; i++) {
    counts.push(await pool.apply(countInWorker));
    names.add(await pool.apply(workerName));
  }
  // Each worker runs two tasks: countInWorker then workerName.
  assert.deepEqual(counts, [1, 1, 1, 1, 1]);
  assert.equal(names.size, 5);
  assert.equal(pool.stats.workersRecycled >= 4, true);
});

Deno.test("the initializer runs once in each worker, replacements included", async () => {
  const pool = new Pool({
    processes: 1,
    initializer: initialize,
    initargs: ["configured"],
  });
  assert.equal(await pool.apply(initialized), "configured");
  await assert.rejects(pool.apply(exitsWorker, [1]), ProcessError);
  assert.equal(await pool.apply(initialized), "configured");
  pool.close();
  await pool.join();
  assertNoChildren();
});

Deno.test("an initializer that keeps failing fails the tasks instead of respawning forever", async () => {
  const pool = new Pool({ processes: 2, initializer: failingInitializer });
  await assert.rejects(pool.apply(square, [1]), {
    message: "initializer failed on purpose",
  });
  await assert.rejects(pool.apply(square, [2]), {
    message: "initializer failed on purpose",
  });
  assert.ok(pool.stats.workersStarted <= 2 + 3, `${pool.stats.workersStarted}`);
  pool.close();
  await pool.join();
  assertNoChildren();
});

Deno.test("objects with a registered reducer cross as task arguments and results", async () => {
  await using pool = new Pool(1);
  const doubled = await pool.apply(doubleMoney, [new Money(150, "EUR")]);
  assert.ok(doubled instanceof Money);
  assert.equal(doubled.format(), "3.00 EUR");
  const cells = new Int32Array(new SharedArrayBuffer(4));
  await pool.map(bump, [cells, cells, cells]);
  assert.equal(cells[0], 3); // shared memory is shared, not copied
});

Deno.test("a MessagePort crosses as a task argument (moved, not copied)", async () => {
  await using pool = new Pool(1);
  const { port1, port2 } = new MessageChannel();
  const received = new Promise((resolve) =>
    port1.onmessage = (e) => resolve(e.data)
  );
  assert.equal(await pool.apply(postsOn, [port2, 7]), 7);
  assert.equal(await received, 7);
  port1.close();
});

Deno.test("a result that cannot cross fails the task with a TypeError", async () => {
  await using pool = new Pool(1);
  await assert.rejects(pool.apply(returnsFunction), TypeError);
});

Deno.test("bad sizes, chunksizes, iterables and functions throw clear errors", async () => {
  assert.throws(() => new Pool(0), RangeError);
  assert.throws(() => new Pool(-1), RangeError);
  assert.throws(() => new Pool(1.5), /whole number ≥ 1, received 1.5/);
  assert.throws(() => new Pool("2" as unknown as number), TypeError);
  assert.throws(
    () => new Pool({ processes: 1, maxTasksPerChild: 0 }),
    RangeError,
  );
  await using pool = new Pool(1);
  assert.throws(() => pool.mapAsync(square, [1], 0), /chunksize/);
  assert.throws(() => pool.mapAsync(square, [1], 1.5), RangeError);
  assert.throws(
    () => pool.mapAsync(square, 5 as unknown as number[]),
    /expected an iterable/,
  );
  assert.throws(
    () => pool.imap(square, null as unknown as number[]),
    TypeError,
  );
  const closure = (x: number) => x + 1;
  assert.throws(() => pool.applyAsync(closure, [1]), TypeError);
  await assert.rejects(pool.apply(closure, [1]), /not exported|anonymous/);
  assert.throws(
    () => pool.applyAsync(square, 3 as unknown as [number]),
    /args to be an array/,
  );
  assert.throws(
    () => pool.applyAsync(square, [1], { timeout: -1 }),
    RangeError,
  );
});

Deno.test("calls after close() or terminate() throw ProcessError", async () => {
  const pool = new Pool(1);
  pool.close();
  assert.throws(() => pool.applyAsync(square, [1]), /closed/);
  await assert.rejects(pool.map(square, [1]), ProcessError);
  assert.throws(() => pool.imap(square, [1]), ProcessError);
  await pool.join();
  const other = new Pool(1);
  await other.terminate();
  assert.throws(() => other.applyAsync(square, [1]), /terminated/);
  await other.join();
  assertNoChildren();
});

Deno.test("join() needs close() first, then waits for every task and callback", async () => {
  const pool = new Pool(2);
  await assert.rejects(pool.join(), /close\(\) or terminate\(\)/);
  const seen: number[] = [];
  for (let i = 0; i < 6; i++) {
    pool.applyAsync(doubleLater, [i, 10], { callback: (v) => seen.push(v) });
  }
  pool.close();
  await pool.join();
  assert.deepEqual(seen.sort((a, b) => a - b), [0, 2, 4, 6, 8, 10]);
  assert.equal(pool.stats.tasksCompleted, 6);
  assertNoChildren();
});

Deno.test("terminate() rejects the work not finished and ends the workers", async () => {
  const pool = new Pool(1);
  const cells = new Int32Array(new SharedArrayBuffer(8));
  const running = pool.applyAsync(blocksAfterSignal, [cells]);
  const queued = pool.applyAsync(square, [2]);
  await started(cells);
  await pool.terminate();
  await assert.rejects(running.get(), /terminated/);
  await assert.rejects(queued.get(), /terminated/);
  await pool.join();
  assertNoChildren();
});

Deno.test("await using closes the pool gracefully: submitted work finishes", async () => {
  const seen: number[] = [];
  {
    await using pool = new Pool(2);
    for (let i = 1; i <= 4; i++) {
      pool.applyAsync(doubleLater, [i, 10], { callback: (v) => seen.push(v) });
    }
  }
  assert.deepEqual(seen.sort((a, b) => a - b), [2, 4, 6, 8]);
  assertNoChildren();
});

Deno.test("stats count completed and failed tasks and the time they took", async () => {
  await using pool = new Pool(1);
  await pool.apply(doubleLater, [1, 20]);
  await pool.apply(failsWithProcessError, ["x"]).catch(() => {});
  const stats = pool.stats;
  const seen = JSON.stringify(stats);
  assert.equal(stats.tasksCompleted, 1, seen);
  assert.equal(stats.tasksFailed, 1, seen);
  assert.equal(stats.workersStarted, 1, seen);
  assert.ok(stats.runningMs >= 15, seen);
  assert.ok(stats.queuedMs >= 0, seen);
});

Deno.test("the default size is cpuCount()", async () => {
  await using pool = new Pool();
  assert.equal(pool.processes, cpuCount());
  await until(() => poolWorkers().length === cpuCount(), 5000, "workers");
});

Deno.test("argument and result types are checked by TypeScript", async () => {
  await using pool = new Pool(1);
  const n: number = await pool.apply(add, [1, 2]);
  const list: number[] = await pool.map(square, [1]);
  assert.equal(n + list[0], 4);
  // @ts-expect-error: add takes two numbers
  await pool.apply(add, [1, "2"]).catch(() => {});
  // @ts-expect-error: square takes numbers
  await pool.map(square, ["a"]).catch(() => {});
});

Deno.test("the program exits after a stuck task was abandoned", async () => {
  const result = await runProgram("pool_stuck.ts");
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /timeout: TimeoutError/);
  assert.match(result.stdout, /abort: gave up/);
  assert.match(result.stdout, /still works: 81/);
  assert.match(result.stdout, /fast path: 25/);
});

// The fast path: a single task for an idle worker, and its result, travel
// through a shared slot (src/_pool_slot.ts) when they are small plain data.

Deno.test("small plain arguments and results travel through the shared slot, exactly", async () => {
  await using pool = new Pool(1);
  await pool.apply(echo, [0]); // the worker learns the function by port
  const values: unknown[] = [
    42,
    -0,
    NaN,
    -Infinity,
    "héllo \ud800 wörld", // a lone surrogate survives
    "x".repeat(1000),
    true,
    false,
    null,
    undefined,
    [1, "a", [null, undefined]],
    { a: 1, b: { c: "d", e: [] }, "": 0 },
    JSON.parse('{"__proto__": 1}'),
  ];
  const before = { ...slotCounters };
  for (const value of values) {
    assert.deepEqual(await pool.apply(echo, [value]), value);
  }
  const proto = await pool.apply(echo, [
    JSON.parse('{"__proto__": 1}'),
  ]) as object;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.equal(Object.hasOwn(proto, "__proto__"), true);
  // As structured clone does, a null-prototype object comes back plain.
  const bare = Object.assign(Object.create(null), { k: "v" });
  assert.deepEqual(await pool.apply(echo, [bare]), { k: "v" });
  assert.equal(slotCounters.tasks - before.tasks, values.length + 2);
  assert.equal(slotCounters.portedResults, before.portedResults);
});

Deno.test("values the slot cannot hold keep the port, with structured clone's meaning", async () => {
  await using pool = new Pool(1);
  await pool.apply(echo, [0]);
  const shared = { a: 1 };
  const sparse = [1, , 3];
  const named = Object.assign([1, 2], { extra: true });
  const before = slotCounters.tasks;
  const twice = await pool.apply(echo, [[shared, shared]]) as object[];
  assert.equal(twice[0], twice[1]); // one object, as clone keeps it
  const holes = await pool.apply(echo, [sparse]) as number[];
  assert.equal(1 in holes, false);
  assert.deepEqual(await pool.apply(echo, [named]), named);
  assert.deepEqual(
    await pool.apply(echo, [new Map([[1, 2]])]),
    new Map([[1, 2]]),
  );
  assert.equal(await pool.apply(echo, [10n]), 10n);
  assert.deepEqual(await pool.apply(echo, [new Date(5)]), new Date(5));
  assert.equal(slotCounters.tasks, before);
});

Deno.test("arguments too big for the slot take the port", async () => {
  await using pool = new Pool(1);
  await pool.apply(echo, [0]);
  const before = slotCounters.tasks;
  const big = "y".repeat(100_000);
  assert.equal(await pool.apply(echo, [big]), big);
  assert.equal(slotCounters.tasks, before);
});

Deno.test("a fast-path result too big for the slot comes back through the port", async () => {
  await using pool = new Pool(1);
  await pool.apply(repeat, ["ab", 1]);
  const before = { ...slotCounters };
  assert.equal(await pool.apply(repeat, ["ab", 40_000]), "ab".repeat(40_000));
  assert.equal(await pool.apply(repeat, ["ab", 2]), "abab");
  assert.equal(slotCounters.tasks - before.tasks, 2);
  assert.equal(slotCounters.portedResults - before.portedResults, 1);
});

Deno.test("a fast-path task that throws rejects with its own error", async () => {
  await using pool = new Pool(1);
  await pool.apply(failsWithCause, ["first"]).catch(() => {});
  const before = { ...slotCounters };
  const error = await pool.apply(failsWithCause, ["boom"]).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(error instanceof RangeError);
  assert.equal(error.message, "boom");
  assert.ok(error.cause instanceof TypeError);
  assert.equal(slotCounters.tasks - before.tasks, 1);
  assert.equal(slotCounters.portedResults - before.portedResults, 1);
  assert.equal(await pool.apply(echo, ["after"]), "after");
});

Deno.test("a fast-path task whose worker is killed mid-task fails naming it", async () => {
  const pool = new Pool(1);
  const cells = new Int32Array(new SharedArrayBuffer(8));
  await pool.apply(keepCells, [cells]);
  await pool.apply(signalsThenBlocks, [false]);
  const before = slotCounters.tasks;
  const result = pool.applyAsync(signalsThenBlocks, [true]);
  assert.equal(slotCounters.tasks, before + 1);
  await started(cells);
  const [worker] = poolWorkers();
  worker.terminate();
  const error = await result.get().then(() => undefined, (e) => e);
  assert.ok(error instanceof ProcessError);
  assert.match(
    error.message,
    new RegExp(`${worker.name} .*-15.* while running this task`),
  );
  assert.equal(await pool.apply(square, [3]), 9);
  assert.equal(pool.stats.workersReplaced, 1);
  pool.close();
  await pool.join();
  assertNoChildren();
});

Deno.test("a fast-path task that never ends is stopped by its timeout", async () => {
  await using pool = new Pool(1);
  const cells = new Int32Array(new SharedArrayBuffer(8));
  await pool.apply(keepCells, [cells]);
  await pool.apply(signalsThenBlocks, [false]);
  const before = slotCounters.tasks;
  await assert.rejects(
    pool.apply(signalsThenBlocks, [true], { timeout: 100 }),
    TimeoutError,
  );
  assert.equal(slotCounters.tasks, before + 1);
  assert.equal(pool.stats.workersReplaced, 1);
  assert.equal(await pool.apply(square, [4]), 16);
});

Deno.test("aborting a running fast-path task rejects it and replaces its worker", async () => {
  await using pool = new Pool(1);
  const cells = new Int32Array(new SharedArrayBuffer(8));
  await pool.apply(keepCells, [cells]);
  await pool.apply(signalsThenBlocks, [false]);
  const before = slotCounters.tasks;
  const controller = new AbortController();
  const result = pool.apply(signalsThenBlocks, [true], {
    signal: controller.signal,
  });
  assert.equal(slotCounters.tasks, before + 1);
  await started(cells);
  const reason = new Error("gave up");
  controller.abort(reason);
  await assert.rejects(result, (e) => e === reason);
  assert.equal(pool.stats.workersReplaced, 1);
  assert.equal(await pool.apply(square, [6]), 36);
});

Deno.test("maxTasksPerChild counts fast-path tasks", async () => {
  await using pool = new Pool({ processes: 1, maxTasksPerChild: 3 });
  const before = slotCounters.tasks;
  const counts: number[] = [];
  for (let i = 0; i < 9; i++) counts.push(await pool.apply(countInWorker));
  assert.deepEqual(counts, [1, 2, 3, 1, 2, 3, 1, 2, 3]);
  // Each new worker learns the function by port, then takes the slot.
  assert.equal(slotCounters.tasks - before, 6);
  assert.equal(pool.stats.workersRecycled >= 2, true);
});
