// Two processes exchange words over a duplex Pipe: each sends a word, then
// reads the other's, turn by turn, and closes its end when it has no words
// left (the other then sees EOF).
//
//   deno run --allow-read examples/pipe_duplex_words.ts

import { type Connection, EOFError, Pipe, Process } from "../mod.ts";

export async function speaker(conn: Connection<string>, words: string[]) {
  const me = words[0];
  for (const word of words.slice(1)) {
    conn.send(word);
    try {
      console.log(`${me} heard: ${await conn.recv()}`);
    } catch (error) {
      if (error instanceof EOFError) break;
      throw error;
    }
  }
  conn.close();
}

if (import.meta.main) {
  const [left, right] = Pipe<string>();
  const alice = new Process({
    target: speaker,
    args: [left, ["alice", "hello", "how are you", "bye"]],
  });
  const bob = new Process({
    target: speaker,
    args: [right, ["bob", "hi", "fine", "thanks"]],
  });
  alice.start();
  bob.start();
  left.close(); // the children have their own copies
  right.close();
  await Promise.all([alice.join(), bob.join()]);
  console.log(`alice: ${alice.exitCode}, bob: ${bob.exitCode}`);
}
