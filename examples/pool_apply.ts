// The same tasks with the blocking form, apply: each call waits for its
// result before the next one is submitted, so one task runs at a time.
//
//   deno run --allow-read examples/pool_apply.ts

import { currentProcess, Pool } from "../mod.ts";

/** Pretends to work for `ms` milliseconds, then returns `n * n`. */
export async function work(n: number, ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  console.log(`  task ${n} ran in ${currentProcess().name}`);
  return n * n;
}

if (import.meta.main) {
  await using pool = new Pool(2);
  const started = performance.now();
  for (let n = 1; n <= 4; n++) {
    const result = await pool.apply(work, [n, 100]);
    console.log(`apply(work, [${n}]) = ${result}`);
  }
  console.log(
    `4 × 100 ms one after another: ${
      (performance.now() - started).toFixed(0)
    } ms`,
  );
}
