import assert from "node:assert/strict";
import { ProcessError } from "../../mod.ts";
import {
  FrameReader,
  headerLength,
  writeHeader,
} from "../../src/connection/_framing.ts";

/** Python's framing of `payload`: struct.pack("!i", len) + payload. */
function frame(payload: number[]): Uint8Array {
  const bytes = new Uint8Array(4 + payload.length);
  new DataView(bytes.buffer).setInt32(0, payload.length);
  bytes.set(payload, 4);
  return bytes;
}

function push(reader: FrameReader, bytes: Uint8Array): void {
  const room = reader.room();
  room.set(bytes);
  reader.wrote(bytes.length);
}

function take(reader: FrameReader, limit = 1 << 20): Uint8Array | undefined {
  const frame = reader.peek(limit, "maxMessageSize");
  if (frame === undefined) return undefined;
  reader.skip();
  return frame.slice();
}

Deno.test("a header is Python's: 4 bytes big-endian, or -1 and 8 bytes past 2 GiB", () => {
  const view = new DataView(new ArrayBuffer(12));
  assert.equal(writeHeader(view, 0, 0x01020304), 4);
  assert.deepEqual([...new Uint8Array(view.buffer, 0, 4)], [1, 2, 3, 4]);
  assert.equal(headerLength(0x7fffffff), 4);
  assert.equal(headerLength(0x80000000), 12);
  assert.equal(writeHeader(view, 0, 0x80000000), 12);
  assert.equal(view.getInt32(0), -1);
  assert.equal(view.getBigUint64(4), 0x80000000n);
});

Deno.test("frames cut at any byte come out whole and in order", () => {
  const reader = new FrameReader();
  const stream = new Uint8Array([
    ...frame([1, 2, 3]),
    ...frame([]),
    ...frame([9]),
  ]);
  const out: number[][] = [];
  for (const byte of stream) {
    push(reader, new Uint8Array([byte]));
    let next;
    while ((next = take(reader)) !== undefined) out.push([...next]);
  }
  assert.deepEqual(out, [[1, 2, 3], [], [9]]);
  assert.equal(reader.partial, false);
});

Deno.test("a frame with the 8-byte length form is read like any other", () => {
  const reader = new FrameReader();
  const bytes = new Uint8Array(12 + 2);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, -1);
  view.setBigUint64(4, 2n);
  bytes.set([7, 8], 12);
  push(reader, bytes.subarray(0, 11));
  assert.equal(take(reader), undefined);
  push(reader, bytes.subarray(11));
  assert.deepEqual([...take(reader)!], [7, 8]);
});

Deno.test("a frame over the limit is a ProcessError naming the sizes and the limit", () => {
  const reader = new FrameReader();
  push(reader, frame(new Array(300).fill(0)));
  assert.throws(
    () => reader.peek(256, "the handshake's 256 bytes"),
    (error: Error) =>
      error instanceof ProcessError &&
      /300 bytes, over the limit of 256 bytes \(the handshake's 256 bytes\)/
        .test(error.message),
  );
});

Deno.test("a negative length other than -1 is a ProcessError: not Python's framing", () => {
  const reader = new FrameReader();
  push(reader, new Uint8Array([0xff, 0xff, 0xff, 0xfb, 0, 0]));
  assert.throws(() => take(reader), /announcing -5 bytes/);
});

Deno.test("a header announcing a huge frame does not make the reader allocate it", () => {
  const reader = new FrameReader();
  const header = new Uint8Array(4);
  new DataView(header.buffer).setInt32(0, 0x7fffffff);
  push(reader, header);
  assert.equal(take(reader, Infinity), undefined);
  assert.ok(reader.room().buffer.byteLength <= 256 * 1024);
  assert.match(reader.describePartial(), /0 of its 2147483647 bytes/);
});

Deno.test("room grows with the bytes of a big frame as they arrive, then shrinks", () => {
  const reader = new FrameReader();
  const payload = new Uint8Array(1 << 23).map((_, i) => i & 0xff);
  const bytes = new Uint8Array(4 + payload.length);
  new DataView(bytes.buffer).setInt32(0, payload.length);
  bytes.set(payload, 4);
  for (let at = 0; at < bytes.length;) {
    const room = reader.room();
    const n = Math.min(room.length, 100_000, bytes.length - at);
    room.set(bytes.subarray(at, at + n));
    reader.wrote(n);
    at += n;
  }
  assert.deepEqual(take(reader, Infinity), payload);
  assert.ok(reader.room().buffer.byteLength <= 16 * 1024);
});
