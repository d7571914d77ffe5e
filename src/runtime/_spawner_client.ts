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

import {
  isMainThread,
  type MessagePort,
  receiveMessageOnPort,
} from "node:worker_threads";
import { controlPort, workerBoot } from "./_context.ts";
import { TimeoutError } from "../errors.ts";
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
import "./_child_entry.ts";

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
  } else if (notice.op === "reply") {
    // The answer to a request askSpawner() gave up waiting for: moot.
  } else {
    readyWaiters.get(notice.token)?.();
    readyWaiters.delete(notice.token);
  }
};

function send(request: SpawnerRequest, transfer: Transferable[] = []): void {
  if (isMainThread) {
    spawner ??= new Spawner(entryUrl("./_child_entry.ts"), { ...workerBoot() });
    spawner.handle(request, notify);
    return;
  }
  listen().postMessage(request, transfer as never[]);
}

/** In a process: its control port, with the notice listener installed. */
function listen(): MessagePort {
  const port = controlPort()!;
  if (!listening) {
    listening = true;
    port.on("message", (message: SpawnerNotice | { role: string }) => {
      if ("op" in message) notify(message); // not this process's start message
    });
    updateRef();
  }
  return port;
}

/**
 * In a process: posts a request that needs no answer (in the main program
 * the caller serves it directly instead).
 */
export function tellSpawner(request: SpawnerRequest): void {
  if (isMainThread) throw new Error("tellSpawner() is for processes");
  send(request);
}

/** Per process: the cell the spawner flags when an answer is posted. */
const replyCell = new Int32Array(new SharedArrayBuffer(4));
let replySeq = 0;

/** How long `askSpawner` waits at most, and the slices it waits in. */
const ASK_TIMEOUT_MS = 10_000;
const ASK_SLICE_MS = 50;

/**
 * In a process: posts `request` and blocks this thread until the main
 * thread answers it, for APIs that must stay synchronous (a SharedMemory
 * attached by name). The answer is taken off the control port with
 * `receiveMessageOnPort`; every other message pulled off meanwhile (a
 * child's exit, say) is dispatched as the listener would, in order, once
 * the caller's synchronous code is done. The main thread answers in its
 * event loop, so while it is itself blocked (in a sync wait, a long loop)
 * the request cannot be served: after `ASK_TIMEOUT_MS` this throws
 * `TimeoutError` with `what` in its message.
 */
export function askSpawner(
  request: Extract<SpawnerRequest, { op: "shm" }>,
  what: string,
): unknown {
  if (isMainThread) throw new Error("askSpawner() is for processes");
  const port = listen();
  const seq = replySeq = (replySeq % 0x7fff_fffe) + 1;
  port.postMessage({ ...request, seq, reply: replyCell.buffer });
  const end = performance.now() + ASK_TIMEOUT_MS;
  for (;;) {
    // Read before looking, so that a flag set after the look wakes the wait.
    const flagged = Atomics.load(replyCell, 0);
    let received;
    while ((received = receiveMessageOnPort(port as never)) !== undefined) {
      const message = received.message as SpawnerNotice | { role: string };
      if (!("op" in message)) continue;
      if (message.op === "reply") {
        if (message.seq === seq) return message.value;
        continue; // an answer given up on earlier
      }
      // A microtask keeps these ahead of whatever the listener gets next
      // (notices concern distinct children or tokens: their order among
      // themselves does not matter anyway).
      queueMicrotask(() => notify(message));
    }
    const left = end - performance.now();
    if (left <= 0) {
      throw new TimeoutError(
        `${what}: the main thread did not answer within ${ASK_TIMEOUT_MS} ms (it serves these requests in its event loop: is it blocked in synchronous code?)`,
      );
    }
    Atomics.wait(replyCell, 0, flagged, Math.min(ASK_SLICE_MS, left));
  }
}

/**
 * In the main program: takes in the messages processes have already
 * posted (see `Spawner.drainPending`).
 */
export function drainChildren(): void {
  spawner?.drainPending();
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
