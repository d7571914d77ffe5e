"""Python twins of bench/synchronize_cases.ts; prints {"value": N} for one case."""
import json
import multiprocessing as mp
import statistics
import sys
import time

N = 100_000


def uncontended():
    lock = mp.Lock()
    n = 200_000
    times = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(n):
            lock.acquire()
            lock.release()
        times.append((time.perf_counter() - t) * 1e9 / n)
    return statistics.median(times)


def bump(counter, n, start, done):
    start.wait()
    lock = counter.get_lock()
    for _ in range(n):
        with lock:
            counter.value += 1
    done.release()


def increments():
    ctx = mp.get_context("fork")
    rates = []
    for _ in range(5):
        counter = ctx.Value("i", 0)  # the default RLock: `.value` takes it too
        start = ctx.Event()
        done = ctx.Semaphore(0)
        ps = [ctx.Process(target=bump, args=(counter, N, start, done)) for _ in range(2)]
        for p in ps:
            p.start()
        time.sleep(0.1)  # let both start, as the Deno side does
        t = time.perf_counter()
        start.set()
        done.acquire()
        done.acquire()
        s = time.perf_counter() - t
        for p in ps:
            p.join()
        assert counter.value == 2 * N, counter.value
        rates.append(2 * N / s)
    return statistics.median(rates)


CASES = {"uncontended": uncontended, "increments": increments}

if __name__ == "__main__":
    print(json.dumps({"value": CASES[sys.argv[1]]()}))
