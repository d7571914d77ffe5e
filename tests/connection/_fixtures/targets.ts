// Targets for the Connection and Pipe tests and the doc examples: a module
// other than the main one, so it registers its targets.

import {
  type Connection,
  EOFError,
  exit,
  Process,
  registerTargets,
} from "../../../mod.ts";

/** Sends back everything it receives until EOF. */
export async function echo(conn: Connection): Promise<void> {
  while (true) {
    let message;
    try {
      message = await conn.recv();
    } catch (error) {
      if (error instanceof EOFError) return;
      throw error;
    }
    conn.send(message);
  }
}

/** The blocking form of {@linkcode echo}. */
export function echoSync(conn: Connection): void {
  while (true) {
    let message;
    try {
      message = conn.recvSync();
    } catch (error) {
      if (error instanceof EOFError) return;
      throw error;
    }
    conn.send(message);
  }
}

/** Answers one message, then blocks its thread forever. */
export async function answerOnceThenHang(conn: Connection): Promise<void> {
  conn.send(await conn.recv());
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

/** Answers one message, then ends with exit code 3 without closing. */
export async function answerOnceThenExit(conn: Connection): Promise<void> {
  conn.send(await conn.recv());
  exit(3);
}

/** Sends `n` numbers and returns (its end is not closed). */
export function sendNumbers(conn: Connection, n: number): void {
  for (let i = 0; i < n; i++) conn.send(i);
}

/** Sends `[id, i]` for i < n, then returns without closing. */
export function sendTagged(conn: Connection, id: number, n: number): void {
  for (let i = 0; i < n; i++) conn.send([id, i]);
}

/**
 * Python's child side of the idiom: closes the end it does not use, then
 * echoes on the other one until EOF.
 */
export async function closeUnusedThenEcho(
  mine: Connection,
  unused: Connection,
): Promise<void> {
  unused.close();
  await echo(mine);
}

/** Sends numbers as fast as it can until terminated; counts in `sent`. */
export function sendForever(conn: Connection, sent: Int32Array): void {
  for (let i = 0;; i++) {
    conn.send(i);
    Atomics.store(sent, 0, i + 1);
  }
}

/** A Process subclass holding both ends, as Python's examples do. */
export class PipeHolder extends Process {
  constructor(
    readonly parentConn: Connection,
    readonly childConn: Connection,
  ) {
    super();
  }

  override async run(): Promise<void> {
    this.parentConn.close(); // the child does not use the parent's end
    await echo(this.childConn);
  }
}

registerTargets(import.meta, {
  echo,
  echoSync,
  answerOnceThenHang,
  answerOnceThenExit,
  sendNumbers,
  sendTagged,
  closeUnusedThenEcho,
  sendForever,
  PipeHolder,
});
