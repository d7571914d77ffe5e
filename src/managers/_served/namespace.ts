// A managed Namespace as the server holds it: named values (Python's
// `multiprocessing.managers.Namespace`, an object with attributes).

import { noSuchMethod, type Served } from "./served.ts";

/** Python's Namespace, served: a name → value map. */
export class ServedNamespace implements Served {
  readonly #values = new Map<string, unknown>();

  constructor(init: Record<string, unknown> = {}) {
    for (const [name, value] of Object.entries(init)) {
      this.#values.set(name, value);
    }
  }

  invoke(method: string, args: unknown[]): unknown {
    const values = this.#values;
    switch (method) {
      case "get":
        return values.get(args[0] as string);
      case "set":
        values.set(args[0] as string, args[1]);
        return;
      case "delete":
        return values.delete(args[0] as string);
      case "has":
        return values.has(args[0] as string);
      case "update":
        for (const [name, value] of args[0] as [string, unknown][]) {
          values.set(name, value);
        }
        return;
      case "toObject":
        return Object.fromEntries(values);
      default:
        throw noSuchMethod("Namespace", method);
    }
  }
}
