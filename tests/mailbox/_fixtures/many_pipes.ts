// Run by scale_test.ts as its own program: holds 50k live Pipes and 20k
// live Queues (each used once), then makes and drops 100k more Pipes and
// Queues, and prints what it cost as JSON.

import { Pipe, Queue } from "../../../mod.ts";
import { heap } from "../../../src/mailbox/_heap.ts";

const rss = () => Deno.memoryUsage().rss;
const maps = () => Deno.readTextFileSync("/proc/self/maps").split("\n").length;
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

const startRss = rss();
const live = [];
for (let i = 0; i < 50_000; i++) {
  const [a, b] = Pipe();
  a.send(i);
  if (b.recvSync() !== i) throw new Error("lost a message");
  live.push(a, b);
}
const queues = [];
for (let i = 0; i < 20_000; i++) {
  const q = new Queue();
  q.putNowait(i);
  queues.push(q);
}
const liveRss = rss();
const liveMaps = maps();

async function cycles(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const [a, b] = Pipe();
    a.send("x");
    b.recvSync();
    const q = new Queue();
    q.putNowait(i);
    if (i % 1000 === 999) await turn(); // dropped handles' finalizers run
  }
}
await cycles(20_000); // warm up: the heap and V8 reach their working size
const warmRss = rss();
const warmTop = heap().top;
await cycles(80_000);
const endRss = rss();
const endTop = heap().top;
console.log(JSON.stringify({
  startRss,
  liveRss,
  liveMaps,
  warmRss,
  endRss,
  warmTop: warmTop * 4,
  endTop: endTop * 4,
  live: live.length / 2 + queues.length,
}));
