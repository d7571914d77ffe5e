import assert from "node:assert/strict";
import { decode, encode, encodeBytes, Writer } from "../../src/core/codec.ts";
import { Lock, registerErrorClass, registerReducer } from "../../mod.ts";
import { CLONE_CASES, REFUSED_CASES } from "./_clone_cases.ts";
import { assertSameClone } from "./_same_clone.ts";

function roundTrip(value: unknown, out = new Writer()): unknown {
  const sidecar = encode(value, out, { path: "value" });
  return decode(out.written().slice(), sidecar);
}

for (const { name, make, expected } of CLONE_CASES) {
  Deno.test(`the codec carries ${name} as structuredClone does`, () => {
    const value = make();
    assertSameClone(
      roundTrip(value),
      expected ? expected(value) : structuredClone(value),
    );
  });
}

for (const { name, make, path } of REFUSED_CASES) {
  Deno.test(`the codec refuses ${name} with a TypeError naming its path`, () => {
    assert.throws(
      () => encode(make(), new Writer(), { path: "item" }),
      (error: unknown) =>
        error instanceof TypeError && /^Cannot send item/.test(error.message) &&
        path.test(error.message),
    );
  });
}

Deno.test("a decoded value owns its buffers: reusing the bytes changes nothing", () => {
  const out = new Writer();
  const bytes = new Uint8Array([1, 2, 3, 4]);
  const value = new Map([["k", bytes]]);
  encode(value, out, { path: "value" });
  const received = decode(out.written()) as Map<string, Uint8Array>;
  encode(new Map([["k", new Uint8Array([9, 9, 9, 9])]]), out, { path: "v" });
  assert.deepEqual([...received.get("k")!], [1, 2, 3, 4]);
});

Deno.test("a graph of shared references 40 levels deep encodes in milliseconds", () => {
  let node: unknown = 1;
  for (let i = 0; i < 40; i++) node = [node, node];
  const start = performance.now();
  roundTrip(node);
  assert.ok(performance.now() - start < 1000);
});

class Celsius {
  constructor(readonly degrees: number) {}
}
registerReducer({
  name: "test.Celsius",
  type: Celsius,
  reduce: (c) => c.degrees,
  revive: (degrees: number) => new Celsius(degrees),
});

Deno.test("a registered class crosses as its reducer's state, at any depth", () => {
  const reading = new Celsius(21.5);
  const copy = roundTrip({ list: [reading, reading] }) as { list: Celsius[] };
  assert.ok(copy.list[0] instanceof Celsius);
  assert.equal(copy.list[0].degrees, 21.5);
});

Deno.test("a registered object beside a value the tag format leaves is reduced once", () => {
  let reductions = 0;
  class Once {
    constructor(readonly n: number) {}
  }
  registerReducer({
    name: "test.Once",
    type: Once,
    reduce: (o) => {
      reductions++;
      return o.n;
    },
    revive: (n: number) => new Once(n),
  });
  const copy = roundTrip([new Once(3), new Map([[1, 2]])]) as [
    Once,
    Map<number, number>,
  ];
  assert.equal(reductions, 1);
  assert.equal(copy[0].n, 3);
  assert.equal(copy[1].get(1), 2);
});

class QuotaError extends Error {
  override name = "QuotaError";
  constructor(message: string, readonly limit: number) {
    super(message);
  }
}
registerErrorClass(QuotaError as never);

Deno.test("a registered error class keeps its class and own fields", () => {
  const copy = roundTrip(new QuotaError("over", 10)) as QuotaError;
  assert.ok(copy instanceof QuotaError);
  assert.equal(copy.message, "over");
  assert.equal(copy.limit, 10);
});

Deno.test("shared buffers and ports travel in the sidecar, by reference", () => {
  const shared = new SharedArrayBuffer(8);
  const { port1 } = new MessageChannel();
  const out = new Writer();
  const sidecar = encode({ cells: new Int32Array(shared, 4, 1), port1 }, out, {
    path: "value",
  });
  assert.deepEqual(sidecar, [shared, port1]);
  const copy = decode(out.written(), sidecar) as {
    cells: Int32Array;
    port1: MessagePort;
  };
  assert.equal(copy.cells.buffer, shared);
  assert.equal(copy.cells.byteOffset, 4);
  assert.equal(copy.port1, port1);
  port1.close();
});

Deno.test("buffers to transfer travel in the sidecar, not as copies", () => {
  const buffer = new Float64Array([1, 2, 3]).buffer;
  const out = new Writer();
  const sidecar = encode({ view: new Float64Array(buffer, 8, 2) }, out, {
    path: "obj",
    transfer: [buffer],
  });
  assert.deepEqual(sidecar, [buffer]);
  const copy = decode(out.written(), sidecar) as { view: Float64Array };
  assert.equal(copy.view.buffer, buffer);
  assert.deepEqual([...copy.view], [2, 3]);
});

Deno.test("sendBytes messages decode to a copy of their bytes", () => {
  const out = new Writer();
  encodeBytes(new Uint8Array([7, 8]), out);
  const bytes = decode(out.written()) as Uint8Array;
  assert.deepEqual([...bytes], [7, 8]);
  out.bytes.fill(0);
  assert.deepEqual([...bytes], [7, 8]);
});

Deno.test("bytes that are not a message are a TypeError, not a wrong value", () => {
  assert.throws(() => decode(new Uint8Array([99])), TypeError);
});

Deno.test("a portable encoding refuses what lives in this program only, naming its path", () => {
  const { port1 } = new MessageChannel();
  const refused: [unknown, RegExp][] = [
    [{ a: [new Celsius(1)] }, /^Cannot send args\.a\[0\]: it is a Celsius/],
    [
      [1, new SharedArrayBuffer(4)],
      /^Cannot send args\[1\]: .*SharedArrayBuffer/,
    ],
    [
      { cells: new Int32Array(new SharedArrayBuffer(8)) },
      /^Cannot send args\.cells: it is an Int32Array of a SharedArrayBuffer/,
    ],
    [{ port: port1 }, /^Cannot send args\.port: it is a MessagePort/],
    [new Map([["k", new Celsius(2)]]), /^Cannot send args\.get\("k"\)/],
    [[{ lock: new Lock() }], /^Cannot send args\[0\]\.lock: it is a Lock/],
  ];
  for (const [value, message] of refused) {
    assert.throws(
      () => encode(value, new Writer(), { path: "args", portable: true }),
      (error: unknown) =>
        error instanceof TypeError && message.test(error.message) &&
        /cannot cross to another machine/.test(error.message),
    );
  }
  port1.close();
});

Deno.test("a portable encoding carries plain data and errors without a sidecar", () => {
  const out = new Writer();
  const value = {
    n: [1, 2.5, "x", new Uint8Array([1, 2])],
    error: new QuotaError("over", 3),
    map: new Map([[1, new Set([2])]]),
  };
  assert.equal(encode(value, out, { path: "args", portable: true }), undefined);
  const copy = decode(out.written()) as typeof value;
  assert.deepEqual(copy.n, value.n);
  assert.ok(copy.error instanceof QuotaError);
  assert.equal(copy.error.limit, 3);
  assert.deepEqual(copy.map, value.map);
});

Deno.test("a portable encoding refuses buffers to transfer", () => {
  const buffer = new ArrayBuffer(8);
  assert.throws(
    () =>
      encode(buffer, new Writer(), {
        path: "obj",
        portable: true,
        transfer: [buffer],
      }),
    /Cannot send obj as 'transfer' must be empty/,
  );
});
