// A producer and a consumer in a Pool sharing a managed queue, as Python's
// tutorials do with `Pool` workers and `Manager().Queue()` (a plain queue
// cannot be passed to pool tasks in Python; a managed one can, and here a
// plain `Queue` can too).
//
//   deno run --allow-read examples/manager_queue_pool.ts

import { type ListProxy, Manager, Pool, type QueueProxy } from "../mod.ts";

export async function produce(q: QueueProxy<string | null>, count: number) {
  for (let i = 1; i <= count; i++) {
    await q.put(`job ${i}`);
    console.log(`produced job ${i}`);
  }
  await q.put(null); // no more jobs
}

export async function consume(
  q: QueueProxy<string | null>,
  results: ListProxy<string>,
) {
  // get() waits on the manager while the queue is empty.
  for (let job = await q.get(); job !== null; job = await q.get()) {
    await results.append(`${job} done`);
  }
}

if (import.meta.main) {
  await using manager = await Manager.start();
  const q = await manager.Queue<string | null>(2); // put() waits when full
  const results = await manager.list<string>();
  await using pool = new Pool(2);
  const consumer = pool.applyAsync(consume, [q, results]);
  const producer = pool.applyAsync(produce, [q, 5]);
  await producer.get();
  await consumer.get();
  console.log(await results.toArray());
}
