import assert from "node:assert/strict";
import {
  Empty,
  Process,
  ProcessError,
  registerErrorClass,
  registerReducer,
} from "../../mod.ts";
import {
  deserializeError,
  reduce,
  revive,
  serializeError,
} from "../../src/core/reduction.ts";
import { addToTallies, Tally, TallyProcess } from "../fixtures/targets.ts";
import { assertNoChildren } from "../_helpers.ts";

function roundTrip<T>(value: T): T {
  const reduced = reduce(value, "value");
  const copy = structuredClone(reduced.value, { transfer: reduced.transfer });
  return (reduced.marked ? revive(copy) : copy) as T;
}

Deno.test("plain data is returned as is, without a copy", () => {
  const value = {
    a: [1, 2, { b: "c" }],
    d: new Map([["e", 1]]),
    f: new Date(0),
  };
  const reduced = reduce(value, "args");
  assert.equal(reduced.value, value);
  assert.equal(reduced.marked, false);
  assert.deepEqual(reduced.transfer, []);
});

Deno.test("a registered class crosses by reference at any depth, into a process", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  const tally = new Tally(cells);
  const p = new Process({
    target: addToTallies,
    args: [{
      list: [tally, tally],
      map: new Map([["x", tally]]),
      same: [tally, tally],
    }],
  });
  p.start();
  assert.equal(await p.join(), 0);
  assert.equal(cells[0], 112);
  assertNoChildren();
});

Deno.test("a registered class in a subclass's field crosses by reference", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  const p = new TallyProcess(new Tally(cells));
  p.start();
  assert.equal(await p.join(), 0);
  assert.equal(cells[0], 1000);
});

Deno.test("a revived object is rebuilt by its reducer", () => {
  const tally = new Tally(new Int32Array(new SharedArrayBuffer(4)));
  const copy = roundTrip({ deep: [tally] });
  assert.ok(copy.deep[0] instanceof Tally);
  assert.notEqual(copy.deep[0], tally);
  copy.deep[0].add(5);
  assert.equal(tally.cells[0], 5); // same memory
});

Deno.test("cycles in plain data survive reduction", () => {
  const tally = new Tally(new Int32Array(new SharedArrayBuffer(4)));
  const value: Record<string, unknown> = { tally };
  value.self = value;
  const copy = roundTrip(value);
  assert.equal(copy.self, copy);
  assert.ok(copy.tally instanceof Tally);
});

Deno.test("what cannot cross is named by its path", () => {
  assert.throws(() => reduce({ a: [1, { f() {} }] }, "args"), {
    name: "TypeError",
    message: /^args\.a\[1\]\.f is a function \(f\)/,
  });
  assert.throws(() => reduce(new Map([["k", Symbol()]]), "args[0]"), {
    message: /^args\[0\]\.get\("k"\) is a symbol/,
  });
  assert.throws(() => reduce(new Set([new (class Widget {})()]), "x"), {
    message: /^x\.values\(\)\[0\] is an instance of Widget.*registerReducer/,
  });
  assert.throws(() => reduce({ [Symbol("s")]: 1 }, "x"), {
    message: /symbol-keyed/,
  });
});

Deno.test("registerReducer refuses a reducer without a name or a class", () => {
  assert.throws(
    () =>
      registerReducer({
        name: "",
        type: Tally,
        reduce: () => 0,
        revive: () => new Tally(new Int32Array(1)),
      }),
    { name: "TypeError", message: /reducer\.name/ },
  );
  assert.throws(
    () =>
      registerReducer({
        name: "bad",
        type: 3 as unknown as typeof Tally,
        reduce: () => 0,
        revive: () => new Tally(new Int32Array(1)),
      }),
    { name: "TypeError", message: /reducer\.type/ },
  );
  class Other {}
  assert.throws(
    () =>
      registerReducer({
        name: "tests.Tally",
        type: Other,
        reduce: () => 0,
        revive: () => new Other(),
      }),
    { name: "TypeError", message: /second reducer named "tests\.Tally"/ },
  );
});

Deno.test("errors keep their class, message, stack, cause and fields", () => {
  const cause = new RangeError("inner");
  const error = Object.assign(new Empty("queue is empty", { cause }), {
    code: 7,
  });
  const copy = deserializeError(structuredClone(serializeError(error))) as
    & Empty
    & { code: number };
  assert.ok(copy instanceof Empty);
  assert.ok(copy instanceof ProcessError);
  assert.equal(copy.message, "queue is empty");
  assert.equal(copy.stack, error.stack);
  assert.equal(copy.code, 7);
  assert.ok(copy.cause instanceof RangeError);
  assert.equal((copy.cause as Error).message, "inner");
});

Deno.test("an unregistered error class arrives as Error with its name", () => {
  class QuotaError extends Error {
    override name = "QuotaError";
  }
  const copy = deserializeError(
    structuredClone(serializeError(new QuotaError("over"))),
  ) as Error;
  assert.equal(copy.name, "QuotaError");
  assert.equal(copy.constructor, Error);
  registerErrorClass(QuotaError);
  const again = deserializeError(
    structuredClone(serializeError(new QuotaError("over"))),
  );
  assert.ok(again instanceof QuotaError);
  assert.throws(
    () => registerErrorClass(Map as unknown as typeof Error),
    TypeError,
  );
});

Deno.test("a thrown value that is not an Error crosses as itself", () => {
  assert.equal(
    deserializeError(structuredClone(serializeError("just a string"))),
    "just a string",
  );
  const aggregate = deserializeError(
    structuredClone(
      serializeError(new AggregateError([new TypeError("a")], "many")),
    ),
  );
  assert.ok(aggregate instanceof AggregateError);
  assert.ok(aggregate.errors[0] instanceof TypeError);
});
