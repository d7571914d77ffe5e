// Rows of `deno task bench:compare` for the cluster: the round trip of one
// tiny task (p50) and the rate of many, through ClusterPool with two worker
// programs (one process each) on the same Redis, beside a local Pool(2) and
// beside BullMQ with two worker processes. No Python twin: the rows compare
// with each other (see the goals).
//
// Redis: MULTIPROCESSING_REDIS_URL, or a redis-server this bench starts on a
// free port (persistence off) and stops at the end.

// deno-lint-ignore no-import-prefix
import { Queue, QueueEvents } from "npm:bullmq@6.7.0";
// deno-lint-ignore no-import-prefix
import { Redis } from "npm:ioredis@5.11.1";
import { Pool } from "../mod.ts";
import { ClusterPool } from "../src/cluster/mod.ts";
import { type CompareCase, median } from "./_compare.ts";
import { square } from "./_cluster_tasks.ts";

const SEQUENTIAL = 2000;
const BURST = 20_000;
const BULLMQ_CONCURRENCY = 16;

interface Figures {
  clusterP50: number;
  clusterRate: number;
  poolP50: number;
  poolRate: number;
  bullP50: number;
  bullRate: number;
}

let figures: Promise<Figures> | undefined;

/** Everything at once: one Redis, started and stopped once. */
function measure(): Promise<Figures> {
  figures ??= (async () => {
    const redis = await RedisForBench.start();
    try {
      const cluster = await measureCluster(redis.url);
      const pool = await measurePool();
      const bull = await measureBullMq(redis.url);
      return { ...cluster, ...pool, ...bull };
    } finally {
      await redis.stop();
    }
  })();
  return figures;
}

/** p50 of `count` sequential calls of `call`, in µs, after a warm-up. */
async function p50(call: () => Promise<unknown>, count: number) {
  for (let i = 0; i < count / 4; i++) await call();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await call();
    times.push((performance.now() - start) * 1000);
  }
  return median(times);
}

/** Median rate (items/s) of three bursts of `count` concurrent calls. */
async function rate(burst: (count: number) => Promise<unknown>) {
  await burst(BURST / 4);
  const rates: number[] = [];
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    await burst(BURST);
    rates.push(BURST / ((performance.now() - start) / 1000));
  }
  return median(rates);
}

