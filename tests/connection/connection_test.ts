import assert from "node:assert/strict";
import {
  BufferTooShort,
  Connection,
  EOFError,
  Pipe,
  Process,
  ProcessError,
} from "../../mod.ts";
import {
  answerOnceThenExit,
  answerOnceThenHang,
  echo,
  echoSync,
  sendNumbers,
} from "../fixtures/mailboxes.ts";
import { assertNoChildren, runProgram } from "../_helpers.ts";

Deno.test("a duplex pipe carries messages both ways with a process", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echo, args: [there] });
  p.start();
  const values = [1, "two", { three: [3, null] }, undefined, new Map([[4, 4]])];
  for (const value of values) {
    here.send(value);
    assert.deepEqual(await here.recv(), value);
  }
  here.close();
  assert.equal(await p.join(), 0);
  assertNoChildren();
});

Deno.test("a process blocked in recvSync answers and sees EOF", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echoSync, args: [there] });
  p.start();
  for (let i = 0; i < 100; i++) {
    here.send(i);
    assert.equal(await here.recv(), i);
  }
  here.close();
  assert.equal(await p.join(2000), 0);
  assertNoChildren();
});

Deno.test("a process blocked in recvSync ends at once when terminated", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echoSync, args: [there] });
  p.start();
  here.send("up?");
  assert.equal(await here.recv(), "up?"); // now it waits in recvSync
  p.terminate();
  assert.equal(await p.join(2000), -15);
  assertNoChildren();
});

Deno.test("a one-way pipe receives on the first end and sends on the second", async () => {
  const [reader, writer] = Pipe(false);
  assert.deepEqual([reader.readable, reader.writable], [true, false]);
  assert.deepEqual([writer.readable, writer.writable], [false, true]);
  assert.throws(() => reader.send("x"), ProcessError);
  await assert.rejects(writer.recv(), ProcessError);
  writer.send("ok");
  assert.equal(await reader.recv(), "ok");
});

Deno.test("recv drains what was sent, then rejects with EOFError once the peer is closed", async () => {
  const [a, b] = Pipe();
  b.send(1);
  b.send(2);
  b.close();
  assert.equal(await a.recv(), 1);
  assert.equal(a.recvSync(), 2);
  await assert.rejects(a.recv(), EOFError);
  assert.throws(() => a.recvSync(), EOFError);
});

Deno.test("a recv already waiting wakes with EOFError when the peer closes", async () => {
  const [a, b] = Pipe();
  const pending = a.recv();
  setTimeout(() => b.close(), 5);
  await assert.rejects(pending, EOFError);
});

Deno.test("recv rejects with EOFError after a peer process returns without closing", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: sendNumbers, args: [there, 3] });
  p.start();
  assert.deepEqual([await here.recv(), await here.recv(), await here.recv()], [
    0,
    1,
    2,
  ]);
  await assert.rejects(here.recv(), EOFError);
  await p.join();
  assertNoChildren();
});

Deno.test("recv rejects with EOFError when the peer process is terminated mid-conversation", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: answerOnceThenHang, args: [there] });
  p.start();
  here.send("ping");
  assert.equal(await here.recv(), "ping");
  const pending = here.recv();
  p.terminate();
  await assert.rejects(pending, EOFError);
  await p.join();
  assertNoChildren();
});

Deno.test("recv rejects with EOFError when the peer process exits mid-conversation", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: answerOnceThenExit, args: [there] });
  p.start();
  here.send("ping");
  assert.equal(await here.recv(), "ping");
  await assert.rejects(here.recv(), EOFError);
  assert.equal(await p.join(), 3);
  assertNoChildren();
});

Deno.test("send to an end whose process ended throws a broken-pipe error", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: sendNumbers, args: [there, 0] });
  p.start();
  await p.join();
  assert.throws(
    () => here.send("anyone?"),
    (e: Error) =>
      e instanceof ProcessError && e.message.includes("broken pipe"),
  );
  assertNoChildren();
});

Deno.test("closing the parent's copy of an end given to a process leaves it open there", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echo, args: [there] });
  p.start();
  there.close(); // Python's idiom: close the child's end in the parent
  here.send("still open");
  assert.equal(await here.recv(), "still open");
  here.close();
  await p.join();
  assertNoChildren();
});

Deno.test("poll answers at once, waits up to its timeout, and is true at EOF", async () => {
  const [a, b] = Pipe();
  assert.equal(await a.poll(), false);
  const start = performance.now();
  assert.equal(await a.poll(30), false);
  assert.ok(performance.now() - start >= 29);
  assert.equal(a.pollSync(5), false);
  setTimeout(() => b.send("late"), 5);
  assert.equal(await a.poll(5000), true);
  assert.equal(await a.recv(), "late");
  b.close();
  assert.equal(a.pollSync(), true);
  await assert.rejects(a.poll(-1), RangeError);
  await assert.rejects(a.poll(NaN), RangeError);
});

