// Rows of `deno task bench:compare` for the manager: sequential awaited
// calls on a managed dict from a process and from the manager's owner, and
// items through a managed queue from a producer process to a consumer
// process.

import {
  type DictProxy,
  type EventProxy,
  Manager,
  Process,
  type QueueProxy,
  registerTargets,
  type ValueProxy,
} from "../mod.ts";
import { whenSparesReady } from "../src/runtime/_spawner_client.ts";
import { type CompareCase, median } from "./_compare.ts";

const COUNT = 5000;

/**
 * 5k sets then 5k gets; stores its operations per second in `out`. Waits
 * for `go` first: starting a process makes the foundation boot a new spare
 * worker thread in the background (~35 ms of CPU on a 2-core machine), which
 * is not the manager's cost.
 */
export async function setsAndGets(
  d: DictProxy<string, number>,
  out: ValueProxy<number>,
  go?: EventProxy,
): Promise<void> {
  await go?.wait();
  const t = performance.now();
  for (let i = 0; i < COUNT; i++) await d.set(`k${i}`, i);
  for (let i = 0; i < COUNT; i++) await d.get(`k${i}`);
  await out.set(2 * COUNT / ((performance.now() - t) / 1000));
}

/** Puts `0..count-1` then `null`. */
export async function produce(q: QueueProxy, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await q.put(i);
  await q.put(null);
}

/** Gets until `null`. */
export async function consume(q: QueueProxy): Promise<void> {
  while (await q.get() !== null) { /* next */ }
}

registerTargets(import.meta, { setsAndGets, produce, consume });

const RUNS = 5;

export const cases: CompareCase[] = [
  {
    name: "Manager dict: 5k sets + 5k gets from a process",
    unit: "ops/s",
    better: "higher",
    goal: "≥ 5× Python",
    python: [{ script: "manager_cases.py", case: "dict_process" }],
    async deno() {
      await using manager = await Manager.start();
      const out = await manager.Value("d", 0);
      const figures: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const d = await manager.dict<string, number>();
        const go = await manager.Event();
        const p = new Process({ target: setsAndGets, args: [d, out, go] });
        p.start();
        await whenSparesReady();
        await go.set();
        await p.join();
        figures.push(await out.get());
      }
      return median(figures);
    },
  },
  {
    name: "Manager dict: 5k sets + 5k gets from the owner",
    unit: "ops/s",
    better: "higher",
    python: [{ script: "manager_cases.py", case: "dict_owner" }],
    async deno() {
      await using manager = await Manager.start();
      const out = await manager.Value("d", 0);
      const figures: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        await setsAndGets(await manager.dict<string, number>(), out);
        figures.push(await out.get());
      }
      return median(figures);
    },
  },
  {
    name: "Manager Queue: 5k items, producer process → consumer process",
    unit: "items/s",
    better: "higher",
    python: [{ script: "manager_cases.py", case: "queue_processes" }],
    async deno() {
      await using manager = await Manager.start();
      const figures: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const q = await manager.Queue();
        await whenSparesReady();
        const t = performance.now();
        const ps = [
          new Process({ target: consume, args: [q] }),
          new Process({ target: produce, args: [q, COUNT] }),
        ];
        for (const p of ps) p.start();
        await Promise.all(ps.map((p) => p.join()));
        figures.push(COUNT / ((performance.now() - t) / 1000));
      }
      return median(figures);
    },
  },
];
