import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { AuthenticationError } from "../../mod.ts";
import {
  answerChallenge,
  checkAuthkey,
  deliverChallenge,
  type FrameChannel,
} from "../../src/connection/_auth.ts";
import { decode, encode, Writer } from "../../src/core/codec.ts";

/** Two channels joined in memory: what one sends, the other receives. */
function channelPair(): [
  FrameChannel & { sent: Uint8Array[] },
  FrameChannel & {
    sent: Uint8Array[];
  },
] {
  const make = () => {
    const inbox: Uint8Array[] = [];
    const waiters: ((frame: Uint8Array) => void)[] = [];
    return {
      sent: [] as Uint8Array[],
      inbox,
      waiters,
      deliver(frame: Uint8Array) {
        const waiter = waiters.shift();
        if (waiter) waiter(frame);
        else inbox.push(frame);
      },
    };
  };
  const a = make(), b = make();
  const channel = (self: typeof a, peer: typeof a) => ({
    sent: self.sent,
    sendFrame(payload: Uint8Array) {
      self.sent.push(payload.slice());
      peer.deliver(payload.slice());
    },
    recvFrame(limit: number) {
      const next = self.inbox.shift();
      const check = (frame: Uint8Array) => {
        if (frame.length > limit) throw new Error("over the limit");
        return frame;
      };
      if (next) return Promise.resolve(check(next));
      return new Promise<Uint8Array>((resolve) =>
        self.waiters.push((frame) => resolve(check(frame)))
      );
    },
  });
  return [channel(a, b), channel(b, a)];
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("both sides pass the handshake with the same key, in both roles", async () => {
  const [listener, client] = channelPair();
  const key = bytes("secret");
  await Promise.all([
    deliverChallenge(listener, key).then(() => answerChallenge(listener, key)),
    answerChallenge(client, key).then(() => deliverChallenge(client, key)),
  ]);
  // The listener challenged, welcomed the answer, then answered in turn.
  assert.equal(text(listener.sent[0]).slice(0, 19), "#CHALLENGE#{sha256}");
  assert.equal(text(listener.sent[1]), "#WELCOME#");
  assert.equal(text(client.sent[1]).slice(0, 19), "#CHALLENGE#{sha256}");
  assert.equal(text(client.sent[2]), "#WELCOME#");
});

Deno.test("a wrong key fails both sides with AuthenticationError, and the deliverer says #FAILURE#", async () => {
  const [listener, client] = channelPair();
  const [delivered, answered] = await Promise.allSettled([
    deliverChallenge(listener, bytes("right")),
    answerChallenge(client, bytes("wrong")),
  ]);
  assert.ok(
    delivered.status === "rejected" &&
      delivered.reason instanceof AuthenticationError,
  );
  assert.ok(
    answered.status === "rejected" &&
      answered.reason instanceof AuthenticationError,
  );
  assert.equal(text(listener.sent.at(-1)!), "#FAILURE#");
});

Deno.test("a challenge is {sha256} and 40 random bytes; the answer is {sha256} and the HMAC of all of it", async () => {
  const [listener, client] = channelPair();
  const key = bytes("k");
  await Promise.all([
    deliverChallenge(listener, key),
    answerChallenge(client, key),
  ]);
  const message = listener.sent[0].subarray(11);
  assert.equal(message.length, 8 + 40);
  const mac = createHmac("sha256", key).update(message).digest();
  assert.deepEqual(
    client.sent[0],
    new Uint8Array([...bytes("{sha256}"), ...mac]),
  );
});

Deno.test("a legacy 20-byte challenge (Python ≤ 3.11) is answered with a raw HMAC-MD5", async () => {
  const [peer, self] = channelPair();
  const key = bytes("k");
  const message = crypto.getRandomValues(new Uint8Array(20));
  peer.sendFrame(new Uint8Array([...bytes("#CHALLENGE#"), ...message]));
  const answering = answerChallenge(self, key);
  const answer = await peer.recvFrame(256, "");
  assert.deepEqual(
    answer,
    new Uint8Array(createHmac("md5", key).update(message).digest()),
  );
  peer.sendFrame(bytes("#WELCOME#"));
  await answering;
});

Deno.test("a raw HMAC-MD5 answer to this side's challenge (a Python ≤ 3.11 peer) is accepted", async () => {
  const [self, peer] = channelPair();
  const key = bytes("k");
  const delivering = deliverChallenge(self, key);
  const challenge = await peer.recvFrame(256, "");
  const message = challenge.subarray(11);
  peer.sendFrame(createHmac("md5", key).update(message).digest());
  await delivering;
  assert.equal(text(await peer.recvFrame(256, "")), "#WELCOME#");
});

for (
  const [python, node] of [["md5", "md5"], ["sha384", "sha384"], [
    "sha3_256",
    "sha3-256",
  ], ["sha3_384", "sha3-384"]]
) {
  Deno.test(`a {${python}} challenge is answered with a {${python}} HMAC`, async () => {
    const [peer, self] = channelPair();
    const key = bytes("k");
    const message = new Uint8Array([
      ...bytes(`{${python}}`),
      ...crypto.getRandomValues(new Uint8Array(40)),
    ]);
    peer.sendFrame(new Uint8Array([...bytes("#CHALLENGE#"), ...message]));
    const answering = answerChallenge(self, key);
    const answer = await peer.recvFrame(256, "");
    const mac = createHmac(node, key).update(message).digest();
    assert.deepEqual(answer, new Uint8Array([...bytes(`{${python}}`), ...mac]));
    peer.sendFrame(bytes("#WELCOME#"));
    await answering;
  });
}

Deno.test("a challenge with an unknown digest is an AuthenticationError", async () => {
  const [peer, self] = channelPair();
  peer.sendFrame(
    bytes("#CHALLENGE#{sha1}0123456789012345678901234567890123456789"),
  );
  await assert.rejects(answerChallenge(self, bytes("k")), AuthenticationError);
});

Deno.test("a first frame that is not a challenge is an AuthenticationError", async () => {
  const [peer, self] = channelPair();
  peer.sendFrame(bytes("hello, I have no key"));
  await assert.rejects(
    answerChallenge(self, bytes("k")),
    (error: Error) =>
      error instanceof AuthenticationError &&
      /expected #CHALLENGE#/.test(error.message),
  );
});

Deno.test("an authkey is a string (as UTF-8) or bytes; anything else is a TypeError, empty a RangeError", () => {
  assert.deepEqual(checkAuthkey("é", "listen"), new Uint8Array([0xc3, 0xa9]));
  assert.deepEqual(
    checkAuthkey(new Uint8Array([1, 2]), "listen"),
    new Uint8Array([1, 2]),
  );
  assert.deepEqual(
    checkAuthkey(new Uint16Array([1]).buffer, "listen"),
    new Uint8Array([1, 0]),
  );
  assert.equal(checkAuthkey(undefined, "listen"), undefined);
  assert.throws(
    () => checkAuthkey(42, "connect"),
    (error: Error) =>
      error instanceof TypeError &&
      error.message ===
        `Cannot connect as 'authkey' must be a string or bytes (a Uint8Array), as Python's authkey=b"..." is: current value is number 42`,
  );
  assert.throws(() => checkAuthkey("", "listen"), RangeError);
});

Deno.test("AuthenticationError keeps its class when it crosses the codec", () => {
  const out = new Writer();
  encode(new AuthenticationError("no"), out, { path: "error" });
  const error = decode(out.written());
  assert.ok(error instanceof AuthenticationError);
  assert.equal((error as Error).message, "no");
});
