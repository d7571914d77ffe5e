// A producer and a consumer sharing a managed queue, as Python's tutorials
// do with `Pool` workers and `Manager().Queue()` (a plain queue cannot be
// passed to pool tasks in Python; a managed one can).
//
// The Pool is not part of this branch yet, so the producer and the consumer
// are two Processes; with a Pool, `pool.apply(produce, [q, 5])` and
// `pool.apply(consume, [q, results])` take the same proxies.
//
//   deno run --allow-read examples/manager_queue_pool.ts

import { type ListProxy, Manager, Process, type QueueProxy } from "../mod.ts";

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
  const consumer = new Process({ target: consume, args: [q, results] });
  const producer = new Process({ target: produce, args: [q, 5] });
  consumer.start();
  producer.start();
  await producer.join();
  await consumer.join();
  console.log(await results.toArray());
}
