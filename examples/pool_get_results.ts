// Collecting results with get(): submit everything first, then wait for
// each AsyncResult; a failed task rejects get() with its own error, and
// get(timeoutMs) gives up waiting without stopping the task.
//
//   deno run --allow-read examples/pool_get_results.ts

import { Pool, TimeoutError } from "../mod.ts";

/** Returns `10 / n`, refusing zero. */
export function tenOver(n: number): number {
  if (n === 0) throw new RangeError("cannot divide by zero");
  return 10 / n;
}

/** Resolves to `label` after `ms` milliseconds. */
export async function slow(label: string, ms: number): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return label;
}

if (import.meta.main) {
  await using pool = new Pool(2);
  const results = [5, 2, 0, 4].map((n) => pool.applyAsync(tenOver, [n]));
  for (const [i, result] of results.entries()) {
    try {
      console.log(`result ${i}: ${await result.get()}`);
    } catch (error) {
      console.log(`result ${i} failed: ${error}`);
    }
  }
  const late = pool.applyAsync(slow, ["done", 300]);
  try {
    await late.get(50);
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error;
    console.log(`not ready after 50 ms (ready() = ${late.ready()})`);
  }
  console.log(
    `then: ${await late.get()} (successful() = ${late.successful()})`,
  );
}
