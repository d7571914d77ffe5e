"""Python twins of bench/pool_cases.ts; prints {"value": N} for one case."""
import json
import multiprocessing as mp
import statistics
import sys
import time

CPU_CALLS = 64
CPU_MS = 10


def identity(x):
    return x


def crunch(rounds):
    x = 0
    for i in range(rounds):
        x = (x * 31 + i) % 1_000_003
    return x


def calibrate(ms):
    rounds = 100_000
    for _ in range(5):
        t = time.perf_counter()
        crunch(rounds)
        rounds = round(rounds * ms / ((time.perf_counter() - t) * 1000))
    return rounds


def map_abs(ctx):
    with ctx.Pool(2) as pool:
        times = []
        for i in range(6):
            t = time.perf_counter()
            out = pool.map(abs, range(1_000_000))
            assert len(out) == 1_000_000
            if i > 0:
                times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def apply_seq(ctx):
    with ctx.Pool(2) as pool:
        for i in range(200):
            pool.apply(identity, (i,))
        times = []
        for _ in range(7):
            t = time.perf_counter()
            for i in range(300):
                pool.apply(identity, (i,))
            times.append((time.perf_counter() - t) * 1e6 / 300)
    return statistics.median(times)


def map_cpu(ctx):
    rounds = calibrate(CPU_MS)
    with ctx.Pool(2) as pool:
        pool.map(crunch, [rounds, rounds])
        times = []
        for _ in range(3):
            t = time.perf_counter()
            pool.map(crunch, [rounds] * CPU_CALLS)
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def cpu_one_thread(ctx):
    rounds = calibrate(CPU_MS)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(CPU_CALLS):
            crunch(rounds)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def cold_start(ctx):
    times = []
    for _ in range(5):
        t = time.perf_counter()
        pool = ctx.Pool(2)
        pool.apply(identity, (1,))
        times.append((time.perf_counter() - t) * 1000)
        pool.terminate()
        pool.join()
    return statistics.median(times)


CASES = {
    "map_abs": map_abs,
    "apply_seq": apply_seq,
    "map_cpu": map_cpu,
    "cpu_one_thread": cpu_one_thread,
    "cold_start": cold_start,
}

if __name__ == "__main__":
    value = CASES[sys.argv[1]](mp.get_context("fork"))
    print(json.dumps({"value": value}))
