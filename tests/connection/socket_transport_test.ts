import assert from "node:assert/strict";
import {
  Client,
  EOFError,
  Listener,
  Lock,
  Pipe,
  ProcessError,
  Queue,
  TimeoutError,
} from "../../mod.ts";
import { encode, Writer } from "../../src/core/codec.ts";
import { bytes, frame, portOf, raw, text } from "./_peers.ts";

Deno.test("sendBytes, recvBytes and recvBytesInto carry bytes as they are, and poll sees them", async () => {
  using listener = new Listener({ port: 0 });
  const [server, client] = await Promise.all([
    listener.accept(),
    Client(listener.address),
  ]);
  assert.equal(await server.poll(), false);
  client.sendBytes(bytes("hello world"), 6, 5);
  assert.equal(await server.poll(1000), true);
  assert.equal(text(await server.recvBytes()), "world");
  const big = new Uint8Array(3 << 20).map((_, i) => i % 251);
  client.sendBytes(big);
  const into = new Uint8Array(big.length + 8);
  assert.equal(await server.recvBytesInto(into, 8), big.length);
  assert.deepEqual(into.subarray(8), big);
  server.close();
  client.close();
});

Deno.test("a peer that stops in the middle of a frame is an error naming how much came", async () => {
  using listener = new Listener({ port: 0 });
  const accepting = listener.accept();
  const conn = await raw(listener);
  const server = await accepting;
  await conn.write(frame(bytes("0123456789")).subarray(0, 9));
  conn.close();
  await assert.rejects(
    server.recv(),
    (error: Error) =>
      error instanceof ProcessError && !(error instanceof EOFError) &&
      /in the middle of a message \(5 of its 10 bytes had arrived\)/.test(
        error.message,
      ),
  );
  server.close();
});

Deno.test("a message over maxMessageSize is a RangeError to send and a ProcessError to receive", async () => {
  using listener = new Listener({ port: 0, maxMessageSize: 1000 });
  const [server, client] = await Promise.all([
    listener.accept(),
    Client({ ...listener.address, maxMessageSize: 5000 }),
  ]);
  assert.throws(
    () => server.sendBytes(new Uint8Array(1001)),
    (error: Error) =>
      error instanceof RangeError && /'maxMessageSize' \(1000 bytes\)/.test(
        error.message,
      ),
  );
  client.sendBytes(new Uint8Array(1001));
  await assert.rejects(
    server.recvBytes(),
    (error: Error) =>
      error instanceof ProcessError &&
      /1001 bytes, over the limit of 1000 bytes \(maxMessageSize\): the connection is closed/
        .test(error.message),
  );
  await assert.rejects(client.recvBytes(), EOFError); // it was closed
  server.close();
  client.close();
});

Deno.test("a message that holds shared memory is refused with a TypeError naming its path", async () => {
  using listener = new Listener({ port: 0 });
  const [server, client] = await Promise.all([
    listener.accept(),
    Client(listener.address),
  ]);
  const shared = new Int32Array(new SharedArrayBuffer(8));
  assert.throws(
    () => client.send({ fine: [1, 2], counts: [0, { cells: shared }] }),
    (error: Error) =>
      error instanceof TypeError &&
      /^Cannot send obj.counts\[1\].cells: it is an Int32Array of a SharedArrayBuffer, which lives in this program only/
        .test(error.message),
  );
  client.send("nothing was sent before this");
  assert.equal(await server.recv(), "nothing was sent before this");
  server.close();
  client.close();
});

Deno.test("a Queue, a Lock or a Pipe end cannot be sent over a socket: their state is this program's", async () => {
  using listener = new Listener({ port: 0 });
  const [server, client] = await Promise.all([
    listener.accept(),
    Client(listener.address),
  ]);
  const queue = new Queue();
  const [a, b] = Pipe();
  for (
    const [value, name] of [[queue, "Queue"], [
      new Lock(),
      "Lock",
    ], [a, "Connection"]] as const
  ) {
    assert.throws(
      () => client.send({ inside: [value] }),
      (error: Error) =>
        error instanceof TypeError &&
        error.message.startsWith(
          `Cannot send obj.inside[0]: it is a ${name} (it crosses between processes by reference), which lives in this program only`,
        ),
    );
  }
  assert.throws(() => client.send(server), /it is a Connection/);
  client.send("only this");
  assert.equal(await server.recv(), "only this");
  a.close();
  b.close();
  queue.close();
  server.close();
  client.close();
});

