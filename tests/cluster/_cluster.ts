// Helpers for the cluster's tests: the Redis that .ci/run starts (its URL
// in MULTIPROCESSING_REDIS_URL), worker programs as separate `deno run`
// processes, and programs of the fixtures folder.
//
// Without a Redis URL, a local run skips these tests with a message; in CI
// (CI=true) one test fails instead, so that a missing server is never
// mistaken for a pass.

import {
  closeRedis,
  openRedis,
  type RedisClient,
} from "../../src/cluster/_redis.ts";
import { checkTarget } from "../../src/cluster/_redis.ts";

/** The test Redis, when there is one. */
export const REDIS_URL: string | undefined = Deno.env.get(
  "MULTIPROCESSING_REDIS_URL",
);

const inCi = Deno.env.get("CI") === "true";
let warned = false;

if (REDIS_URL === undefined && inCi) {
  Deno.test("the cluster tests have a Redis server (MULTIPROCESSING_REDIS_URL)", () => {
    throw new Error(
      "MULTIPROCESSING_REDIS_URL is not set: .ci/run starts redis-server and exports it",
    );
  });
}

/** `Deno.test` for a test that needs Redis: skipped locally without one. */
export function clusterTest(
  name: string,
  fn: (url: string) => Promise<void>,
): void {
  if (REDIS_URL === undefined && !warned && !inCi) {
    warned = true;
    console.warn(
      "cluster tests skipped: set MULTIPROCESSING_REDIS_URL to a Redis ≥ 7 (redis-server --port 6390 --save '') to run them",
    );
  }
  Deno.test({
    name,
    ignore: REDIS_URL === undefined,
    fn: () => fn(REDIS_URL!),
  });
}

/** A name no other test uses, so that tests share the server, not data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Waits until `predicate()` resolves true, asking again every 20 ms, at
 * most `ms`: for conditions only Redis can tell.
 */
export async function eventually(
  predicate: () => Promise<boolean>,
  what: string,
  ms = 20_000,
): Promise<void> {
  const end = performance.now() + ms;
  while (!(await predicate())) {
    if (performance.now() > end) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Closes the server side of every connection of the pool or queue `name`
 * (workers and clients alike): what a network failure does to them.
 */
export async function cutConnections(
  redis: RedisClient,
  name: string,
): Promise<number> {
  const list = await redis.client("LIST") as string;
  const ids = list.split("\n")
    .filter((line) => / name=(\S+) /.exec(line)?.[1].endsWith(`:${name}`))
    .map((line) => /^id=(\d+)/.exec(line)![1]);
  for (const id of ids) await redis.client("KILL", "ID", id);
  return ids.length;
}

/** A raw connection for looking at what the cluster left in Redis. */
export async function inspect(url: string): Promise<RedisClient> {
  return await openRedis(checkTarget("inspect", url, {}));
}

/** Closes a raw connection. */
export async function release(client: RedisClient): Promise<void> {
  await closeRedis(client);
}

const here = new URL(".", import.meta.url);
const WORKER = new URL("../../src/cluster/cluster_worker.ts", here).pathname;
const ROOT = new URL("../../", here).pathname;

/** A program of the tests, running as its own OS process. */
export class Program {
  readonly child: Deno.ChildProcess;
  #output = "";
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  #ended: Promise<Deno.CommandStatus>;
  #drained: Promise<void>;

  constructor(args: string[], cwd = ROOT) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-lock", ...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#drained = Promise.all([
      this.#drain(this.child.stdout),
      this.#drain(this.child.stderr),
    ]).then(() => {});
    this.#ended = this.child.status;
  }

  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      this.#output += decoder.decode(chunk, { stream: true });
      this.#check();
    }
  }

  #check(): void {
    const lines = this.#output.split("\n");
    this.#waiters = this.#waiters.filter(({ pattern, resolve }) => {
      const line = lines.find((l) => pattern.test(l));
      if (line === undefined) return true;
      resolve(line);
      return false;
    });
  }

  /** Everything it printed so far (stdout and stderr). */
  get output(): string {
    return this.#output;
  }

  /** Its process id. */
  get pid(): number {
    return this.child.pid;
  }

  /** Waits for a line matching `pattern`, at most `ms`. */
  async line(pattern: RegExp, ms = 30_000): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const found = new Promise<string>((resolve) => {
      this.#waiters.push({ pattern, resolve });
      this.#check();
    });
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `no line matching ${pattern} within ${ms} ms; output:\n${this.#output}`,
            ),
          ),
        ms,
      );
    });
    const ended = this.#ended.then((status) => {
      throw new Error(
        `the program ended (code ${status.code}) before a line matching ${pattern}; output:\n${this.#output}`,
      );
    });
    try {
      return await Promise.race([found, failed, ended]);
    } finally {
      clearTimeout(timer);
      ended.catch(() => {});
    }
  }

  /** Waits for it to end (SIGKILL after `ms`) and returns its status. */
  async ended(ms = 30_000): Promise<Deno.CommandStatus> {
    const timer = setTimeout(() => this.kill("SIGKILL"), ms);
    try {
      const status = await this.#ended;
      await this.#drained;
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a signal (nothing if it ended). */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch { /* already ended */ }
  }

  /** Stops it: SIGTERM, then SIGKILL after `ms`; returns its status. */
  async stop(ms = 20_000): Promise<Deno.CommandStatus> {
    this.kill("SIGTERM");
    return await this.ended(ms);
  }
}

