// Python's authkey handshake (deliver_challenge/answer_challenge in
// CPython's connection.py), so that either end may be a Python program.
// The side that delivers sends "#CHALLENGE#" and a random message; the
// other answers with an HMAC of it under the shared key; the deliverer
// replies "#WELCOME#" or "#FAILURE#". A Listener delivers then answers; a
// Client answers then delivers: each side proves it knows the key without
// sending it.
//
// Two dialects share the wire, told apart by length:
// - Python 3.12+: the message is "{sha256}" and 40 random bytes; the answer
//   is "{digest}" and the HMAC of the whole message (prefix included) with
//   that digest. This side always delivers this way.
// - Python ≤ 3.11: the message is 20 random bytes and the answer a raw
//   16-byte HMAC-MD5. This side answers such a challenge in kind, and,
//   like Python 3.12, accepts a raw HMAC-MD5 answer to its own challenge
//   (a 3.11 peer computes it over the whole prefixed message).

import { AuthenticationError, EOFError } from "../errors.ts";
import { describe } from "../core/describe.ts";

/** What the handshake needs of a connection: frames out and in. */
export interface FrameChannel {
  /** Sends one frame (queued in order). */
  sendFrame(payload: Uint8Array): void;
  /**
   * The next frame, refused when longer than `limit` bytes; a view valid
   * until the next call.
   */
  recvFrame(limit: number, limitName: string): Promise<Uint8Array>;
}

const ascii = (text: string) => new TextEncoder().encode(text);
const CHALLENGE = ascii("#CHALLENGE#");
const WELCOME = ascii("#WELCOME#");
const FAILURE = ascii("#FAILURE#");
/** Random bytes in a challenge (Python 3.12's MESSAGE_LENGTH). */
const MESSAGE_LENGTH = 40;
/** A legacy challenge's length, and a raw HMAC-MD5's. */
const LEGACY_LENGTHS = [20, 16];
/** Python's recv_bytes(256) during the handshake. */
const HANDSHAKE_LIMIT = 256;
const LIMIT_NAME = "what a handshake message may have";

/** Python's digest names → node:crypto's. */
const DIGESTS = new Map([
  ["md5", "md5"],
  ["sha256", "sha256"],
  ["sha384", "sha384"],
  ["sha3_256", "sha3-256"],
  ["sha3_384", "sha3-384"],
]);
const LONGEST_NAME = 8;

/**
 * Checks an `authkey` option and returns its bytes (a string is UTF-8, as
 * `"secret".encode()` in Python), or `undefined` when it was omitted.
 */
export function checkAuthkey(
  value: unknown,
  action: string,
): Uint8Array | undefined {
  if (value === undefined) return undefined;
  let bytes: Uint8Array;
  if (typeof value === "string") bytes = ascii(value);
  else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value.slice());
  else if (ArrayBuffer.isView(value)) {
    bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
      .slice();
  } else {
    throw new TypeError(
      `Cannot ${action} as 'authkey' must be a string or bytes (a Uint8Array), as Python's authkey=b"..." is: current value is ${
        describe(value)
      }`,
    );
  }
  if (bytes.length === 0) {
    throw new RangeError(
      `Cannot ${action} as 'authkey' must not be empty: omit it to connect without authentication`,
    );
  }
  return bytes;
}

/** Splits a `{digest}payload` message; `""` names the legacy dialect. */
function digestOf(message: Uint8Array): [string, Uint8Array] {
  if (LEGACY_LENGTHS.includes(message.length)) return ["", message];
  if (message[0] === 0x7b /* { */) {
    const end = message.subarray(0, LONGEST_NAME + 2).indexOf(0x7d /* } */);
    if (end > 1) {
      const name = new TextDecoder().decode(message.subarray(1, end));
      if (DIGESTS.has(name)) return [name, message.subarray(end + 1)];
    }
  }
  throw new AuthenticationError(
    `The peer's handshake message has ${message.length} bytes and no supported {digest} prefix (md5, sha256, sha384, sha3_256, sha3_384): it does not speak Python's authkey handshake, or it has no authkey`,
  );
}