Deno.test("a registered object arriving from another program is refused, not revived", async () => {
  using listener = new Listener({ port: 0 });
  const accepting = listener.accept();
  const peer = await raw(listener);
  const server = await accepting;
  // The bytes a Pipe end would make, sent by a peer that did not refuse it.
  const out = new Writer();
  const [a, b] = Pipe();
  encode({ end: a }, out, { path: "obj" });
  await peer.write(frame(out.written()));
  await assert.rejects(
    server.recv(),
    /holds a Connection, which only a process of the same program can send/,
  );
  a.close();
  b.close();
  peer.close();
  server.close();
});

Deno.test("the synchronous receives throw a ProcessError on a socket connection", async () => {
  using listener = new Listener({ port: 0 });
  const [server, client] = await Promise.all([
    listener.accept(),
    Client(listener.address),
  ]);
  assert.throws(
    () => server.recvSync(),
    (error: Error) =>
      error instanceof ProcessError &&
      /^Cannot recvSync\(\): a socket connection with 127.0.0.1:\d+ cannot block this thread: await the async form instead/
        .test(error.message),
  );
  assert.throws(() => server.recvBytesSync(), ProcessError);
  assert.throws(() => server.pollSync(), ProcessError);
  server.close();
  client.close();
});

Deno.test("recv() on a socket honours a timeout and a signal, and what arrives later is kept", async () => {
  using listener = new Listener({ port: 0 });
  const [server, client] = await Promise.all([
    listener.accept(),
    Client(listener.address),
  ]);
  await assert.rejects(server.recv({ timeout: 20 }), TimeoutError);
  await assert.rejects(server.recv({ block: false }), TimeoutError);
  const controller = new AbortController();
  const aborted = server.recv({ signal: controller.signal });
  controller.abort(new Error("enough"));
  await assert.rejects(aborted, /enough/);
  client.send("late");
  assert.equal(await server.recv(), "late");
  server.close();
  client.close();
});

Deno.test("a send to a peer that went away throws a broken-pipe ProcessError on a later send", async () => {
  using listener = new Listener({ port: 0 });
  const [server, client] = await Promise.all([
    listener.accept(),
    Client(listener.address),
  ]);
  server.close();
  // The first sends may still be written (the system takes them); one of
  // the next fails, and the send after it says so.
  let failure: Error | undefined;
  const end = Date.now() + 10_000;
  while (failure === undefined && Date.now() < end) {
    try {
      client.sendBytes(new Uint8Array(1000));
    } catch (error) {
      failure = error as Error;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.ok(failure instanceof ProcessError, String(failure));
  assert.match(failure.message, /^Cannot sendBytes\(\): broken pipe/);
  client.close(); // the failure was reported already: close() is quiet
});

Deno.test("a peer's close is seen by recv() as EOFError, and a send after it is a broken pipe", async () => {
  using listener = new Listener({ port: 0 });
  const [server, client] = await Promise.all([
    listener.accept(),
    Client(listener.address),
  ]);
  server.send("last words");
  server.close();
  assert.equal(await client.recv(), "last words");
  await assert.rejects(
    client.recv(),
    (error: Error) =>
      error instanceof EOFError &&
      /closed the connection and nothing is left to receive/.test(
        error.message,
      ),
  );
  assert.throws(
    () => client.send("anyone?"),
    /broken pipe, 127.0.0.1:\d+ closed the connection/,
  );
  client.close();
});

Deno.test("a connection dropped without close() closes when collected: the peer sees EOF", async () => {
  using listener = new Listener({ port: 0 });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-lock",
      "--allow-read",
      "--allow-net=127.0.0.1",
      "--v8-flags=--expose-gc",
      new URL("./_fixtures/dropped_client.ts", import.meta.url).pathname,
      String(portOf(listener)),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const dropped = await listener.accept();
  const watch = await listener.accept();
  assert.equal(await dropped.recv(), "hi");
  await assert.rejects(dropped.recv(), EOFError);
  watch.close(); // tells the child it is over
  const output = await child.output();
  assert.equal(new TextDecoder().decode(output.stdout).trim(), "peer saw EOF");
  dropped.close();
});
