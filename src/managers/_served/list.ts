// A managed list as the server holds it: a plain array, whose equality
// (`includes`, `index`, `remove`, `count`) is the value identity of
// identity.ts, as a managed dict's keys are.

import { IndexError, ValueError } from "../../errors.ts";
import { describe } from "../../core/describe.ts";
import { sameValue } from "./identity.ts";
import { noSuchMethod, type Served } from "./served.ts";

/** Python's list, served. */
export class ServedList implements Served {
  readonly items: unknown[];

  constructor(items: unknown[] = []) {
    this.items = items;
  }

  invoke(method: string, args: unknown[]): unknown {
    const items = this.items;
    switch (method) {
      case "append":
        items.push(args[0]);
        return;
      case "extend":
        for (const item of args[0] as unknown[]) items.push(item);
        return;
      case "insert": {
        const i = integer("insert", args[0]);
        const n = items.length;
        items.splice(i < 0 ? Math.max(0, n + i) : Math.min(n, i), 0, args[1]);
        return;
      }
      case "pop": {
        if (items.length === 0) {
          throw new IndexError("Cannot pop from an empty list");
        }
        return items.splice(at(items, args[0] ?? -1, "pop"), 1)[0];
      }
      case "remove": {
        const i = this.#find(args[0], 0, items.length);
        if (i === -1) throw notInList("remove", args[0]);
        items.splice(i, 1);
        return;
      }
      case "index": {
        const n = items.length;
        const i = this.#find(
          args[0],
          bound(args[1] ?? 0, n),
          bound(args[2] ?? n, n),
        );
        if (i === -1) throw notInList("index", args[0]);
        return i;
      }
      case "count":
        return items.filter((item) => sameValue(item, args[0])).length;
      case "includes":
        return this.#find(args[0], 0, items.length) !== -1;
      case "get":
        return items[at(items, args[0], "get")];
      case "set":
        items[at(items, args[0], "set")] = args[1];
        return;
      case "delete":
        items.splice(at(items, args[0], "delete"), 1);
        return;
      case "len":
        return items.length;
      case "reverse":
        items.reverse();
        return;
      case "sort":
        items.sort(compare);
        if (args[0] === true) items.reverse();
        return;
      case "clear":
        items.length = 0;
        return;
      case "slice":
        return items.slice(args[0] as number, args[1] as number);
      case "toArray":
        return items;
      default:
        throw noSuchMethod("list", method);
    }
  }

  #find(item: unknown, from: number, to: number): number {
    const items = this.items;
    for (let i = from; i < to && i < items.length; i++) {
      if (sameValue(items[i], item)) return i;
    }
    return -1;
  }
}

function integer(method: string, value: unknown): number {
  if (!Number.isInteger(value)) {
    throw new TypeError(
      `Cannot ${method} as 'index' must be an integer: current value is ${
        describe(value)
      }`,
    );
  }
  return value as number;
}

/** The position of index `i` (negative from the end), or an IndexError. */
function at(items: unknown[], i: unknown, method: string): number {
  const n = items.length;
  const index = integer(method, i);
  const position = index < 0 ? n + index : index;
  if (position < 0 || position >= n) {
    throw new IndexError(
      `Cannot ${method} item ${index}: the index is out of range for a list of length ${n}`,
    );
  }
  return position;
}

/** A slice bound as Python's `list.index` takes it: clamped, negative from the end. */
function bound(i: unknown, n: number): number {
  const index = integer("index", i);
  return index < 0 ? Math.max(0, n + index) : Math.min(n, index);
}

function notInList(method: string, item: unknown): ValueError {
  return new ValueError(
    `Cannot ${method} the item as the list holds none equal to it: it is ${
      describe(item)
    }`,
  );
}

function compare(a: unknown, b: unknown): number {
  const ta = typeof a, tb = typeof b;
  if (
    (ta === "number" || ta === "bigint") && (tb === "number" || tb === "bigint")
  ) {
    return (a as number) < (b as number)
      ? -1
      : (a as number) > (b as number)
      ? 1
      : 0;
  }
  if (ta === "string" && tb === "string") {
    return (a as string) < (b as string) ? -1 : a === b ? 0 : 1;
  }
  throw new TypeError(
    `Cannot sort the list as its items must all be numbers or all strings: it compares ${
      describe(a)
    } with ${describe(b)}`,
  );
}
