import assert from "node:assert/strict";
import {
  HEADER_BYTES,
  newSlot,
  readMethod,
  SLOT_BYTES,
  writeMethod,
} from "../../src/managers/_messages.ts";

Deno.test("a method name written before a request's message reads back as it was", () => {
  const bytes = new Uint8Array(newSlot(), HEADER_BYTES);
  for (const method of ["get", "setDefault", "", "näme", "名前"]) {
    const length = writeMethod(bytes, method);
    assert.equal(length, 2 * method.length);
    assert.equal(readMethod(bytes, method.length), method);
  }
});

Deno.test("a slot is a fixed shared buffer: nothing grows, nothing is reserved beyond it", () => {
  const slot = newSlot();
  assert.ok(slot instanceof SharedArrayBuffer);
  assert.equal(slot.byteLength, SLOT_BYTES);
  assert.equal(slot.growable, false);
});
