// The tiny task of bench/cluster_cases.ts, in a module of its own: the
// worker programs import it, and nothing else of the bench.

import { registerTargets } from "../mod.ts";

/** `x * x`: a task whose cost is all overhead. */
export function square(x: number): number {
  return x * x;
}

registerTargets(import.meta, { square });
