// Threads for actors: this actor's side of the spawner (see _spawner.ts).
// In the main program it calls the spawner directly; in a process it sends
// the same requests over the process's control port.
//
// Why `node:worker_threads` and not the web `Worker` (see
// shared/DENO_FACTS.md, re-checked on Deno 2.9.6): a web Worker that spins or
// blocks in `Atomics.wait` survives `terminate()` and keeps the program from
// exiting, it cannot be `unref`'d (so daemon children would keep the program
// alive), and its parent gets no event when it exits. A node worker stops at
// once on `terminate()`, `unref()` gives daemons Python's semantics, and its
// `exit` event carries the exit code.

import { isMainThread } from "node:worker_threads";
import { controlPort, workerBoot } from "./_context.ts";
import {
  type Notify,
  Spawner,
  type SpawnerNotice,
  type SpawnerRequest,
} from "./_spawner.ts";
// Loads the bootstrap's whole module graph in this thread first: two threads
// that fetch the same uncached remote module at once can deadlock Deno's
// loader (seen on 2.9.6 with the module imported over HTTP). It is inert
// outside a process's worker.
import "./_worker.ts";

/**
 * Node workers accept only `file:` and `data:` URLs; when the module is
 * imported over `https:` (as from JSR) a tiny `data:` module imports the
 * entry instead.
 */
function entryUrl(relative: string): URL {
  const url = new URL(relative, import.meta.url);
  return url.protocol === "file:" ? url : new URL(
    `data:text/javascript,${
      encodeURIComponent(`import(${JSON.stringify(url.href)});`)
    }`,
  );
}

let spawner: Spawner | undefined;
let listening = false;
const exits = new Map<number, (code: number) => void>();
const readyWaiters = new Map<number, () => void>();
let readyTokens = 0;
let holds = 0;

const notify: Notify = (notice: SpawnerNotice) => {
  if (notice.op === "exit") {
    const done = exits.get(notice.pid);
    exits.delete(notice.pid);
    done?.(notice.code);
  } else {
    readyWaiters.get(notice.token)?.();
    readyWaiters.delete(notice.token);
  }
};

function send(request: SpawnerRequest, transfer: Transferable[] = []): void {
  if (isMainThread) {
    spawner ??= new Spawner(entryUrl("./_worker.ts"), { ...workerBoot() });
    spawner.handle(request, notify);
    return;
  }
  const port = controlPort()!;
  if (!listening) {
    listening = true;
    port.on("message", (message: SpawnerNotice | { role: string }) => {
      if ("op" in message) notify(message); // not this process's start message
    });
    updateRef();
  }
  port.postMessage(request, transfer as never[]);
}

/** What `startChild` needs to start a process. */
export interface ChildStart {
  pid: number;
  name: string;
  daemon: boolean;
  /** The start message the child's bootstrap receives. */
  message: unknown;
  /** Objects moved with the message. */
  transfer: Transferable[];
  /** Called once with the exit code when the child ends. */
  onExit: (code: number) => void;
}

/** Asks the spawner to run a process in a fresh worker thread. */
export function startChild(child: ChildStart): void {
  exits.set(child.pid, child.onExit);
  send({
    op: "start",
    pid: child.pid,
    name: child.name,
    daemon: child.daemon,
    message: child.message,
    transfer: child.transfer,
  }, child.transfer);
}

/** Asks the spawner to end a child's thread at once. */
export function terminateChild(pid: number): void {
  send({ op: "terminate", pid });
}

/**
 * Keeps the program (and this process) alive while someone waits for the
 * child `pid` to end, even a daemon: Python's `join()` of a daemon waits.
 */
export function holdChild(pid: number, delta: 1 | -1): void {
  holds += delta;
  updateRef();
  send({ op: "hold", pid, delta });
}

/** In a process: its control port must keep it alive while it waits. */
function updateRef(): void {
  if (isMainThread || !listening) return;
  const port = controlPort()!;
  if (holds > 0 || exits.size > 0) port.ref();
  else port.unref();
}

/** Resolves once every spare has booted (benchmarks use it). */
export function whenSparesReady(): Promise<void> {
  const token = ++readyTokens;
  const ready = new Promise<void>((resolve) =>
    readyWaiters.set(token, () => resolve())
  );
  send({ op: "ready", token });
  return ready;
}

/**
 * In the main program: ends the spare threads, so that the next start pays
 * a thread's creation (benchmarks of cold starts use it).
 */
export async function dropSpares(): Promise<void> {
  await spawner?.dropSpares();
}
