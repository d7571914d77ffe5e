// A long imap run with a live progress bar: results arrive in order as the
// workers finish them, and the bar is redrawn in place.
//
//   deno run --allow-read examples/pool_imap_progress.ts

import { Pool } from "../mod.ts";

/** About 5 ms of arithmetic, then the sum of the digits of `n`. */
export function digitSum(n: number): number {
  const end = performance.now() + 5;
  while (performance.now() < end) { /* busy */ }
  return String(n).split("").reduce((sum, d) => sum + Number(d), 0);
}

const encoder = new TextEncoder();
const interactive = Deno.stdout.isTerminal();

function draw(done: number, total: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const bar = `[${"#".repeat(filled)}${
    ".".repeat(width - filled)
  }] ${done}/${total}`;
  // On a terminal, "\r" redraws the line; in a log, print every 10%.
  if (interactive) Deno.stdout.writeSync(encoder.encode(`\r${bar}`));
  else if (done === total || done % (total / 10) === 0) console.log(bar);
}

if (import.meta.main) {
  const total = 400;
  await using pool = new Pool(2);
  let done = 0;
  let sum = 0;
  const numbers = Array.from({ length: total }, (_, i) => i * 7919);
  for await (const value of pool.imap(digitSum, numbers, 4)) {
    sum += value;
    draw(++done, total);
  }
  if (interactive) console.log();
  console.log(`sum of digit sums: ${sum}`);
}
