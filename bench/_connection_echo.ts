// The server of bench/connection_cases.ts, as a program of its own (as
// Python's twin forks one): listens on 127.0.0.1 with an authkey, prints
// its port, and answers every message of each client with the message
// itself until that client closes; ends when stdin closes.
import { EOFError, Listener } from "../mod.ts";

const listener = new Listener({ port: 0, authkey: "bench" });
console.log((listener.address as { port: number }).port);
// The bench closes stdin to stop this server.
(async () => {
  for await (const _ of Deno.stdin.readable) { /* until closed */ }
  listener.close();
  Deno.exit(0);
})();
while (true) {
  const conn = await listener.accept();
  (async () => {
    try {
      while (true) conn.send(await conn.recv());
    } catch (error) {
      if (!(error instanceof EOFError)) throw error;
    }
    conn.close();
  })();
}
