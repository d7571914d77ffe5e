// A Listener and a Client, as in Python's docs ("Listeners and Clients"):
// the main process listens on 127.0.0.1 with an authkey, a child process
// connects, sends a value and some bytes, and hears back. A Python program
// could be either side: the bytes on the wire are Python's (send/recv
// carry this module's codec, not pickle; sendBytes/recvBytes interoperate).
//
//   deno run --allow-read --allow-net=127.0.0.1 examples/listener_client.ts

import { Client, Listener, Process } from "../mod.ts";

export async function client(port: number) {
  const conn = await Client({ port, authkey: "secret password" });
  conn.send([1, 2.0, "hello", null]);
  conn.sendBytes(new TextEncoder().encode("hello in bytes"));
  console.log(`client heard: ${await conn.recv()}`);
  conn.close();
}

if (import.meta.main) {
  using listener = new Listener({ port: 0, authkey: "secret password" });
  const { port } = listener.address as { port: number };
  const p = new Process({ target: client, args: [port] });
  p.start();
  const conn = await listener.accept();
  console.log("connection accepted from a client that knows the key");
  console.log(await conn.recv());
  console.log(new TextDecoder().decode(await conn.recvBytes()));
  conn.send("thanks");
  await p.join();
  conn.close();
  console.log(`client exited with ${p.exitCode}`);
}
