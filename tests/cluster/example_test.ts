import assert from "node:assert/strict";
import {
  clusterTest,
  Program,
  startWorkers,
  stopAll,
  uniqueName,
} from "./_cluster.ts";

clusterTest(
  "the README's example runs against two worker programs",
  async (url) => {
    const name = uniqueName("example");
    const workers = await startWorkers(url, name, 2, ["--processes", "2"]);
    const client = new Program([
      "--allow-read",
      "--allow-net=127.0.0.1",
      "--allow-env",
      new URL("../../examples/cluster/primes.ts", import.meta.url).pathname,
      url,
      name,
    ]);
    try {
      const status = await client.ended();
      assert.equal(status.code, 0, client.output);
      assert.match(client.output, /2 workers, 4 processes/);
      assert.match(
        client.output,
        /primes among 1000000000…1000000019: 1000000007, 1000000009/,
      );
      assert.match(client.output, /imapUnordered: 20 of 20/);
    } finally {
      await client.stop();
      await stopAll(workers);
    }
  },
);
