// A managed Semaphore as the server holds it: a real `Semaphore` of this
// module, living in the server's process. A waiting `acquire` is its
// non-blocking acquire retried as the semaphore changes (see waiters.ts).

import { Semaphore } from "../../synchronize/synchronize.ts";
import { AGAIN } from "./waiters.ts";
import {
  type Call,
  deadlineOf,
  noSuchMethod,
  type Served,
  type ServerContext,
} from "./served.ts";

/** Python's managed Semaphore, served. */
export class ServedSemaphore implements Served {
  readonly semaphore: Semaphore;
  readonly #context: ServerContext;

  constructor(value: number, context: ServerContext) {
    this.semaphore = new Semaphore(value);
    this.#context = context;
  }

  invoke(method: string, args: unknown[], call: Call): unknown {
    const semaphore = this.semaphore;
    switch (method) {
      case "acquire": {
        const deadline = deadlineOf(args[0]);
        const attempt = () => semaphore.acquireSync({ block: false });
        if (deadline === 0) return attempt();
        return this.#context.waiters.wait(
          this,
          () => attempt() || AGAIN,
          deadline,
          () => false,
          call,
        );
      }
      case "release":
        return semaphore.release();
      case "getValue":
        return semaphore.getValue();
      default:
        throw noSuchMethod("Semaphore", method);
    }
  }
}
