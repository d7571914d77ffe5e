// Targets that park in an async wait until released.

import {
  type Connection,
  EOFError,
  type Queue,
  registerTargets,
} from "../../../mod.ts";

function ready(cells: Int32Array): void {
  Atomics.add(cells, 0, 1);
}

/** Parks in `await queue.get()` until an item comes. */
export async function parkInGet(
  queue: Queue<number>,
  cells: Int32Array,
): Promise<void> {
  ready(cells);
  await queue.get();
}

/** Parks in `await conn.recv()` until EOF. */
export async function parkInRecv(
  conn: Connection,
  cells: Int32Array,
): Promise<void> {
  ready(cells);
  try {
    await conn.recv();
  } catch (error) {
    if (!(error instanceof EOFError)) throw error;
  }
}

/** Parks in `await conn.poll(Infinity)` until EOF makes it true. */
export async function parkInPoll(
  conn: Connection,
  cells: Int32Array,
): Promise<void> {
  ready(cells);
  await conn.poll(Infinity);
}

registerTargets(import.meta, { parkInGet, parkInRecv, parkInPoll });
