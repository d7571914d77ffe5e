import assert from "node:assert/strict";
import {
  AuthenticationError,
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
import { hex, makeCertificates, PythonPeer, unhex } from "./_peers.ts";
import { runProgram } from "../_helpers.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (s: string) => new TextEncoder().encode(s);

function portOf(listener: Listener): number {
  return (listener.address as { port: number }).port;
}

/** A raw TCP connection to `listener`, for peers that misbehave. */
function raw(listener: Listener): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: portOf(listener) });
}

/** Python's framing of `payload`. */
function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setInt32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** Reads from `conn` until it ends; returns all it got. */
async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: number[] = [];
  const buffer = new Uint8Array(4096);
  while (true) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return new Uint8Array(chunks);
    chunks.push(...buffer.subarray(0, n));
  }
}

Deno.test("a Client and an accepted connection exchange values both ways, with an authkey", async () => {
  using listener = new Listener({ port: 0, authkey: "secret" });
  const [server, client] = await Promise.all([
    listener.accept(),
    Client({ ...listener.address, authkey: "secret" }),
  ]);
  const values = [1, "two", { three: [3, null] }, undefined, new Map([[4, 4]])];
  for (const value of values) client.send(value);
  for (const value of values) assert.deepEqual(await server.recv(), value);
  server.send(new Date(0));
  assert.deepEqual(await client.recv(), new Date(0));
  client.close();
  await assert.rejects(server.recv(), EOFError);
  server.close();
});

Deno.test("port 0 picks a free port, and address says which", () => {
  using listener = new Listener({ port: 0 });
  assert.deepEqual(Object.keys(listener.address), ["hostname", "port"]);
  assert.equal(
    (listener.address as { hostname: string }).hostname,
    "127.0.0.1",
  );
  assert.ok(portOf(listener) > 0);
});

Deno.test("a busy port is a ProcessError naming the address", () => {
  using first = new Listener({ port: 0 });
  assert.throws(
    () => new Listener({ port: portOf(first) }),
    (error: Error) =>
      error instanceof ProcessError &&
      error.message ===
        `Cannot listen on 127.0.0.1:${
          portOf(first)
        }: the address is in use (another program or Listener holds it)` &&
      error.cause instanceof Deno.errors.AddrInUse,
  );
});

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

Deno.test("a client with another authkey is refused on both sides, and the listener goes on accepting", async () => {
  using listener = new Listener({ port: 0, authkey: "right" });
  const [accepted, connected] = await Promise.allSettled([
    listener.accept(),
    Client({ ...listener.address, authkey: "wrong" }),
  ]);
  assert.ok(
    accepted.status === "rejected" &&
      accepted.reason instanceof AuthenticationError,
  );
  assert.ok(
    connected.status === "rejected" &&
      connected.reason instanceof AuthenticationError &&
      /digest sent was rejected/.test(connected.reason.message),
  );
  const [server, client] = await Promise.all([
    listener.accept(),
    Client({ ...listener.address, authkey: "right" }),
  ]);
  client.send("after a refusal");
  assert.equal(await server.recv(), "after a refusal");
  server.close();
  client.close();
});

