/**
 * `Client()`: Python's `multiprocessing.connection.Client`, a
 * {@linkcode Connection} to a {@linkcode Listener} (or to a Python
 * program's `Listener`) over TCP, TLS or a Unix socket.
 *
 * @module
 */

import { within } from "../core/wait.ts";
import { checkedSignal, checkTimeout } from "../core/wait.ts";
import { TimeoutError } from "../errors.ts";
import { answerChallenge, deliverChallenge } from "./_auth.ts";
import { Connection } from "./connection.ts";
import { netError, tlsError } from "./_socket_errors.ts";
import {
  type Checked,
  checkSocketOptions,
  type SocketOptions,
  type TcpAddress,
  type TlsOptions,
  type UnixAddress,
} from "./_socket_options.ts";
import { SocketTransport } from "./_socket_transport.ts";

/**
 * Options of {@linkcode Client}: a TCP address (with `tls` to connect over
 * TLS) or a Unix socket `path`; an `authkey` and `maxMessageSize`; and how
 * long connecting and authenticating may take (`timeout` in ms, `signal`).
 *
 * @example
 * ```ts
 * import type { ClientOptions } from "@seed/multiprocessing";
 *
 * const options: ClientOptions = {
 *   hostname: "127.0.0.1",
 *   port: 6000,
 *   authkey: "secret password",
 *   timeout: 5000,
 * };
 * ```
 */
export type ClientOptions =
  & ((TcpAddress & { tls?: TlsOptions }) | UnixAddress)
  & SocketOptions
  & {
    /** The longest wait to connect and authenticate, in ms; no limit by default. */
    timeout?: number;
    /** Aborts connecting; the promise rejects with its reason. */
    signal?: AbortSignal;
  };

/**
 * Connects to a {@linkcode Listener} (Python's
 * `multiprocessing.connection.Client`) and resolves to the
 * {@linkcode Connection} once both sides have authenticated. Needs
 * `--allow-net`.
 *
 * Rejects with `AuthenticationError` when the listener has another
 * authkey (or its TLS certificate is not trusted), with a `ProcessError`
 * naming the reason when nothing listens there or the address is
 * unreachable, and with a `TimeoutError` after `timeout` ms.
 *
 * @example Sending to a listener, and hearing back
 * ```ts
 * import { Client, Listener } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * using listener = new Listener({ port: 0, authkey: "secret" });
 * const accepted = listener.accept();
 * const conn = await Client({ ...listener.address, authkey: "secret" });
 * const server = await accepted;
 * conn.sendBytes(new TextEncoder().encode("ping"));
 * server.sendBytes(await server.recvBytes());
 * assert.equal(new TextDecoder().decode(await conn.recvBytes()), "ping");
 * conn.close();
 * server.close();
 * ```
 */
export async function Client<T = any>(
  options: ClientOptions,
): Promise<Connection<T>> {
  const checked = checkSocketOptions(options, "connect");
  const { timeout, signal } = options ?? {};
  const ms = checkTimeout("options.timeout", timeout);
  const wait = {
    deadline: performance.now() + ms,
    signal: checkedSignal(signal, "options.signal"),
  };
  const attempt = { cancelled: false, transport: undefined } as Attempt;
  const connecting = connect(checked, attempt);
  try {
    const transport = await within(connecting, wait, () => {
      throw new TimeoutError(
        `Cannot connect to ${checked.where}: no connection within ${ms} ms`,
      );
    });
    return new Connection(transport);
  } catch (error) {
    attempt.cancelled = true;
    attempt.transport?.shutdown().catch(() => {});
    connecting.catch(() => {}); // its own end is handled by `cancelled`
    throw error;
  }
}

interface Attempt {
  cancelled: boolean;
  transport: SocketTransport | undefined;
}

async function connect(
  checked: Checked,
  attempt: Attempt,
): Promise<SocketTransport> {
  const { address, tls, authkey, where, maxMessageSize } = checked;
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect(address as Deno.ConnectOptions);
  } catch (error) {
    throw netError(error, "connect to", where);
  }
  if (address.transport === "tcp") {
    // Without it, a message sent while the previous one is unacknowledged
    // waits for the peer's delayed ACK (40 ms) before it leaves.
    (conn as Deno.TcpConn).setNoDelay(true);
    if (tls) {
      conn = await Deno.startTls(conn as Deno.TcpConn, {
        hostname: address.hostname,
        caCerts: tls.caCerts,
      });
    }
  }
  const transport = new SocketTransport(conn, where, maxMessageSize);
  attempt.transport = transport;
  if (attempt.cancelled) {
    await transport.shutdown().catch(() => {});
    throw new TimeoutError(`Connecting to ${where} was given up`);
  }
  try {
    if (tls) {
      try {
        await (conn as Deno.TlsConn).handshake();
      } catch (error) {
        throw tlsError(error, where);
      }
    }
    if (authkey) {
      await answerChallenge(transport, authkey);
      await deliverChallenge(transport, authkey);
    }
    return transport;
  } catch (error) {
    await transport.shutdown().catch(() => {});
    throw error;
  }
}
