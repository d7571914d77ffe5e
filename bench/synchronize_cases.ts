// Rows of `deno task bench:compare` for locks and shared values:
// uncontended acquire + release, and two processes each doing 100k
// lock-guarded increments of one Value (the total is checked: exact).

import {
  Event,
  Lock,
  Process,
  registerTargets,
  Semaphore,
  type Synchronized,
  Value,
} from "../mod.ts";
import { whenSparesReady } from "../src/runtime/_spawner_client.ts";
import { type CompareCase, median } from "./_compare.ts";

const N = 100_000;

/** Waits for `start`, does `n` guarded increments with `await acquire()`. */
export async function bumpAsync(
  counter: Synchronized<"i">,
  n: number,
  start: Event,
  done: Semaphore,
): Promise<void> {
  await start.wait();
  const lock = counter.getLock();
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    counter.value += 1;
    lock.release();
  }
  done.release();
}

/** Waits for `start`, does `n` guarded increments with `acquireSync()`. */
export function bumpSync(
  counter: Synchronized<"i">,
  n: number,
  start: Event,
  done: Semaphore,
): void {
  start.waitSync();
  const lock = counter.getLock();
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    counter.value += 1;
    lock.release();
  }
  done.release();
}

registerTargets(import.meta, { bumpAsync, bumpSync });

async function twoProcesses(target: typeof bumpAsync): Promise<number> {
  const rates: number[] = [];
  for (let round = 0; round < 5; round++) {
    await whenSparesReady();
    // The default lock (an RLock), as the Python
    // twin's `Value("i", 0)` with `with counter.get_lock():`.
    const counter = Value("i", 0);
    const start = new Event();
    const done = new Semaphore(0);
    const ps = [0, 1].map(() =>
      new Process({ target, args: [counter, N, start, done] })
    );
    for (const p of ps) p.start();
    await new Promise((r) => setTimeout(r, 100)); // let both boot
    const t = performance.now();
    start.set();
    await done.acquire();
    await done.acquire();
    const s = (performance.now() - t) / 1000;
    await Promise.all(ps.map((p) => p.join()));
    if (counter.value !== 2 * N) {
      throw new Error(`lost updates: ${counter.value} instead of ${2 * N}`);
    }
    rates.push(2 * N / s);
  }
  return median(rates);
}

function perPair(run: (n: number) => void | Promise<void>) {
  return async () => {
    const times: number[] = [];
    const n = 200_000;
    for (let i = 0; i < 7; i++) {
      const t = performance.now();
      await run(n);
      times.push((performance.now() - t) * 1e6 / n);
    }
    return median(times);
  };
}

export const cases: CompareCase[] = [
  {
    name: "Lock uncontended acquireSync() + release()",
    unit: "ns",
    better: "lower",
    python: [{ script: "synchronize_cases.py", case: "uncontended" }],
    deno: perPair((n) => {
      const lock = new Lock();
      for (let i = 0; i < n; i++) {
        lock.acquireSync();
        lock.release();
      }
    }),
  },
  {
    name: "Lock uncontended await acquire() + release()",
    unit: "ns",
    better: "lower",
    python: [{ script: "synchronize_cases.py", case: "uncontended" }],
    deno: perPair(async (n) => {
      const lock = new Lock();
      for (let i = 0; i < n; i++) {
        await lock.acquire();
        lock.release();
      }
    }),
  },
  {
    name: "2 processes × 100k Lock-guarded Value increments, await acquire()",
    unit: "ops/s",
    better: "higher",
    goal: "≥ 5× Python",
    python: [{ script: "synchronize_cases.py", case: "increments" }],
    deno: () => twoProcesses(bumpAsync),
  },
  {
    name: "2 processes × 100k Lock-guarded Value increments, acquireSync()",
    unit: "ops/s",
    better: "higher",
    goal: "≥ 10× Python",
    python: [{ script: "synchronize_cases.py", case: "increments" }],
    deno: () => twoProcesses(bumpSync as typeof bumpAsync),
  },
];
