// `deno task bench`: the cost of a process, as Deno measures it. The same
// cases beside Python's are in process_cases.ts (`deno task bench:compare`).

import { Process } from "../mod.ts";
import { nothing } from "./process_cases.ts";
import { whenSparesReady } from "../src/runtime/_spawner_client.ts";

Deno.bench("Process start + join, back to back", async () => {
  const p = new Process({ target: nothing });
  p.start();
  await p.join();
});

Deno.bench("Process start + join, warm spare ready", async (b) => {
  await whenSparesReady();
  b.start();
  const p = new Process({ target: nothing });
  p.start();
  await p.join();
  b.end();
});
