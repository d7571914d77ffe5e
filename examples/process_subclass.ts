// A Process subclass that overrides run(), with its own constructor
// arguments, as the tutorials' `class MyProcess(Process)` does.
//
//   deno run --allow-read examples/process_subclass.ts

import { Process } from "../mod.ts";

export class Countdown extends Process {
  constructor(readonly from: number, readonly label: string) {
    super();
  }

  override async run(): Promise<void> {
    for (let n = this.from; n > 0; n--) {
      console.log(`${this.name} (${this.label}): ${n}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    console.log(`${this.name} (${this.label}): lift-off`);
  }
}

if (import.meta.main) {
  const rockets = [new Countdown(3, "alpha"), new Countdown(2, "beta")];
  for (const rocket of rockets) rocket.start();
  for (const rocket of rockets) await rocket.join();
  console.log(`exit codes: ${rockets.map((r) => r.exitCode).join(", ")}`);
}
