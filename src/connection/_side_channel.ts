// The side channel of a Pipe: how a message's sidecar (buffers moved with
// `send(obj, { transfer })`, shared buffers, ports, the objects that hold
// them) travels beside its bytes, which go through the ring.
//
// Both ends of a new Pipe live in the process that made it: a sidecar then
// waits in a local queue for the other end. When an end first crosses into
// another process, a MessageChannel is made for the pair: one port goes
// with the end, the other stays with the end left here (with the local
// queue's sidecars for the leaving end posted on it first, so order holds).
// Made lazily because a MessageChannel costs ≈ 6.5 KiB (measured: 50k took
// 328 MiB), and most Pipes never cross. A sender posts a sidecar before it
// puts the record that refers to it, so the receiver finds it on its port,
// in the same order as the records. A copy of an end without a port (its
// port went with another copy) carries no sidecar: transferred buffers are
// copied (and detached) instead, anything else is refused.

import { receiveMessageOnPort } from "node:worker_threads";
import { type Sidecar, transferablesOf } from "../core/codec.ts";
import type { ReduceContext } from "../core/reduction.ts";
import { napSync } from "../core/park.ts";
import { ProcessError } from "../errors.ts";

/** The two ends of a Pipe made in this process, before either crosses. */
export class LocalLink {
  /** Sidecars sent from end i, waiting for end 1 - i. */
  readonly queues: [Sidecar[], Sidecar[]] = [[], []];
  /** The side channels of the two ends, while they live. */
  readonly ends: [WeakRef<SideChannel>?, WeakRef<SideChannel>?] = [];
  /** Set once an end crossed: the pair has a MessageChannel since. */
  crossed = false;
}

/** How long a receiver waits for a sidecar posted before its record. */
const ARRIVAL_MS = 30_000;

/** One end's access to its Pipe's side channel. */
export class SideChannel {
  readonly end: number;
  #port: MessagePort | null;
  #link: LocalLink | null;

  constructor(end: number, port: MessagePort | null, link: LocalLink | null) {
    this.end = end;
    this.#port = port;
    this.#link = link;
    if (link !== null) link.ends[end] = new WeakRef(this);
  }

  /** Whether a sidecar sent from this end can reach the other end. */
  canSend(): boolean {
    return this.#port !== null ||
      (this.#link !== null && !this.#link.crossed);
  }

  /** Whether this end can take the sidecar of a record the other end sent. */
  canReceive(): boolean {
    return this.#port !== null ||
      (this.#link !== null && this.#link.queues[1 - this.end].length > 0);
  }

  /** Sends `sidecar` ahead of the record that refers to it. */
  send(sidecar: Sidecar): void {
    if (this.#port !== null) {
      this.#port.postMessage(sidecar, transferablesOf(sidecar));
    } else {
      // Moved as postMessage would: the sender's buffers end up detached.
      this.#link!.queues[this.end].push(
        sidecar.map((item) =>
          item instanceof ArrayBuffer ? item.transfer() : item
        ),
      );
    }
  }

  /** The sidecar of the record just taken (sent before the record). */
  receive(): Sidecar {
    const local = this.#link?.queues[1 - this.end];
    if (local !== undefined && local.length > 0) return local.shift()!;
    const port = this.#port!;
    const end = performance.now() + ARRIVAL_MS;
    for (;;) {
      const received = receiveMessageOnPort(port as never);
      if (received !== undefined) return received.message as Sidecar;
      // Posted before the record was put: it is µs away.
      if (performance.now() > end) {
        throw new ProcessError(
          "A message's transferred objects did not arrive on the Pipe's side channel",
        );
      }
      napSync(0.02);
    }
  }

  /**
   * The port that goes with this end into a message (or `null`): its own,
   * or, the first time an end of a local pair crosses, one of a new pair.
   */
  share(context: ReduceContext): MessagePort | null {
    if (context.bytesOnly) return null;
    let port = this.#port;
    if (port === null && this.#link !== null && !this.#link.crossed) {
      port = this.#cross(this.#link);
    }
    if (port === null) return null;
    this.#port = null; // it moves with the message
    context.transfer(port);
    return port;
  }

  /** Makes the pair's MessageChannel; returns this end's port. */
  #cross(link: LocalLink): MessagePort {
    link.crossed = true;
    const channel = new MessageChannel();
    const [mine, theirs] = this.end === 0
      ? [channel.port1, channel.port2]
      : [channel.port2, channel.port1];
    // What the staying end sent to this one, not yet taken, goes first.
    const pending = link.queues[1 - this.end].splice(0);
    for (const sidecar of pending) {
      theirs.postMessage(sidecar, transferablesOf(sidecar));
    }
    const peer = link.ends[1 - this.end]?.deref();
    if (peer !== undefined && peer.#open) peer.#port = theirs;
    else theirs.close();
    return mine;
  }

  #open = true;

  /** This end is closed here: its port closes with it. */
  close(): void {
    this.#open = false;
    this.#port?.close();
    this.#port = null;
  }
}
