// Rows of `deno task bench:compare` for Pool: a million tiny items through
// map, the sequential apply round trip, a CPU-bound map against one thread,
// and cold start to the first result. Python's twins use Pool(2) with fork.

import { Pool, registerTargets } from "../mod.ts";
import { dropSpares } from "../src/runtime/_spawner_client.ts";
import { type CompareCase, median } from "./_compare.ts";

/** Python's `abs`. */
export function abs(x: number): number {
  return Math.abs(x);
}

/** Returns its argument: the apply round trip alone. */
export function identity(x: number): number {
  return x;
}

/** A fixed amount of arithmetic (`rounds` iterations): CPU-bound work. */
export function crunch(rounds: number): number {
  let x = 0;
  for (let i = 0; i < rounds; i++) x = (x * 31 + i) % 1_000_003;
  return x;
}

registerTargets(import.meta, { abs, identity, crunch });

const twin = (
  name: string,
) => [{ label: "fork", script: "pool_cases.py", case: name }];

let calibrated: number | undefined;

/**
 * Iterations of `crunch` that take about `ms` in this thread, measured once
 * after the JIT has optimized it, so both rows use the same work.
 */
function calibrate(ms: number): number {
  if (calibrated !== undefined) return calibrated;
  for (let i = 0; i < 5; i++) crunch(2e6);
  let rounds = 1e6;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    crunch(rounds);
    rounds = Math.round(rounds * ms / (performance.now() - t));
  }
  calibrated = rounds;
  return rounds;
}

const CPU_CALLS = 64;
const CPU_MS = 10;

export const cases: CompareCase[] = [
  {
    name: "Pool(2).map(abs, 1,000,000 ints)",
    unit: "ms",
    better: "lower",
    goal: "≤ 0.5× Python",
    python: twin("map_abs"),
    async deno() {
      await using pool = new Pool(2);
      const times: number[] = [];
      for (let i = 0; i < 6; i++) {
        const t = performance.now();
        // Built in the timing, as Python's map builds a list of its range
        // (a loop: Array.from with a mapper is several times slower).
        const input: number[] = [];
        for (let k = 0; k < 1_000_000; k++) input.push(k);
        const out = await pool.map(abs, input);
        if (out.length !== 1_000_000) throw new Error("wrong length");
        if (i > 0) times.push(performance.now() - t); // the first warms up
      }
      return median(times);
    },
  },
  {
    name: "Pool(2).apply round trip, sequential",
    unit: "µs",
    better: "lower",
    goal: "≤ 0.1× Python",
    python: twin("apply_seq"),
    async deno() {
      await using pool = new Pool(2);
      for (let i = 0; i < 2000; i++) await pool.apply(identity, [i]);
      const times: number[] = [];
      for (let round = 0; round < 7; round++) {
        const t = performance.now();
        for (let i = 0; i < 1000; i++) await pool.apply(identity, [i]);
        times.push((performance.now() - t) * 1000 / 1000);
      }
      return median(times);
    },
  },
  {
    name: `Pool(2).map of ${CPU_CALLS} CPU-bound calls (~${CPU_MS} ms each)`,
    unit: "ms",
    better: "lower",
    goal: "≥ 1.9× faster than one thread (next row)",
    python: twin("map_cpu"),
    async deno() {
      const rounds = calibrate(CPU_MS);
      await using pool = new Pool(2);
      await pool.map(crunch, [rounds, rounds]); // warm up both workers
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        await pool.map(crunch, Array(CPU_CALLS).fill(rounds));
        times.push(performance.now() - t);
      }
      return median(times);
    },
  },
  {
    name: `the same ${CPU_CALLS} calls in one thread`,
    unit: "ms",
    better: "lower",
    python: twin("cpu_one_thread"),
    deno() {
      const rounds = calibrate(CPU_MS);
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        for (let k = 0; k < CPU_CALLS; k++) crunch(rounds);
        times.push(performance.now() - t);
      }
      return Promise.resolve(median(times));
    },
  },
  {
    name: "new Pool(2) to the first apply result, no warm threads",
    unit: "ms",
    better: "lower",
    goal: "beside Python",
    python: twin("cold_start"),
    async deno() {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        await dropSpares();
        const t = performance.now();
        const pool = new Pool(2);
        await pool.apply(identity, [1]);
        times.push(performance.now() - t);
        await pool.terminate();
      }
      await dropSpares();
      return median(times);
    },
  },
];
