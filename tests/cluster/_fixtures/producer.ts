// A producer on "another machine": puts `count` jobs into a ClusterQueue,
// then waits for as many results on a second queue and prints their sum.

import { ClusterQueue } from "../../../src/cluster/mod.ts";

const [url, name, count] = Deno.args;
await using jobs = await ClusterQueue.connect<{ n: number }>(url, {
  name: `${name}-jobs`,
});
await using results = await ClusterQueue.connect<number>(url, {
  name: `${name}-results`,
});
for (let n = 0; n < Number(count); n++) await jobs.put({ n });
console.log("put all");
let sum = 0;
for (let i = 0; i < Number(count); i++) {
  sum += await results.get({ timeout: 20_000 });
}
console.log(`sum ${sum}`);