/** A `cluster-worker` program serving `name`. */
export class WorkerProgram extends Program {
  /** Resolves to its consumer name once it is ready. */
  readonly ready: Promise<string>;

  constructor(url: string, name: string, flags: string[] = []) {
    super([
      "--allow-read",
      "--allow-net=127.0.0.1",
      "--allow-env",
      WORKER,
      "--connect",
      url,
      "--name",
      name,
      ...flags,
    ]);
    this.ready = this.line(/cluster-worker: \S+ ready/).then((line) =>
      /cluster-worker: (\S+) ready/.exec(line)![1]
    );
    this.ready.catch(() => {}); // awaiters see it; a program meant to fail too
  }
}

/** Starts `count` worker programs and waits until each is ready. */
export async function startWorkers(
  url: string,
  name: string,
  count: number,
  flags: string[] = ["--processes", "1"],
): Promise<WorkerProgram[]> {
  const workers = Array.from(
    { length: count },
    () => new WorkerProgram(url, name, flags),
  );
  try {
    await Promise.all(workers.map((w) => w.ready));
  } catch (error) {
    await stopAll(workers);
    throw error;
  }
  return workers;
}

/** Stops programs (SIGTERM, then SIGKILL) and waits for their ends. */
export async function stopAll(programs: Program[]): Promise<void> {
  await Promise.all(programs.map((p) => p.stop()));
}

/** A fixture program of tests/cluster/_fixtures/, with the cluster's flags. */
export function fixture(file: string, args: string[] = []): Program {
  return new Program([
    "--allow-read",
    "--allow-net=127.0.0.1",
    "--allow-env",
    new URL(`_fixtures/${file}`, here).pathname,
    ...args,
  ]);
}

/** The `redis-server` program, for tests that start a server of their own. */
const REDIS_SERVER = Deno.env.get("MULTIPROCESSING_REDIS_SERVER") ??
  "redis-server";

function hasRedisServer(): boolean {
  try {
    return new Deno.Command(REDIS_SERVER, { args: ["--version"] })
      .outputSync().success;
  } catch {
    return false;
  }
}

const serverFound = hasRedisServer();

if (!serverFound && inCi) {
  Deno.test("the cluster tests find redis-server", () => {
    throw new Error(`${REDIS_SERVER} is missing: .ci/run installs it`);
  });
}

/** `Deno.test` for a test that starts its own Redis: skipped without one. */
export function serverTest(name: string, fn: () => Promise<void>): void {
  if (!serverFound && !inCi) {
    console.warn(`skipped "${name}": ${REDIS_SERVER} is not installed`);
  }
  Deno.test({ name, ignore: !serverFound, fn });
}

/** A port nothing listens on now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A Redis server of a test's own (password, TLS), stopped by its pid. */
export class RedisServer {
  readonly port: number;
  readonly #child: Deno.ChildProcess;

  private constructor(port: number, child: Deno.ChildProcess) {
    this.port = port;
    this.#child = child;
  }

  /** Starts `redis-server` on 127.0.0.1 with `args`; resolves once it listens. */
  static async start(args: string[], tls = false): Promise<RedisServer> {
    const port = freePort();
    const child = new Deno.Command(REDIS_SERVER, {
      args: [
        "--bind",
        "127.0.0.1",
        ...(tls
          ? ["--port", "0", "--tls-port", String(port)]
          : ["--port", String(port)]),
        "--save",
        "",
        "--appendonly",
        "no",
        ...args,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const server = new RedisServer(port, child);
    const end = performance.now() + 10_000;
    while (true) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return server;
      } catch {
        if (performance.now() > end) {
          await server.stop();
          throw new Error(`redis-server did not listen on ${port} within 10 s`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  /** Stops it and waits for its end. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* ended */ }
    await this.#child.status;
  }
}