Deno.test("sendBytes and recvBytes carry raw bytes, with offset and size", async () => {
  const [a, b] = Pipe();
  a.sendBytes(new Uint8Array([1, 2, 3, 4, 5]), 1, 3);
  a.sendBytes(new Uint16Array([0x0102]).buffer);
  assert.deepEqual(await b.recvBytes(), new Uint8Array([2, 3, 4]));
  assert.deepEqual(b.recvBytesSync(), new Uint8Array([2, 1]));
  assert.throws(() => a.sendBytes(new Uint8Array(2), 3), RangeError);
  assert.throws(() => a.sendBytes(new Uint8Array(2), 0, 5), RangeError);
  assert.throws(() => a.sendBytes("text" as never), TypeError);
});

Deno.test("recvBytesInto fills a buffer, or rejects with BufferTooShort holding the message", async () => {
  const [a, b] = Pipe();
  a.sendBytes(new Uint8Array([1, 2, 3]));
  a.sendBytes(new Uint8Array([4, 5, 6, 7]));
  const target = new Uint8Array(5);
  assert.equal(await b.recvBytesInto(target, 1), 3);
  assert.deepEqual(target, new Uint8Array([0, 1, 2, 3, 0]));
  assert.throws(
    () => b.recvBytesIntoSync(target.buffer, 2),
    (e: Error) =>
      e instanceof BufferTooShort &&
      (e as BufferTooShort & { bytes: Uint8Array }).bytes.length === 4,
  );
  await assert.rejects(b.recvBytesInto(target, 9), RangeError);
});

Deno.test("recvBytes leaves a message sent with send() in place", async () => {
  const [a, b] = Pipe();
  a.send({ not: "bytes" });
  await assert.rejects(b.recvBytes(), ProcessError);
  assert.deepEqual(await b.recv(), { not: "bytes" });
});

Deno.test("send with transfer moves the buffer to a process, which sees its data", async () => {
  const [here, there] = Pipe();
  const p = new Process({ target: echo, args: [there] });
  p.start();
  const array = new Float64Array(1 << 16).fill(2.5);
  here.send({ data: array, note: "moved" }, { transfer: [array.buffer] });
  assert.equal(array.buffer.detached, true);
  const back = await here.recv() as { data: Float64Array; note: string };
  assert.equal(back.note, "moved");
  assert.equal(back.data.length, 1 << 16);
  assert.equal(back.data[12345], 2.5);
  here.close();
  await p.join();
  assertNoChildren();
});

Deno.test("send with transfer between ends of one process keeps the message order", async () => {
  const [a, b] = Pipe();
  const buffer = new Uint8Array([7, 7, 7]).buffer;
  a.send("before");
  a.send(buffer, { transfer: [buffer] });
  a.send("after");
  assert.equal(await b.recv(), "before");
  assert.deepEqual(
    new Uint8Array(await b.recv() as ArrayBuffer),
    new Uint8Array([7, 7, 7]),
  );
  assert.equal(await b.recv(), "after");
  assert.throws(
    () => a.send(1, { transfer: [buffer] }), // already detached
    TypeError,
  );
});

Deno.test("send rejects a value that cannot cross with a TypeError naming its path", () => {
  const [a] = Pipe();
  assert.throws(
    () => a.send({ handlers: [() => 1] }),
    (e: Error) =>
      e instanceof TypeError && e.message.includes("obj.handlers[0]"),
  );
  assert.throws(() => a.send(Symbol("no")), TypeError);
});

Deno.test("a closed end refuses to send and receive; close is idempotent", async () => {
  const [a] = Pipe();
  assert.equal(a.closed, false);
  a.close();
  a.close();
  assert.equal(a.closed, true);
  assert.throws(() => a.send(1), ProcessError);
  await assert.rejects(a.recv(), ProcessError);
});

Deno.test("Connection cannot be constructed directly and Pipe checks duplex", () => {
  assert.throws(() => new Connection(), TypeError);
  assert.throws(() => Pipe("yes" as never), TypeError);
});

Deno.test("an end dropped without close() gives its peer EOF once collected", async () => {
  const result = await runProgram("dropped_end.ts", {
    flags: ["--allow-read", "--v8-flags=--expose-gc"],
  });
  assert.equal(result.stderr, "");
  assert.equal(result.stdout.trim(), "last words\nEOFError");
  assert.equal(result.code, 0);
});
