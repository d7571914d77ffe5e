// A bare TCP echo on 127.0.0.1 with Deno.listen (no framing, no codec, no
// handshake), for the floor row of bench/connection_cases.ts: prints its
// port, echoes what it reads until the client closes, and ends.
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(listener.addr.port);
const conn = await listener.accept();
listener.close();
conn.setNoDelay(true);
const buffer = new Uint8Array(64 * 1024);
for (let n; (n = await conn.read(buffer)) !== null;) {
  await conn.write(buffer.subarray(0, n));
}
conn.close();
