// Rows of `deno task bench:compare` for Listener/Client: connecting with an
// authkey (TCP connect + both handshakes), and a round trip of a small
// value, each against Python's multiprocessing.connection on the same
// machine. The server is another program in both (Python's twin forks).

import { Client } from "../mod.ts";
import { type CompareCase, median } from "./_compare.ts";

interface Server {
  port: number;
  stop(): Promise<void>;
}

async function startServer(program = "_connection_echo.ts"): Promise<Server> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-lock",
      "--allow-read",
      "--allow-net=127.0.0.1",
      new URL(program, import.meta.url).pathname,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the echo server ended before it said its port");
    line += value;
  }
  return {
    port: Number(line.trim()),
    async stop() {
      await child.stdin.close();
      await child.status;
      await reader.cancel();
    },
  };
}

export const cases: CompareCase[] = [
  {
    name: "Client() to a Listener in another program, with an authkey",
    unit: "ms",
    better: "lower",
    python: [{ script: "connection_cases.py", case: "connect" }],
    async deno() {
      const server = await startServer();
      const times: number[] = [];
      for (let i = 0; i < 30; i++) {
        const t = performance.now();
        const conn = await Client({ port: server.port, authkey: "bench" });
        times.push(performance.now() - t);
        conn.close();
      }
      await server.stop();
      return median(times);
    },
  },
  {
    name: "Client round trip of a small value (send + recv) over TCP",
    unit: "µs",
    better: "lower",
    goal: "≤ 0.5× Python",
    python: [{ script: "connection_cases.py", case: "rtt" }],
    async deno() {
      const server = await startServer();
      const conn = await Client({ port: server.port, authkey: "bench" });
      conn.send(-1);
      await conn.recv(); // first call apart: both sides are warm now
      const rounds: number[] = [];
      for (let r = 0; r < 20; r++) {
        const t = performance.now();
        for (let i = 0; i < 2000; i++) {
          conn.send(i);
          await conn.recv();
        }
        rounds.push((performance.now() - t) * 1000 / 2000);
      }
      conn.close();
      await server.stop();
      return median(rounds);
    },
  },
  {
    name:
      "TCP round trip of 7 raw bytes with Deno.connect (no framing, no codec: the runtime's floor)",
    unit: "µs",
    better: "lower",
    async deno() {
      const server = await startServer("_tcp_echo.ts");
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.port,
      });
      conn.setNoDelay(true);
      const message = new Uint8Array([0, 0, 0, 3, 1, 2, 3]);
      const buffer = new Uint8Array(64 * 1024);
      const rounds: number[] = [];
      for (let r = 0; r < 20; r++) {
        const t = performance.now();
        for (let i = 0; i < 2000; i++) {
          await conn.write(message);
          for (let got = 0; got < message.length;) {
            got += (await conn.read(buffer)) ?? message.length;
          }
        }
        rounds.push((performance.now() - t) * 1000 / 2000);
      }
      conn.close();
      await server.stop();
      return median(rounds);
    },
  },
];
