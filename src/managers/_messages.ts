// The manager's wire, named once for both sides (the client connection in
// _client.ts and the server loop in _server.ts import it).
//
// Each connection (one per process per manager) has a *slot*: a small
// SharedArrayBuffer holding one request or one reply at a time, and a
// MessagePort. A call goes through the slot when its message fits and needs
// no sidecar (the common case: a hand-off through shared memory costs a few
// µs, a postMessage round trip ~64 µs); otherwise it goes through the port.
// Every value crosses as the codec's message (src/core/codec.ts): a
// request is the object's id and the method's name (in the header and
// before the message) and its arguments as the message, so that a value
// the codec refuses is named `args[1].f`; a reply is the method's result,
// or the error it threw. A call that waits on the server (a `get` on an empty queue) is
// answered DEFERRED at once, which frees the slot; its result comes later
// on the port, tagged with the call's number.
//
// Every process's connection shares the server's *doorbell*: the client
// bumps RING after it writes a request, and a server that served a request
// lately waits on it with its thread (src/core/park.ts). A server idle for
// a while sets SLEEPING and waits for a port message instead, so that idle
// it costs no wake-up at all (a 250 ms park slice in a worker costs ~0.3
// ms of CPU: 0.12% of a core, more than an idle server may): a client that
// finds SLEEPING set after writing its request posts WAKE. The server
// bumps STOPPED once it has shut down.

import type { MessagePort } from "node:worker_threads";
import type { Sidecar } from "../core/codec.ts";

// Slot layout -------------------------------------------------------------------

/** Int32 header cells of a slot. */
export const STATE = 0;
/** Bytes of the message after the header. */
export const LENGTH = 1;
/** A reply's status (see below). */
export const STATUS = 2;
/** The number the client gave the call (its deferred reply carries it). */
export const CALL = 3;
/** A request's object id. */
export const OBJECT = 4;
/** UTF-16 units of a request's method name, written before its message. */
export const METHOD = 5;
export const HEADER_CELLS = 6;
export const HEADER_BYTES = HEADER_CELLS * 4;

/** `STATE`: the slot is free. */
export const IDLE = 0;
/** `STATE`: a request is written; the server's turn. */
export const REQUEST = 1;
/** `STATE`: a reply is written; the client's turn. */
export const REPLY = 2;

/**
 * Bytes of a slot. Larger messages go by the port: they are rare, and a
 * fixed slot reserves no address space beyond its size.
 */
export const SLOT_BYTES = 64 * 1024;

/** A new slot for one connection. */
export function newSlot(): SharedArrayBuffer {
  return new SharedArrayBuffer(SLOT_BYTES);
}

// Doorbell ----------------------------------------------------------------------

/** Doorbell cells: bumped by clients after each request. */
export const RING = 0;
/** Doorbell cells: non-zero once the server has stopped. */
export const STOPPED = 1;
/** Doorbell cells: 1 while the server waits for a port message. */
export const SLEEPING = 2;
export const DOOR_BYTES = 12;

/**
 * The longest either side blocks its thread waiting for the other (a
 * client for its reply, a server that served a request recently for the
 * next one) before it parks as a promise: a futex wake costs ~10 µs, an
 * event-loop wake several times that. A client is held up this long only
 * by a busy server: calls that wait on purpose are answered at once.
 */
export const SYNC_WAIT_MS = 2;

// Reply statuses ----------------------------------------------------------------

/** The call returned: the message is its result. */
export const OK = 0;
/** The call threw: the message is the error. */
export const FAILED = 1;
/** The call waits on the server (or its reply needs the port): see the port. */
export const DEFERRED = 2;
/** The client withdrew the call before it completed: nothing was done. */
export const CANCELLED = 3;
/** The manager shut down before the call completed. */
export const CLOSED = 4;

// Object ids --------------------------------------------------------------------

/** The object id of the manager itself (`create`, `ping`). */
export const MANAGER_ID = 0;

/** Writes `method` at the start of `into`; returns the bytes it took. */
export function writeMethod(into: Uint8Array, method: string): number {
  for (let i = 0; i < method.length; i++) {
    const unit = method.charCodeAt(i);
    into[2 * i] = unit & 0xff;
    into[2 * i + 1] = unit >> 8;
  }
  return 2 * method.length;
}

/** Reads the method name of `units` UTF-16 units at the start of `from`. */
export function readMethod(from: Uint8Array, units: number): string {
  let method = "";
  for (let i = 0; i < units; i++) {
    method += String.fromCharCode(from[2 * i] | (from[2 * i + 1] << 8));
  }
  return method;
}

// Port messages -----------------------------------------------------------------

/** Client → server, on a connection's port. */
export type ClientMessage =
  /** The first message on a connection the client opened: who it is, its slot. */
  | { hello: { pid: number; slot: SharedArrayBuffer } }
  /** A request that does not fit the slot, or needs a sidecar. */
  | {
    call: number;
    object: number;
    method: string;
    bytes: Uint8Array;
    sidecar?: Sidecar;
  }
  /** Withdraw call `cancel` if it has not completed. */
  | { cancel: number }
  /** A new connection for a proxy crossing into another process. */
  | { connect: MessagePort }
  /** A request is in the slot of a server that sleeps. */
  | { wake: true }
  /** The owner asks the server to stop. */
  | { shutdown: true };

/**
 * Server → client, on a connection's port: the reply to call `reply`, with
 * the codec's message (absent for DEFERRED, CANCELLED and CLOSED). A tuple
 * holding an `ArrayBuffer`: it clones about twice as fast as an object
 * holding a typed array, and a deferred reply is every waiting call's.
 */
export type ServerMessage = [
  reply: number,
  status: number,
  bytes?: ArrayBuffer,
  sidecar?: Sidecar,
];

/** Messages of this many bytes or more are moved through a port, not copied. */
export const MOVE_BYTES = 64 * 1024;

/** The node side of a MessagePort (absent on a port received by `onmessage`). */
export interface NodePort {
  on?(event: "message" | "close", listener: (message?: unknown) => void): void;
}
