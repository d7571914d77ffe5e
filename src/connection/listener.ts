/**
 * `Listener`: Python's `multiprocessing.connection.Listener`, a socket
 * (TCP, TLS or Unix) that hands out a {@linkcode Connection} per client,
 * after Python's authkey handshake when it has an authkey.
 *
 * @module
 */

import { describe } from "../core/describe.ts";
import { waitOf, type WaitOptions } from "../core/wait.ts";
import { ProcessError, TimeoutError } from "../errors.ts";
import { answerChallenge, deliverChallenge } from "./_auth.ts";
import { Connection } from "./connection.ts";
import { netError, tlsError } from "./_socket_errors.ts";
import {
  type Address,
  type Checked,
  checkSocketOptions,
  type SocketOptions,
  type TcpAddress,
  type TlsOptions,
  type UnixAddress,
} from "./_socket_options.ts";
import { SocketTransport } from "./_socket_transport.ts";

/**
 * Options of {@linkcode Listener}: a TCP address (`port: 0` picks a free
 * port) with an optional `backlog` and `tls`, or a Unix socket `path`;
 * and, for both, an `authkey` and `maxMessageSize`.
 *
 * @example
 * ```ts
 * import { Listener, type ListenerOptions } from "@seed/multiprocessing";
 *
 * const options: ListenerOptions = { port: 0, authkey: "secret" };
 * using listener = new Listener(options);
 * ```
 */
export type ListenerOptions =
  & (
    | (TcpAddress & {
      /**
       * How many connections the listener takes in (authenticating, or
       * ready for accept()) before accept() is called for them; more wait
       * in the system's queue. 16 by default. (Python's `backlog` sizes the
       * system's queue, which Deno does not let a program set.)
       */
      backlog?: number;
      /** Serve over TLS with this certificate and key. */
      tls?: TlsOptions;
    })
    | UnixAddress
  )
  & SocketOptions;

type Outcome =
  | { connection: Connection<any> }
  | { error: unknown };

interface Waiter {
  settle(outcome: Outcome): void;
}

/**
 * Listens for {@linkcode Client}s (Python's
 * `multiprocessing.connection.Listener`), on TCP (`{ hostname, port }`,
 * `hostname` `"127.0.0.1"` by default), TLS (`tls: { cert, key }`), or a
 * Unix socket (`{ path }`). Needs `--allow-net` (and read and write access
 * to a Unix socket's file).
 *
 * Clients are taken in from the start (up to `backlog` of them waiting for
 * `accept()`), so a `Client()` does not wait for `accept()` to be called.
 * With an `authkey`, each client passes Python's HMAC challenge–response
 * both ways before `accept()` hands it out: a client with another key
 * makes that `accept()` reject with `AuthenticationError`, and the
 * listener goes on accepting. Clients authenticate concurrently, so one
 * that stalls holds up nobody else.
 *
 * The wire is Python's, so either end may be a Python program; but
 * `send()`/`recv()` carry this module's codec, not pickle: with a Python
 * peer, exchange bytes with `sendBytes()`/`recvBytes()`.
 *
 * @example A listener and a client in one program
 * ```ts
 * import { Client, Listener } from "@seed/multiprocessing";
 * import assert from "node:assert/strict";
 *
 * using listener = new Listener({ port: 0, authkey: "secret" });
 * const [server, client] = await Promise.all([
 *   listener.accept(),
 *   Client({ ...listener.address, authkey: "secret" }),
 * ]);
 * client.send({ hello: [1, 2, 3] });
 * assert.deepEqual(await server.recv(), { hello: [1, 2, 3] });
 * server.close();
 * client.close();
 * ```
 */
export class Listener {
  readonly #listener: Deno.Listener;
  readonly #options: Checked;
  readonly #address: Address;
  readonly #backlog: number;
  readonly #ready: Outcome[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #authenticating = new Set<SocketTransport>();
  #taking = false;
  #closed = false;

  /** Starts listening; throws a `ProcessError` when the address is taken. */
  constructor(options: ListenerOptions) {
    const checked = checkSocketOptions(options, "listen");
    const backlog = (options as { backlog?: unknown }).backlog ?? 16;
    if (
      typeof backlog !== "number" || !Number.isInteger(backlog) || backlog < 1
    ) {
      throw new RangeError(
        `Cannot listen as 'backlog' must be a positive integer: current value is ${
          describe(backlog)
        }`,
      );
    }
    const { address, tls } = checked;
    try {
      this.#listener = tls
        ? Deno.listenTls({
          ...address as Deno.TcpListenOptions,
          cert: tls.cert!,
          key: tls.key!,
        })
        : Deno.listen(address as Deno.TcpListenOptions);
    } catch (error) {
      throw netError(error, "listen on", checked.where);
    }
    this.#listener.unref(); // only a waiting accept() keeps the program alive
    this.#options = checked;
    this.#backlog = backlog;
    const addr = this.#listener.addr;
    this.#address = addr.transport === "unix"
      ? { path: (addr as Deno.UnixAddr).path }
      : {
        hostname: (addr as Deno.NetAddr).hostname,
        port: (addr as Deno.NetAddr).port,
      };
    // Clients are taken in (and authenticated) from the start, so that a
    // Client() awaited before accept() is called does not wait for it.
    this.#take();
  }

