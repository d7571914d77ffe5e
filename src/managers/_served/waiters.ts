// The server's waiting calls: a `get` on an empty queue, an `acquire` of a
// held lock, an `Event.wait`… Each is an attempt (the real object's
// non-blocking method: `getNowait`, `acquireSync({ block: false })`, …)
// that returns `AGAIN` while it must wait, as park.ts's `retry` does.
//
// Why not park each waiting call on the real object's cells: only the
// server touches a managed object, so every change to it is a call the
// server just served. The server re-runs the attempts of the calls waiting
// on an object right after each call on it (oldest first, which keeps them
// fair), and once a slice for what nobody announces (a lock owner that
// ended). A waiting call then costs no timer and no wake-up of its own:
// the server's one wait is on its doorbell (see _server.ts).

import { AGAIN } from "../../core/park.ts";
import { isPidAlive } from "../../runtime/_context.ts";
import { ProcessError } from "../../errors.ts";
export { AGAIN };

/** Who waits: the calling process, and what withdraws its call. */
export interface Caller {
  /** The calling process's pid. */
  readonly caller: number;
  /** Aborted when the call is withdrawn. */
  readonly signal: AbortSignal;
}

/** One waiting call. */
interface Waiter {
  caller: number;
  attempt: () => unknown;
  deadline: number;
  onTimeout: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
  key: object;
  /** Told at once when the call settles (see `whenSettled`). */
  onSettled?: (ok: boolean, value: unknown) => void;
}

/** The calls waiting on the server's objects, by the object they wait on. */
export class Waiters {
  readonly #byKey = new Map<object, Waiter[]>();
  readonly #byPromise = new WeakMap<Promise<unknown>, Waiter>();
  #size = 0;
  /** A call settled that only its promise's reactions learn of. */
  #unheard = false;

  /** How many calls wait. */
  get size(): number {
    return this.#size;
  }

  /**
   * Runs `attempt` now, and again after each change of `key` until it
   * returns something other than `AGAIN` (or throws); settles with
   * `onTimeout()` once `deadline` (a `performance.now()` time) passes.
   * An abort of `signal` (`call`'s by default) withdraws the call and
   * rejects with its reason; so does the end of `call`'s process, found
   * before any attempt (its port's close may come later than the call that
   * would let it through: what it would take stays for the others).
   */
  wait<R>(
    key: object,
    attempt: () => R | typeof AGAIN,
    deadline: number,
    onTimeout: () => R,
    call: Caller,
    signal?: AbortSignal,
  ): R | Promise<R> {
    const first = attempt();
    if (first !== AGAIN) return first;
    if (deadline <= performance.now()) return onTimeout();
    signal ??= call.signal;
    signal.throwIfAborted();
    let waiter!: Waiter;
    const promise = new Promise<R>((resolve, reject) => {
      waiter = {
        caller: call.caller,
        attempt,
        deadline,
        onTimeout,
        resolve: (value) => {
          this.#tell(waiter, true, value);
          resolve(value as R);
        },
        reject: (error) => {
          this.#tell(waiter, false, error);
          reject(error);
        },
        signal: signal!,
        key,
        onAbort: () => {
          if (this.#remove(waiter)) waiter.reject(signal!.reason);
        },
      };
    });
    signal.addEventListener("abort", waiter.onAbort, { once: true });
    let list = this.#byKey.get(key);
    if (list === undefined) this.#byKey.set(key, list = []);
    list.push(waiter);
    this.#size++;
    this.#byPromise.set(promise, waiter);
    return promise;
  }

  /**
   * Has `onSettled` told synchronously when the waiting call whose promise
   * this is settles (the server posts its reply at once, not from a promise
   * reaction after the requests being served); false for another promise.
   */
  whenSettled(
    promise: Promise<unknown>,
    onSettled: (ok: boolean, value: unknown) => void,
  ): boolean {
    const waiter = this.#byPromise.get(promise);
    if (waiter === undefined) return false;
    waiter.onSettled = onSettled;
    promise.catch(() => {}); // its rejection is told, not unhandled
    return true;
  }

  /**
   * Whether a call settled, since the last look, that only its promise's
   * reactions learn of (microtasks the server must let run).
   */
  takeUnheard(): boolean {
    const unheard = this.#unheard;
    this.#unheard = false;
    return unheard;
  }

  #tell(waiter: Waiter, ok: boolean, value: unknown): void {
    if (waiter.onSettled) waiter.onSettled(ok, value);
    else this.#unheard = true;
  }

  /**
   * Re-runs the attempts of the calls waiting on `key`, oldest first; a
   * call that succeeds may let others through, so it goes on until a round
   * makes no progress.
   */
  changed(key: object): void {
    const list = this.#byKey.get(key);
    if (list === undefined) return;
    for (let progress = true; progress && list.length > 0;) {
      progress = false;
      for (let i = 0; i < list.length;) {
        const waiter = list[i];
        if (waiter.caller !== 0 && !isPidAlive(waiter.caller)) {
          this.#settle(list, i, waiter);
          waiter.reject(new ProcessError("The calling process ended"));
          continue;
        }
        let result: unknown;
        try {
          result = waiter.attempt();
        } catch (error) {
          this.#settle(list, i, waiter);
          waiter.reject(error);
          progress = true;
          continue;
        }
        if (result === AGAIN) {
          i++;
          continue;
        }
        this.#settle(list, i, waiter);
        waiter.resolve(result);
        progress = true;
      }
    }
    if (list.length === 0) this.#byKey.delete(key);
  }

  /**
   * Times out the calls whose deadline passed, then re-runs every attempt
   * (once a slice: for what no call announces, such as an owner that
   * ended).
   */
  recheck(now: number): void {
    for (const [key, list] of [...this.#byKey]) {
      for (let i = 0; i < list.length;) {
        const waiter = list[i];
        if (waiter.deadline > now) {
          i++;
          continue;
        }
        this.#settle(list, i, waiter);
        try {
          waiter.resolve(waiter.onTimeout());
        } catch (error) {
          waiter.reject(error);
        }
      }
      if (list.length === 0) this.#byKey.delete(key);
      else this.changed(key);
    }
  }

  /** The earliest deadline of a waiting call (`Infinity` for none). */
  nextDeadline(): number {
    let next = Infinity;
    for (const list of this.#byKey.values()) {
      for (const waiter of list) next = Math.min(next, waiter.deadline);
    }
    return next;
  }

  /** Rejects every waiting call with `error` (the server is stopping). */
  closeAll(error: unknown): void {
    for (const list of this.#byKey.values()) {
      for (const waiter of list.splice(0)) {
        waiter.signal.removeEventListener("abort", waiter.onAbort);
        waiter.reject(error);
      }
    }
    this.#byKey.clear();
    this.#size = 0;
  }

  #settle(list: Waiter[], index: number, waiter: Waiter): void {
    list.splice(index, 1);
    this.#size--;
    waiter.signal.removeEventListener("abort", waiter.onAbort);
  }

  #remove(waiter: Waiter): boolean {
    const list = this.#byKey.get(waiter.key);
    const index = list?.indexOf(waiter) ?? -1;
    if (index === -1) return false;
    this.#settle(list!, index, waiter);
    if (list!.length === 0) this.#byKey.delete(waiter.key);
    return true;
  }
}
