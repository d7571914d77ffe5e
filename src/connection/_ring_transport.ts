// The transport of a Pipe: two rings in the shared heap (one per direction)
// and the Pipe's side channel (see _side_channel.ts). End e writes into ring
// e and reads ring 1 - e; a one-way Pipe uses ring 1 only (end 1 sends,
// end 0 receives).
//
// EOF and broken pipe follow Python's close semantics through the record's
// copy counts (mailbox/_records.ts): a reader sees EOF once its ring is
// drained and no live process holds a copy of the other end; a sender gets
// the broken-pipe error once no live process holds a copy of the receiving
// end. Closes wake the peer's readers; deaths wake them through the
// runtime's endings cell, so a parked reader needs no polling.

import { FORMAT_BYTES, type Sidecar, Writer } from "../core/codec.ts";
import type { ReduceContext } from "../core/reduction.ts";
import type { Wait } from "../core/wait.ts";
import { endingsCell } from "../runtime/_context.ts";
import { ProcessError } from "../errors.ts";
import {
  AGAIN,
  BUSY,
  dropWhenCollected,
  keepWhenCollected,
  type Mailbox,
  reviveMailbox,
  type SharedEnd,
} from "../mailbox/_mailbox.ts";
import { PIPE } from "../mailbox/_records.ts";
import {
  COUNT,
  EMPTY,
  GET_WAITERS,
  lengthOf,
  put,
  PUTS,
  REFUSED,
  SIDE_FLAG,
  take,
  TAKE_BUSY,
} from "../mailbox/_ring.ts";
import {
  type Accept,
  type Ending,
  EOF,
  NOT_BYTES,
  registerTransport,
  TIMED_OUT,
  Transport,
  type TransportState,
} from "./_transport.ts";
import { LocalLink, SideChannel } from "./_side_channel.ts";

/** How a ring transport crosses into another process. */
interface RingState {
  end: SharedEnd;
  duplex: boolean;
  port: MessagePort | null;
}

/** Received records are copied here, then handed to `accept` at once. */
let inbox = new Writer();
/** A larger inbox is dropped after use rather than kept for the process. */
const INBOX_KEPT = 1 << 20;

/** One end of a Pipe over its two rings. */
export class RingTransport extends Transport {
  readonly name = "a Pipe";
  readonly readable: boolean;
  readonly writable: boolean;
  readonly #box: Mailbox | null;
  readonly #side: SideChannel;
  readonly #duplex: boolean;
  #closed: boolean;
  #collect: object | undefined;
  /** The endings count when the peer's holders were last found alive. */
  #checkedAt = -1;

  /**
   * An end over `box` (`null`: born closed, its Pipe gone while it
   * travelled); `duplex` as given to `Pipe()`.
   */
  constructor(
    box: Mailbox | null,
    end: number,
    duplex: boolean,
    side: SideChannel,
  ) {
    super();
    this.#box = box;
    this.#duplex = duplex;
    this.#side = side;
    this.readable = duplex || end === 0;
    this.writable = duplex || end === 1;
    this.#closed = box === null;
    this.#collect = box === null ? undefined : dropWhenCollected(this, box);
  }

