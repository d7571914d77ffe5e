// A counter shared through Value: four processes add to it under its lock,
// and the total is exact. Without the lock, `counter.value += 1` (a read,
// then a write) would lose updates, as in Python.
//
//   deno run --allow-read examples/shared_counter.ts

import { Process, type Synchronized, Value } from "../mod.ts";

export function addMany(counter: Synchronized<"i">, times: number): void {
  for (let i = 0; i < times; i++) {
    using _held = counter.getLock().holdSync();
    counter.value += 1;
  }
}

if (import.meta.main) {
  const counter = Value("i", 0);
  const ps = Array.from(
    { length: 4 },
    () => new Process({ target: addMany, args: [counter, 10_000] }),
  );
  for (const p of ps) p.start();
  await Promise.all(ps.map((p) => p.join()));
  console.log(`counter = ${counter.value} (expected 40000)`);
}
