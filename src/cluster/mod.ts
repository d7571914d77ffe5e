/**
 * A `Pool` and a `Queue` that run on Redis, for work that outgrows one
 * machine: `ClusterPool` has the local `Pool`'s methods and semantics,
 * with workers on any machine (the `cluster-worker` program), and
 * `ClusterQueue` is a queue any program can reach. Needs
 * `--allow-net --allow-env`; the core module needs neither.
 *
 * @example
 * ```ts
 * import { ClusterPool, ClusterQueue } from "@seed/multiprocessing/cluster";
 * import assert from "node:assert/strict";
 *
 * const url = Deno.env.get("MULTIPROCESSING_REDIS_URL");
 * if (url !== undefined) {
 *   await using queue = await ClusterQueue.connect(url, { name: "docs-mod" });
 *   await queue.put({ job: 1 });
 *   assert.deepEqual(await queue.get({ timeout: 1000 }), { job: 1 });
 *   assert.equal(typeof ClusterPool.connect, "function");
 * }
 * ```
 *
 * @module
 */

export { ClusterAsyncResult } from "./async_result.ts";
export {
  ClusterPool,
  type ClusterPoolOptions,
  type ClusterPoolStats,
  type ClusterWorkerInfo,
} from "./cluster_pool.ts";
export { ClusterQueue, type ClusterQueueOptions } from "./cluster_queue.ts";
export type { ClusterTls, ConnectionOptions } from "./_redis.ts";