/**
 * node:crypto, loaded on the first handshake: importing it costs 15–30 ms,
 * which every process of a program would pay at start otherwise.
 * (WebCrypto has no MD5 nor SHA-3, which Python's dialects use.)
 */
let nodeCrypto: Promise<typeof import("node:crypto")> | undefined;

async function hmac(
  key: Uint8Array,
  message: Uint8Array,
  digest: string,
): Promise<Uint8Array> {
  const { createHmac } = await (nodeCrypto ??= import("node:crypto"));
  const mac = createHmac(DIGESTS.get(digest)!, key).update(message).digest();
  return new Uint8Array(mac.buffer, mac.byteOffset, mac.length);
}

/** Compares two MACs in time that does not depend on where they differ. */
function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

/** This side's answer to a challenge message. */
async function responseTo(
  key: Uint8Array,
  message: Uint8Array,
): Promise<Uint8Array> {
  const [digest] = digestOf(message);
  if (digest === "") return await hmac(key, message, "md5");
  const mac = await hmac(key, message, digest);
  const prefix = ascii(`{${digest}}`);
  const response = new Uint8Array(prefix.length + mac.length);
  response.set(prefix);
  response.set(mac, prefix.length);
  return response;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Receives a handshake frame; EOF names the handshake. */
async function receive(channel: FrameChannel): Promise<Uint8Array> {
  try {
    return await channel.recvFrame(HANDSHAKE_LIMIT, LIMIT_NAME);
  } catch (error) {
    if (!(error instanceof EOFError)) throw error;
    throw new EOFError(
      "The peer closed the connection during the authkey handshake",
      { cause: error },
    );
  }
}

/**
 * Challenges the peer to prove it has `key` (Python's `deliver_challenge`):
 * rejects with `AuthenticationError` when its answer is wrong, after
 * telling it so.
 */
export async function deliverChallenge(
  channel: FrameChannel,
  key: Uint8Array,
): Promise<void> {
  const prefix = ascii("{sha256}");
  const message = new Uint8Array(prefix.length + MESSAGE_LENGTH);
  message.set(prefix);
  crypto.getRandomValues(message.subarray(prefix.length));
  const challenge = new Uint8Array(CHALLENGE.length + message.length);
  challenge.set(CHALLENGE);
  challenge.set(message, CHALLENGE.length);
  channel.sendFrame(challenge);
  const response = await receive(channel);
  try {
    const [digest, mac] = digestOf(response);
    const expected = await hmac(key, message, digest || "md5");
    if (!sameMac(expected, mac)) {
      throw new AuthenticationError(
        "The peer's answer to the authkey challenge was wrong (digest received was wrong): it has a different authkey",
      );
    }
  } catch (error) {
    try {
      channel.sendFrame(FAILURE);
    } catch { /* the peer is gone: it needs no telling */ }
    throw error;
  }
  channel.sendFrame(WELCOME);
}

/**
 * Answers the peer's challenge with `key` (Python's `answer_challenge`):
 * rejects with `AuthenticationError` when the peer refuses the answer.
 */
export async function answerChallenge(
  channel: FrameChannel,
  key: Uint8Array,
): Promise<void> {
  const frame = await receive(channel);
  if (!equal(frame.subarray(0, CHALLENGE.length), CHALLENGE)) {
    throw new AuthenticationError(
      "The peer did not start the authkey handshake (expected #CHALLENGE#): it has no authkey, or it is not a multiprocessing connection",
    );
  }
  const message = frame.subarray(CHALLENGE.length);
  if (message.length < LEGACY_LENGTHS[0]) {
    throw new AuthenticationError(
      `The peer's authkey challenge is too short: ${message.length} bytes`,
    );
  }
  channel.sendFrame(await responseTo(key, message));
  const verdict = await receive(channel);
  if (!equal(verdict, WELCOME)) {
    throw new AuthenticationError(
      "The peer refused this side's answer to its authkey challenge (digest sent was rejected): it has a different authkey",
    );
  }
}
