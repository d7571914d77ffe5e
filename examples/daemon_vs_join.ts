// Daemon children vs join(): the main program waits for the non-daemon
// child, while the daemon child is ended when the program ends.
//
//   deno run --allow-read examples/daemon_vs_join.ts

import { currentProcess, Process } from "../mod.ts";

export async function daemonWork(): Promise<void> {
  const me = currentProcess();
  console.log(`starting ${me.name} (daemon=${me.daemon})`);
  for (;;) await new Promise((resolve) => setTimeout(resolve, 50));
}

export async function regularWork(): Promise<void> {
  const me = currentProcess();
  console.log(`starting ${me.name} (daemon=${me.daemon})`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  console.log(`exiting ${me.name}`);
}

if (import.meta.main) {
  const d = new Process({ name: "daemon", target: daemonWork, daemon: true });
  const n = new Process({ name: "non-daemon", target: regularWork });
  d.start();
  n.start();
  console.log(`d.isAlive() after join(50): ${(await d.join(50), d.isAlive())}`);
  await n.join();
  console.log(
    `non-daemon joined with exitCode ${n.exitCode}; the daemon is ended at exit`,
  );
}
