// Processes printing under a Lock, so that their lines never interleave
// (the Lock example of Python's multiprocessing docs). Each process prints
// a few lines in one go while it holds the lock.
//
//   deno run --allow-read examples/lock_printing.ts

import { Lock, Process } from "../mod.ts";

export async function report(lock: Lock, n: number): Promise<void> {
  for (let round = 0; round < 3; round++) {
    using _held = await lock.hold(); // released at the end of the block
    console.log(`process ${n}, round ${round}: begin`);
    console.log(`process ${n}, round ${round}: still me`);
    console.log(`process ${n}, round ${round}: end`);
  }
}

if (import.meta.main) {
  const lock = new Lock();
  const ps = Array.from(
    { length: 4 },
    (_, n) => new Process({ target: report, args: [lock, n] }),
  );
  for (const p of ps) p.start();
  await Promise.all(ps.map((p) => p.join()));
}
