"""Python twins of bench/mailbox_cases.ts; prints {"value": N} for one case."""
import json
import multiprocessing as mp
import statistics
import sys
import time

ctx = mp.get_context("fork")


def echo_back(conn, other):
    other.close()  # the forked copy of the parent's end would hide EOF
    try:
        while True:
            conn.send(conn.recv())
    except EOFError:
        pass


def pipe_rtt():
    here, there = ctx.Pipe()
    p = ctx.Process(target=echo_back, args=(there, here))
    p.start()
    here.send(-1)
    here.recv()
    rounds = []
    for _ in range(20):
        t = time.perf_counter()
        for i in range(2000):
            here.send(i)
            here.recv()
        rounds.append((time.perf_counter() - t) * 1e6 / 2000)
    here.close()
    there.close()
    p.join()
    return statistics.median(rounds)


def producer(q, ready, go, n, sentinels):
    ready.release()
    go.wait()
    for i in range(n):
        q.put(i)
    for _ in range(sentinels):
        q.put(None)


def consumer(q, ready, go, done):
    ready.release()
    go.wait()
    count = 0
    while q.get() is not None:
        count += 1
    done.put(count)


def queue_rate(producers, consumers, items):
    q = ctx.Queue()
    done = ctx.Queue()
    ready = ctx.Semaphore(0)
    go = ctx.Event()
    per = items // producers
    ps = [ctx.Process(target=producer, args=(q, ready, go, per, -(-consumers // producers) if i < consumers else 0))
          for i in range(producers)]
    ps += [ctx.Process(target=consumer, args=(q, ready, go, done)) for _ in range(consumers)]
    for p in ps:
        p.start()
    for _ in ps:
        ready.acquire()
    t = time.perf_counter()
    go.set()
    got = sum(done.get() for _ in range(consumers))
    seconds = time.perf_counter() - t
    for p in ps:
        p.join()
    assert got == items, (got, items)
    return items / seconds


def big_receiver(conn, other):
    other.close()
    try:
        while True:
            conn.send(len(conn.recv_bytes()))
    except EOFError:
        pass


def pipe_64mib():
    here, there = ctx.Pipe()
    p = ctx.Process(target=big_receiver, args=(there, here))
    p.start()
    here.send_bytes(b"")
    here.recv()
    times = []
    for _ in range(7):
        data = bytearray(64 * 2**20)
        t = time.perf_counter()
        here.send_bytes(data)
        here.recv()
        times.append((time.perf_counter() - t) * 1000)
    here.close()
    there.close()
    p.join()
    return statistics.median(times)


def async_echo(conn, other, ready):
    other.close()
    ready.set()
    try:
        while True:
            conn.send(conn.recv())
    except EOFError:
        pass


def pipe_rtt_first():
    here, there = ctx.Pipe()
    ready = ctx.Event()
    p = ctx.Process(target=async_echo, args=(there, here, ready))
    p.start()
    there.close()
    ready.wait()
    t = time.perf_counter()
    for i in range(2000):
        here.send(i)
        here.recv()
    us = (time.perf_counter() - t) * 1e6 / 2000
    here.close()
    p.join()
    return us


def await_putter(q, ready, go, n):
    ready.release()
    go.wait()
    for i in range(n):
        q.put(i)


def queue_await_first():
    n = 200_000
    q = ctx.Queue()
    ready = ctx.Semaphore(0)
    go = ctx.Event()
    p = ctx.Process(target=await_putter, args=(q, ready, go, n))
    p.start()
    ready.acquire()
    t = time.perf_counter()
    go.set()
    for i in range(n):
        assert q.get() == i
    rate = n / (time.perf_counter() - t)
    p.join()
    return rate


CASES = {
    "pipe_rtt_first": pipe_rtt_first,
    "queue_await_first": queue_await_first,
    "pipe_rtt": pipe_rtt,
    "queue_1_1": lambda: statistics.median([queue_rate(1, 1, 200_000) for _ in range(3)]),
    "queue_2_2": lambda: statistics.median([queue_rate(2, 2, 200_000) for _ in range(3)]),
    "pipe_64mib": pipe_64mib,
}

if __name__ == "__main__":
    print(json.dumps({"value": CASES[sys.argv[1]]()}))
