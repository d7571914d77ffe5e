// Pool.map across machines: examples/pool_map.ts with its workers on any
// machine that reaches the Redis. Run from the repository's folder (the
// root both sides agree on), each line in its own terminal:
//
//   redis-server --port 6379 --save ""
//   deno run --allow-read --allow-net --allow-env src/cluster/cluster_worker.ts \
//     --connect redis://127.0.0.1:6379 --processes 2
//   deno run --allow-read --allow-net --allow-env examples/cluster/primes.ts \
//     redis://127.0.0.1:6379
//
// The workers import this file for `isPrime` (its main block runs only
// here), so a machine that runs workers needs a copy of it under its root.

import { ClusterPool } from "../../src/cluster/mod.ts";

/** Whether `n` is prime (CPU-bound work). */
export function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

if (import.meta.main) {
  const url = Deno.args[0] ?? "redis://127.0.0.1:6379";
  const name = Deno.args[1] ?? "default";
  await using pool = await ClusterPool.connect(url, { name });
  const workers = await pool.workers();
  if (workers.length === 0) {
    console.log(`no worker serves "${name}" yet: tasks wait for one`);
  } else {
    const processes = workers.reduce((n, w) => n + w.processes, 0);
    console.log(`${workers.length} workers, ${processes} processes`);
  }
  const inputs = Array.from({ length: 20 }, (_, i) => 1_000_000_000 + i);
  const flags = await pool.map(isPrime, inputs);
  const primes = inputs.filter((_, i) => flags[i]);
  console.log(
    `primes among ${inputs[0]}…${inputs.at(-1)}: ${primes.join(", ")}`,
  );
  let done = 0;
  for await (const _ of pool.imapUnordered(isPrime, inputs)) done++;
  console.log(`imapUnordered: ${done} of ${inputs.length}`);
  const { tasksCompleted, tasksFailed } = pool.stats;
  console.log({ tasksCompleted, tasksFailed });
}