  /** Where clients connect: `{ hostname, port }` (the picked port) or `{ path }`. */
  get address(): Address {
    return { ...this.#address };
  }

  /** Whether {@linkcode Listener.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Resolves to the next client's {@linkcode Connection}, once it has
   * authenticated. Rejects with `AuthenticationError` when a client fails
   * the handshake (the listener goes on: call `accept()` again), with a
   * `TimeoutError` when `options.timeout` (ms) passes first, with the
   * signal's reason on abort, and with a `ProcessError` once the listener
   * is closed.
   */
  accept<T = any>(options?: WaitOptions | number): Promise<Connection<T>> {
    try {
      const wait = waitOf("accept()", options);
      if (this.#closed) {
        throw new ProcessError("Cannot accept(): the listener is closed");
      }
      const outcome = this.#ready.shift();
      this.#take();
      if (outcome !== undefined) return Promise.resolve(unwrap(outcome));
      if (wait.deadline <= performance.now()) {
        wait.signal?.throwIfAborted();
        throw new TimeoutError("No client is waiting to be accepted");
      }
      return new Promise((resolve, reject) => {
        const { deadline, signal } = wait;
        const leave = () => {
          const at = this.#waiters.indexOf(waiter);
          if (at !== -1) this.#waiters.splice(at, 1);
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          if (this.#waiters.length === 0 && !this.#closed) {
            this.#listener.unref();
          }
        };
        const waiter: Waiter = {
          settle: (outcome) => {
            leave();
            try {
              resolve(unwrap(outcome));
            } catch (error) {
              reject(error);
            }
          },
        };
        const onAbort = () => {
          leave();
          reject(signal!.reason);
        };
        const timer = deadline === Infinity ? undefined : setTimeout(() => {
          leave();
          reject(
            new TimeoutError(
              `No client was accepted within ${
                Math.round(deadline - performance.now() + 0.5)
              } ms`,
            ),
          );
        }, Math.max(0, deadline - performance.now()));
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#waiters.push(waiter);
        this.#listener.ref();
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Stops listening: waiting `accept()`s reject, clients still
   * authenticating or not yet accepted are disconnected, and a Unix
   * socket's file is removed. Accepted connections stay open. The port is
   * free again once the event loop turns (Deno releases a listening socket
   * when its pending accept has been cancelled), not in the same tick.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    for (const transport of this.#authenticating) {
      transport.shutdown().catch(() => {});
    }
    for (const outcome of this.#ready.splice(0)) {
      if ("connection" in outcome) outcome.connection.close();
    }
    for (const waiter of this.#waiters.slice()) {
      waiter.settle({
        error: new ProcessError(
          "The listener was closed while accept() waited",
        ),
      });
    }
    if ("path" in this.#address) {
      try {
        Deno.removeSync(this.#address.path);
      } catch { /* gone already, or not ours to remove */ }
    }
  }

  /** Closes the listener (`using listener = new Listener(...)`). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `Listener { 127.0.0.1:8000 }` for `console.log`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `Listener { ${this.#options.where}${
      this.#closed ? ", closed" : ""
    } }`;
  }

  /** Takes connections from the system while there is room in the backlog. */
  async #take(): Promise<void> {
    if (this.#taking) return;
    this.#taking = true;
    try {
      while (
        !this.#closed &&
        this.#ready.length + this.#authenticating.size < this.#backlog
      ) {
        let conn: Deno.Conn;
        try {
          conn = await this.#listener.accept();
        } catch (error) {
          if (this.#closed) return;
          this.#deliver({
            error: netError(error, "accept on", this.#options.where),
          });
          return;
        }
        this.#admit(conn);
      }
    } finally {
      this.#taking = false;
    }
  }

  /** Authenticates one connection, then hands it to accept(). */
  async #admit(conn: Deno.Conn): Promise<void> {
    const { tls, authkey, maxMessageSize } = this.#options;
    const peer = peerOf(conn, this.#options.where);
    // See client.ts; Deno has no such setting for a TLS connection.
    if (conn.remoteAddr.transport === "tcp" && !tls) {
      (conn as Deno.TcpConn).setNoDelay(true);
    }
    const transport = new SocketTransport(conn, peer, maxMessageSize);
    this.#authenticating.add(transport);
    let outcome: Outcome;
    try {
      if (tls) {
        try {
          await (conn as Deno.TlsConn).handshake();
        } catch (error) {
          throw tlsError(error, peer);
        }
      }
      if (authkey) {
        await deliverChallenge(transport, authkey);
        await answerChallenge(transport, authkey);
      }
      outcome = { connection: new Connection(transport) };
    } catch (error) {
      transport.shutdown().catch(() => {});
      outcome = { error };
    } finally {
      this.#authenticating.delete(transport);
    }
    if (this.#closed) {
      if ("connection" in outcome) outcome.connection.close();
      return;
    }
    this.#deliver(outcome);
    this.#take();
  }

  #deliver(outcome: Outcome): void {
    const waiter = this.#waiters[0];
    if (waiter !== undefined) waiter.settle(outcome);
    else this.#ready.push(outcome);
  }
}

function unwrap(outcome: Outcome): Connection<any> {
  if ("error" in outcome) throw outcome.error;
  return outcome.connection;
}

function peerOf(conn: Deno.Conn, where: string): string {
  const addr = conn.remoteAddr;
  if (addr.transport === "tcp") {
    const { hostname, port } = addr as Deno.NetAddr;
    return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  }
  return `a client of ${where}`;
}
