// One copy of a task module, as the client has it (see ../worker/skew.ts).

import { registerTargets } from "../../../../../mod.ts";

/** The client's version. */
export function version(): string {
  return "client";
}

registerTargets(import.meta, { version });