async function measureCluster(url: string) {
  const name = `bench-${crypto.randomUUID().slice(0, 8)}`;
  const workers = [0, 1].map(() =>
    new Program([
      "--allow-read",
      "--allow-net=127.0.0.1",
      "--allow-env",
      new URL("../src/cluster/cluster_worker.ts", import.meta.url).pathname,
      "--connect",
      url,
      "--name",
      name,
      "--processes",
      "1",
      "--quiet",
    ], /ready/)
  );
  try {
    await Promise.all(workers.map((w) => w.ready));
    await using pool = await ClusterPool.connect(url, { name });
    const clusterP50 = await p50(() => pool.apply(square, [3]), SEQUENTIAL);
    const clusterRate = await rate((count) => {
      const results = [];
      for (let i = 0; i < count; i++) {
        results.push(pool.applyAsync(square, [i]).get());
      }
      return Promise.all(results);
    });
    return { clusterP50, clusterRate };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

async function measurePool() {
  await using pool = new Pool(2);
  const poolP50 = await p50(() => pool.apply(square, [3]), SEQUENTIAL);
  const poolRate = await rate((count) => {
    const results = [];
    for (let i = 0; i < count; i++) {
      results.push(pool.applyAsync(square, [i]).get());
    }
    return Promise.all(results);
  });
  return { poolP50, poolRate };
}

async function measureBullMq(url: string) {
  const name = `bench-bull-${crypto.randomUUID().slice(0, 8)}`;
  const workers = [0, 1].map(() =>
    new Program([
      "-A",
      new URL("_bullmq_worker.ts", import.meta.url).pathname,
      url,
      name,
      String(BULLMQ_CONCURRENCY),
    ], /ready/)
  );
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const events = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection });
  const queueEvents = new QueueEvents(name, { connection: events });
  try {
    await Promise.all([
      ...workers.map((w) => w.ready),
      queue.waitUntilReady(),
      queueEvents.waitUntilReady(),
    ]);
    // Kept a while: waitUntilFinished looks the finished job up.
    const options = {
      removeOnComplete: { count: 1000 },
      removeOnFail: { count: 1000 },
    };
    const bullP50 = await p50(async () => {
      const job = await queue.add("square", 3, options);
      await job.waitUntilFinished(queueEvents);
    }, SEQUENTIAL / 4);
    const bullRate = await rate(async (count) => {
      let completed = 0;
      const all = Promise.withResolvers<void>();
      const onCompleted = () => {
        if (++completed === count) all.resolve();
      };
      queueEvents.on("completed", onCompleted);
      const jobs = Array.from({ length: count }, (_, i) => ({
        name: "square",
        data: i,
        opts: options,
      }));
      for (let i = 0; i < jobs.length; i += 1000) {
        await queue.addBulk(jobs.slice(i, i + 1000));
      }
      await all.promise;
      queueEvents.off("completed", onCompleted);
    });
    return { bullP50, bullRate };
  } finally {
    await queueEvents.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    connection.disconnect();
    events.disconnect();
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/** A program of the bench, ready once it printed a line matching `ready`. */
class Program {
  readonly #child: Deno.ChildProcess;
  readonly ready: Promise<void>;

  constructor(args: string[], ready: RegExp) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-lock", ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const seen = Promise.withResolvers<void>();
    this.ready = seen.promise;
    const decoder = new TextDecoder();
    let text = "";
    const drain = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) {
        text += decoder.decode(chunk, { stream: true });
        if (ready.test(text)) seen.resolve();
      }
    };
    Promise.all([drain(this.#child.stdout), drain(this.#child.stderr)])
      .then(() => seen.reject(new Error(`the program ended early:\n${text}`)));
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* ended */ }
    await this.#child.status;
  }
}

/** The bench's Redis: the test one, or one of its own. */
class RedisForBench {
  readonly url: string;
  readonly #child?: Deno.ChildProcess;

  private constructor(url: string, child?: Deno.ChildProcess) {
    this.url = url;
    this.#child = child;
  }

  static async start(): Promise<RedisForBench> {
    const known = Deno.env.get("MULTIPROCESSING_REDIS_URL");
    if (known) return new RedisForBench(known);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const child = new Deno.Command("redis-server", {
      args: ["--bind", "127.0.0.1", "--port", String(port), "--save", ""],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const end = performance.now() + 10_000;
    while (true) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return new RedisForBench(`redis://127.0.0.1:${port}`, child);
      } catch {
        if (performance.now() > end) {
          child.kill("SIGKILL");
          throw new Error("redis-server did not start: install redis-server");
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  async stop(): Promise<void> {
    if (this.#child === undefined) return;
    this.#child.kill("SIGTERM");
    await this.#child.status;
  }
}

export const cases: CompareCase[] = [
  {
    name:
      "cluster: ClusterPool.apply round trip p50, 2 worker programs on Redis",
    unit: "µs",
    better: "lower",
    goal: "≤ 1,000 µs; ≥ 3× faster than BullMQ (2 rows down)",
    deno: async () => (await measure()).clusterP50,
  },
  {
    name: "cluster: Pool(2).apply round trip p50, same machine",
    unit: "µs",
    better: "lower",
    goal: "beside ClusterPool",
    deno: async () => (await measure()).poolP50,
  },
  {
    name: `cluster: BullMQ job round trip p50, 2 worker processes, same Redis`,
    unit: "µs",
    better: "lower",
    goal: "beside ClusterPool",
    deno: async () => (await measure()).bullP50,
  },
  {
    name:
      `cluster: ClusterPool tiny tasks, ${BURST} applyAsync at once, 2 worker programs`,
    unit: "items/s",
    better: "higher",
    goal: "≥ 10,000/s; ≥ 3× BullMQ (2 rows down)",
    deno: async () => (await measure()).clusterRate,
  },
  {
    name: `cluster: Pool(2) tiny tasks, ${BURST} applyAsync at once`,
    unit: "items/s",
    better: "higher",
    goal: "beside ClusterPool",
    deno: async () => (await measure()).poolRate,
  },
  {
    name:
      `cluster: BullMQ tiny jobs, ${BURST} added at once, 2 worker processes (concurrency ${BULLMQ_CONCURRENCY})`,
    unit: "items/s",
    better: "higher",
    goal: "beside ClusterPool",
    deno: async () => (await measure()).bullRate,
  },
];
