// How a cluster lays its data out in Redis: the keys of one pool or queue
// name, the fields of a task entry, and the bytes of a result. Every key of
// one name shares a hash tag (`{mp:NAME}`), so that the scripts that touch
// several of them run on a Redis Cluster too.
//
// Values cross as this module's codec writes them (src/core/codec.ts), with
// `portable: true`: what only lives in one program is refused at submission
// with a TypeError naming its path, never sent half-way.

import { Buffer } from "node:buffer";
import { decode, encode, Writer } from "../core/codec.ts";
import { describe } from "../core/describe.ts";

/** The consumer group every worker of a pool reads the task stream in. */
export const GROUP = "workers";

/** The keys of one pool name. */
export interface PoolKeys {
  /** The stream of tasks (consumer group {@linkcode GROUP}). */
  tasks: string;
  /** Tasks whose workers were lost `maxDeliveries` times. */
  dead: string;
  /** Live workers: a sorted set of consumer names by expiry (server time). */
  workers: string;
  /** What each live worker said about itself (a hash of JSON). */
  workerInfo: string;
  /** The channel on which clients cancel tasks. */
  cancel: string;
  /** A client's liveness key (expires unless renewed). */
  client(id: string): string;
  /** A client's result list. */
  results(id: string): string;
}

/** Checks a pool or queue name; one Redis may hold many. */
export function checkName(method: string, name: unknown): string {
  if (typeof name !== "string" || !/^[\w.:-]{1,200}$/.test(name)) {
    throw new TypeError(
      `Cannot ${method} as 'options.name' must be 1 to 200 letters, digits or . _ : - such as "default": current value is ${
        typeof name === "string" ? JSON.stringify(name) : describe(name)
      }`,
    );
  }
  return name;
}

/** The keys of the pool called `name`. */
export function poolKeys(name: string): PoolKeys {
  const base = `{mp:${name}}`;
  return {
    tasks: `${base}:tasks`,
    dead: `${base}:dead`,
    workers: `${base}:workers`,
    workerInfo: `${base}:worker-info`,
    cancel: `${base}:cancel`,
    client: (id) => `${base}:client:${id}`,
    results: (id) => `${base}:results:${id}`,
  };
}

/** The keys of the queue called `name`. */
export function queueKeys(name: string): {
  items: string;
  maxsize: string;
  space: string;
} {
  const base = `{mpq:${name}}`;
  return {
    items: `${base}:items`,
    maxsize: `${base}:maxsize`,
    space: `${base}:space`,
  };
}

// Task entries --------------------------------------------------------------

/** What a task runs: `fn(...args)`, `items.map(fn)`, `items.map(a => fn(...a))`. */
export const CALL = 0;
export const MAP = 1;
export const STARMAP = 2;

/** One task, as a stream entry's fields hold it. */
export interface TaskEntry {
  /** The submitting client's id. */
  client: string;
  /** The task's number at that client: results name it. */
  seq: number;
  /** `CALL`, `MAP` or `STARMAP`. */
  kind: number;
  /** The module: a path relative to the agreed root, or an absolute URL. */
  module: string;
  /** The export (or registered name) in that module. */
  name: string;
  /** The hash of the module's source on the client. */
  hash: string;
  /** Milliseconds the task may run; 0 for no limit. */
  timeout: number;
  /** How many times a task that throws runs again. */
  retries: number;
  /** Which run this is (0 first; a retry adds 1). */
  attempt: number;
  /** The lease: a worker that does not renew it within this loses the task. */
  leaseMs: number;
  /** Deliveries after which a task whose workers were lost fails. */
  maxDeliveries: number;
  /** The encoded arguments (CALL) or items (MAP, STARMAP). */
  payload: Uint8Array;
}

/**
 * The flat field list of an `XADD` for `task`: a header `h` and the
 * payload `p`. Two fields, not one per property: each field costs the
 * client, Redis and the worker a little, for every task. The header starts
 * with the lease and the most deliveries, which the scripts read
 * (_scripts.ts); the module comes last, as it may hold any character.
 */
export function entryFields(task: TaskEntry): (string | Uint8Array)[] {
  const header = [
    task.leaseMs,
    task.maxDeliveries,
    task.client,
    task.seq,
    task.kind,
    task.timeout,
    task.retries,
    task.attempt,
    task.hash,
    task.name,
    task.module,
  ].join("|");
  return ["h", header, "p", task.payload];
}

/** Reads an entry's fields (Buffers, as `…Buffer` commands return them). */
export function parseEntry(fields: Uint8Array[]): TaskEntry {
  let header = "";
  let payload: Uint8Array = EMPTY;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const key = fields[i][0];
    if (key === H) header = text(fields[i + 1]);
    else if (key === P) payload = fields[i + 1];
  }
  const parts = header.split("|");
  if (parts.length < 11) {
    throw new TypeError(
      `Cannot read a task entry: its header has ${parts.length} parts, expected 11 (the stream holds entries of another program)`,
    );
  }
  return {
    leaseMs: Number(parts[0]),
    maxDeliveries: Number(parts[1]),
    client: parts[2],
    seq: Number(parts[3]),
    kind: Number(parts[4]),
    timeout: Number(parts[5]),
    retries: Number(parts[6]),
    attempt: Number(parts[7]),
    hash: parts[8],
    name: parts[9],
    module: parts.slice(10).join("|"),
    payload,
  };
}

const H = "h".charCodeAt(0);
const P = "p".charCodeAt(0);
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();

/** A Buffer or string reply as text. */
export function text(value: Uint8Array | string): string {
  return typeof value === "string" ? value : decoder.decode(value);
}

// Values -----------------------------------------------------------------------

const writer = new Writer();

/**
 * Encodes a value that leaves this program: refuses what only lives here
 * (a `TypeError` naming `path`) and returns a Buffer of its own.
 */
export function encodeValue(value: unknown, path: string): Buffer {
  encode(value, writer, { path, portable: true });
  return Buffer.from(writer.written());
}

/** Decodes what {@linkcode encodeValue} wrote. */
export function decodeValue(bytes: Uint8Array): unknown {
  return decode(bytes);
}

// Results ----------------------------------------------------------------------

/** How a task ended. */
export const OK = 0;
/** It threw (or timed out): the value is the error. */
export const FAILED = 1;

/** One result, as a client's result list holds it. */
export interface ResultMessage {
  seq: number;
  status: number;
  value: unknown;
  /** Milliseconds the task ran on its worker. */
  runningMs: number;
  /** How many workers it was delivered to (1 unless a worker was lost). */
  deliveries: number;
}

/** Encodes a result; a value that cannot cross becomes the error saying so. */
export function encodeResult(result: ResultMessage): Buffer {
  const fields = [
    result.seq,
    result.status,
    result.value,
    result.runningMs,
    result.deliveries,
  ];
  try {
    return encodeValue(fields, "result");
  } catch {
    // Encoded alone, the value names its own path in the error.
    let error: unknown;
    try {
      encodeValue(result.value, "result");
    } catch (refused) {
      error = refused;
    }
    fields[1] = FAILED;
    fields[2] = error;
    return encodeValue(fields, "result");
  }
}

/** Decodes a result message. */
export function decodeResult(bytes: Uint8Array): ResultMessage {
  const [seq, status, value, runningMs, deliveries] = decodeValue(
    bytes,
  ) as [number, number, unknown, number, number];
  return { seq, status, value, runningMs, deliveries };
}
