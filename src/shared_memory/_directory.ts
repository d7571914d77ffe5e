// The program-wide directory of SharedMemory names, kept by the main thread
// (the spawner, see runtime/_spawner.ts): every process reaches it over its control
// port, so a bare name resolves in any process, as a POSIX shm name does.
//
// Holding: an entry keeps its block alive (a strong reference) while at
// least one process holds a buffer object of it. Each process reports one
// hold per buffer object it registers and one drop when that object is
// garbage-collected (a FinalizationRegistry there); a process that ends
// drops all its holds at once (the spawner tells us), since its registry
// never runs. When the last holder drops, the name goes: nothing keeps
// memory alive that no process can reach except by name.
//
// `unlink()` sets a flag in a small cell shared by every copy of the block,
// so the name stops resolving at once everywhere, even in a process's local
// cache; the entry here is removed when its unlink message arrives, or the
// first time it is seen flagged.

/** A block as it travels: its name, a unique id, its bytes, its flag cell. */
export interface ShmBlock {
  name: string;
  /** Unique in the program: tells a re-created name from the old block. */
  id: string;
  buffer: SharedArrayBuffer;
  /** One Int32: 1 once the block was unlinked. */
  cell: SharedArrayBuffer;
}

/** What a process asks of the directory (see `serve`). */
export type ShmRequest =
  | { kind: "hold"; block: ShmBlock }
  | { kind: "drop"; name: string; id: string }
  | { kind: "unlink"; name: string; id: string }
  | { kind: "claim"; block: ShmBlock }
  | { kind: "lookup"; name: string };

interface Entry extends ShmBlock {
  /** pid → number of buffer objects of this block that process holds. */
  holders: Map<number, number>;
}

const entries = new Map<string, Entry>();

/** Whether a block's unlink flag is set. */
export function isUnlinked(cell: SharedArrayBuffer): boolean {
  return Atomics.load(new Int32Array(cell), 0) !== 0;
}

function live(name: string): Entry | undefined {
  const entry = entries.get(name);
  if (entry !== undefined && isUnlinked(entry.cell)) {
    entries.delete(name);
    return undefined;
  }
  return entry;
}

function addHold(pid: number, block: ShmBlock): void {
  if (isUnlinked(block.cell)) return;
  let entry = live(block.name);
  if (entry === undefined) {
    // A copy of our own: in the main thread, the caller's buffer object must
    // stay collectable (its drop is what releases this entry).
    entry = {
      name: block.name,
      id: block.id,
      buffer: structuredClone(block.buffer),
      cell: block.cell,
      holders: new Map(),
    };
    entries.set(block.name, entry);
  } else if (entry.id !== block.id) {
    // The name now belongs to another block (this one was unlinked and the
    // name re-created): the old block stays nameless.
    return;
  }
  entry.holders.set(pid, (entry.holders.get(pid) ?? 0) + 1);
}

/**
 * Serves one request of the process `pid`: `claim` answers whether the name
 * was free (and then holds it), `lookup` the block or `undefined` (and holds
 * it for `pid`); the others answer nothing.
 */
export function serve(pid: number, request: ShmRequest): unknown {
  switch (request.kind) {
    case "hold":
      return addHold(pid, request.block);
    case "drop": {
      const entry = entries.get(request.name);
      if (entry === undefined || entry.id !== request.id) return;
      const count = (entry.holders.get(pid) ?? 0) - 1;
      if (count > 0) entry.holders.set(pid, count);
      else entry.holders.delete(pid);
      if (entry.holders.size === 0) entries.delete(request.name);
      return;
    }
    case "unlink":
      if (entries.get(request.name)?.id === request.id) {
        entries.delete(request.name);
      }
      return;
    case "claim":
      if (live(request.block.name) !== undefined) return false;
      addHold(pid, request.block);
      return true;
    case "lookup": {
      const entry = live(request.name);
      if (entry === undefined) return undefined;
      entry.holders.set(pid, (entry.holders.get(pid) ?? 0) + 1);
      return {
        name: entry.name,
        id: entry.id,
        // A distinct object for the asker (see addHold).
        buffer: structuredClone(entry.buffer),
        cell: entry.cell,
      } satisfies ShmBlock;
    }
  }
}

/** The process `pid` ended: its holds go with it. */
export function processEnded(pid: number): void {
  for (const [name, entry] of entries) {
    if (entry.holders.delete(pid) && entry.holders.size === 0) {
      entries.delete(name);
    }
  }
}
