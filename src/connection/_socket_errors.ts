// What Deno's network errors mean to a Listener or a Client, in words: the
// runtime's error stays as the `cause`.

import { AuthenticationError, ProcessError } from "../errors.ts";

const REASONS: [new (...args: never[]) => Error, string][] = [
  [
    Deno.errors.AddrInUse,
    "the address is in use (another program or Listener holds it)",
  ],
  [Deno.errors.AddrNotAvailable, "the address is not one of this machine's"],
  [
    Deno.errors.ConnectionRefused,
    "the connection was refused (nothing listens there)",
  ],
  [Deno.errors.ConnectionReset, "the peer reset the connection"],
  [Deno.errors.TimedOut, "the address did not answer in time (unreachable?)"],
  [
    Deno.errors.NotFound,
    "there is no such socket file, or the host name does not resolve",
  ],
  [
    Deno.errors.PermissionDenied,
    "the system refused it (a port below 1024, or the socket file's directory)",
  ],
];

/**
 * A `ProcessError` saying why `action` ("listen on", "connect to") failed
 * at `where`. Deno's missing-permission error is returned as it is: its
 * message already names the flag to add.
 */
export function netError(error: unknown, action: string, where: string) {
  if (error instanceof Deno.errors.NotCapable) return error;
  const reason = REASONS.find(([type]) => error instanceof type)?.[1] ??
    (error as Error)?.message ?? String(error);
  return new ProcessError(`Cannot ${action} ${where}: ${reason}`, {
    cause: error,
  });
}

/**
 * The error of a failed TLS handshake with `where`: an
 * `AuthenticationError` when a certificate was refused, else a
 * `ProcessError`.
 */
export function tlsError(error: unknown, where: string): Error {
  const message = (error as Error)?.message ?? String(error);
  const type = /certificate|UnknownIssuer|NotValidForName|BadSignature/i.test(
      message,
    )
    ? AuthenticationError
    : ProcessError;
  return new type(`The TLS handshake with ${where} failed: ${message}`, {
    cause: error,
  });
}