  /** Whether this copy of the end is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  #end(): number {
    return this.#side.end;
  }

  /** The ring this end reads. */
  #inRing(): number {
    return this.#duplex ? 1 - this.#end() : 1;
  }

  /** The ring this end writes. */
  #outRing(): number {
    return this.#duplex ? this.#end() : 1;
  }

  carriesSidecars(): boolean {
    return this.#side.canSend();
  }

  /** Whether a live process holds a copy of the other end. */
  #peerHeld(): boolean {
    const box = this.#box!;
    const peer = 1 - this.#end();
    if (box.total(peer) === 0) return false;
    // Deaths are what can make a counted holder go: without a new one since
    // the last look, the count is the answer.
    const { cells, index } = endingsCell();
    const endings = Atomics.load(cells, index);
    if (endings === this.#checkedAt) return true;
    const held = box.held(peer);
    if (held) this.#checkedAt = endings;
    return held;
  }

  checkPeer(method: string): void {
    this.#checkOpen(method);
    if (!this.#peerHeld()) {
      throw new ProcessError(
        `Cannot ${method}(): broken pipe, the other end is closed in every process (or its processes ended)`,
      );
    }
  }

  /** Sends that had to wait for the ring's lock, in order. */
  #sending: Promise<void> | null = null;

  send(bytes: Uint8Array, sidecar?: Sidecar): void | Promise<void> {
    if (this.#sending !== null) return this.#later(bytes.slice(), sidecar);
    if (sidecar !== undefined) this.#side.send(sidecar);
    const flags = sidecar === undefined ? 0 : SIDE_FLAG;
    if (this.#put(bytes, flags) !== BUSY) return;
    // The lock's holder keeps it (it may have ended, unknown yet: this
    // thread's event loop may be what records it): put later, in order.
    return this.#later(bytes.slice(), undefined, flags);
  }

  #put(bytes: Uint8Array, flags: number): boolean | typeof BUSY {
    const box = this.#box!;
    return put(
      box.heap,
      box.ring(this.#outRing()),
      bytes,
      bytes.length,
      flags,
      0,
      false,
      true,
    );
  }

  /** Puts after the sends already waiting; posts `sidecar` first, if any. */
  #later(
    bytes: Uint8Array,
    sidecar: Sidecar | undefined,
    flags = sidecar === undefined ? 0 : SIDE_FLAG,
  ): Promise<void> {
    const before = this.#sending ?? Promise.resolve();
    const sending = before.then(async () => {
      this.#checkOpen("send");
      if (sidecar !== undefined) this.#side.send(sidecar);
      while (this.#put(bytes, flags) === BUSY) {
        await this.#box!.lockFree(this.#outRing(), { deadline: Infinity });
        this.#checkOpen("send");
      }
    });
    this.#sending = sending;
    const settle = () => {
      if (this.#sending === sending) this.#sending = null;
    };
    sending.then(settle, settle);
    return sending;
  }

  /** Takes one message, or says to wait, or that nothing more will come. */
  #attempt<R>(
    method: string,
    accept: Accept<R>,
    onlyBytes: boolean,
    brief: boolean,
  ): R | typeof EOF | typeof NOT_BYTES | typeof AGAIN | typeof BUSY {
    this.#checkOpen(method);
    const box = this.#box!;
    const ring = box.ring(this.#inRing());
    const side = this.#side;
    let missingSide = false;
    const filter = (header: number, first: number) => {
      if (onlyBytes && first !== FORMAT_BYTES) return false;
      if ((header & SIDE_FLAG) !== 0 && !side.canReceive()) {
        missingSide = true;
        return false;
      }
      return true;
    };
    let header = take(box.heap, ring, inbox, filter, brief);
    if (header === EMPTY) {
      if (this.#peerHeld()) return AGAIN;
      // Whatever the peer sent before it went is visible now.
      header = take(box.heap, ring, inbox, filter, brief);
      if (header === EMPTY) return EOF;
    }
    if (header === TAKE_BUSY) return BUSY;
    if (header === REFUSED) {
      if (!missingSide) return NOT_BYTES;
      throw new ProcessError(
        `Cannot ${method}(): the next message brought transferred or shared objects on the Pipe's side channel, which this copy of the end does not have (it went with another copy): receive in the process that got the end first`,
      );
    }
    const sidecar = (header & SIDE_FLAG) !== 0 ? side.receive() : undefined;
    const message = inbox.bytes.subarray(0, lengthOf(header));
    try {
      return accept(message, sidecar);
    } finally {
      if (inbox.bytes.length > INBOX_KEPT) inbox = new Writer();
    }
  }

  receive<R>(
    wait: Wait,
    accept: Accept<R>,
    onlyBytes: boolean,
  ): Promise<R | Ending> {
    const method = onlyBytes ? "recvBytes" : "recv";
    try {
      const first = this.#attempt(method, accept, onlyBytes, true);
      if (first !== AGAIN && first !== BUSY) return Promise.resolve(first);
      return this.#box!.wait<R | Ending>(
        this.#inRing(),
        PUTS,
        GET_WAITERS,
        wait,
        () => this.#attempt(method, accept, onlyBytes, true),
        () => TIMED_OUT,
        true,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  override receiveSync<R>(
    deadline: number,
    accept: Accept<R>,
    onlyBytes: boolean,
  ): R | Ending {
    const method = onlyBytes ? "recvBytesSync" : "recvSync";
    this.#checkOpen(method);
    return this.#box!.waitSync<R | Ending>(
      this.#inRing(),
      PUTS,
      GET_WAITERS,
      deadline,
      () =>
        this.#attempt(method, accept, onlyBytes, false) as
          | R
          | Ending
          | typeof AGAIN,
      () => TIMED_OUT,
    );
  }

  #ready(method: string): boolean {
    this.#checkOpen(method);
    const box = this.#box!;
    return Atomics.load(box.heap.cells, box.ring(this.#inRing()) + COUNT) > 0 ||
      !this.#peerHeld();
  }

  poll(wait: Wait): Promise<boolean> {
    try {
      if (this.#ready("poll")) return Promise.resolve(true);
      return this.#box!.wait(
        this.#inRing(),
        PUTS,
        GET_WAITERS,
        wait,
        () => this.#ready("poll") || AGAIN,
        () => false,
        true,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  override pollSync(deadline: number): boolean {
    this.#checkOpen("pollSync");
    return this.#box!.waitSync(
      this.#inRing(),
      PUTS,
      GET_WAITERS,
      deadline,
      () => this.#ready("pollSync") || AGAIN,
      () => false,
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const box = this.#box!;
    keepWhenCollected(this.#collect!);
    // Wakes readers of both rings: the other end's (EOF now, perhaps) and
    // this process's own pending receives (closed now).
    box.drop();
    this.#side.close();
  }

  share(context: ReduceContext): TransportState {
    if (this.#closed) {
      throw new TypeError(
        `Cannot send ${context.path}: it is a closed Connection, which cannot be given to a process`,
      );
    }
    const end = this.#box!.share(context);
    const port = this.#side.share(context);
    return {
      kind: "ring",
      state: { end, duplex: this.#duplex, port } satisfies RingState,
    };
  }

  #checkOpen(method: string): void {
    if (this.#closed) {
      throw new ProcessError(`Cannot ${method}(): this end is closed`);
    }
  }
}

/** The two ends of a new Pipe (see connection/pipe.ts). */
export function ringPair(
  duplex: boolean,
  boxes: Mailbox[],
): [RingTransport, RingTransport] {
  const link = new LocalLink();
  return [
    new RingTransport(boxes[0], 0, duplex, new SideChannel(0, null, link)),
    new RingTransport(boxes[1], 1, duplex, new SideChannel(1, null, link)),
  ];
}

registerTransport("ring", (shared) => {
  const state = shared as RingState;
  const box = reviveMailbox(state.end, PIPE) ?? null;
  if (box === null) state.port?.close();
  return new RingTransport(
    box,
    state.end.end,
    state.duplex,
    new SideChannel(state.end.end, box === null ? null : state.port, null),
  );
});
