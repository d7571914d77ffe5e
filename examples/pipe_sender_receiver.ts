// A sender and a receiver over a one-way Pipe: the sender sends a few
// messages and closes its end; the receiver prints them until EOF. As in
// Python, the parent closes its own copies of the ends it gave away: the
// receiver sees EOF only once no process holds the sending end.
//
//   deno run --allow-read examples/pipe_sender_receiver.ts

import { type Connection, EOFError, Pipe, Process } from "../mod.ts";

export function sender(conn: Connection<{ n: number; text: string }>) {
  for (let n = 1; n <= 5; n++) {
    conn.send({ n, text: `message ${n}` });
    console.log(`sent message ${n}`);
  }
  conn.close();
}

export async function receiver(conn: Connection<{ n: number; text: string }>) {
  while (true) {
    try {
      const { n, text } = await conn.recv();
      console.log(`received #${n}: ${text}`);
    } catch (error) {
      if (error instanceof EOFError) break;
      throw error;
    }
  }
  console.log("receiver: the sender closed its end");
}

if (import.meta.main) {
  const [receiving, sending] = Pipe<{ n: number; text: string }>(false);
  const r = new Process({ target: receiver, args: [receiving] });
  const s = new Process({ target: sender, args: [sending] });
  r.start();
  s.start();
  receiving.close(); // the children have their own copies
  sending.close();
  await Promise.all([s.join(), r.join()]);
}
