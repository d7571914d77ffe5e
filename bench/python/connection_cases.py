"""Python twins of bench/connection_cases.ts; prints {"value": N} for one case."""
import json
import multiprocessing as mp
import statistics
import sys
import time
from multiprocessing.connection import Client, Listener

ctx = mp.get_context("fork")


def echo_server(ports):
    with Listener(("127.0.0.1", 0), authkey=b"bench") as listener:
        ports.put(listener.address[1])
        while True:
            conn = listener.accept()
            try:
                while True:
                    conn.send(conn.recv())
            except EOFError:
                conn.close()


def start_server():
    ports = ctx.Queue()
    p = ctx.Process(target=echo_server, args=(ports,), daemon=True)
    p.start()
    return p, ports.get()


def connect():
    p, port = start_server()
    times = []
    for _ in range(30):
        t = time.perf_counter()
        conn = Client(("127.0.0.1", port), authkey=b"bench")
        times.append((time.perf_counter() - t) * 1e3)
        conn.close()
    p.terminate()
    return statistics.median(times)


def rtt():
    p, port = start_server()
    conn = Client(("127.0.0.1", port), authkey=b"bench")
    conn.send(-1)
    conn.recv()
    rounds = []
    for _ in range(20):
        t = time.perf_counter()
        for i in range(2000):
            conn.send(i)
            conn.recv()
        rounds.append((time.perf_counter() - t) * 1e6 / 2000)
    conn.close()
    p.terminate()
    return statistics.median(rounds)


CASES = {"connect": connect, "rtt": rtt}

if __name__ == "__main__":
    print(json.dumps({"value": CASES[sys.argv[1]]()}))
