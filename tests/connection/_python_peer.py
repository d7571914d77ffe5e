"""A Python peer for tests/connection: multiprocessing.connection's own
Listener and Client, speaking the authkey handshake of either dialect.

    python3 _python_peer.py serve <dialect> <authkey|->
        Listens on 127.0.0.1, prints {"port": N}; accepts until one client
        authenticates (printing each failure), then echoes each message
        (recv_bytes -> send_bytes of b"py:" + it) until EOF, or closes
        when asked to with b"close, please".
    python3 _python_peer.py connect <dialect> <port> <authkey|-> <hex>...
        Connects, sends each hex payload with send_bytes and prints each
        reply; prints the AuthenticationError if the handshake fails.

<dialect> is "native" (this Python's own handshake), "legacy" (Python
<= 3.11: raw HMAC-MD5 over a 20-byte challenge) or "modern" (Python 3.12+:
a "{sha256}" prefixed challenge and "{digest}" prefixed answers). The two
are written out here, after CPython's connection.py, so that both are
tested whichever Python the machine has.

Every line printed is one JSON object.
"""
import hmac
import json
import os
import struct
import sys
from multiprocessing import AuthenticationError
from multiprocessing import connection as mpc

CHALLENGE = b"#CHALLENGE#"
WELCOME = b"#WELCOME#"
FAILURE = b"#FAILURE#"


def legacy_deliver(conn, authkey):
    message = os.urandom(20)
    conn.send_bytes(CHALLENGE + message)
    digest = hmac.new(authkey, message, "md5").digest()
    if conn.recv_bytes(256) == digest:
        conn.send_bytes(WELCOME)
    else:
        conn.send_bytes(FAILURE)
        raise AuthenticationError("digest received was wrong")


def legacy_answer(conn, authkey):
    message = conn.recv_bytes(256)
    assert message[: len(CHALLENGE)] == CHALLENGE, message
    digest = hmac.new(authkey, message[len(CHALLENGE):], "md5").digest()
    conn.send_bytes(digest)
    if conn.recv_bytes(256) != WELCOME:
        raise AuthenticationError("digest sent was rejected")


DIGESTS = {b"md5", b"sha256", b"sha384", b"sha3_256", b"sha3_384"}


def digest_of(message):
    if len(message) in (20, 16):
        return "", message
    if message.startswith(b"{"):
        end = message.find(b"}", 1, 10)
        if end > 0 and message[1:end] in DIGESTS:
            return message[1:end].decode("ascii"), message[end + 1:]
    raise AuthenticationError("unsupported message length or digest prefix")


def modern_deliver(conn, authkey, digest_name=None):
    digest_name = digest_name or os.environ.get("PEER_DIGEST", "sha256")
    message = b"{%s}%s" % (digest_name.encode("ascii"), os.urandom(40))
    conn.send_bytes(CHALLENGE + message)
    response = conn.recv_bytes(256)
    name, mac = digest_of(response)
    expected = hmac.new(authkey, message, name or "md5").digest()
    if len(expected) != len(mac) or not hmac.compare_digest(expected, mac):
        conn.send_bytes(FAILURE)
        raise AuthenticationError("digest received was wrong")
    conn.send_bytes(WELCOME)


def modern_answer(conn, authkey):
    message = conn.recv_bytes(256)
    if not message.startswith(CHALLENGE):
        raise AuthenticationError("expected challenge")
    message = message[len(CHALLENGE):]
    name, _ = digest_of(message)
    if name:
        mac = hmac.new(authkey, message, name).digest()
        response = b"{%s}%s" % (name.encode("ascii"), mac)
    else:
        response = hmac.new(authkey, message, "md5").digest()
    conn.send_bytes(response)
    if conn.recv_bytes(256) != WELCOME:
        raise AuthenticationError("digest sent was rejected")


def use_dialect(dialect):
    if dialect == "legacy":
        mpc.deliver_challenge, mpc.answer_challenge = legacy_deliver, legacy_answer
    elif dialect == "modern":
        mpc.deliver_challenge, mpc.answer_challenge = modern_deliver, modern_answer
    elif dialect != "native":
        raise SystemExit("unknown dialect " + dialect)


def say(**fields):
    print(json.dumps(fields), flush=True)


def key_of(arg):
    return None if arg == "-" else arg.encode()


def serve(authkey):
    with mpc.Listener(("127.0.0.1", 0), authkey=authkey) as listener:
        say(port=listener.address[1])
        while True:
            try:
                conn = listener.accept()
                break
            except (AuthenticationError, EOFError, OSError) as error:
                say(event="refused", error=type(error).__name__, message=str(error))
        say(event="accepted")
        with conn:
            try:
                while True:
                    data = conn.recv_bytes()
                    if data == b"close, please":
                        break
                    if data == b"long header, please":
                        # The 8-byte length Python writes past 2 GiB, on a
                        # small message: a reader must take both forms.
                        reply = b"py:" + data
                        conn._send(struct.pack("!i", -1) + struct.pack("!Q", len(reply)) + reply)
                    else:
                        conn.send_bytes(b"py:" + data)
            except EOFError:
                say(event="eof")
                return
        say(event="closed")


def connect(port, authkey, payloads):
    try:
        conn = mpc.Client(("127.0.0.1", port), authkey=authkey)
    except AuthenticationError as error:
        say(event="refused", error="AuthenticationError", message=str(error))
        return
    say(event="connected")
    with conn:
        for payload in payloads:
            conn.send_bytes(bytes.fromhex(payload))
            say(event="reply", hex=conn.recv_bytes().hex())


if __name__ == "__main__":
    command, dialect = sys.argv[1], sys.argv[2]
    use_dialect(dialect)
    if command == "serve":
        serve(key_of(sys.argv[3]))
    elif command == "connect":
        connect(int(sys.argv[3]), key_of(sys.argv[4]), sys.argv[5:])
    else:
        raise SystemExit("unknown command " + command)
