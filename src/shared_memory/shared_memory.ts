/**
 * `SharedMemory`: a block of bytes every process sees (Python's
 * `multiprocessing.shared_memory.SharedMemory`), over a `SharedArrayBuffer`.
 *
 * A name resolves in every process of the program, as in Python: the main
 * thread keeps the directory of names (see _directory.ts). What Python
 * users no longer need: the resource tracker and its leak warnings, and
 * `unlink()` to free memory. The block is ordinary garbage-collected memory:
 * the directory keeps it while some process holds it, and it is freed once
 * no process holds it any more; nothing outlives the program.
 *
 * @module
 */

import { isMainThread } from "node:worker_threads";
import { registerReducer } from "../core/reduction.ts";
import { describe } from "../core/describe.ts";
import { ProcessError } from "../errors.ts";
import { controlPort, currentIdentity } from "../runtime/_context.ts";
import {
  isUnlinked,
  serve,
  type ShmBlock,
  type ShmRequest,
} from "./_directory.ts";
import {
  askSpawner,
  drainChildren,
  tellSpawner,
} from "../runtime/_spawner_client.ts";

/**
 * Options of `new SharedMemory(options)`, as Python's arguments.
 *
 * @example Create a named block, then attach to it by name
 * ```ts
 * import { SharedMemory, type SharedMemoryOptions } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const options: SharedMemoryOptions = { name: "doc_block", create: true, size: 8 };
 * using created = new SharedMemory(options);
 * created.buf[0] = 7;
 * using attached = new SharedMemory({ name: "doc_block" });
 * assert.equal(attached.buf[0], 7);
 * created.unlink();
 * ```
 */
export interface SharedMemoryOptions {
  /** The block's name; a fresh `psm_…` name by default. */
  name?: string;
  /** `true` creates a block; `false` (default) attaches to `name`. */
  create?: boolean;
  /** The size in bytes of a new block (> 0). */
  size?: number;
}

// Names resolve program-wide through the main thread's directory (see
// _directory.ts). This process caches the blocks it has seen, weakly,
// so that attaching again, or receiving a block it already has, costs no
// message; and it reports to the directory one hold per buffer object it
// registers here and one drop when that object is collected.
interface Cached {
  id: string;
  ref: WeakRef<SharedArrayBuffer>;
  cell: SharedArrayBuffer;
}
const cache = new Map<string, Cached>();
const cleanup = new FinalizationRegistry<{ name: string; id: string }>(
  ({ name, id }) => {
    const cached = cache.get(name);
    if (cached?.id === id && cached.ref.deref() === undefined) {
      cache.delete(name);
    }
    tell({ kind: "drop", name, id });
  },
);

// A worker this library did not start (a user's own Worker importing it)
// has no way to the directory: there names stay local to the thread.
const local = !isMainThread && controlPort() === undefined;

/** A request the directory answers with nothing. */
function tell(request: ShmRequest): void {
  const pid = currentIdentity().pid;
  if (isMainThread) serve(pid, request);
  else if (!local) tellSpawner({ op: "shm", pid, request });
}

/** A request whose answer the caller needs now. */
function ask(request: ShmRequest, what: string): unknown {
  const pid = currentIdentity().pid;
  if (local) return request.kind === "claim" ? true : undefined;
  if (!isMainThread) return askSpawner({ op: "shm", pid, request }, what);
  let value = serve(pid, request);
  if (value === undefined && request.kind === "lookup") {
    // A block a process created may be registered by a message still
    // waiting in its port: take those in, and look again.
    drainChildren();
    value = serve(pid, request);
  }
  return value;
}

/** A block this process already has under `name`, not unlinked. */
function cached(name: string): ShmBlock | undefined {
  const entry = cache.get(name);
  const buffer = entry?.ref.deref();
  if (entry === undefined || buffer === undefined || isUnlinked(entry.cell)) {
    return undefined;
  }
  return { name, id: entry.id, buffer, cell: entry.cell };
}

/**
 * The buffer object this process uses for `block`: the one it has already
 * (same memory, no new hold), or `block.buffer`, registered and held.
 * `held` says the directory already counted a hold for it (claim, lookup).
 */
