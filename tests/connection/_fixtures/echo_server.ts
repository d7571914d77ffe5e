// A program that listens on 127.0.0.1, prints its port, answers one
// client's messages (the value with echoed: true) until it closes, and ends.
import { EOFError, Listener } from "../../../mod.ts";

const listener = new Listener({ port: 0, authkey: "two programs" });
console.log((listener.address as { port: number }).port);
const conn = await listener.accept();
listener.close();
try {
  while (true) {
    const value = await conn.recv() as Record<string, unknown>;
    conn.send({ ...value, echoed: true });
  }
} catch (error) {
  if (!(error instanceof EOFError)) throw error;
}
conn.close();
