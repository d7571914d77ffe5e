import assert from "node:assert/strict";
import {
  AuthenticationError,
  Client,
  EOFError,
  Listener,
  ProcessError,
  TimeoutError,
} from "../../mod.ts";
import { runProgram } from "../_helpers.ts";
import {
  bytes,
  frame,
  hex,
  makeCertificates,
  portOf,
  PythonPeer,
  raw,
  readAll,
  text,
  unhex,
} from "./_peers.ts";

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

Deno.test("many clients at once, some with a wrong key and some sending garbage: every good one gets through", async () => {
  using listener = new Listener({ port: 0, authkey: "k", backlog: 8 });
  const good = 24, wrong = 8, garbage = 8;
  const clients = [
    ...Array.from({ length: good }, async (_, i) => {
      const conn = await Client({ ...listener.address, authkey: "k" });
      conn.send(i);
      const answer = await conn.recv();
      conn.close();
      return answer;
    }),
    ...Array.from(
      { length: wrong },
      () =>
        Client({ ...listener.address, authkey: "nope" }).then(
          () => "let in",
          (error) => error instanceof AuthenticationError ? "refused" : error,
        ),
    ),
    ...Array.from({ length: garbage }, async (_, i) => {
      const conn = await raw(listener);
      await conn.write(crypto.getRandomValues(new Uint8Array(1 + i * 37)));
      conn.close();
      return "garbage sent";
    }),
  ];
  const served: number[] = [];
  let refusals = 0;
  while (served.length < good) {
    try {
      const conn = await listener.accept({ timeout: 20_000 });
      const n = await conn.recv() as number;
      conn.send(n * 2);
      served.push(n);
      conn.close();
    } catch (error) {
      if (error instanceof TimeoutError) throw error;
      refusals++;
    }
  }
  const results = await Promise.all(clients);
  assert.deepEqual(served.sort((a, b) => a - b), [...Array(good).keys()]);
  assert.deepEqual(
    results.slice(0, good),
    [...Array(good).keys()].map((i) => i * 2),
  );
  assert.deepEqual(
    results.slice(good, good + wrong),
    Array(wrong).fill("refused"),
  );
  // Each wrong key and each garbage peer made one accept() reject, at most.
  assert.ok(refusals <= wrong + garbage, `${refusals} refusals`);
});
