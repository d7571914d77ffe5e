// Who this actor is: the identity of the process running this thread, which
// every other file reads. The main thread is `MainProcess`; a worker learns
// its identity from the start message its parent sends (see _child_entry.ts).

import process from "node:process";
import {
  isMainThread,
  type MessagePort,
  workerData,
} from "node:worker_threads";
import { bump } from "../core/park.ts";

/** Processes whose liveness is tracked; later pids are assumed alive. */
const PID_SLOTS = 1 << 20;
const ALIVE = 1;
const ENDED = 2;

/** What a worker receives when its thread starts, before any role. */
export interface WorkerBoot {
  /** Marks the data as this module's (another library's worker may import it). */
  multiprocessing: 1;
  /** The program's main module, which workers import to find targets. */
  mainModule: string | undefined;
  /**
   * Two Int32 cells: the last pid handed out in the whole program, and the
   * number of processes seen to end (see {@linkcode endingsCell}).
   */
  pidCounter: SharedArrayBuffer;
  /** One byte per pid (indexed by `pid - Deno.pid`): 1 alive, 2 ended. */
  pidStates: SharedArrayBuffer;
  /**
   * The program's shared heap, where every Queue and Pipe lives (see
   * mailbox/_heap.ts): one growable buffer mapped by every process from its
   * first instruction, so that a ring that grows, or one created by any
   * process, is reachable everywhere without handing buffers around.
   */
  heap: SharedArrayBuffer;
}

/** The identity of the process this thread runs. */
export interface Identity {
  name: string;
  pid: number;
  ppid: number;
  daemon: boolean;
  /** Python's `_identity`: (1,), (1, 2), … names children `Process-1:2`. */
  path: number[];
}

/**
 * The heap's address space is reserved up front (a growable buffer costs
 * two memory mappings whatever its size, and commits memory only as it
 * grows): 8 GiB keeps every cell index a positive Int32.
 */
const HEAP_MAX_BYTES = 8 * 2 ** 30;
const HEAP_INITIAL_BYTES = 64 * 1024;

function freshBoot(mainModule: string | undefined): WorkerBoot {
  return {
    multiprocessing: 1,
    mainModule,
    pidCounter: new SharedArrayBuffer(8),
    pidStates: new SharedArrayBuffer(PID_SLOTS),
    heap: new SharedArrayBuffer(HEAP_INITIAL_BYTES, {
      maxByteLength: HEAP_MAX_BYTES,
    }),
  };
}

const boot: WorkerBoot = isMainThread
  ? freshBoot(safeMainModule())
  : isWorkerBoot(workerData)
  ? workerData
  : freshBoot(undefined);

/** Whether a worker's `workerData` came from this module. */
export function isWorkerBoot(data: unknown): data is WorkerBoot {
  return (data as WorkerBoot | undefined)?.multiprocessing === 1;
}

const pidCells = new Int32Array(boot.pidCounter);
const pidStates = new Uint8Array(boot.pidStates);

let identity: Identity = {
  name: "MainProcess",
  pid: Deno.pid,
  ppid: safePpid(),
  daemon: false,
  path: [],
};

function safeMainModule(): string | undefined {
  try {
    return Deno.mainModule;
  } catch {
    return undefined;
  }
}

function safePpid(): number {
  try {
    return Deno.ppid;
  } catch {
    return 0;
  }
}

/** What a new worker needs to know about the program. */
export function workerBoot(): WorkerBoot {
  return boot;
}

/** The main module's URL, in the main thread and in every worker. */
export function mainModuleUrl(): string | undefined {
  return boot.mainModule;
}

/**
 * A pid for a new child, unique in the whole program: children are threads
 * of this OS process, numbered after it.
 */
export function allocatePid(): number {
  return Deno.pid + Atomics.add(pidCells, 0, 1) + 1;
}

/** This actor's identity. */
export function currentIdentity(): Identity {
  return identity;
}

/** Set once by the worker bootstrap, before the target runs. */
export function setCurrentIdentity(next: Identity): void {
  identity = next;
}

let childCounter = 0;

/** The identity path of the next child this process creates. */
export function nextChildPath(): number[] {
  return [...identity.path, ++childCounter];
}

/** Records that the process `pid` is running (its parent calls this). */
export function markAlive(pid: number): void {
  const slot = pid - Deno.pid;
  if (slot > 0 && slot < PID_SLOTS) Atomics.store(pidStates, slot, ALIVE);
}

/** Records that the process `pid` has ended, however it ended. */
export function markEnded(pid: number): void {
  const slot = pid - Deno.pid;
  if (slot <= 0 || slot >= PID_SLOTS) return;
  if (Atomics.exchange(pidStates, slot, ENDED) === ENDED) return;
  bump(pidCells, ENDINGS); // after the store: whoever wakes sees it ended
}

/** The cell of `pidCounter` that counts the processes seen to end. */
const ENDINGS = 1;

/**
 * The cell that changes (and is woken) each time a process of the program
 * is seen to end: a waiter that must notice a peer's death (a reader
 * waiting for EOF) watches it besides its own cell, instead of polling.
 */
export function endingsCell(): { cells: Int32Array; index: number } {
  return { cells: pidCells, index: ENDINGS };
}

/** The program's shared heap (see {@linkcode WorkerBoot.heap}). */
export function programHeap(): SharedArrayBuffer {
  return boot.heap;
}

/**
 * Whether the process `pid` may still run: `false` only once its parent saw
 * it end. Locks and connections use it to detect an owner or peer that died
 * (a process ended together with its parent is reported by its parent's
 * parent only as far as the parent itself).
 */
export function isPidAlive(pid: number): boolean {
  const slot = pid - Deno.pid;
  if (slot <= 0 || slot >= PID_SLOTS) return true;
  return Atomics.load(pidStates, slot) !== ENDED;
}

const exitHooks: (() => void | Promise<void>)[] = [];

/**
 * Runs `hook` when this process ends normally, after its target and before
 * its thread stops (Python's `util.Finalize` at exit). In the main program
 * it is never called: the program's own end needs no flush here.
 */
export function atProcessExit(hook: () => void | Promise<void>): void {
  exitHooks.push(hook);
}

/** Runs the exit hooks, in reverse order of registration. */
export async function runExitHooks(): Promise<void> {
  for (const hook of exitHooks.splice(0).reverse()) await hook();
}

/**
 * Ends this worker's process with `code`, telling the parent first: a node
 * worker's own `exit` event comes ~30 ms after the thread stops running
 * code (its teardown), and `join()` should not wait for that.
 */
export function endThisProcess(code: number): never {
  controlPort()?.postMessage({ [EXIT_KEY]: code });
  process.exit(code);
}

/** The key of the message a child posts as it ends. */
export const EXIT_KEY = "multiprocessingExit";

/** In a process's worker: its control port to the spawner (see _spawner.ts). */
export function controlPort(): MessagePort | undefined {
  return (workerData as { controlPort?: MessagePort } | null)?.controlPort;
}
