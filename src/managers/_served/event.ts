// A managed Event as the server holds it: a real `Event` of this module,
// living in the server's process. A waiting `wait` is its flag re-read as
// the event changes (see waiters.ts).

import { Event } from "../../synchronize/synchronize.ts";
import { AGAIN } from "./waiters.ts";
import {
  type Call,
  deadlineOf,
  noSuchMethod,
  type Served,
  type ServerContext,
} from "./served.ts";

/** Python's managed Event, served. */
export class ServedEvent implements Served {
  readonly event = new Event();
  readonly #context: ServerContext;

  constructor(context: ServerContext) {
    this.#context = context;
  }

  invoke(method: string, args: unknown[], call: Call): unknown {
    const event = this.event;
    switch (method) {
      case "set":
        return event.set();
      case "clear":
        return event.clear();
      case "isSet":
        return event.isSet();
      case "wait":
        return this.#context.waiters.wait(
          this,
          () => event.isSet() || AGAIN,
          deadlineOf(args[0]),
          () => false,
          call,
        );
      default:
        throw noSuchMethod("Event", method);
    }
  }
}
