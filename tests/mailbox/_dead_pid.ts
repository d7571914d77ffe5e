// A pid the runtime knows ended: a child that ran and was joined. Tests
// write it into locks and slots to stand for a process that died there.

import { Process } from "../../mod.ts";
import { noop } from "../fixtures/targets.ts";

/** Starts and joins a child; resolves to its (now dead) pid. */
export async function deadPid(): Promise<number> {
  const p = new Process({ target: noop });
  p.start();
  await p.join();
  return p.pid!;
}
