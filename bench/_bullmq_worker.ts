// A BullMQ worker process for bench/cluster_cases.ts: squares each job's
// number until SIGTERM.
//
//   deno run -A bench/_bullmq_worker.ts REDIS_URL QUEUE CONCURRENCY

// deno-lint-ignore no-import-prefix
import { Worker } from "npm:bullmq@6.7.0";
// deno-lint-ignore no-import-prefix
import { Redis } from "npm:ioredis@5.11.1";

const [url, queue, concurrency] = Deno.args;
const connection = new Redis(url, { maxRetriesPerRequest: null });
const worker = new Worker(
  queue,
  (job) => Promise.resolve(job.data * job.data),
  {
    connection,
    concurrency: Number(concurrency),
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 0 },
  },
);
await worker.waitUntilReady();
console.log("ready");
const stop = async () => {
  await worker.close();
  connection.disconnect();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
