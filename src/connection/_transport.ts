// The seam under `Connection`, as CPython's connection.py writes `send` and
// `recv` once over `_send_bytes`/`_recv_bytes`/`_poll`/`_close`: a
// Connection encodes with the codec and decodes what arrives; a transport
// only moves one encoded message at a time, and says when nothing more can
// come (EOF) or go (broken pipe).
//
// A ring pair in the shared heap is one transport (_ring_transport.ts). A
// socket transport (Listener/Client over TCP or Unix sockets) plugs in by
// extending `Transport`: its `send` returns a promise (a write is async),
// it leaves out `receiveSync` and `pollSync` (there is no blocking read:
// the Connection then refuses `recvSync` with a clear error), and it says
// `carriesSidecars() === false`, so the Connection encodes bytes-only and
// the codec refuses shared buffers and ports naming their path. Frames are
// its business (a length prefix): `receive` hands exactly one message to
// `accept`.

import type { ReduceContext } from "../core/reduction.ts";
import type { Sidecar } from "../core/codec.ts";
import type { Wait } from "../core/wait.ts";

/** `receive` found nothing left: the other side is closed everywhere. */
export const EOF: unique symbol = Symbol("EOF");
/** `receive` or `poll` reached its deadline. */
export const TIMED_OUT: unique symbol = Symbol("timed out");
/** `receive(…, onlyBytes)` left a message sent with `send()` in place. */
export const NOT_BYTES: unique symbol = Symbol("not bytes");

/** What `receive` may resolve to besides `accept`'s result. */
export type Ending = typeof EOF | typeof TIMED_OUT | typeof NOT_BYTES;

/**
 * Called once per received message, synchronously, with its bytes (valid
 * only during the call: decode or copy them) and its sidecar.
 */
export type Accept<R> = (bytes: Uint8Array, sidecar?: Sidecar) => R;

/** A transport's state as it crosses into another process. */
export interface TransportState {
  /** Which kind of transport revives it (see {@linkcode reviveTransport}). */
  kind: string;
  state: unknown;
}

/** Moves encoded messages for one end of a connection. */
export abstract class Transport {
  /** Names the channel in errors, such as `"a Pipe"`. */
  abstract readonly name: string;
  /** Whether this end can receive. */
  abstract readonly readable: boolean;
  /** Whether this end can send. */
  abstract readonly writable: boolean;
  /** Whether this copy of the end is closed (or was born closed). */
  abstract readonly closed: boolean;
  /**
   * Names the channel when it leaves this program (a socket): the
   * Connection then refuses registered objects both ways, as their state
   * is this program's shared memory (the codec's `leavesProgram`).
   */
  readonly leavesProgram?: string;

  /**
   * Whether `send` can carry a sidecar (shared buffers, ports, moved
   * buffers) now. When not, the Connection encodes bytes-only: transferred
   * buffers are copied (and still detached), anything else is refused.
   */
  abstract carriesSidecars(): boolean;

  /** Throws the broken-pipe `ProcessError` when nobody can receive any more. */
  abstract checkPeer(method: string): void;

  /**
   * Sends one encoded message (and its sidecar, if `carriesSidecars()`).
   * `bytes` is valid only during the call: an async transport copies it.
   */
  abstract send(bytes: Uint8Array, sidecar?: Sidecar): void | Promise<void>;

  /**
   * Waits for the next message and hands it to `accept` before anything
   * else can receive it; resolves to `accept`'s result, or to `EOF` once
   * nothing is left and the other side is closed everywhere, or to
   * `TIMED_OUT` at the deadline. With `onlyBytes`, a message that is not a
   * `sendBytes` message stays in place and `NOT_BYTES` is returned.
   */
  abstract receive<R>(
    wait: Wait,
    accept: Accept<R>,
    onlyBytes: boolean,
  ): Promise<R | Ending>;

  /** The blocking form of `receive`, when the transport can block. */
  receiveSync?<R>(
    deadline: number,
    accept: Accept<R>,
    onlyBytes: boolean,
  ): R | Ending;

  /** Resolves to whether `receive` would not wait (a message, or EOF). */
  abstract poll(wait: Wait): Promise<boolean>;

  /** The blocking form of `poll`, when the transport can block. */
  pollSync?(deadline: number): boolean;

  /** Closes this copy of the end (the Connection calls it once). */
  abstract close(): void;

  /** The state that stands for this end when it crosses into a process. */
  abstract share(context: ReduceContext): TransportState;
}

const revivers = new Map<string, (state: unknown) => Transport>();

/** Teaches {@linkcode reviveTransport} a kind of transport. */
export function registerTransport(
  kind: string,
  revive: (state: unknown) => Transport,
): void {
  revivers.set(kind, revive);
}

/** Rebuilds a transport that crossed into this process. */
export function reviveTransport(shared: TransportState): Transport {
  const revive = revivers.get(shared.kind);
  if (revive === undefined) {
    throw new TypeError(
      `Cannot receive a Connection over a "${shared.kind}" transport: this process does not know that kind`,
    );
  }
  return revive(shared.state);
}
