import assert from "node:assert/strict";
import {
  AuthenticationError,
  Client,
  EOFError,
  ProcessError,
  TimeoutError,
} from "../../mod.ts";
import { PythonPeer } from "./_peers.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (s: string) => new TextEncoder().encode(s);

for (const dialect of ["legacy", "modern"]) {
  const name = dialect === "legacy"
    ? "Python ≤ 3.11's handshake"
    : "Python 3.12's {sha256} handshake";
  Deno.test(`Client() passes ${name} with a Python Listener, and bytes go both ways`, async () => {
    const peer = new PythonPeer(["serve", dialect, "py-secret"]);
    const { port } = await peer.next();
    const conn = await Client({ port, authkey: "py-secret" });
    assert.deepEqual(await peer.next(), { event: "accepted" });
    conn.sendBytes(bytes("to python"));
    assert.equal(text(await conn.recvBytes()), "py:to python");
    const big = "y".repeat(200_000);
    conn.sendBytes(bytes(big));
    assert.equal(text(await conn.recvBytes()), `py:${big}`);
    conn.sendBytes(bytes("long header, please"));
    assert.equal(text(await conn.recvBytes()), "py:long header, please");
    conn.close();
    assert.deepEqual(await peer.next(), { event: "eof" });
    await peer.end();
  });

  Deno.test(`Client() with a wrong key is refused in ${name}, and the Python side refuses it too`, async () => {
    const peer = new PythonPeer(["serve", dialect, "py-secret"]);
    const { port } = await peer.next();
    await assert.rejects(
      Client({ port, authkey: "not-it" }),
      (error: Error) =>
        error instanceof AuthenticationError &&
        /digest sent was rejected/.test(error.message),
    );
    const said = await peer.next();
    assert.equal(said.event, "refused");
    assert.equal(said.error, "AuthenticationError");
    // The Python listener goes on accepting: a right key gets in.
    const conn = await Client({ port, authkey: "py-secret" });
    assert.deepEqual(await peer.next(), { event: "accepted" });
    conn.close();
    await peer.end();
  });
}

for (const digest of ["md5", "sha384", "sha3_256", "sha3_384"]) {
  Deno.test(`Client() answers a Python listener that challenges with {${digest}}`, async () => {
    const peer = new PythonPeer(["serve", "modern", "k"], {
      PEER_DIGEST: digest,
    });
    const { port } = await peer.next();
    const conn = await Client({ port, authkey: "k" });
    assert.deepEqual(await peer.next(), { event: "accepted" });
    conn.close();
    await peer.end();
  });
}

Deno.test("Client() without an authkey talks to a Python Listener without one", async () => {
  const peer = new PythonPeer(["serve", "native", "-"]);
  const { port } = await peer.next();
  const conn = await Client({ port });
  conn.sendBytes(new Uint8Array([0, 255]));
  assert.deepEqual(
    await conn.recvBytes(),
    new Uint8Array([...bytes("py:"), 0, 255]),
  );
  conn.close();
  await peer.end();
});

Deno.test("recv() of a message that send() did not write is a ProcessError that leaves it for recvBytes()", async () => {
  const peer = new PythonPeer(["serve", "native", "-"]);
  const { port } = await peer.next();
  const conn = await Client({ port });
  conn.sendBytes(bytes("x"));
  await assert.rejects(
    conn.recv(),
    (error: Error) =>
      error instanceof ProcessError &&
      /first byte is 112\): it was sent with sendBytes\(\), or by a Python peer's send\(\)/
        .test(error.message),
  );
  assert.equal(text(await conn.recvBytes()), "py:x");
  conn.close();
  await peer.end();
});

Deno.test("Client() gives up after its timeout when the listener never answers", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept();
  await assert.rejects(
    Client({ port: listener.addr.port, authkey: "k", timeout: 50 }),
    (error: Error) =>
      error instanceof TimeoutError && /within 50 ms/.test(error.message),
  );
  const silent = await accepting;
  // The client side was closed: the silent listener sees the end.
  assert.equal(await silent.read(new Uint8Array(8)), null);
  silent.close();
});

Deno.test("Client() rejects with the signal's reason when aborted", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept();
  const controller = new AbortController();
  const connecting = Client({
    port: listener.addr.port,
    authkey: "k",
    signal: controller.signal,
  });
  const silent = await accepting;
  controller.abort(new Error("no more waiting"));
  await assert.rejects(connecting, /no more waiting/);
  assert.equal(await silent.read(new Uint8Array(8)), null);
  silent.close();
});

Deno.test("recvBytes() rejects with EOFError when a Python listener closes the connection", async () => {
  const peer = new PythonPeer(["serve", "native", "-"]);
  const { port } = await peer.next();
  const conn = await Client({ port });
  conn.sendBytes(bytes("close, please"));
  const receiving = conn.recvBytes();
  await assert.rejects(receiving, EOFError);
  assert.deepEqual(await peer.next(), { event: "accepted" });
  assert.deepEqual(await peer.next(), { event: "closed" });
  conn.close();
  await peer.end();
});
