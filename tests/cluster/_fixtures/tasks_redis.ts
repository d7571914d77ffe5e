// A task that keeps count in Redis, for the retry tests: it fails its
// first `times` runs, wherever they run.

import { registerTargets } from "../../../mod.ts";
import {
  checkTarget,
  closeRedis,
  openRedis,
} from "../../../src/cluster/_redis.ts";

/** Fails the first `times` runs counted under `key`, then returns the count. */
export async function failsFirst(
  url: string,
  key: string,
  times: number,
): Promise<number> {
  const client = await openRedis(checkTarget("count", url, {}));
  try {
    const count = await client.incr(key);
    await client.pexpire(key, 60_000);
    if (count <= times) throw new Error(`failure ${count}`);
    return count;
  } finally {
    await closeRedis(client);
  }
}

registerTargets(import.meta, { failsFirst });
