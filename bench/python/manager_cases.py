"""Python twins of bench/manager_cases.ts; prints {"value": N} for one case."""
import json
import multiprocessing as mp
import statistics
import sys
import time

COUNT = 5000
RUNS = 5


def sets_and_gets(d, out):
    t = time.perf_counter()
    for i in range(COUNT):
        d[f"k{i}"] = i
    for i in range(COUNT):
        d[f"k{i}"]
    out.value = 2 * COUNT / (time.perf_counter() - t)


def produce(q, count):
    for i in range(count):
        q.put(i)
    q.put(None)


def consume(q):
    while q.get() is not None:
        pass


def dict_process(manager):
    out = manager.Value("d", 0.0)
    figures = []
    for _ in range(RUNS):
        d = manager.dict()
        p = mp.Process(target=sets_and_gets, args=(d, out))
        p.start()
        p.join()
        figures.append(out.value)
    return statistics.median(figures)


def dict_owner(manager):
    out = manager.Value("d", 0.0)
    figures = []
    for _ in range(RUNS):
        sets_and_gets(manager.dict(), out)
        figures.append(out.value)
    return statistics.median(figures)


def queue_processes(manager):
    figures = []
    for _ in range(RUNS):
        q = manager.Queue()
        t = time.perf_counter()
        ps = [mp.Process(target=consume, args=(q,)), mp.Process(target=produce, args=(q, COUNT))]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        figures.append(COUNT / (time.perf_counter() - t))
    return statistics.median(figures)


CASES = {"dict_process": dict_process, "dict_owner": dict_owner, "queue_processes": queue_processes}

if __name__ == "__main__":
    with mp.Manager() as manager:
        value = CASES[sys.argv[1]](manager)
    print(json.dumps({"value": value}))