Deno.test("a client without an authkey is refused by a listener that has one", async () => {
  using listener = new Listener({ port: 0, authkey: "right" });
  const accepting = listener.accept();
  const client = await Client(listener.address);
  client.send("let me in");
  await assert.rejects(accepting, AuthenticationError);
  // All it hears is the challenge, then #FAILURE#, then the end.
  await assert.rejects(client.recv(), /not one this module's send\(\) wrote/);
  assert.match(text(await client.recvBytes()), /^#CHALLENGE#\{sha256\}/);
  assert.equal(text(await client.recvBytes()), "#FAILURE#");
  await assert.rejects(client.recvBytes(), EOFError);
  client.close();
});

Deno.test("no byte of a message reaches the listener's side before authentication", async () => {
  using listener = new Listener({ port: 0, authkey: "right" });
  const accepting = listener.accept();
  const conn = await raw(listener);
  // A message frame where the answer belongs, and more after it.
  await conn.write(frame(bytes("a message sent too early")));
  await conn.write(frame(bytes("and another")));
  await assert.rejects(accepting, AuthenticationError);
  const heard = await readAll(conn);
  conn.close();
  // It heard the challenge and the failure, nothing else; accept() handed
  // nothing out, so nothing was received.
  assert.equal(
    text(heard.subarray(4, 4 + 19)),
    "#CHALLENGE#{sha256}",
  );
  assert.equal(text(heard.subarray(-9)), "#FAILURE#");
  assert.equal(heard.length, 4 + 11 + 48 + 4 + 9);
});

Deno.test("a peer that sends garbage is refused with a clear error, and the listener goes on", async () => {
  using listener = new Listener({ port: 0, authkey: "k" });
  const accepting = listener.accept();
  const conn = await raw(listener);
  await conn.write(bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  await assert.rejects(
    accepting,
    (error: Error) =>
      error instanceof ProcessError &&
      /over the limit of 256 bytes \(what a handshake message may have\)/
        .test(error.message),
  );
  conn.close();
  const [server, client] = await Promise.all([
    listener.accept(),
    Client({ ...listener.address, authkey: "k" }),
  ]);
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

Deno.test("a peer that stops mid-handshake fails that accept() only", async () => {
  using listener = new Listener({ port: 0, authkey: "k" });
  const accepting = listener.accept();
  const conn = await raw(listener);
  await conn.write(new Uint8Array([0, 0, 0, 16, 1, 2]));
  conn.close();
  await assert.rejects(accepting, /in the middle of a message/);
  const [server, client] = await Promise.all([
    listener.accept(),
    Client({ ...listener.address, authkey: "k" }),
  ]);
  server.close();
  client.close();
});

Deno.test("a client that stalls in the handshake holds up no other client", async () => {
  using listener = new Listener({ port: 0, authkey: "k" });
  const stalled = await raw(listener); // connects, never answers
  const [server, client] = await Promise.all([
    listener.accept(),
    Client({ ...listener.address, authkey: "k" }),
  ]);
  client.send("through");
  assert.equal(await server.recv(), "through");
  server.close();
  client.close();
  listener.close(); // disconnects the stalled one
  assert.equal((await readAll(stalled)).length > 0, true); // its challenge
  stalled.close();
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
      /^Cannot send obj.counts\[1\].cells: it is a SharedArrayBuffer \(or holds one\), which cannot leave this program through a socket connection with 127.0.0.1:\d+/
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
      "multiprocessing.Lock",
    ], [a, "Connection"]] as const
  ) {
    assert.throws(
      () => client.send({ inside: [value] }),
      (error: Error) =>
        error instanceof TypeError &&
        error.message.startsWith(
          `Cannot send obj.inside[0]: it is a ${name}, which stands for shared state of this program and cannot leave it`,
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

Deno.test("accept() honours a timeout and a signal, and leaves no waiter behind", async () => {
  using listener = new Listener({ port: 0 });
  await assert.rejects(listener.accept({ timeout: 20 }), TimeoutError);
  await assert.rejects(listener.accept({ block: false }), TimeoutError);
  const controller = new AbortController();
  const aborted = listener.accept({ signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(aborted, /stop/);
  // The next client goes to the next accept(), not to a gone waiter.
  const [server, client] = await Promise.all([
    listener.accept(),
    Client(listener.address),
  ]);
  server.close();
  client.close();
});

Deno.test("close() makes a waiting accept() reject, and accept() after it", async () => {
  const listener = new Listener({ port: 0 });
  const waiting = listener.accept();
  listener.close();
  await assert.rejects(waiting, /listener was closed while accept\(\) waited/);
  await assert.rejects(listener.accept(), /the listener is closed/);
});

Deno.test("the port is free again once the event loop turns after close()", async () => {
  const listener = new Listener({ port: 0 });
  const port = portOf(listener);
  listener.close();
  await new Promise((resolve) => setTimeout(resolve, 0));
  using again = new Listener({ port });
  assert.equal(portOf(again), port);
});

Deno.test("a Client() awaited before accept() is called gets in, and accept() hands it out", async () => {
  using listener = new Listener({ port: 0, authkey: "k" });
  const client = await Client({ ...listener.address, authkey: "k" });
  client.send("early");
  const server = await listener.accept();
  assert.equal(await server.recv(), "early");
  server.close();
  client.close();
});

Deno.test("Client() to a port where nothing listens is a ProcessError saying so", async () => {
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = free.addr.port;
  free.close();
  await assert.rejects(
    Client({ port }),
    (error: Error) =>
      error instanceof ProcessError &&
      error.message ===
        `Cannot connect to 127.0.0.1:${port}: the connection was refused (nothing listens there)`,
  );
});

Deno.test("bad options are TypeErrors and RangeErrors naming the option", async () => {
  assert.throws(
    () => new Listener({ port: 0, authkey: 5 as never }),
    TypeError,
  );
  assert.throws(() => new Listener({ port: 70000 }), RangeError);
  assert.throws(() => new Listener({ port: "80" as never }), TypeError);
  assert.throws(() => new Listener({ port: 0, backlog: 0 }), RangeError);
  assert.throws(
    () => new Listener({ path: "/tmp/x.sock", port: 1 } as never),
    /'port' cannot go with 'path'/,
  );
  assert.throws(
    () => new Listener({ port: 0, tls: { caCerts: [] } }),
    /tls.cert' and 'tls.key' are missing/,
  );
  await assert.rejects(Client({ port: 1, authkey: [1] as never }), TypeError);
  await assert.rejects(Client({ port: 0 }), RangeError);
  await assert.rejects(Client(null as never), TypeError);
});

Deno.test("TLS: a client that trusts the test CA talks to a listener with its leaf certificate", async () => {
  const { ca, cert, key } = await makeCertificates();
  using listener = new Listener({ port: 0, authkey: "k", tls: { cert, key } });
  const [server, client] = await Promise.all([
    listener.accept(),
    Client({ ...listener.address, authkey: "k", tls: { caCerts: [ca] } }),
  ]);
  client.send({ over: "tls" });
  assert.deepEqual(await server.recv(), { over: "tls" });
  server.sendBytes(new Uint8Array(100_000).fill(7));
  assert.equal((await client.recvBytes()).length, 100_000);
  server.close();
  client.close();
});

Deno.test("TLS: a client that does not trust the certificate is refused with AuthenticationError", async () => {
  const { cert, key } = await makeCertificates();
  const other = await makeCertificates();
  using listener = new Listener({ port: 0, tls: { cert, key } });
  const [accepted, connected] = await Promise.allSettled([
    listener.accept(),
    Client({ ...listener.address, tls: { caCerts: [other.ca] } }),
  ]);
  assert.ok(
    connected.status === "rejected" &&
      connected.reason instanceof AuthenticationError &&
      /TLS handshake with 127.0.0.1:\d+ failed: .*certificate/.test(
        connected.reason.message,
      ),
    String(connected.status === "rejected" && connected.reason),
  );
  assert.ok(accepted.status === "rejected");
});

for (const dialect of ["legacy", "modern"]) {
  const name = dialect === "legacy"
    ? "Python ≤ 3.11's handshake"
    : "Python 3.12's {sha256} handshake";
  Deno.test(`a Python client with the right key passes ${name}, and bytes go both ways`, async () => {
    using listener = new Listener({ port: 0, authkey: "py-secret" });
    const accepting = listener.accept();
    const peer = new PythonPeer([
      "connect",
      dialect,
      String(portOf(listener)),
      "py-secret",
      hex("from python"),
      hex("x".repeat(50_000)), // past the 16 KiB where Python writes the header apart
    ]);
    const server = await accepting;
    assert.deepEqual(await peer.next(), { event: "connected" });
    assert.equal(text(await server.recvBytes()), "from python");
    server.sendBytes(bytes("deno heard you"));
    assert.equal(unhex((await peer.next()).hex), "deno heard you");
    assert.equal(text(await server.recvBytes()), "x".repeat(50_000));
    server.sendBytes(new Uint8Array(50_000).fill(0x41));
    assert.equal(unhex((await peer.next()).hex), "A".repeat(50_000));
    await assert.rejects(server.recvBytes(), EOFError);
    server.close();
    await peer.end();
  });

  Deno.test(`a Python client with a wrong key is refused in ${name}, on both sides`, async () => {
    using listener = new Listener({ port: 0, authkey: "py-secret" });
    const accepting = listener.accept();
    const peer = new PythonPeer([
      "connect",
      dialect,
      String(portOf(listener)),
      "not-it",
    ]);
    await assert.rejects(accepting, AuthenticationError);
    const said = await peer.next();
    assert.equal(said.event, "refused");
    assert.equal(said.error, "AuthenticationError");
    await peer.end();
  });
}

Deno.test("the native handshake of this machine's python3 passes", async () => {
  using listener = new Listener({ port: 0, authkey: "native" });
  const accepting = listener.accept();
  const peer = new PythonPeer([
    "connect",
    "native",
    String(portOf(listener)),
    "native",
    hex("hi"),
  ]);
  const server = await accepting;
  assert.equal(text(await server.recvBytes()), "hi");
  server.sendBytes(bytes("ho"));
  assert.equal(
    unhex((await peer.next(10_000).then(() => peer.next())).hex),
    "ho",
  );
  server.close();
  await peer.end();
});

Deno.test("a Unix socket listener serves a client, and close() removes its file", async () => {
  const dir =
    (await new Deno.Command("mktemp", { args: ["-d"], stdout: "piped" })
      .output()).stdout;
  const path = `${new TextDecoder().decode(dir).trim()}/app.sock`;
  try {
    const result = await runProgram(
      new URL("./_fixtures/unix_socket.ts", import.meta.url),
      {
        flags: [
          "--allow-read",
          `--allow-write=${path}`,
          `--allow-net=unix:${path}`,
        ],
        args: [path],
      },
    );
    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
    assert.deepEqual(result.stdout.trim().split("\n"), [
      `address: ${path}`,
      "unix: hello",
      "file removed: true",
    ]);
  } finally {
    await new Deno.Command("rm", {
      args: ["-rf", path.replace(/\/app.sock$/, "")],
    })
      .output();
  }
});

Deno.test("two separate deno programs: one listens, this one connects", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-lock",
      "--allow-read",
      "--allow-net=127.0.0.1",
      new URL("./_fixtures/echo_server.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  while (!line.includes("\n")) line += (await reader.read()).value ?? "\n";
  const port = Number(line.trim());
  const client = await Client({ port, authkey: "two programs" });
  client.send({ n: 41 });
  assert.deepEqual(await client.recv(), { n: 41, echoed: true });
  client.close();
  assert.equal((await child.status).code, 0);
  await reader.cancel();
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
