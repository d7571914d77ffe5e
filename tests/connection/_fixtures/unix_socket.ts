// Serves one client on the Unix socket at Deno.args[0], from this program,
// and prints what happened (tests/connection/listener_test.ts runs it with
// write access to that one path).
import { Client, Listener } from "../../../mod.ts";

const path = Deno.args[0];
const listener = new Listener({ path, authkey: "unix" });
console.log(`address: ${(listener.address as { path: string }).path}`);
const [server, client] = await Promise.all([
  listener.accept(),
  Client({ path, authkey: "unix" }),
]);
client.send("hello");
console.log(`unix: ${await server.recv()}`);
server.close();
client.close();
listener.close();
let removed = false;
try {
  Deno.lstatSync(path);
} catch (error) {
  removed = error instanceof Deno.errors.NotFound;
}
console.log(`file removed: ${removed}`);
