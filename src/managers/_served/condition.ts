// A managed Condition as the server holds it: over a served lock (its own
// RLock, or a managed Lock/RLock given to `Condition(lock)`).
//
// Shaped for proxies, not a real `Condition`: a condition's waiter is a
// client, which a condition in the server's process cannot tell from
// another (they would all be the server). So the served condition keeps its
// waiting clients in order, and a woken waiter takes the served lock back
// for its client, as Python's `Condition.wait` does — also after a timeout,
// and after the caller withdrew the call (a client that ended takes
// nothing back).

import { ProcessError } from "../../errors.ts";
import type { ServedLock } from "./lock.ts";
import { AGAIN } from "./waiters.ts";
import {
  type Call,
  deadlineOf,
  noSuchMethod,
  type Served,
  type ServerContext,
} from "./served.ts";

interface Sleeper {
  pid: number;
  notified: boolean;
}

/** Python's managed Condition, served. */
export class ServedCondition implements Served {
  readonly lock: ServedLock;
  readonly related: readonly object[];
  readonly #context: ServerContext;
  readonly #sleepers: Sleeper[] = [];

  constructor(lock: ServedLock, context: ServerContext) {
    this.lock = lock;
    this.related = [lock];
    this.#context = context;
  }

  invoke(method: string, args: unknown[], call: Call): unknown {
    switch (method) {
      case "acquire":
        return this.lock.acquire(call, args[0], 1);
      case "release":
        return this.lock.release(call.caller);
      case "wait":
        this.#check(call, "wait");
        return this.#wait(call, args[0]);
      case "notify":
        this.#check(call, "notify");
        return this.#notify((args[0] as number | undefined) ?? 1);
      case "notifyAll":
        this.#check(call, "notify");
        return this.#notify(Infinity);
      default:
        throw noSuchMethod("Condition", method);
    }
  }

  #check(call: Call, method: string): void {
    if (!this.lock.holds(call.caller)) {
      throw new ProcessError(
        `cannot ${method} on a Condition whose lock this process does not hold: acquire it first`,
      );
    }
  }

  async #wait(call: Call, options: unknown): Promise<boolean> {
    const deadline = deadlineOf(options);
    const saved = this.lock.releaseAll(call.caller);
    const sleeper: Sleeper = { pid: call.caller, notified: false };
    this.#sleepers.push(sleeper);
    let notified = false;
    let failure: { error: unknown } | undefined;
    try {
      notified = await this.#context.waiters.wait(
        this,
        () => sleeper.notified || AGAIN,
        deadline,
        () => false,
        call,
      );
    } catch (error) {
      failure = { error };
    } finally {
      const at = this.#sleepers.indexOf(sleeper);
      if (at !== -1) this.#sleepers.splice(at, 1);
    }
    if (!call.ended.aborted) {
      await this.lock.acquire(call, undefined, saved, call.ended);
    }
    if (failure) throw failure.error;
    return notified;
  }

  #notify(n: number): void {
    for (const sleeper of this.#sleepers) {
      if (n <= 0) break;
      if (sleeper.notified) continue;
      sleeper.notified = true;
      n--;
    }
  }
}
