// Who this actor is: the identity of the process running this thread, which
// every other file reads. The main thread is `MainProcess`; a worker learns
// its identity from the start message its parent sends (see _worker.ts).

import { isMainThread, workerData } from "node:worker_threads";

/** What a worker receives when its thread starts, before any role. */
export interface WorkerBoot {
  /** The program's main module, which workers import to find targets. */
  mainModule: string | undefined;
  /** One Int32 cell: the last pid handed out in the whole program. */
  pidCounter: SharedArrayBuffer;
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

const boot: WorkerBoot = isMainThread
  ? {
    mainModule: safeMainModule(),
    pidCounter: new SharedArrayBuffer(4),
  }
  : workerData as WorkerBoot;

const pidCells = new Int32Array(boot.pidCounter);

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
