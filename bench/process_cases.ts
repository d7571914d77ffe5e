// Rows of `deno task bench:compare` for processes: start + join, one at a
// time and eight at once, and the memory an idle child costs.

import { Process, registerTargets } from "../mod.ts";
import { whenSparesReady } from "../src/runtime/_spawner_client.ts";
import { type CompareCase, median } from "./_compare.ts";

/** Does nothing: the process's cost alone. */
export function nothing(): void {}

/** Says it is up, then blocks until released. */
export function idle(cells: Int32Array): void {
  Atomics.add(cells, 0, 1);
  Atomics.notify(cells, 0);
  Atomics.wait(cells, 1, 0);
}

registerTargets(import.meta, { nothing, idle });

const methods = ["forkserver", "fork", "spawn"].map((method) => ({
  label: method,
  script: "process_cases.py",
  case: method,
}));

async function startJoin(): Promise<void> {
  const p = new Process({ target: nothing });
  p.start();
  await p.join();
}

export const cases: CompareCase[] = [
  {
    name: "Process start + join, one at a time, back to back",
    unit: "ms",
    better: "lower",
    goal: "≤ forkserver",
    python: methods.map((m) => ({ ...m, case: `start_join_seq_${m.case}` })),
    async deno() {
      await startJoin(); // warm the module graph
      const times: number[] = [];
      for (let i = 0; i < 30; i++) {
        const t = performance.now();
        await startJoin();
        times.push(performance.now() - t);
      }
      return median(times);
    },
  },
  {
    name: "Process start + join, one at a time, warm spare ready",
    unit: "ms",
    better: "lower",
    goal: "≤ forkserver",
    python: methods.map((m) => ({ ...m, case: `start_join_seq_${m.case}` })),
    async deno() {
      const times: number[] = [];
      for (let i = 0; i < 30; i++) {
        await whenSparesReady();
        const t = performance.now();
        await startJoin();
        times.push(performance.now() - t);
      }
      return median(times);
    },
  },
  {
    name: "8 processes started at once, until all joined",
    unit: "ms",
    better: "lower",
    goal: "≤ forkserver",
    python: methods.map((m) => ({ ...m, case: `start_join_8_${m.case}` })),
    async deno() {
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        await whenSparesReady();
        const t = performance.now();
        const ps = Array.from(
          { length: 8 },
          () => new Process({ target: nothing }),
        );
        for (const p of ps) p.start();
        await Promise.all(ps.map((p) => p.join()));
        times.push(performance.now() - t);
      }
      return median(times);
    },
  },
  {
    name: "resident memory per idle child (8 children)",
    unit: "MiB",
    better: "lower",
    python: methods.map((m) => ({ ...m, case: `rss_idle_child_${m.case}` })),
    async deno() {
      await whenSparesReady();
      const cells = new Int32Array(new SharedArrayBuffer(8));
      const before = Deno.memoryUsage().rss;
      const ps = Array.from(
        { length: 8 },
        () => new Process({ target: idle, args: [cells] }),
      );
      for (const p of ps) p.start();
      while (Atomics.load(cells, 0) < 8) {
        await Atomics.waitAsync(cells, 0, Atomics.load(cells, 0), 1000).value;
      }
      await whenSparesReady();
      const after = Deno.memoryUsage().rss;
      for (const p of ps) p.terminate();
      await Promise.all(ps.map((p) => p.join()));
      // The spares booted meanwhile count too: charge them to the children.
      return (after - before) / 8 / 2 ** 20;
    },
  },
];
