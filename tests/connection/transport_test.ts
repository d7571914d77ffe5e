// The transport seam: Connection's semantics written once over Transport.
// A socket-like transport (async sends, no blocking receive, bytes only)
// plugs in as this in-memory one does.

import assert from "node:assert/strict";
import { Connection, EOFError, ProcessError } from "../../mod.ts";
import {
  type Accept,
  type Ending,
  EOF,
  NOT_BYTES,
  reviveTransport,
  TIMED_OUT,
  Transport,
  type TransportState,
} from "../../src/connection/_transport.ts";
import { FORMAT_BYTES, type Sidecar } from "../../src/core/codec.ts";
import type { Wait } from "../../src/core/wait.ts";

/** Two in-memory ends, like a socket pair: frames, async, bytes only. */
class MemoryTransport extends Transport {
  readonly name = "a memory socket";
  readonly readable = true;
  readonly writable = true;
  closed = false;
  peer!: MemoryTransport;
  readonly frames: Uint8Array[] = [];
  #wake: (() => void) | undefined;

  carriesSidecars(): boolean {
    return false;
  }

  checkPeer(method: string): void {
    if (this.peer.closed) {
      throw new ProcessError(`Cannot ${method}(): broken pipe`);
    }
  }

  async send(bytes: Uint8Array, sidecar?: Sidecar): Promise<void> {
    assert.equal(sidecar, undefined);
    const frame = bytes.slice(); // valid only during the call
    await Promise.resolve(); // a write takes a turn
    this.peer.frames.push(frame);
    this.peer.#wake?.();
  }

  async receive<R>(
    wait: Wait,
    accept: Accept<R>,
    onlyBytes: boolean,
  ): Promise<R | Ending> {
    while (this.frames.length === 0) {
      if (this.peer.closed) return EOF;
      if (wait.deadline <= performance.now()) return TIMED_OUT;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 5); // a socket would wake on data or close
      });
    }
    if (onlyBytes && this.frames[0][0] !== FORMAT_BYTES) return NOT_BYTES;
    return accept(this.frames.shift()!);
  }

  poll(): Promise<boolean> {
    return Promise.resolve(this.frames.length > 0 || this.peer.closed);
  }

  close(): void {
    this.closed = true;
    this.peer.#wake?.();
  }

  share(context: { path: string }): TransportState {
    throw new TypeError(`Cannot send ${context.path}: not shareable`);
  }
}

function memoryPair(): [Connection, Connection] {
  const a = new MemoryTransport();
  const b = new MemoryTransport();
  a.peer = b;
  b.peer = a;
  return [new Connection(a), new Connection(b)];
}

Deno.test("a Connection over an async, bytes-only transport sends, receives and ends with EOFError", async () => {
  const [a, b] = memoryPair();
  await a.send({ hello: [1, 2] });
  assert.deepEqual(await b.recv(), { hello: [1, 2] });
  await a.sendBytes(new Uint8Array([9, 8]));
  assert.deepEqual(await b.recvBytes(), new Uint8Array([9, 8]));
  a.close();
  await assert.rejects(b.recv(), EOFError);
});

Deno.test("over a transport without a blocking receive, recvSync and pollSync say so", () => {
  const [a] = memoryPair();
  assert.throws(
    () => a.recvSync(),
    (e: Error) =>
      e instanceof ProcessError && e.message.includes("cannot block"),
  );
  assert.throws(() => a.pollSync(), ProcessError);
});

Deno.test("over a bytes-only transport, shared objects are refused naming the path and transfers are copied", async () => {
  const [a, b] = memoryPair();
  assert.throws(
    () => a.send({ s: new SharedArrayBuffer(4) }),
    (e: Error) =>
      e instanceof TypeError && e.message.includes("obj.s") &&
      e.message.includes("a memory socket"),
  );
  const buffer = new Uint8Array([1, 2, 3]).buffer;
  await a.send(buffer, { transfer: [buffer] });
  assert.equal(buffer.detached, true);
  assert.deepEqual(
    new Uint8Array(await b.recv() as ArrayBuffer),
    new Uint8Array([1, 2, 3]),
  );
});

Deno.test("a transport of a kind this process does not know is refused when revived", () => {
  assert.throws(
    () => reviveTransport({ kind: "carrier-pigeon", state: null }),
    TypeError,
  );
});
