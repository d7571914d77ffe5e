// Helpers for tests/connection: a Python peer (_python_peer.py) to talk to,
// raw sockets for peers that misbehave, and a CA with a leaf certificate for
// 127.0.0.1 made with openssl.

import type { Listener } from "../../mod.ts";

/** A running `python3 _python_peer.py …`, read one JSON line at a time. */
export class PythonPeer {
  readonly #child: Deno.ChildProcess;
  readonly #lines: ReadableStreamDefaultReader<string>;
  #buffer = "";
  readonly #stderr: Promise<string>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.#child = new Deno.Command("python3", {
      args: [new URL("./_python_peer.py", import.meta.url).pathname, ...args],
      stdout: "piped",
      stderr: "piped",
      env,
    }).spawn();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    this.#stderr = new Response(this.#child.stderr).text();
  }

  /** The next line the peer printed, parsed; fails after `ms`. */
  async next(ms = 10_000): Promise<Record<string, any>> {
    const end = Date.now() + ms;
    while (!this.#buffer.includes("\n")) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const { value, done } = await Promise.race([
        this.#lines.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error("the Python peer said nothing in time")),
            Math.max(0, end - Date.now()),
          );
        }),
      ]).finally(() => clearTimeout(timer));
      if (done) {
        throw new Error(
          `the Python peer ended without a line; stderr:\n${await this
            .#stderr}`,
        );
      }
      this.#buffer += value;
    }
    const at = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, at);
    this.#buffer = this.#buffer.slice(at + 1);
    return JSON.parse(line);
  }

  /** Waits for the peer to end; returns its exit code (killing it after `ms`). */
  async end(ms = 10_000): Promise<number> {
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* ended */ }
    }, ms);
    const status = await this.#child.status;
    clearTimeout(timer);
    await this.#lines.cancel();
    const stderr = await this.#stderr;
    if (status.code !== 0) {
      throw new Error(`the Python peer exited with ${status.code}:\n${stderr}`);
    }
    return status.code;
  }
}

/** Hex of UTF-8 text, for the peer's command line. */
export function hex(text: string): string {
  return [...new TextEncoder().encode(text)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** UTF-8 text of hex. */
export function unhex(hexText: string): string {
  const bytes = new Uint8Array(hexText.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hexText.slice(2 * i, 2 * i + 2), 16);
  }
  return new TextDecoder().decode(bytes);
}

/** PEM text of a test CA and of a leaf certificate for 127.0.0.1 it signed. */
export interface Certificates {
  ca: string;
  cert: string;
  key: string;
}

async function run(command: string, args: string[], cwd?: string) {
  const output = await new Deno.Command(command, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed:\n${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
  return new TextDecoder().decode(output.stdout).trim();
}

/** Makes a CA and a leaf certificate with openssl, in a directory it removes. */
export async function makeCertificates(): Promise<Certificates> {
  const dir = await run("mktemp", ["-d"]);
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    await run("openssl", [
      "req",
      "-x509",
      ...ec,
      "-nodes",
      "-days",
      "1",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-subj",
      "/CN=multiprocessing test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign",
    ], dir);
    await run("openssl", [
      "req",
      ...ec,
      "-nodes",
      "-keyout",
      "leaf.key",
      "-out",
      "leaf.csr",
      "-subj",
      "/CN=127.0.0.1",
    ], dir);
    await run("sh", [
      "-c",
      "printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > leaf.ext",
    ], dir);
    await run("openssl", [
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-out",
      "leaf.pem",
      "-extfile",
      "leaf.ext",
    ], dir);
    return {
      ca: await Deno.readTextFile(`${dir}/ca.pem`),
      cert: await Deno.readTextFile(`${dir}/leaf.pem`),
      key: await Deno.readTextFile(`${dir}/leaf.key`),
    };
  } finally {
    await run("rm", ["-rf", dir]);
  }
}

/** UTF-8 text of bytes. */
export const text = (bytes: Uint8Array): string =>
  new TextDecoder().decode(bytes);

/** UTF-8 bytes of text. */
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The port a TCP listener listens on. */
export function portOf(listener: Listener): number {
  return (listener.address as { port: number }).port;
}

/** A raw TCP connection to `listener`, for peers that misbehave. */
export function raw(listener: Listener): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: portOf(listener) });
}

/** Python's framing of `payload`. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setInt32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** Reads from `conn` until it ends; returns all it got. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: number[] = [];
  const buffer = new Uint8Array(4096);
  while (true) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return new Uint8Array(chunks);
    chunks.push(...buffer.subarray(0, n));
  }
}
