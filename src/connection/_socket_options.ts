// The options Listener and Client share (an address, an authkey, TLS, the
// message size limit), checked once for both.

import { describe } from "../core/describe.ts";
import { checkAuthkey } from "./_auth.ts";

/**
 * TLS for a {@linkcode Listener} or a {@linkcode Client} (Python's
 * `multiprocessing.connection` has none): PEM text, as `Deno.listenTls`
 * and `Deno.connectTls` take it.
 *
 * @example A listener's certificate and a client that trusts its CA
 * ```ts
 * import type { TlsOptions } from "@seed/multiprocessing";
 *
 * const serving: TlsOptions = { cert: "-----BEGIN CERTIFICATE-----…", key: "-----BEGIN PRIVATE KEY-----…" };
 * const trusting: TlsOptions = { caCerts: ["-----BEGIN CERTIFICATE-----…"] };
 * ```
 */
export interface TlsOptions {
  /** The certificate chain a Listener presents. */
  cert?: string;
  /** The private key of `cert` (a Listener's). */
  key?: string;
  /**
   * Certificates of the authorities a Client trusts for the listener's
   * certificate, besides the runtime's root store (Mozilla's).
   */
  caCerts?: string[];
}

/**
 * Where a {@linkcode Listener} listens: `{ hostname, port }` for TCP, or
 * `{ path }` for a Unix socket.
 *
 * @example
 * ```ts
 * import { type Address, Listener } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * using listener = new Listener({ port: 0 });
 * const address: Address = listener.address;
 * assert.ok("port" in address && address.port > 0);
 * ```
 */
export type Address = { hostname: string; port: number } | { path: string };

/** What Listener and Client options have in common. */
export interface SocketOptions {
  /**
   * The shared secret of Python's HMAC challenge–response (a string, as
   * UTF-8, or bytes): each side proves it knows it before any message
   * passes. Omitted: no authentication (as in Python).
   */
  authkey?: string | Uint8Array;
  /**
   * The longest message (in bytes) this side sends or accepts; a longer
   * one is refused (a `RangeError` when sending, a `ProcessError` that
   * closes the connection when receiving). 1 GiB by default.
   */
  maxMessageSize?: number;
}

/** A TCP address: `hostname` is `"127.0.0.1"` when omitted. */
export interface TcpAddress {
  /** The host name or IP address; `"127.0.0.1"` when omitted. */
  hostname?: string;
  /** The port; `0` (a Listener) picks a free one. */
  port: number;
}

/** A Unix socket address. */
export interface UnixAddress {
  /** The socket file's path. */
  path: string;
}

/** Checked options, ready for Deno.listen/connect. */
export interface Checked {
  /** Deno's address: TCP or Unix. */
  address:
    | { transport: "tcp"; hostname: string; port: number }
    | { transport: "unix"; path: string };
  tls?: TlsOptions;
  authkey?: Uint8Array;
  maxMessageSize: number;
  /** "127.0.0.1:8000" or the path, for messages. */
  where: string;
}

const DEFAULT_MAX_MESSAGE = 2 ** 30;

/** Checks the options of `new Listener()` or `Client()`. */
export function checkSocketOptions(
  options: unknown,
  action: "listen" | "connect",
): Checked {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot ${action} as its options must be an object such as { hostname, port } or { path }: current value is ${
        describe(options)
      }`,
    );
  }
  const o = options as Record<string, unknown>;
  const authkey = checkAuthkey(o.authkey, action);
  const maxMessageSize = o.maxMessageSize ?? DEFAULT_MAX_MESSAGE;
  if (
    typeof maxMessageSize !== "number" ||
    !Number.isSafeInteger(maxMessageSize) ||
    maxMessageSize < 1
  ) {
    throw new RangeError(
      `Cannot ${action} as 'maxMessageSize' must be a positive integer of bytes: current value is ${
        describe(maxMessageSize)
      }`,
    );
  }
  if ("path" in o && o.path !== undefined) {
    if (typeof o.path !== "string" || o.path === "") {
      throw new TypeError(
        `Cannot ${action} as 'path' must be a non-empty string (a Unix socket's file): current value is ${
          describe(o.path)
        }`,
      );
    }
    for (const name of ["hostname", "port", "tls"]) {
      if (o[name] !== undefined) {
        throw new TypeError(
          `Cannot ${action} as '${name}' cannot go with 'path': give { path } for a Unix socket, or { hostname, port } for TCP (TLS is for TCP only)`,
        );
      }
    }
    return {
      address: { transport: "unix", path: o.path },
      authkey,
      maxMessageSize,
      where: o.path,
    };
  }
  const hostname = o.hostname ?? "127.0.0.1";
  if (typeof hostname !== "string" || hostname === "") {
    throw new TypeError(
      `Cannot ${action} as 'hostname' must be a non-empty string: current value is ${
        describe(hostname)
      }`,
    );
  }
  const port = o.port;
  const lowest = action === "listen" ? 0 : 1;
  if (
    typeof port !== "number" || !Number.isInteger(port) || port < lowest ||
    port > 65535
  ) {
    const type = typeof port === "number" ? RangeError : TypeError;
    throw new type(
      `Cannot ${action} as 'port' must be an integer from ${lowest} to 65535${
        action === "listen" ? " (0 picks a free port)" : ""
      }, or give { path } for a Unix socket: current value is ${
        describe(port)
      }`,
    );
  }
  const tls = checkTls(o.tls, action);
  return {
    address: { transport: "tcp", hostname, port },
    tls,
    authkey,
    maxMessageSize,
    where: `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
  };
}

function checkTls(tls: unknown, action: string): TlsOptions | undefined {
  if (tls === undefined) return undefined;
  if (typeof tls !== "object" || tls === null) {
    throw new TypeError(
      `Cannot ${action} as 'tls' must be an object such as { cert, key } or { caCerts }: current value is ${
        describe(tls)
      }`,
    );
  }
  const { cert, key, caCerts } = tls as TlsOptions;
  for (const [name, value] of [["cert", cert], ["key", key]] as const) {
    if (value !== undefined && typeof value !== "string") {
      throw new TypeError(
        `Cannot ${action} as 'tls.${name}' must be PEM text (a string): current value is ${
          describe(value)
        }`,
      );
    }
  }
  if (action === "connect" && (cert !== undefined || key !== undefined)) {
    throw new TypeError(
      `Cannot connect as 'tls.cert' and 'tls.key' are for a Listener: a Client presents no certificate (Deno's TLS listener cannot check one); give the CA that signed the listener's certificate as 'tls.caCerts'`,
    );
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError(
      `Cannot ${action} as 'tls.cert' and 'tls.key' go together: give both, or neither`,
    );
  }
  if (action === "listen" && cert === undefined) {
    throw new TypeError(
      `Cannot listen as 'tls.cert' and 'tls.key' are missing: a TLS listener presents a certificate`,
    );
  }
  if (action === "listen" && caCerts !== undefined) {
    throw new TypeError(
      `Cannot listen as 'tls.caCerts' is for a Client: Deno's TLS listener cannot check client certificates (use an authkey to admit clients)`,
    );
  }
  if (
    caCerts !== undefined &&
    (!Array.isArray(caCerts) || caCerts.some((c) => typeof c !== "string"))
  ) {
    throw new TypeError(
      `Cannot ${action} as 'tls.caCerts' must be an array of PEM strings: current value is ${
        describe(caCerts)
      }`,
    );
  }
  return { cert, key, caCerts };
}
