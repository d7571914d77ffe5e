import assert from "node:assert/strict";
import {
  BufferTooShort,
  Connection,
  EOFError,
  Pipe,
  ProcessError,
  TimeoutError,
} from "../../mod.ts";

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

Deno.test("poll answers at once, waits up to its timeout, and is true at EOF", async () => {
  const [a, b] = Pipe();
  assert.equal(await a.poll(), false);
  const start = performance.now();
  assert.equal(await a.poll(30), false);
  assert.ok(performance.now() - start >= 29);
  assert.equal(a.pollSync(5), false);
  assert.equal(await a.poll({ timeout: 5 }), false);
  setTimeout(() => b.send("late"), 5);
  assert.equal(await a.poll(5000), true);
  assert.equal(await a.recv(), "late");
  b.close();
  assert.equal(a.pollSync(), true);
  await assert.rejects(a.poll(-1), RangeError);
  await assert.rejects(a.poll(NaN), RangeError);
  await assert.rejects(a.poll(null as never), TypeError);
});

Deno.test("recv with a timeout rejects with TimeoutError, and with the reason when aborted", async () => {
  const [a, b] = Pipe();
  await assert.rejects(a.recv({ timeout: 10 }), TimeoutError);
  assert.throws(() => a.recvSync({ timeout: 5 }), TimeoutError);
  const controller = new AbortController();
  const pending = a.recv({ signal: controller.signal });
  const reason = new Error("stop");
  setTimeout(() => controller.abort(reason), 5);
  await assert.rejects(pending, (e) => e === reason);
  // Nothing was left behind: the next message goes to the next recv.
  b.send("next");
  assert.equal(await a.recv({ timeout: 1000 }), "next");
  await assert.rejects(
    a.recv({ signal: AbortSignal.abort(reason) }),
    (e) => e === reason,
  );
});

Deno.test("an aborted poll rejects with the signal's reason", async () => {
  const [a] = Pipe();
  const controller = new AbortController();
  const pending = a.poll({ signal: controller.signal });
  controller.abort("enough");
  await assert.rejects(pending, (e) => e === "enough");
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

Deno.test("send rejects a value that cannot cross with a TypeError naming its path", () => {
  const [a, b] = Pipe();
  assert.throws(
    () => a.send({ handlers: [() => 1] } as never),
    (e: Error) =>
      e instanceof TypeError && e.message.includes("obj.handlers[0]"),
  );
  assert.throws(() => a.send(Symbol("no") as never), TypeError);
  assert.equal(b.pollSync(), false); // nothing was sent
});

Deno.test("a closed end refuses to send and receive; close is idempotent", async () => {
  const [a] = Pipe();
  assert.equal(a.closed, false);
  a.close();
  a.close();
  assert.equal(a.closed, true);
  assert.throws(() => a.send(1), ProcessError);
  await assert.rejects(a.recv(), ProcessError);
  assert.throws(() => a.pollSync(), ProcessError);
});

Deno.test("a pending recv rejects when its own end is closed", async () => {
  const [a] = Pipe();
  const pending = a.recv();
  a.close();
  await assert.rejects(pending, ProcessError);
});

Deno.test("send to an end closed everywhere throws a broken-pipe error", () => {
  const [a, b] = Pipe();
  b.close();
  assert.throws(
    () => a.send("anyone?"),
    (e: Error) =>
      e instanceof ProcessError && e.message.includes("broken pipe"),
  );
});

Deno.test("Connection cannot be constructed directly and Pipe checks duplex", () => {
  assert.throws(() => new Connection(undefined as never), TypeError);
  assert.throws(() => Pipe("yes" as never), TypeError);
});

Deno.test("a Connection shows its state in console.log", () => {
  const [a, b] = Pipe(false);
  b.close();
  assert.equal(Deno.inspect(a), "Connection { readable }");
  assert.equal(Deno.inspect(b), "Connection { writable, closed }");
});
