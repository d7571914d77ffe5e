// The actor's bootstrap: the entry module of every worker thread. It waits
// for the one start message that gives the worker its role, and makes sure
// that whatever the code it runs leaves behind (an uncaught error, a
// rejected promise, a timer) ends this process with a printed report and an
// exit code, never the parent.

import { isMainThread, threadId, workerData } from "node:worker_threads";
import {
  controlPort,
  currentIdentity,
  endThisProcess,
  isWorkerBoot,
} from "./_context.ts";
import {
  formatError,
  type ProcessStart,
  runAsChild,
} from "../process/process.ts";
// Every shareable type registers its reducer when its module is evaluated;
// importing the public entry makes all of them known before any argument is
// revived, whatever the target's module imports.
import "../../mod.ts";

/** The roles a worker can take; pools and managers add theirs here. */
type StartMessage = ProcessStart;

function fail(error: unknown): never {
  console.error(`Process ${currentIdentity().name}:\n${formatError(error)}`);
  endThisProcess(1);
}

// The main thread imports this module too (see _workers.ts), so that every
// module a worker needs is loaded before the first worker starts; there it
// does nothing.
if (!isMainThread && isWorkerBoot(workerData)) boot();

function boot(): void {
  addEventListener("error", (event) => {
    event.preventDefault();
    fail((event as ErrorEvent).error ?? (event as ErrorEvent).message);
  });
  addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    fail((event as PromiseRejectionEvent).reason);
  });

  // Why a Web Lock held for the thread's whole life: Deno's
  // `worker.terminate()` does not stop running JavaScript (a loop goes on
  // writing into shared memory after the promise resolved), except in a
  // thread that holds a Web Lock: dropping its handle then calls V8's
  // `TerminateExecution`, and the thread stops at once, spinning or parked
  // in `Atomics.wait` (checked on Deno 2.9.6; shared/DENO_FACTS.md). The
  // user's code runs in tasks of its own (port messages), never inside the
  // lock's callback, so the termination prints nothing.
  (navigator as unknown as { locks: WebLocks }).locks.request(
    `multiprocessing-thread-${threadId}-${crypto.randomUUID()}`,
    () => {
      // Out of the callback's task at once: a thread terminated while it
      // runs the callback prints "execution terminated" (seen under load).
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = () => {
        port1.close();
        listen();
      };
      port2.postMessage(null);
      port2.close();
      return new Promise<never>(() => {});
    },
  );
}

/** The part of the Web Locks API used here (Deno's types lack it). */
interface WebLocks {
  request(name: string, callback: () => Promise<never>): Promise<never>;
}

function listen(): void {
  // Everything to and from the spawner goes over this worker's channel to
  // it (see _spawner.ts), which later carries this process's own requests.
  const spawner = controlPort()!;
  spawner.once("message", (message: StartMessage) => {
    switch (message.role) {
      case "process":
        runAsChild(message).catch(fail);
        break;
      default:
        fail(
          new TypeError(
            `worker received an unknown role ${
              JSON.stringify((message as { role: unknown }).role)
            }`,
          ),
        );
    }
  });
  spawner.postMessage({ booted: true });
}
