// Puts one item into a bounded ClusterQueue, waiting for room up to
// `timeoutMs`, and says how that went.

import { Full } from "../../../mod.ts";
import { ClusterQueue } from "../../../src/cluster/mod.ts";

const [url, name, timeoutMs] = Deno.args;
await using queue = await ClusterQueue.connect<string>(url, { name });
console.log("putting");
try {
  await queue.put("late", { timeout: Number(timeoutMs) });
  console.log("put");
} catch (error) {
  console.log(error instanceof Full ? "full" : `error ${error}`);
}
