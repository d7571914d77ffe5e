"""Python twins of bench/process_cases.ts; prints {"value": N} for one case."""
import json
import multiprocessing as mp
import os
import statistics
import sys
import time


def nothing():
    pass


def idle(ready, release):
    ready.release()
    release.wait()


def start_join_seq(ctx):
    p = ctx.Process(target=nothing)
    p.start()
    p.join()
    times = []
    for _ in range(30):
        t = time.perf_counter()
        p = ctx.Process(target=nothing)
        p.start()
        p.join()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def start_join_8(ctx):
    times = []
    for _ in range(7):
        t = time.perf_counter()
        ps = [ctx.Process(target=nothing) for _ in range(8)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_idle_child(ctx):
    ready = ctx.Semaphore(0)
    release = ctx.Event()
    ps = [ctx.Process(target=idle, args=(ready, release)) for _ in range(8)]
    for p in ps:
        p.start()
    for _ in ps:
        ready.acquire()
    total = sum(rss_kib(p.pid) for p in ps)
    release.set()
    for p in ps:
        p.join()
    return total / 8 / 1024


CASES = {"start_join_seq": start_join_seq, "start_join_8": start_join_8, "rss_idle_child": rss_idle_child}

if __name__ == "__main__":
    name, method = sys.argv[1].rsplit("_", 1)
    value = CASES[name](mp.get_context(method))
    print(json.dumps({"value": value}))
