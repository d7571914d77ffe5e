// The registry of live workers of a pool name: each worker renews its
// entry every second (server time, so machines' clocks need not agree);
// clients read it to size `map` chunks and to list workers.

import type { PoolKeys } from "./_layout.ts";
import type { RedisClient } from "./_redis.ts";
import { runScript } from "./_scripts.ts";

/**
 * A live worker of a pool, as it describes itself.
 *
 * @example
 * ```ts
 * import type { ClusterWorkerInfo } from "@seed/multiprocessing/cluster";
 *
 * const info: ClusterWorkerInfo = {
 *   consumer: "host-1:4242:1a2b",
 *   hostname: "host-1",
 *   pid: 4242,
 *   processes: 4,
 *   startedAt: "2026-01-01T00:00:00.000Z",
 * };
 * console.assert(info.processes === 4);
 * ```
 */
export interface ClusterWorkerInfo {
  /** Its name in the task stream's consumer group. */
  consumer: string;
  /** The machine it runs on. */
  hostname: string;
  /** Its process id on that machine. */
  pid: number;
  /** The size of its local `Pool`. */
  processes: number;
  /** When it started (ISO 8601, its own clock). */
  startedAt: string;
}

/** How often a worker renews its entry, and how long the entry lasts. */
export const HEARTBEAT_MS = 1000;
export const HEARTBEAT_TTL_MS = 3000;

/** The live workers of a pool name. */
export async function listWorkers(
  client: RedisClient,
  keys: PoolKeys,
): Promise<ClusterWorkerInfo[]> {
  const infos = await runScript(client, "mpWorkers", [
    keys.workers,
    keys.workerInfo,
  ], []) as (string | null)[];
  const out: ClusterWorkerInfo[] = [];
  for (const info of infos) {
    if (info === null) continue;
    try {
      out.push(JSON.parse(info));
    } catch { /* a foreign entry: not a worker of this module */ }
  }
  return out;
}
