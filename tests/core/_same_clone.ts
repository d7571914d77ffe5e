// A strict comparison for "arrives as structuredClone(value) would": same
// types and prototypes, holes and extra properties, -0 and NaN, buffer
// offsets and whole buffers, and the same graph of shared references.

import assert from "node:assert/strict";

/** Throws unless `actual` is shaped exactly as `expected`, naming the path. */
export function assertSameClone(
  actual: unknown,
  expected: unknown,
  path = "value",
  pairs: Map<object, object> = new Map(),
): void {
  if (expected === null || typeof expected !== "object") {
    if (!Object.is(actual, expected)) {
      assert.fail(
        `${path}: expected ${Deno.inspect(expected)}, received ${
          Deno.inspect(actual)
        }`,
      );
    }
    return;
  }
  if (actual === null || typeof actual !== "object") {
    assert.fail(
      `${path}: expected an object, received ${Deno.inspect(actual)}`,
    );
  }
  const paired = pairs.get(actual as object);
  if (paired !== undefined) {
    assert.ok(paired === expected, `${path}: a shared reference differs`);
    return;
  }
  pairs.set(actual as object, expected);
  const a = actual as Record<string, unknown>;
  const e = expected as Record<string, unknown>;
  if (e instanceof Error) {
    // Errors keep their class here, where a structured clone keeps only
    // the built-in ones: compare the name the class gives.
    assert.ok(a instanceof Error, `${path}: expected an error`);
    const ae = a as unknown as Error;
    assert.equal(ae.name, e.name, `${path}.name`);
    assert.equal(ae.message, e.message, `${path}.message`);
    assert.equal("cause" in ae, "cause" in e, `${path}.cause present`);
    if ("cause" in e) {
      assertSameClone(ae.cause, e.cause, `${path}.cause`, pairs);
    }
    return;
  }
  assert.equal(
    Object.getPrototypeOf(a),
    Object.getPrototypeOf(e),
    `${path}: prototype ${Object.getPrototypeOf(a)?.constructor?.name} is not ${
      Object.getPrototypeOf(e)?.constructor?.name
    }`,
  );
  if (e instanceof ArrayBuffer || e instanceof SharedArrayBuffer) {
    const ab = a as unknown as ArrayBuffer;
    assert.equal(ab.byteLength, e.byteLength, `${path}.byteLength`);
    assert.equal(
      (ab as ArrayBuffer).resizable,
      (e as ArrayBuffer).resizable,
      `${path}.resizable`,
    );
    assert.equal(
      (ab as ArrayBuffer).maxByteLength,
      (e as ArrayBuffer).maxByteLength,
      `${path}.maxByteLength`,
    );
    assert.deepEqual(
      new Uint8Array(ab),
      new Uint8Array(e as ArrayBuffer),
      `${path} bytes`,
    );
    return;
  }
  if (ArrayBuffer.isView(e)) {
    const av = a as unknown as ArrayBufferView;
    assert.equal(av.byteOffset, e.byteOffset, `${path}.byteOffset`);
    assert.equal(av.byteLength, e.byteLength, `${path}.byteLength`);
    assertSameClone(av.buffer, e.buffer, `${path}.buffer`, pairs);
    return;
  }
  if (e instanceof Date) {
    assert.ok(Object.is((a as unknown as Date).getTime(), e.getTime()), path);
    return;
  }
  if (e instanceof RegExp) {
    const ar = a as unknown as RegExp;
    assert.equal(ar.source, e.source, `${path}.source`);
    assert.equal(ar.flags, e.flags, `${path}.flags`);
    return;
  }
  if (e instanceof Map) {
    const am = [...(a as unknown as Map<unknown, unknown>)];
    const em = [...e];
    assert.equal(am.length, em.length, `${path}.size`);
    am.forEach(([k, v], i) => {
      assertSameClone(k, em[i][0], `${path}.keys()[${i}]`, pairs);
      assertSameClone(v, em[i][1], `${path}.values()[${i}]`, pairs);
    });
    return;
  }
  if (e instanceof Set) {
    const as = [...(a as unknown as Set<unknown>)];
    const es = [...e];
    assert.equal(as.length, es.length, `${path}.size`);
    as.forEach((v, i) => assertSameClone(v, es[i], `${path}[${i}]`, pairs));
    return;
  }
  if (e instanceof Error) {
    const ae = a as unknown as Error;
    assert.equal(ae.name, e.name, `${path}.name`);
    assert.equal(ae.message, e.message, `${path}.message`);
    assert.equal("cause" in ae, "cause" in e, `${path}.cause present`);
    if ("cause" in e) {
      assertSameClone(ae.cause, e.cause, `${path}.cause`, pairs);
    }
    return;
  }
  if (
    e instanceof Number || e instanceof String || e instanceof Boolean ||
    e instanceof BigInt
  ) {
    assert.ok(Object.is(a.valueOf(), e.valueOf()), path);
    return;
  }
  if (Array.isArray(e)) {
    assert.equal(
      (a as unknown as unknown[]).length,
      e.length,
      `${path}.length`,
    );
  }
  assert.deepEqual(Object.keys(a), Object.keys(e), `${path} keys`);
  for (const key of Object.keys(e)) {
    assertSameClone(a[key], e[key], `${path}.${key}`, pairs);
  }
}
