// Measures what an idle manager and a process parked in a managed call
// cost: each thread's CPU time and how often it ran, over a window, from
// /proc/self/task/*/schedstat (ns of CPU, timeslices run). Prints JSON.
//
//   deno run --allow-read tests/managers/_fixtures/idle_cost.ts

import {
  type EventProxy,
  Manager,
  Process,
  type QueueProxy,
  registerTargets,
} from "../../../mod.ts";
import { whenSparesReady } from "../../../src/runtime/_spawner_client.ts";

/** Parks in a managed get until an item comes. */
export async function parkInGet(q: QueueProxy, started: EventProxy) {
  await started.set();
  await q.get();
}

registerTargets(import.meta, { parkInGet });

interface Sample {
  name: string;
  ns: number;
  runs: number;
}

function sample(): Map<string, Sample> {
  const threads = new Map<string, Sample>();
  for (const { name: tid } of Deno.readDirSync("/proc/self/task")) {
    try {
      const [ns, , runs] = Deno.readTextFileSync(
        `/proc/self/task/${tid}/schedstat`,
      ).trim().split(" ").map(Number);
      const name = Deno.readTextFileSync(`/proc/self/task/${tid}/comm`).trim();
      threads.set(tid, { name, ns, runs });
    } catch { /* a thread that ended */ }
  }
  return threads;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (import.meta.main) {
  const windowMs = Number(Deno.args[0] ?? 3000);
  const manager = await Manager.start();
  const q = await manager.Queue();
  const started = await manager.Event();
  const p = new Process({ target: parkInGet, args: [q, started] });
  p.start();
  await started.wait();
  await q.qsize(); // the child's get now waits on the server
  await whenSparesReady();
  await delay(500); // the server falls asleep; spares settle
  const before = sample();
  await delay(windowMs);
  const after = sample();
  const threads = [];
  for (const [tid, end] of after) {
    const start = before.get(tid);
    if (start === undefined || tid === String(Deno.pid)) continue;
    threads.push({
      tid,
      name: end.name,
      cpuMs: (end.ns - start.ns) / 1e6,
      runs: end.runs - start.runs,
    });
  }
  await q.put("done");
  await p.join();
  await manager.shutdown();
  console.log(JSON.stringify({ windowMs, threads }));
}
