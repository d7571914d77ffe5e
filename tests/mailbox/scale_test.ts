// Nothing takes the program down: tens of thousands of live Pipes and
// Queues, and a hundred thousand made and dropped, neither crash it (each
// ring once cost two memory mappings of the kernel's 65,530) nor grow it.

import assert from "node:assert/strict";
import { runProgram } from "../_helpers.ts";

Deno.test("50k live Pipes and 20k live Queues, then 100k made and dropped: the program lives and stays flat", async () => {
  const result = await runProgram(
    new URL("./_fixtures/many_pipes.ts", import.meta.url),
    // -A: Deno asks for all permissions to read /proc/self/maps.
    { ms: 60_000, flags: ["-A"] },
  );
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  const figures = JSON.parse(result.stdout);
  assert.equal(figures.live, 70_000);
  // Rings live in one shared heap: the mappings do not grow with them.
  assert.ok(figures.liveMaps < 5_000, `${figures.liveMaps} mappings`);
  const perLive = (figures.liveRss - figures.startRss) / figures.live;
  assert.ok(perLive < 8192, `${perLive} bytes per live Pipe or Queue`);
  // Dropped ones are reclaimed: the heap reuses their records and rings.
  const heapGrowth = figures.endTop - figures.warmTop;
  assert.ok(heapGrowth < 2 ** 20, `the shared heap grew ${heapGrowth} bytes`);
  const rssGrowth = figures.endRss - figures.warmRss;
  assert.ok(rssGrowth < 64 * 2 ** 20, `RSS grew ${rssGrowth} bytes`);
});