function adopt(block: ShmBlock, held: boolean): SharedArrayBuffer {
  const known = cache.get(block.name);
  const buffer = known?.id === block.id ? known.ref.deref() : undefined;
  if (buffer !== undefined) {
    if (held) tell({ kind: "drop", name: block.name, id: block.id });
    return buffer;
  }
  cache.set(block.name, {
    id: block.id,
    ref: new WeakRef(block.buffer),
    cell: block.cell,
  });
  cleanup.register(block.buffer, { name: block.name, id: block.id });
  if (!held) tell({ kind: "hold", block });
  return block.buffer;
}

function freshName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `psm_${
    Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

function exists(name: string): ProcessError {
  return new ProcessError(
    `a shared memory block named ${
      JSON.stringify(name)
    } already exists (Python's FileExistsError): choose another name, or attach to it with new SharedMemory(${
      JSON.stringify(name)
    })`,
  );
}

/**
 * A block of shared bytes (Python's `SharedMemory`): `buf` is a
 * `Uint8Array` every process sees, `name` finds it again in any process of
 * the program, `size` is its length. The object itself also crosses into
 * processes by reference (as an argument, a field, a message).
 *
 * - `new SharedMemory(size)` creates a block with a fresh `psm_…` name;
 * - `new SharedMemory({ name, create: true, size })` creates a named one,
 *   and throws `ProcessError` if the name exists (Python's
 *   `FileExistsError`);
 * - `new SharedMemory(name)` attaches to the block of that name, wherever
 *   it was created, and throws `ProcessError` if there is none (Python's
 *   `FileNotFoundError`).
 *
 * Attaching to a name this process has not seen yet asks the main thread,
 * synchronously (~0.2 ms): it answers in its event loop, so if the main
 * thread is blocked in synchronous code for 10 s the attach throws
 * `TimeoutError`. In the main thread it is a map lookup.
 *
 * `close()` drops this object's view. The memory is freed once no process
 * holds it (every handle closed or collected, or its process ended); then
 * its name is gone too. `unlink()` (optional) removes the name at once, in
 * every process; handles keep their bytes.
 *
 * @example
 * ```ts
 * import { Process, SharedMemory } from "@seed/multiprocessing";
 * import { attachAndWrite } from "../../tests/fixtures/sync_targets.ts";
 * import assert from "node:assert/strict";
 *
 * const shm = new SharedMemory({ create: true, size: 16 });
 * // The child gets only the name, a string, and attaches by it.
 * const p = new Process({ target: attachAndWrite, args: [shm.name, 7] });
 * p.start();
 * await p.join();
 * assert.equal(shm.buf[0], 7);
 * shm.close();
 * shm.unlink();
 * ```
 */
export class SharedMemory {
  #buffer: SharedArrayBuffer | undefined;
  #buf: Uint8Array | undefined;
  readonly #name: string;
  readonly #size: number;
  readonly #id: string;
  readonly #cell: SharedArrayBuffer;

  /** Creates or attaches to a block (see the class documentation). */
  constructor(sizeOrName: number | string | SharedMemoryOptions) {
    let options: SharedMemoryOptions;
    if (typeof sizeOrName === "number") {
      options = { create: true, size: sizeOrName };
    } else if (typeof sizeOrName === "string") options = { name: sizeOrName };
    else if (typeof sizeOrName === "object" && sizeOrName !== null) {
      options = sizeOrName;
    } else {
      throw new TypeError(
        `new SharedMemory() expected a size, a name or options such as { name, create, size }, received ${
          describe(sizeOrName)
        }`,
      );
    }
    const adopted = adopting;
    adopting = undefined;
    if (adopted !== undefined) {
      this.#name = adopted.name;
      this.#id = adopted.id;
      this.#cell = adopted.cell;
      this.#buffer = adopt(adopted, false);
    } else if (options.create) {
      const size = options.size;
      if (typeof size !== "number" || !Number.isInteger(size) || size <= 0) {
        throw new (typeof size === "number" ? RangeError : TypeError)(
          `new SharedMemory() size must be an integer number of bytes > 0, received ${
            describe(size)
          }`,
        );
      }
      if (options.name !== undefined && typeof options.name !== "string") {
        throw new TypeError(
          `new SharedMemory() name must be a string, received ${
            describe(options.name)
          }`,
        );
      }
      const name = options.name ?? freshName();
      if (cached(name) !== undefined) throw exists(name);
      const block: ShmBlock = {
        name,
        id: crypto.randomUUID(),
        buffer: new SharedArrayBuffer(size),
        cell: new SharedArrayBuffer(4),
      };
      if (options.name !== undefined) {
        // A chosen name is claimed synchronously, so that two processes
        // creating it are told apart as in Python. A fresh name (48 random
        // bits) is registered by a message that needs no answer: creating
        // one never waits for the main thread.
        if (ask({ kind: "claim", block }, `creating ${name}`) !== true) {
          throw exists(name);
        }
      }
      this.#name = name;
      this.#id = block.id;
      this.#cell = block.cell;
      this.#buffer = adopt(block, options.name !== undefined);
    } else {
      if (typeof options.name !== "string") {
        throw new TypeError(
          `new SharedMemory() needs a name to attach to (or create: true and a size), received ${
            describe(options.name)
          }`,
        );
      }
      const name = options.name;
      let block = cached(name);
      let held = false;
      if (block === undefined) {
        block = ask(
          { kind: "lookup", name },
          `new SharedMemory(${JSON.stringify(name)})`,
        ) as ShmBlock | undefined;
        held = true;
      }
      if (block === undefined) {
        throw new ProcessError(
          `no shared memory block named ${
            JSON.stringify(name)
          } exists in this program (Python's FileNotFoundError): it was never created, was unlink()ed, or every process that held it has dropped it`,
        );
      }
      const buffer = adopt(block, held);
      if (options.size !== undefined && options.size > buffer.byteLength) {
        throw new RangeError(
          `shared memory block ${
            JSON.stringify(name)
          } has ${buffer.byteLength} bytes, fewer than the ${options.size} asked for`,
        );
      }
      this.#name = name;
      this.#id = block.id;
      this.#cell = block.cell;
      this.#buffer = buffer;
    }
    this.#size = this.#buffer.byteLength;
    this.#buf = new Uint8Array(this.#buffer);
  }

  /** The block's name. */
  get name(): string {
    return this.#name;
  }

  /** The size in bytes. */
  get size(): number {
    return this.#size;
  }

  /** The bytes; throws once `close()` was called. */
  get buf(): Uint8Array {
    if (this.#buf === undefined) {
      throw new ProcessError(
        `shared memory ${JSON.stringify(this.#name)} is closed`,
      );
    }
    return this.#buf;
  }

  /** The underlying buffer, for views of other types. */
  get buffer(): SharedArrayBuffer {
    this.buf;
    return this.#buffer!;
  }

  /** Drops this object's view; other handles keep theirs. */
  close(): void {
    this.#buf = undefined;
    this.#buffer = undefined;
  }

  /**
   * Optional, for code ported from Python: forgets the name in this
   * process, so that later attaches by name fail here. The memory itself is
   * freed when no process references it.
   */
  unlink(): void {
    // The flag is seen at once by every process's cache and the directory.
    Atomics.store(new Int32Array(this.#cell), 0, 1);
    tell({ kind: "unlink", name: this.#name, id: this.#id });
  }

  /** Closes on scope exit: `using shm = new SharedMemory(64)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  static {
    registerReducer({
      name: "multiprocessing.SharedMemory",
      type: SharedMemory,
      reduce: (shm): ShmBlock => ({
        name: shm.#name,
        id: shm.#id,
        buffer: shm.buffer,
        cell: shm.#cell,
      }),
      revive: (state: ShmBlock) => {
        adopting = state;
        try {
          return new SharedMemory(state.name);
        } finally {
          adopting = undefined;
        }
      },
    });
  }

  /** `SharedMemory { name, size }`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `SharedMemory { name: ${
      JSON.stringify(this.#name)
    }, size: ${this.#size}${this.#buf === undefined ? ", closed" : ""} }`;
  }
}

let adopting: ShmBlock | undefined;
