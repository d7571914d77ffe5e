/**
 * `Pipe()`: Python's `multiprocessing.Pipe`, two connected ends over a pair
 * of rings in the program's shared heap. Give an end to a process as an
 * argument (or send it through another Pipe); messages then go straight
 * between the processes.
 *
 * @module
 */

import { describe } from "../core/describe.ts";
import { createMailboxes } from "../mailbox/_mailbox.ts";
import { PIPE } from "../mailbox/_records.ts";
import { ringPair } from "./_ring_transport.ts";
import { Connection } from "./connection.ts";

/**
 * Returns a pair of connected ends (Python's `multiprocessing.Pipe`). With
 * `duplex` (the default) both ends send and receive; with `duplex = false`
 * the first end only receives and the second only sends.
 *
 * @example One-way: the second end sends, the first receives
 * ```ts
 * import { EOFError, Pipe } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * const [reader, writer] = Pipe(false);
 * writer.send([1, "two", { three: 3 }]);
 * writer.close();
 * assert.deepEqual(await reader.recv(), [1, "two", { three: 3 }]);
 * await assert.rejects(reader.recv(), EOFError); // no copy of the writer left
 * ```
 */
export function Pipe<T = unknown>(
  duplex = true,
): [Connection<T>, Connection<T>] {
  if (typeof duplex !== "boolean") {
    throw new TypeError(
      `Cannot make a Pipe as 'duplex' must be a boolean: current value is ${
        describe(duplex)
      }`,
    );
  }
  const [first, second] = ringPair(duplex, createMailboxes(PIPE, 2));
  return [new Connection<T>(first), new Connection<T>(second)];
}
