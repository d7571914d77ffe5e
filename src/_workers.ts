// Threads for actors: creates the workers that processes and pool workers
// run in, and keeps warm spares so that a start does not pay for a thread's
// boot.
//
// Why `node:worker_threads` and not the web `Worker` (see
// shared/DENO_FACTS.md, re-checked on Deno 2.9.6): a web Worker that spins or
// blocks in `Atomics.wait` survives `terminate()` and keeps the program from
// exiting, it cannot be `unref`'d (so daemon children would keep the program
// alive), and its parent gets no event when it exits. A node worker stops at
// once on `terminate()`, `unref()` gives daemons Python's semantics, and its
// `exit` event carries the exit code. Its slower boot (~30 ms warm against
// ~20 ms) is hidden by the spares below.

import { Worker } from "node:worker_threads";
import { workerBoot } from "./_context.ts";
// Loads the bootstrap's whole module graph in this thread first: two workers
// that fetch the same uncached remote module at once can deadlock Deno's
// loader (seen on 2.9.6 with the module imported over HTTP).
import "./_worker.ts";

const ENTRY = new URL("./_worker.ts", import.meta.url);

/**
 * Node workers accept only `file:` and `data:` URLs; when the module is
 * imported over `https:` (as from JSR) a tiny `data:` module imports the
 * bootstrap instead.
 */
const ENTRY_URL = ENTRY.protocol === "file:" ? ENTRY : new URL(
  `data:text/javascript,${
    encodeURIComponent(`import(${JSON.stringify(ENTRY.href)});`)
  }`,
);

/** Most spares kept at once. */
const MAX_SPARES = 8;

const spares: Worker[] = [];
let spareTarget = 1;
let burst = 0;

const booted = new WeakMap<Worker, Promise<void>>();

function spawnWorker(): Worker {
  const worker = new Worker(ENTRY_URL, { workerData: workerBoot() });
  // The bootstrap posts one message once its modules are loaded.
  booted.set(
    worker,
    new Promise((resolve) => worker.once("message", () => resolve())),
  );
  // A spare is idle: it must never keep the program alive.
  worker.unref();
  // A worker's own errors are handled by its bootstrap; this one catches
  // what escapes it (a failed import), so the parent never crashes.
  worker.on("error", onStrayError);
  return worker;
}

function onStrayError(this: Worker, error: unknown): void {
  // The owner (a Process or Pool) listens too and reports the failure; a
  // spare that dies is simply dropped.
  const index = spares.indexOf(this);
  if (index !== -1) spares.splice(index, 1);
  void error;
}

/**
 * Hands out a fresh worker that has never run anything, so each process
 * gets fresh module globals. It is `unref`'d: the caller `ref()`s it when
 * it must keep the program alive.
 */
export function takeWorker(): Worker {
  if (++burst === 1) queueMicrotask(refillSpares);
  return spares.shift() ?? spawnWorker();
}

/**
 * Refills the spares after a burst of starts; the number kept grows to the
 * largest burst seen (up to {@linkcode MAX_SPARES}), so a program that starts
 * eight processes at once finds eight ready the next time.
 */
function refillSpares(): void {
  spareTarget = Math.min(MAX_SPARES, Math.max(spareTarget, burst));
  burst = 0;
  while (spares.length < spareTarget) spares.push(spawnWorker());
}

/** Ends every spare (used by tests that count threads, and at shutdown). */
export async function dropSpares(): Promise<void> {
  const all = spares.splice(0);
  await Promise.all(all.map((w) => w.terminate()));
}

/** Resolves once every current spare has booted (benchmarks use it). */
export async function whenSparesReady(): Promise<void> {
  await Promise.all(spares.map((w) => booted.get(w)));
}

/** How many spares are booted or booting now. */
export function spareCount(): number {
  return spares.length;
}
