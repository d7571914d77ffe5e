/**
 * `SharedMemory`: a block of bytes every process sees (Python's
 * `multiprocessing.shared_memory.SharedMemory`), over a `SharedArrayBuffer`.
 *
 * What Python users no longer need: `unlink()` and the resource tracker's
 * leak warnings. The block is ordinary garbage-collected memory, freed when
 * the last process drops its last reference; nothing outlives the program.
 *
 * @module
 */

import { describe, registerReducer } from "./reduction.ts";
import { ProcessError } from "./errors.ts";

/** Options of `new SharedMemory(options)`, as Python's arguments. */
export interface SharedMemoryOptions {
  /** The block's name; a fresh `psm_…` name by default. */
  name?: string;
  /** `true` creates a block; `false` (default) attaches to `name`. */
  create?: boolean;
  /** The size in bytes of a new block (> 0). */
  size?: number;
}

// Names resolve through this process's directory: blocks created here, and
// blocks that reached this process (as an argument, a field, a message).
// Processes here are threads without a shared namespace the foundation
// could hand us at spawn, so a bare name a process never saw cannot be
// resolved: pass the SharedMemory object (it crosses by reference), or
// anything holding it, instead of its name. WeakRefs: the directory never
// keeps a block alive.
const directory = new Map<string, WeakRef<SharedArrayBuffer>>();
const cleanup = new FinalizationRegistry<string>((name) => {
  if (directory.get(name)?.deref() === undefined) directory.delete(name);
});

function remember(name: string, buffer: SharedArrayBuffer): void {
  const known = directory.get(name)?.deref();
  if (known === buffer) return;
  directory.set(name, new WeakRef(buffer));
  cleanup.register(buffer, name);
}

function freshName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `psm_${
    Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/**
 * A block of shared bytes (Python's `SharedMemory`): `buf` is a
 * `Uint8Array` every process sees, `name` finds it again in this process,
 * `size` is its length. It crosses into processes by reference.
 *
 * - `new SharedMemory(size)` creates a block with a fresh name;
 * - `new SharedMemory({ name, create: true, size })` creates a named one;
 * - `new SharedMemory(name)` attaches to a block this process created or
 *   received (pass the object itself to another process, not only its
 *   name).
 *
 * `close()` drops this object's view; the memory is freed once no process
 * references it. `unlink()` exists for ported code and only forgets the
 * name here.
 *
 * @example
 * ```ts
 * import { SharedMemory } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const shm = new SharedMemory(16);
 * shm.buf[0] = 42;
 * const again = new SharedMemory(shm.name);
 * assert.equal(again.buf[0], 42);
 * shm.close();
 * again.close();
 * ```
 */
export class SharedMemory {
  #buffer: SharedArrayBuffer | undefined;
  #buf: Uint8Array | undefined;
  readonly #name: string;
  readonly #size: number;

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
      this.#buffer = adopted.buffer;
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
      if (directory.get(name)?.deref() !== undefined) {
        throw new ProcessError(
          `a shared memory block named ${JSON.stringify(name)} already exists`,
        );
      }
      this.#name = name;
      this.#buffer = new SharedArrayBuffer(size);
    } else {
      if (typeof options.name !== "string") {
        throw new TypeError(
          `new SharedMemory() needs a name to attach to (or create: true and a size), received ${
            describe(options.name)
          }`,
        );
      }
      const buffer = directory.get(options.name)?.deref();
      if (buffer === undefined) {
        throw new ProcessError(
          `no shared memory block named ${
            JSON.stringify(options.name)
          } is known to this process: a name resolves only where the block was created or received; pass the SharedMemory object itself to other processes`,
        );
      }
      if (options.size !== undefined && options.size > buffer.byteLength) {
        throw new RangeError(
          `shared memory block ${
            JSON.stringify(options.name)
          } has ${buffer.byteLength} bytes, fewer than the ${options.size} asked for`,
        );
      }
      this.#name = options.name;
      this.#buffer = buffer;
    }
    this.#size = this.#buffer.byteLength;
    this.#buf = new Uint8Array(this.#buffer);
    remember(this.#name, this.#buffer);
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
    directory.delete(this.#name);
  }

  /** Closes on scope exit: `using shm = new SharedMemory(64)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `SharedMemory { name, size }`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `SharedMemory { name: ${
      JSON.stringify(this.#name)
    }, size: ${this.#size}${this.#buf === undefined ? ", closed" : ""} }`;
  }
}

let adopting: { name: string; buffer: SharedArrayBuffer } | undefined;

registerReducer({
  name: "multiprocessing.SharedMemory",
  type: SharedMemory,
  reduce: (shm) => ({ name: shm.name, buffer: shm.buffer }),
  revive: (state: { name: string; buffer: SharedArrayBuffer }) => {
    adopting = state;
    try {
      return new SharedMemory(state.name);
    } finally {
      adopting = undefined;
    }
  },
});
