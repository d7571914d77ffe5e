// A managed Barrier as the server holds it: a real `Barrier` of this
// module, living in the server's process; each party's `wait` is the real
// barrier's wait. A party that withdraws its wait, or whose process ends,
// breaks the barrier (as a timeout does in Python): the others then reject
// with `BrokenBarrierError` rather than wait for a party that left.

import { Barrier } from "../../synchronize/synchronize.ts";
import { type Call, noSuchMethod, type Served } from "./served.ts";

/** Python's managed Barrier, served. */
export class ServedBarrier implements Served {
  readonly barrier: Barrier;

  constructor(parties: number) {
    this.barrier = new Barrier(parties);
  }

  invoke(method: string, args: unknown[], call: Call): unknown {
    const barrier = this.barrier;
    switch (method) {
      case "wait": {
        const options = args[0] as { block?: false; timeout?: number } | null;
        const timeout = options?.block === false ? 0 : options?.timeout;
        const leave = () => barrier.abort();
        call.signal.addEventListener("abort", leave, { once: true });
        return barrier.wait(timeout).finally(() =>
          call.signal.removeEventListener("abort", leave)
        );
      }
      case "abort":
        return barrier.abort();
      case "reset":
        return barrier.reset();
      case "parties":
        return barrier.parties;
      case "nWaiting":
        return barrier.nWaiting;
      case "broken":
        return barrier.broken;
      default:
        throw noSuchMethod("Barrier", method);
    }
  }
}
