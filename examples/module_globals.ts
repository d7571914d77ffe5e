// Each process has its own module globals: a change made in a child is not
// seen by the parent, as with Python's processes.
//
//   deno run --allow-read examples/module_globals.ts

import { Process } from "../mod.ts";

export const items: string[] = ["a", "b"];

export function addItem(item: string): void {
  items.push(item);
  console.log(`in the child: ${JSON.stringify(items)}`);
}

if (import.meta.main) {
  const p = new Process({ target: addItem, args: ["c"] });
  p.start();
  await p.join();
  console.log(`in the parent: ${JSON.stringify(items)}`);
}
