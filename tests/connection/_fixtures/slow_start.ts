// A target whose module takes seconds to load in a child, so that the test
// can terminate the child before it revives its arguments.

import { isMainThread } from "node:worker_threads";
import { type Connection, registerTargets } from "../../../mod.ts";

if (!isMainThread) await new Promise((resolve) => setTimeout(resolve, 10_000));

/** Sends one message (it never gets the chance). */
export function sendOne(conn: Connection): void {
  conn.send("too late");
}

registerTargets(import.meta, { sendOne });
