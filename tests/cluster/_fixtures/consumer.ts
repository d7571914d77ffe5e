// A consumer on "another machine": takes jobs from a ClusterQueue until it
// stays empty for `idleMs`, puts n * n for each into the results queue, and
// says how many it took.

import { Empty } from "../../../mod.ts";
import { ClusterQueue } from "../../../src/cluster/mod.ts";

const [url, name, idleMs] = Deno.args;
await using jobs = await ClusterQueue.connect<{ n: number }>(url, {
  name: `${name}-jobs`,
});
await using results = await ClusterQueue.connect<number>(url, {
  name: `${name}-results`,
});
console.log("waiting");
let taken = 0;
while (true) {
  let job: { n: number };
  try {
    job = await jobs.get({ timeout: Number(idleMs) });
  } catch (error) {
    if (error instanceof Empty) break;
    throw error;
  }
  taken++;
  await results.put(job.n * job.n);
}
console.log(`took ${taken}, then empty`);
