# The Python-level rows of `cargo xtask bench` (xtask/src/pybench.rs): each operation timed in
# this process on whichever `_thread` it has. `cargo xtask bench` runs it once with the built-in
# module and once with pythread in its place (PYTHREAD_AS_THREAD=1, see cpython.rs), in turn, for
# each round. Prints one JSON line: {"module": "built-in" | "pythread", "version": "3.X.Y",
# "rows": {name: nanoseconds per operation}}, each value the fastest of REPEATS timings: on a
# loaded machine a timing can only be slowed by other work, never sped up, so the fastest is the
# one closest to the operation's own cost (timeit's advice), where a median moves with the load.
#
# With pythread, the rows that need no `threading` are also timed on the built-in module in this
# same process, each timing of one module next to one of the other ("builtin_rows"): a process
# can run slower or faster than the next for its whole life on a shared machine (its processor,
# its neighbours), which timings in separate processes cannot tell from the modules' own costs.
import json
import sys
import time

import _thread

# Before `threading`, so that `queue` (through `threading`) uses this `_thread` too.
MODULE = "built-in" if getattr(_thread, "__file__", None) is None else "pythread"

import queue  # noqa: E402

REPEATS = 7
# Each timing runs for about this long (the loop count is fixed from a first, short timing).
TARGET_SECONDS = 0.03


