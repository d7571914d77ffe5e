// A managed Lock or RLock as the server holds it: a real `Lock` of this
// module, plus which client holds it.
//
// Shaped for proxies: every call reaches the lock from the server's
// process, so the lock itself would see one owner (the server). The served
// lock keeps the client's pid (and, for an RLock, how many times it holds
// it) beside the real lock, which holds the state that matters: whether it
// is held. So a misuse is the real lock's own error (releasing an unlocked
// Lock), and a lock whose client ended passes to the next acquirer with a
// `LockOwnerDiedError`, as a local lock does.

import { Lock } from "../../synchronize/synchronize.ts";
import { isPidAlive } from "../../runtime/_context.ts";
import { LockOwnerDiedError, ProcessError } from "../../errors.ts";
import { AGAIN } from "./waiters.ts";
import {
  type Call,
  deadlineOf,
  noSuchMethod,
  type Served,
  type ServerContext,
} from "./served.ts";

/** Python's managed Lock (`recursive: false`) or RLock, served. */
export class ServedLock implements Served {
  readonly lock = new Lock();
  readonly recursive: boolean;
  readonly #context: ServerContext;
  #owner = 0;
  #depth = 0;

  constructor(recursive: boolean, context: ServerContext) {
    this.recursive = recursive;
    this.#context = context;
  }

  get #name(): string {
    return this.recursive ? "RLock" : "Lock";
  }

  invoke(method: string, args: unknown[], call: Call): unknown {
    switch (method) {
      case "acquire":
        return this.acquire(call, args[0], 1);
      case "release":
        return this.release(call.caller);
      case "locked":
        return this.lock.locked();
      default:
        throw noSuchMethod(this.#name, method);
    }
  }

  /**
   * Acquires for `call`'s client (`depth` levels at once, to restore an
   * RLock after a condition wait); resolves `true`, or `false` when not
   * blocking or on timeout. `signal` withdraws it (the call's by default).
   */
  acquire(
    call: Call,
    options: unknown,
    depth: number,
    signal?: AbortSignal,
  ): boolean | Promise<boolean> {
    const deadline = deadlineOf(options);
    if (deadline === 0) return this.tryAcquire(call.caller, depth);
    return this.#context.waiters.wait(
      this,
      () => this.tryAcquire(call.caller, depth) || AGAIN,
      deadline,
      () => false,
      call,
      signal,
    );
  }

  /**
   * Takes the lock for `pid` if it can; a lock whose holder ended is taken
   * over, and a `LockOwnerDiedError` says so (the caller holds it then).
   */
  tryAcquire(pid: number, depth: number): boolean {
    if (this.recursive && this.#depth > 0 && this.#owner === pid) {
      this.#depth += depth;
      return true;
    }
    if (this.lock.acquireSync({ block: false })) {
      this.#owner = pid;
      this.#depth = depth;
      return true;
    }
    const owner = this.#owner;
    if (owner !== 0 && !isPidAlive(owner)) {
      this.#owner = pid;
      this.#depth = depth;
      throw new LockOwnerDiedError(
        `${this.#name}'s owner (process ${owner}) ended while holding it; this process now owns it: repair the data it guards, then release() it`,
      );
    }
    return false;
  }

  /** Releases one level for `pid`; an RLock only for its owner. */
  release(pid: number): void {
    if (this.recursive) {
      if (this.#depth === 0 || this.#owner !== pid) {
        throw new ProcessError(
          this.#depth === 0
            ? "cannot release an un-acquired RLock"
            : `cannot release an RLock held by process ${this.#owner} from process ${pid}`,
        );
      }
      if (--this.#depth > 0) return;
    }
    this.lock.release(); // a Lock that is not held throws, as locally
    this.#owner = 0;
    this.#depth = 0;
  }

  /** Whether `pid` may wait on a condition over this lock. */
  holds(pid: number): boolean {
    return this.recursive ? this.#depth > 0 && this.#owner === pid : (
      this.lock.locked()
    );
  }

  /** Releases every level held by `pid`; returns how many, to restore. */
  releaseAll(pid: number): number {
    const depth = this.recursive ? this.#depth : 1;
    if (this.recursive) this.#depth = 1;
    this.release(pid);
    return depth;
  }
}
