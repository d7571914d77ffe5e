// The classic: map a function over a list of inputs with a pool of
// workers; results come back in input order.
//
//   deno run --allow-read examples/pool_map.ts

import { Pool } from "../mod.ts";

/** Whether `n` is prime (CPU-bound work). */
export function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

if (import.meta.main) {
  const inputs = Array.from({ length: 20 }, (_, i) => 1_000_000_000 + i);
  await using pool = new Pool(2);
  const flags = await pool.map(isPrime, inputs);
  const primes = inputs.filter((_, i) => flags[i]);
  console.log(
    `primes among ${inputs[0]}…${inputs.at(-1)}: ${primes.join(", ")}`,
  );
  console.log(pool.stats);
}
