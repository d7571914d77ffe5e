import assert from "node:assert/strict";
import { ProcessError } from "../../mod.ts";
import { ClusterPool, ClusterQueue } from "../../src/cluster/mod.ts";
import { ClusterWorker } from "../../src/cluster/cluster_worker.ts";
import {
  clusterTest,
  freePort,
  RedisServer,
  serverTest,
  uniqueName,
} from "./_cluster.ts";

const CA = Deno.readTextFileSync(
  new URL("_fixtures/tls/cert.pem", import.meta.url),
);

Deno.test("connect refuses what is not a Redis URL with a TypeError naming the forms", async () => {
  for (
    const url of ["http://127.0.0.1:6379", "redis://", "127.0.0.1:6379", 42]
  ) {
    await assert.rejects(
      ClusterPool.connect(url as string),
      (error) =>
        error instanceof TypeError &&
        /^Cannot connect a ClusterPool as 'url' must be a Redis URL such as "redis:\/\/127\.0\.0\.1:6379"/
          .test(error.message),
    );
  }
  await assert.rejects(
    ClusterQueue.connect("redis://h/db0"),
    /database number/,
  );
  await assert.rejects(ClusterWorker.start("rediss:"), TypeError);
});

Deno.test("connect refuses bad options with the argument and the fix", async () => {
  const url = "redis://127.0.0.1:1";
  await assert.rejects(
    ClusterPool.connect(url, { leaseMs: 10 }),
    (error) =>
      error instanceof RangeError &&
      /'options\.leaseMs'.*≥ 100/.test(error.message),
  );
  await assert.rejects(
    ClusterPool.connect(url, { maxDeliveries: 0 }),
    /'options\.maxDeliveries' must be a whole number ≥ 1: current value is number 0/,
  );
  await assert.rejects(
    ClusterPool.connect(url, { name: "two words" }),
    /'options\.name' must be 1 to 200 letters/,
  );
  await assert.rejects(
    ClusterQueue.connect(url, { maxsize: -1 }),
    RangeError,
  );
});

Deno.test("connecting to a port nobody listens on fails with a ProcessError that says why, at once", async () => {
  const port = freePort();
  const start = performance.now();
  await assert.rejects(
    ClusterPool.connect(`redis://127.0.0.1:${port}`),
    (error) =>
      error instanceof ProcessError &&
      error.message ===
        `Cannot connect to Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
  );
  assert.ok(performance.now() - start < 5000);
});

clusterTest(
  "a rediss:// URL to a server without TLS fails within connectTimeout",
  async (url) => {
    const tlsUrl = url.replace(/^redis:/, "rediss:");
    const start = performance.now();
    await assert.rejects(
      ClusterQueue.connect(tlsUrl, { connectTimeout: 500 }),
      (error) =>
        error instanceof ProcessError &&
        /^Cannot connect to Redis at rediss:\/\//.test(error.message),
    );
    assert.ok(performance.now() - start < 5000);
  },
);

serverTest(
  "a password in the URL is sent, and a wrong one is a clear error that does not show it",
  async () => {
    const server = await RedisServer.start(["--requirepass", "s3cret"]);
    try {
      const base = `127.0.0.1:${server.port}`;
      await assert.rejects(
        ClusterQueue.connect(`redis://:wrong@${base}`),
        (error) =>
          error instanceof ProcessError &&
          error.message.startsWith(
            `Cannot connect to Redis at redis://:***@${base}: WRONGPASS`,
          ) &&
          !error.message.includes("wrong@"),
      );
      await assert.rejects(ClusterQueue.connect(`redis://${base}`), /NOAUTH/);
      await using queue = await ClusterQueue.connect<string>(
        `redis://:s3cret@${base}/2`,
        { name: uniqueName("auth") },
      );
      await queue.put("in");
      assert.equal(await queue.get(), "in");
    } finally {
      await server.stop();
    }
  },
);

serverTest(
  "a rediss:// URL connects over TLS with the server's CA, pool and worker alike",
  async () => {
    const server = await RedisServer.start([
      "--tls-cert-file",
      new URL("_fixtures/tls/cert.pem", import.meta.url).pathname,
      "--tls-key-file",
      new URL("_fixtures/tls/key.pem", import.meta.url).pathname,
      "--tls-auth-clients",
      "no",
      "--requirepass",
      "s3cret",
    ], true);
    try {
      const url = `rediss://:s3cret@127.0.0.1:${server.port}`;
      await assert.rejects(
        ClusterQueue.connect(url, { connectTimeout: 2000 }),
        /self-signed certificate/,
      );
      const name = uniqueName("tls");
      await using worker = await ClusterWorker.start(url, {
        name,
        processes: 1,
        tls: { ca: CA },
      });
      await using pool = await ClusterPool.connect(url, {
        name,
        tls: { ca: CA },
      });
      const { square } = await import("./_fixtures/tasks.ts");
      assert.equal(await pool.apply(square, [12]), 144);
      assert.equal(worker.stats.tasksRun, 1);
    } finally {
      await server.stop();
    }
  },
);
