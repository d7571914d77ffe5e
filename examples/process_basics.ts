// The first program of every multiprocessing tutorial: processes from a
// target, each printing its name and pid beside its parent's.
//
//   deno run --allow-read examples/process_basics.ts

import { currentProcess, getpid, getppid, Process } from "../mod.ts";

export function info(title: string): void {
  console.log(title);
  console.log(`  process name: ${currentProcess().name}`);
  console.log(`  parent pid:   ${getppid()}`);
  console.log(`  pid:          ${getpid()}`);
}

export function greet(name: string): void {
  info("function greet");
  console.log(`  hello ${name}`);
}

if (import.meta.main) {
  info("main line");
  const p = new Process({ target: greet, args: ["bob"] });
  p.start();
  await p.join();
  console.log(`${p.name} ended with exitCode ${p.exitCode}`);
}
