// Two writers and a reader share one Queue: the writers put their lines,
// the reader prints whatever arrives, and the main program terminates the
// reader once both writers are joined and the queue is drained.
//
//   deno run --allow-read examples/queue_writers_reader.ts

import { currentProcess, Process, Queue } from "../mod.ts";

export async function writer(queue: Queue<string>, count: number) {
  for (let i = 0; i < count; i++) {
    await queue.put(`${currentProcess().name} says hello #${i}`);
  }
}

export async function reader(queue: Queue<string>) {
  while (true) console.log(`reader got: ${await queue.get()}`);
}

if (import.meta.main) {
  const queue = new Queue<string>();
  const readerProcess = new Process({ target: reader, args: [queue] });
  readerProcess.start();
  const writers = [1, 2].map((n) =>
    new Process({ target: writer, args: [queue, 3], name: `writer-${n}` })
  );
  for (const w of writers) w.start();
  for (const w of writers) await w.join();
  // The writers are done; let the reader drain the queue, then stop it.
  while (!queue.empty()) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  readerProcess.terminate();
  await readerProcess.join();
  console.log(`reader ended with exitCode ${readerProcess.exitCode}`);
}
