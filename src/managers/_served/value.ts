// A managed Value as the server holds it: Python's
// `multiprocessing.managers.Value`, a plain holder of any value with a
// typecode kept for compatibility (not a shared ctypes value: the server's
// process is the only one that touches it).

import { noSuchMethod, type Served } from "./served.ts";

/** Python's `managers.Value(typecode, value)`, served. */
export class ServedValue implements Served {
  constructor(readonly typecode: string, public value: unknown) {}

  invoke(method: string, args: unknown[]): unknown {
    switch (method) {
      case "get":
        return this.value;
      case "set":
        this.value = args[0];
        return;
      default:
        throw noSuchMethod("Value", method);
    }
  }
}
