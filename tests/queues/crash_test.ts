// Death never corrupts a queue: producers stopped at random instructions
// (inside put, holding the ring's lock, mid-copy, mid-grow) leave every
// survivor an exact FIFO prefix of each producer's items, with no
// duplicate, no torn item and no runaway growth.

import assert from "node:assert/strict";
import { Empty, Process, Queue } from "../../mod.ts";
import { checkSync, putUntilKilled } from "./_fixtures/targets.ts";
import { assertNoChildren, until } from "../_helpers.ts";
import { heap } from "../../src/mailbox/_heap.ts";

const ROUNDS = 10;
const PRODUCERS = 3;
const ITEMS = 20_000;

type Item = [number, number, string];

/** Checks one item against what its producer must send next. */
function check(item: Item, next: number[]): void {
  assert.ok(Array.isArray(item) && item.length === 3, `torn: ${item}`);
  const [id, i, payload] = item;
  assert.equal(i, next[id], `producer ${id}: expected item ${next[id]}`);
  assert.equal(payload, "x".repeat(i % 97), `producer ${id}: torn payload`);
  next[id] = i + 1;
}

/** Terminates each producer once it has put a random number of items. */
async function killAtRandom(processes: Process[], done: Int32Array) {
  await Promise.all(processes.map(async (p, id) => {
    const target = 1 + Math.floor(Math.random() * ITEMS * 0.6);
    await until(() => Atomics.load(done, id) >= target, 20_000, "its puts");
    p.terminate();
    await p.join();
  }));
}

Deno.test("producers terminated at random points leave exact FIFO prefixes, no duplicate, no torn item", async () => {
  const top = heap().top;
  for (let round = 0; round < ROUNDS; round++) {
    const q = new Queue<Item | null>();
    const done = new Int32Array(new SharedArrayBuffer(4 * PRODUCERS));
    const useAsync = round % 2 === 1;
    const producers = Array.from(
      { length: PRODUCERS },
      (_, id) =>
        new Process({
          target: putUntilKilled,
          args: [q, id, ITEMS, useAsync, done],
        }),
    );
    const next = new Array(PRODUCERS).fill(0);
    let killing = true;
    let consumed: Promise<void>;
    let results: Queue<number[]> | undefined;
    let checker: Process | undefined;
    if (round % 4 < 2) {
      // This thread consumes while its children die: its gets must never
      // block it on a lock whose dead holder only its event loop records.
      consumed = (async () => {
        while (killing || !q.empty()) {
          try {
            check(await q.get({ timeout: 20 }) as Item, next);
          } catch (error) {
            if (!(error instanceof Empty)) throw error;
          }
        }
      })();
    } else {
      // A child consumes with getSync: it takes over from dead holders.
      results = new Queue<number[]>();
      checker = new Process({
        target: checkSync,
        args: [q, PRODUCERS, results],
      });
      checker.start();
      consumed = Promise.resolve();
    }
    for (const p of producers) p.start();
    await killAtRandom(producers, done);
    killing = false;
    await consumed;
    if (checker !== undefined) {
      await q.put(null);
      const report = await results!.get({ timeout: 20_000 });
      assert.equal(report[PRODUCERS], 0, `round ${round}: problems`);
      next.splice(0, PRODUCERS, ...report.slice(0, PRODUCERS));
      await checker.join();
    }
    for (let id = 0; id < PRODUCERS; id++) {
      const counted = Atomics.load(done, id);
      // The put it was in when stopped is wholly there or not at all.
      assert.ok(
        next[id] === counted || (next[id] === counted + 1 && counted < ITEMS),
        `round ${round}, producer ${id}: ${next[id]} items for ${counted} puts`,
      );
    }
    // The queue works on: its lock, journal and memory are whole.
    await q.put([0, 0, ""]);
    assert.deepEqual(await q.get({ timeout: 1000 }), [0, 0, ""]);
    assert.equal(q.qsize(), 0);
    q.close();
    results?.close();
  }
  // No runaway growth: a round holds at most ~4 MB of items, and later
  // rounds reuse what earlier ones freed (power-of-two blocks).
  const grown = (heap().top - top) * 4;
  assert.ok(grown < 64 * 2 ** 20, `the heap grew by ${grown} bytes`);
  assertNoChildren();
});
