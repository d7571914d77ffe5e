// The bounded buffer: producers and consumers sharing a ring of slots in a
// shared array (a RawArray: the mutex below guards it), with an `empty` semaphore counting free slots, a `full`
// semaphore counting filled ones, and a lock around the ring's indices.
//
//   deno run --allow-read examples/bounded_buffer.ts

import { type CArray, Lock, Process, RawArray, Semaphore } from "../mod.ts";

const SLOTS = 4;
const ITEMS_EACH = 10;

/** The shared state: the ring, its head and tail, and the three primitives. */
export interface Buffer {
  ring: CArray<"i">;
  ends: CArray<"i">; // [head, tail]
  empty: Semaphore;
  full: Semaphore;
  mutex: Lock;
}

export async function producer(buffer: Buffer, id: number): Promise<void> {
  for (let i = 0; i < ITEMS_EACH; i++) {
    const item = id * 100 + i;
    await buffer.empty.acquire(); // wait for a free slot
    {
      using _held = await buffer.mutex.hold();
      const tail = buffer.ends[1];
      buffer.ring[tail] = item;
      buffer.ends[1] = (tail + 1) % SLOTS;
    }
    buffer.full.release(); // one more item to take
  }
}

export async function consumer(buffer: Buffer, count: number): Promise<void> {
  const got: number[] = [];
  for (let i = 0; i < count; i++) {
    await buffer.full.acquire(); // wait for an item
    {
      using _held = await buffer.mutex.hold();
      const head = buffer.ends[0];
      got.push(buffer.ring[head]);
      buffer.ends[0] = (head + 1) % SLOTS;
    }
    buffer.empty.release(); // one more free slot
  }
  console.log(`consumer got ${got.length} items: ${got.join(" ")}`);
}

if (import.meta.main) {
  const buffer: Buffer = {
    ring: RawArray("i", SLOTS),
    ends: RawArray("i", 2),
    empty: new Semaphore(SLOTS),
    full: new Semaphore(0),
    mutex: new Lock(),
  };
  const producers = [1, 2, 3].map((id) =>
    new Process({ target: producer, args: [buffer, id] })
  );
  const consumers = [0, 1].map(() =>
    new Process({ target: consumer, args: [buffer, 15] })
  );
  for (const p of [...producers, ...consumers]) p.start();
  await Promise.all([...producers, ...consumers].map((p) => p.join()));
  console.log("all 30 items passed through a buffer of", SLOTS, "slots");
}
