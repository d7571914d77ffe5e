// Tasks submitted with applyAsync and a callback, while the pool runs at
// most two of them at once: each task reports when it starts and ends.
//
//   deno run --allow-read examples/pool_apply_async.ts

import { currentProcess, Pool } from "../mod.ts";

const started = performance.now();
const clock = () =>
  `${(performance.now() - started).toFixed(0).padStart(4)} ms`;

/** Pretends to work for `ms` milliseconds, then returns `n * n`. */
export async function work(n: number, ms: number): Promise<string> {
  const begin = clock();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return `task ${n}: ran ${begin} → ${clock()} in ${currentProcess().name}, result ${
    n * n
  }`;
}

if (import.meta.main) {
  await using pool = new Pool(2);
  for (let n = 1; n <= 6; n++) {
    pool.applyAsync(work, [n, 200], {
      callback: (line) => console.log(line),
      errorCallback: (error) => console.error(`task ${n} failed:`, error),
    });
  }
  console.log("6 tasks submitted; the pool runs 2 at a time");
  // `await using` closes the pool and waits for every task and callback.
}
