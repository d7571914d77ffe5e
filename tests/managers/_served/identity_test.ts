import assert from "node:assert/strict";
import {
  hashOf,
  sameValue,
  valueIdentity,
} from "../../../src/managers/_served/identity.ts";

/** Asserts that `a` and `b` are the same value, and hash alike. */
function same(a: unknown, b: unknown): void {
  assert.ok(sameValue(a, b), `${Deno.inspect(a)} is ${Deno.inspect(b)}`);
  assert.ok(sameValue(b, a), "and the other way round");
  assert.equal(hashOf(a), hashOf(b), "equal values hash alike");
}

function differ(a: unknown, b: unknown): void {
  assert.ok(!sameValue(a, b), `${Deno.inspect(a)} is not ${Deno.inspect(b)}`);
  assert.ok(!sameValue(b, a), "and the other way round");
}

Deno.test("primitives are the same by SameValueZero, and their type", () => {
  same(NaN, NaN);
  same(0, -0);
  same("a", "a");
  same(10n, 10n);
  same(undefined, undefined);
  differ(1, "1");
  differ(1, 1n);
  differ(null, undefined);
  differ(0, false);
});

Deno.test("a date is the same as an equal date, not as an object", () => {
  same(new Date(0), new Date(0));
  same(new Date(NaN), new Date(NaN));
  differ(new Date(0), new Date(1));
  differ(new Date(0), {});
  differ(new Date(0), 0);
});

Deno.test("plain objects are the same in any key order, null-prototype ones too", () => {
  same({ a: 1, b: 2 }, { b: 2, a: 1 });
  const bare = Object.create(null);
  bare.a = 1;
  same(bare, { a: 1 });
  differ({ a: 1 }, { a: 1, b: undefined });
  differ({ a: 1 }, { a: "1" });
  differ({ a: 1 }, [1]);
});

Deno.test("arrays are the same item by item, holes and extra properties included", () => {
  same([1, [2, { x: 3 }]], [1, [2, { x: 3 }]]);
  differ([1, 2], [2, 1]);
  // deno-lint-ignore no-sparse-arrays
  differ([1, , 3], [1, undefined, 3]);
  // deno-lint-ignore no-sparse-arrays
  same([1, , 3], [1, , 3]);
  const extra: unknown[] & { tag?: string } = [1];
  extra.tag = "x";
  differ(extra, [1]);
  const other: unknown[] & { tag?: string } = [1];
  other.tag = "x";
  same(extra, other);
});

Deno.test("maps and sets are the same in any order", () => {
  same(
    new Map<unknown, unknown>([[1, "a"], [{ k: 1 }, "b"]]),
    new Map<unknown, unknown>([[{ k: 1 }, "b"], [1, "a"]]),
  );
  same(new Set([1, { a: 1 }]), new Set([{ a: 1 }, 1]));
  differ(new Map([[1, "a"]]), new Map([[1, "b"]]));
  differ(new Set([1, 2]), new Set([1, 3]));
  differ(new Set([1]), [1]);
});

Deno.test("typed arrays are the same by kind and the bytes they view", () => {
  same(new Uint8Array([1, 2]), new Uint8Array([1, 2]));
  same(new Uint8Array([9, 1, 2, 9]).subarray(1, 3), new Uint8Array([1, 2]));
  differ(new Uint8Array([1, 2]), new Int8Array([1, 2]));
  differ(new Uint8Array([1, 2]), new Uint8Array([1, 3]));
  same(new Uint8Array([5]).buffer, new Uint8Array([5]).buffer);
  same(new DataView(new ArrayBuffer(2)), new DataView(new ArrayBuffer(2)));
});

Deno.test("regexps, boxed primitives and errors are the same by what they hold", () => {
  same(/a+/g, /a+/g);
  differ(/a+/g, /a+/i);
  same(new Number(1), new Number(1));
  differ(new Number(1), 1);
  differ(new Number(1), new String("1"));
  same(new RangeError("x"), new RangeError("x"));
  differ(new RangeError("x"), new TypeError("x"));
  differ(new Error("x"), new Error("y"));
  same(new Error("x", { cause: 1 }), new Error("x", { cause: 1 }));
  differ(new Error("x", { cause: 1 }), new Error("x"));
});

Deno.test("cycles and shared references are the same when they cannot be told apart", () => {
  const a: Record<string, unknown> = { n: 1 };
  a.self = a;
  const b: Record<string, unknown> = { n: 1 };
  b.self = b;
  same(a, b);
  const c: Record<string, unknown> = { n: 2 };
  c.self = c;
  differ(a, c);
  const x = { x: 1 };
  same([x, x], [{ x: 1 }, { x: 1 }]);
});

Deno.test("a graph of shared references 40 levels deep compares and hashes at once", () => {
  const dag = (levels: number) => {
    let node: unknown = { leaf: true };
    for (let i = 0; i < levels; i++) node = [node, node];
    return node;
  };
  const start = performance.now();
  same(dag(40), dag(40));
  differ(dag(40), dag(39));
  assert.ok(performance.now() - start < 1000);
});

Deno.test("objects that name what they stand for are the same when they name the same", () => {
  const standIn = (name: string) => ({
    __proto__: { [valueIdentity]: () => name },
  });
  same(standIn("m#1"), standIn("m#1"));
  differ(standIn("m#1"), standIn("m#2"));
});

Deno.test("other objects are the same only as the very same object", () => {
  class Point {
    x = 1;
  }
  const p = new Point();
  same(p, p);
  differ(new Point(), new Point());
});
