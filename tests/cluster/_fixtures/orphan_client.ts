// A client that submits a long task and more behind it, says so, and waits
// to be killed: its work must not outlive it (tests/cluster/worker_test.ts).

import { ClusterPool } from "../../../src/cluster/mod.ts";
import { burn, square } from "./tasks.ts";

const [url, name] = Deno.args;
const pool = await ClusterPool.connect(url, { name, leaseMs: 1000 });
// Its liveness lasts 5 s (the floor) once it stops renewing it.
pool.applyAsync(burn, [120_000]);
for (let i = 0; i < 20; i++) pool.applyAsync(square, [i]);
console.log("submitted");
await new Promise(() => {}); // until SIGKILL
