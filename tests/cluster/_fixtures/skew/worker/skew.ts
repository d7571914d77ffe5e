// The same module as a worker has it: changed since the client's copy.

import { registerTargets } from "../../../../../mod.ts";

/** The worker's version. */
export function version(): string {
  return "worker, changed";
}

registerTargets(import.meta, { version });
