/**
 * The module's own error classes: Python's multiprocessing, queue and
 * threading exceptions, in JavaScript form. Each one keeps its class when it
 * crosses between processes (see {@linkcode registerErrorClass}).
 *
 * @module
 */

/**
 * Base class of every error this module raises for a runtime condition
 * (Python's `multiprocessing.ProcessError`). Catch it to catch them all.
 *
 * @example Catching any of the module's errors
 * ```ts
 * import { Empty, ProcessError } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.ok(new Empty("queue is empty") instanceof ProcessError);
 * ```
 */
export class ProcessError extends Error {
  /** Creates the error; `options.cause` is kept as in `Error`. */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A wait ran out of time: `AsyncResult.get(timeoutMs)`, a deadline, a
 * connection that did not answer in time (Python's
 * `multiprocessing.TimeoutError`).
 *
 * @example
 * ```ts
 * import { TimeoutError } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const error = new TimeoutError("no result within 10 ms");
 * assert.equal(error.name, "TimeoutError");
 * ```
 */
export class TimeoutError extends ProcessError {}

/**
 * Nothing left to receive: the other end of a connection is closed and its
 * mailbox is drained (Python's built-in `EOFError`).
 *
 * @example
 * ```ts
 * import { EOFError } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new EOFError("peer closed").name, "EOFError");
 * ```
 */
export class EOFError extends ProcessError {}

/**
 * A non-blocking or timed `get` found the queue empty (Python's
 * `queue.Empty`).
 *
 * @example
 * ```ts
 * import { Empty } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new Empty().name, "Empty");
 * ```
 */
export class Empty extends ProcessError {}

/**
 * A non-blocking or timed `put` found the queue full (Python's `queue.Full`).
 *
 * @example
 * ```ts
 * import { Full } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new Full().name, "Full");
 * ```
 */
export class Full extends ProcessError {}

/**
 * A `Barrier` was aborted or reset while a party waited on it (Python's
 * `threading.BrokenBarrierError`).
 *
 * @example
 * ```ts
 * import { BrokenBarrierError } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new BrokenBarrierError().name, "BrokenBarrierError");
 * ```
 */
export class BrokenBarrierError extends ProcessError {}

/**
 * A received message is larger than the buffer given to receive it (Python's
 * `multiprocessing.BufferTooShort`).
 *
 * @example
 * ```ts
 * import { BufferTooShort } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new BufferTooShort("need 64 bytes").name, "BufferTooShort");
 * ```
 */
export class BufferTooShort extends ProcessError {}

/**
 * A lock was held by a process that ended without releasing it. The
 * acquirer that receives this error now owns the lock; the data it guards
 * may be half-updated (the robust-mutex `EOWNERDEAD` case, which Python
 * does not detect).
 *
 * @example
 * ```ts
 * import { LockOwnerDiedError } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new LockOwnerDiedError("owner 12 died").name, "LockOwnerDiedError");
 * ```
 */
export class LockOwnerDiedError extends ProcessError {}

/**
 * A key is not in a managed dict (Python's `KeyError`): from
 * `DictProxy.getItem()`, `delete()`, `pop()` and `popItem()`.
 *
 * @example
 * ```ts
 * import { KeyError, Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const d = await manager.dict();
 * await assert.rejects(d.getItem("missing"), KeyError);
 * ```
 */
export class KeyError extends ProcessError {}

/**
 * An index is out of range in a managed list (Python's `IndexError`).
 *
 * @example
 * ```ts
 * import { IndexError, Manager } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const l = await manager.list([1]);
 * await assert.rejects(l.get(5), IndexError);
 * ```
 */
export class IndexError extends ProcessError {}

/**
 * A value is not where it was looked for (Python's `ValueError`): from
 * `ListProxy.remove()`/`index()`, or `taskDone()` called too often.
 *
 * @example
 * ```ts
 * import { Manager, ValueError } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * await using manager = await Manager.start();
 * const l = await manager.list([1, 2]);
 * await assert.rejects(l.remove(3), ValueError);
 * ```
 */
export class ValueError extends ProcessError {}

/**
 * A handshake failed: the peer of a {@linkcode Listener} or
 * {@linkcode Client} answered the authkey challenge wrongly, or refused
 * this side's answer, or its TLS certificate was not trusted (Python's
 * `multiprocessing.AuthenticationError`). The connection is closed.
 *
 * @example
 * ```ts
 * import { AuthenticationError, ProcessError } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const error = new AuthenticationError("digest received was wrong");
 * assert.ok(error instanceof ProcessError);
 * ```
 */
export class AuthenticationError extends ProcessError {}