def per_op(run, number):
    """The fastest of REPEATS timings of run(number), per operation, in nanoseconds."""
    run(max(1, number // 10))  # warm up
    return min(run(number) / number for _ in range(REPEATS)) * 1e9


def per_op_side_by_side(runs, number):
    """per_op of each of `runs`, their timings taken in turn (one of each, REPEATS times)."""
    for run in runs:
        run(max(1, number // 10))  # warm up
    fastest = [float("inf")] * len(runs)
    for _ in range(REPEATS):
        for i, run in enumerate(runs):
            fastest[i] = min(fastest[i], run(number) / number)
    return [value * 1e9 for value in fastest]


def loop_count(run):
    """A loop count for `run` with which a timing takes about TARGET_SECONDS."""
    number = 1
    while True:
        took = run(number)
        if took >= TARGET_SECONDS / 10 or number >= 1 << 24:
            break
        number *= 4
    return max(1, int(number * (TARGET_SECONDS / max(took, 1e-9))))


def calibrated(run):
    """per_op with a loop count sized so each timing takes about TARGET_SECONDS."""
    return per_op(run, loop_count(run))


def builtin_module():
    """The built-in `_thread` as a module object of its own, `sys.modules` left as it is."""
    import _imp
    import importlib.machinery
    spec = importlib.machinery.ModuleSpec("_thread", importlib.machinery.BuiltinImporter,
                                          origin="built-in")
    module = _imp.create_builtin(spec)
    _imp.exec_builtin(module)
    assert getattr(module, "__file__", None) is None, module
    return module


def statement(body, setup, module=_thread):
    """A timing function for `body` run in a loop, compiled once (as timeit does)."""
    source = (
        "def run(number, perf_counter=time.perf_counter):\n"
        f"    {setup}\n"
        "    started = perf_counter()\n"
        "    for _ in range(number):\n"
        f"        {body}\n"
        "    return perf_counter() - started\n"
    )
    namespace = {"time": time, "_thread": module}
    exec(source, namespace)
    return namespace["run"]


def start_and_join(number, _thread=_thread):
    """Start a thread that does nothing and wait for it to end, `number` times."""
    if hasattr(_thread, "start_joinable_thread"):  # 3.13
        started = time.perf_counter()
        for _ in range(number):
            _thread.start_joinable_thread(lambda: None).join()
        return time.perf_counter() - started
    done = _thread.allocate_lock()
    done.acquire()
    started = time.perf_counter()
    for _ in range(number):
        _thread.start_new_thread(done.release, ())
        done.acquire()
    return time.perf_counter() - started


def ping_pong(number, _thread=_thread):
    """Two threads pass control back and forth through two locks: `number` round trips."""
    a = _thread.allocate_lock()
    b = _thread.allocate_lock()
    finished = _thread.allocate_lock()
    a.acquire()
    b.acquire()
    finished.acquire()

    def partner():
        for _ in range(number):
            a.acquire()
            b.release()
        finished.release()

    _thread.start_new_thread(partner, ())
    started = time.perf_counter()
    for _ in range(number):
        a.release()
        b.acquire()
    took = time.perf_counter() - started
    finished.acquire()
    return took


def producer_consumer(number):
    """A `queue.Queue(maxsize=64)` from a producer thread to this one: `number` items."""
    q = queue.Queue(maxsize=64)
    finished = _thread.allocate_lock()
    finished.acquire()

    def producer():
        for i in range(number):
            q.put(i)
        finished.release()

    started = time.perf_counter()
    _thread.start_new_thread(producer, ())
    for _ in range(number):
        q.get()
    took = time.perf_counter() - started
    finished.acquire()
    return took


CONTENDERS = 4


def contended_with(number, _thread=_thread):
    """CONTENDERS threads each run `with lock:` (a counter inside) number / CONTENDERS times."""
    lock = _thread.allocate_lock()
    each = max(1, number // CONTENDERS)
    counter = [0]
    done = _thread.allocate_lock()
    remaining = [CONTENDERS]
    done.acquire()
    gate = _thread.allocate_lock()
    gate.acquire()

    def worker():
        with gate:
            pass
        for _ in range(each):
            with lock:
                counter[0] += 1
        with lock:
            remaining[0] -= 1
            if remaining[0] == 0:
                done.release()

    for _ in range(CONTENDERS):
        _thread.start_new_thread(worker, ())
    started = time.perf_counter()
    gate.release()
    done.acquire()
    took = time.perf_counter() - started
    assert counter[0] == each * CONTENDERS
    return took * number / (each * CONTENDERS)


LOCK = "lock = _thread.allocate_lock()"
# Rows of one statement: (body, setup).
STATEMENTS = {
    "lock.acquire(); lock.release()": ("lock.acquire(); lock.release()", LOCK),
    "with lock: pass": ("with lock: pass", LOCK),
    "lock.acquire(False); lock.release()": ("lock.acquire(False); lock.release()", LOCK),
    "lock.acquire(timeout=1.0); lock.release()": (
        "lock.acquire(timeout=1.0); lock.release()", LOCK
    ),
    "with rlock: pass (RLock)": ("with rlock: pass", "rlock = _thread.RLock()"),
    "get_ident()": ("get_ident()", "get_ident = _thread.get_ident"),
    "allocate_lock()": ("allocate_lock()", "allocate_lock = _thread.allocate_lock"),
}
# Rows with threads: fixed counts (each timing long enough to cover scheduling noise); the
# function takes the module to use, except for the queue's, whose `threading` is this process's.
THREADED = {
    "start + join a thread": (start_and_join, 200),
    "two-lock ping-pong, one round trip": (ping_pong, 5000),
    f"{CONTENDERS} threads contending on with lock, one entry": (contended_with, 40000),
}
QUEUE_ROW = "queue.Queue producer/consumer, one item"


def main():
    rows = {}
    builtin_rows = {}
    builtin = builtin_module() if MODULE == "pythread" else None
    for name, (body, setup) in STATEMENTS.items():
        run = statement(body, setup)
        if builtin is None:
            rows[name] = calibrated(run)
        else:
            number = loop_count(run)
            rows[name], builtin_rows[name] = per_op_side_by_side(
                [run, statement(body, setup, builtin)], number)
    for name, (run, number) in THREADED.items():
        if builtin is None:
            rows[name] = per_op(run, number)
        else:
            rows[name], builtin_rows[name] = per_op_side_by_side(
                [run, lambda n, run=run: run(n, builtin)], number)
    rows[QUEUE_ROW] = per_op(producer_consumer, 10000)
    version = ".".join(map(str, sys.version_info[:3]))
    line = {"module": MODULE, "version": version, "rows": rows}
    if builtin is not None:
        line["builtin_rows"] = builtin_rows
    print(json.dumps(line))


if __name__ == "__main__":
    main()
