"""pythread's own Python-level tests, run by `cargo xtask cpython` on `pythread` only, on every
CPython version it finds (version-specific tests skip elsewhere).

CPython's suites check that pythread behaves as the built-in `_thread`; these check what they
cannot see: pythread's messages and exception types to the letter, the audit event that 3.11's
built-in lacks, the unraisable report, real signals waking a main-thread wait (also when the
process started with SIGINT ignored), and daemon threads at interpreter shutdown. Each test names
the spec clauses it proves in a `# proves:` line above it. Where practical the expectation is
computed from the built-in `_thread` of the same interpreter, run in a child process. Timed waits are checked by their lower bound with generous ceilings.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import _thread


def setUpModule():
    if _thread.__name__ != "pythread":
        raise unittest.SkipTest("_thread is not pythread (PYTHREAD_AS_THREAD=1 not set)")


def run_python(code, **popen):
    """Runs `code` in a child interpreter of this venv (with pythread as `_thread`)."""
    env = dict(os.environ, PYTHREAD_AS_THREAD="1")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=60, env=env, **popen)


class Errors(unittest.TestCase):
    def check(self, exc_type, message, function, *args):
        with self.assertRaises(exc_type) as cm:
            function(*args)
        self.assertIs(type(cm.exception), exc_type)
        self.assertEqual(str(cm.exception), message)

    # proves: LOCK-4, LOCK-5
    def test_lock_timeout_arguments(self):
        lock = _thread.allocate_lock()
        self.check(ValueError, "Invalid value NaN (not a number)", lock.acquire, True, float("nan"))
        self.check(OverflowError, "timestamp out of range for platform time_t",
                   lock.acquire, True, 1e300)
        self.check(ValueError, "can't specify a timeout for a non-blocking call",
                   lock.acquire, False, 0.0)
        negative = ("timeout value must be a non-negative number" if sys.version_info >= (3, 13)
                    else "timeout value must be positive")
        self.check(ValueError, negative, lock.acquire, True, -2.0)
        self.assertFalse(lock.locked())
        self.assertTrue(lock.acquire(False, -1.0))

    # proves: LOCK-9, RLOCK-3, RLOCK-5, CORE-1
    def test_release_errors(self):
        self.assertIs(_thread.error, RuntimeError)
        self.check(RuntimeError, "release unlocked lock", _thread.allocate_lock().release)
        rlock = _thread.RLock()
        self.check(RuntimeError, "cannot release un-acquired lock", rlock.release)
        self.check(RuntimeError, "cannot release un-acquired lock", rlock._release_save)

    # proves: STACK-3, STACK-4, INTR-1
    def test_stack_size_and_interrupt_main_arguments(self):
        self.check(ValueError, "size must be 0 or a positive value", _thread.stack_size, -1)
        self.check(ValueError, "size not valid: 1000 bytes", _thread.stack_size, 1000)
        self.assertEqual(_thread.stack_size(), 0)
        self.check(ValueError, "signal number out of range", _thread.interrupt_main, 0)
        self.check(ValueError, "signal number out of range", _thread.interrupt_main, 65)


class Threads(unittest.TestCase):
    # proves: CORE-2, CORE-7, SPAWN-5
    def test_ident_and_count(self):
        started = _thread.allocate_lock()
        started.acquire()
        leave = _thread.allocate_lock()
        leave.acquire()
        seen = []

        def body():
            seen.append(_thread.get_ident())
            started.release()
            leave.acquire()

        before = _thread._count()
        ident = _thread.start_new_thread(body, ())
        started.acquire()
        self.assertEqual(seen, [ident])
        self.assertNotEqual(ident, _thread.get_ident())
        self.assertEqual(_thread._count(), before + 1)
        leave.release()
        deadline = time.monotonic() + 30
        while _thread._count() > before and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(_thread._count(), before)

    # proves: AUDIT-5, SPAWN-3
    @unittest.skipUnless(sys.version_info >= (3, 12), "3.11 raises no _thread.start_new_thread")
    def test_audit_event(self):
        result = run_python("""
            import sys, _thread
            events = []
            def hook(event, args):
                if event == "_thread.start_new_thread":
                    events.append(args)
                    if args[1] == ("refuse",):
                        raise PermissionError("no threads")
            sys.addaudithook(hook)
            done = _thread.allocate_lock(); done.acquire()
            def f(*args, **kwargs): done.release()
            _thread.start_new_thread(f, (1,), {"k": 2})
            done.acquire()
            before = _thread._count()
            try:
                _thread.start_new_thread(f, ("refuse",))
            except PermissionError as e:
                print("refused:", e, _thread._count() == before)
            print(events[0][0] is f, events[0][1:], events[1][2])
        """)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.splitlines(),
                         ["refused: no threads True", "True ((1,), {'k': 2}) None"])

    # proves: HOOK-1, HOOK-2, EXIT-1, EXIT-2, PY-2
    def test_unraisable_report_and_silent_system_exit(self):
        reports = []
        done = threading.Event()

        def hook(args):
            reports.append((args.exc_type, str(args.exc_value), args.err_msg, args.object))

        def fails():
            try:
                raise ValueError("boom")
            finally:
                done.set()

        def exits():
            try:
                _thread.exit()
            finally:
                done.set()

        old = sys.unraisablehook
        sys.unraisablehook = hook
        try:
            for function in (exits, fails):
                done.clear()
                before = _thread._count()
                _thread.start_new_thread(function, ())
                self.assertTrue(done.wait(30))
                deadline = time.monotonic() + 30
                while _thread._count() > before and time.monotonic() < deadline:
                    time.sleep(0.01)
        finally:
            sys.unraisablehook = old
        if sys.version_info >= (3, 13):
            expected = (f"Exception ignored in thread started by {fails!r}", None)
        else:
            expected = ("Exception ignored in thread started by", fails)
        self.assertEqual(reports, [(ValueError, "boom", *expected)])


@unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
class Signals(unittest.TestCase):
    SCRIPT = """
        import _thread, signal, sys, time
        assert _thread.__name__ == "pythread", _thread
        lock = _thread.RLock() if sys.argv[1:] == ["rlock"] else _thread.allocate_lock()
        holder = _thread.allocate_lock(); holder.acquire()
        def hold():
            lock.acquire(); holder.release(); time.sleep(60)
        _thread.start_new_thread(hold, ())
        holder.acquire()
        calls = []
        def handler(signum, frame):
            calls.append(signum)
            if len(calls) == 2:
                raise KeyboardInterrupt("second alarm")
        signal.signal(signal.SIGALRM, handler)
        start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
        try:
            lock.acquire(timeout=30)
        except KeyboardInterrupt as e:
            print("interrupted:", e, len(calls), time.monotonic() - start)
        else:
            print("not interrupted")
    """

    def check_interrupted(self, *args, **popen):
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(self.SCRIPT), *args],
            capture_output=True, text=True, timeout=60,
            env=dict(os.environ, PYTHREAD_AS_THREAD="1"), **popen)
        self.assertEqual(result.returncode, 0, result.stderr)
        words = result.stdout.split()
        self.assertEqual(words[:4], ["interrupted:", "second", "alarm", "2"], result.stdout)
        # The first handler ran and the wait went on; the second one ended it, well before 30 s.
        self.assertGreaterEqual(float(words[4]), 0.2)
        self.assertLess(float(words[4]), 20)

    # proves: LOCK-13
    def test_real_signal_interrupts_lock_wait(self):
        self.check_interrupted()

    # proves: LOCK-13, RLOCK-6
    def test_real_signal_interrupts_rlock_wait(self):
        self.check_interrupted("rlock")

    # proves: LOCK-13
    def test_real_signal_with_sigint_ignored_at_start(self):
        self.check_interrupted(
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))


class Shutdown(unittest.TestCase):
    # proves: SPAWN-6, SPAWN-9
    def test_daemon_threads_at_shutdown(self):
        result = run_python("""
            import threading, time, _thread
            assert _thread.__name__ == "pythread", _thread
            lock = threading.Lock(); lock.acquire()
            rlock = threading.RLock()
            ready = threading.Barrier(5)
            def in_lock_wait(): ready.wait(); lock.acquire()
            def in_rlock_wait(): ready.wait(); rlock.acquire()
            def in_sleep(): ready.wait(); time.sleep(60)
            def spinning():
                ready.wait()
                while True: pass
            rlock.acquire()
            for f in (in_lock_wait, in_rlock_wait, in_sleep, spinning):
                threading.Thread(target=f, daemon=True).start()
            ready.wait()
            print("exiting")
        """)
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, "exiting\n", ""))


# ---------------------------------------------------------------------------------------------
# The same cases run on the built-in `_thread` and on pythread, each in a child interpreter of
# this one; the built-in's outcomes are the expectation (PY-1..3), so nothing version-dependent is
# hard-coded here.

CASES = r'''
import json, sys, _thread
from decimal import Decimal
from fractions import Fraction

class Index:
    def __init__(self, value): self.value = value
    def __index__(self): return self.value

class FloatOnly:
    def __float__(self): return 0.0

def outcome(call):
    try:
        result = call()
    except BaseException as error:
        return [type(error).__name__, str(error)]
    if isinstance(result, (bool, int, float, str, type(None))):
        return ["ok", result]
    return ["ok", type(result).__name__]

def state_after(make, call):
    """The outcome of `call(lock)` and whether the lock was left as it was (unlocked)."""
    lock = make()
    return [outcome(lambda: call(lock)), lock.acquire(False) and (lock.release() or True)]

results = {}
for kind, make in [("lock", _thread.allocate_lock), ("rlock", _thread.RLock)]:
    calls = {
        "acquire(0)": lambda l: l.acquire(0),
        "acquire(1)": lambda l: l.acquire(1),
        "acquire(blocking=0)": lambda l: l.acquire(blocking=0),
        "acquire(blocking=1, timeout=0)": lambda l: l.acquire(blocking=1, timeout=0),
        "acquire('x')": lambda l: l.acquire("x"),
        "acquire(None)": lambda l: l.acquire(None),
        "acquire(1.5)": lambda l: l.acquire(1.5),
        "acquire(2**70)": lambda l: l.acquire(2**70),
        "acquire(Index(0))": lambda l: l.acquire(Index(0)),
        "timeout=Fraction": lambda l: l.acquire(True, Fraction(1, 2)),
        "timeout=Decimal": lambda l: l.acquire(True, Decimal("0.5")),
        "timeout=FloatOnly": lambda l: l.acquire(True, FloatOnly()),
        "timeout=Index(0)": lambda l: l.acquire(True, Index(0)),
        "timeout=None": lambda l: l.acquire(True, None),
        "timeout=2**70": lambda l: l.acquire(True, 2**70),
        "timeout=-2**70": lambda l: l.acquire(True, -2**70),
        "timeout=10**10": lambda l: l.acquire(True, 10**10),
        "timeout=1e300": lambda l: l.acquire(True, 1e300),
        "timeout=-inf": lambda l: l.acquire(True, float("-inf")),
        "timeout=nan": lambda l: l.acquire(True, float("nan")),
        "timeout=-2": lambda l: l.acquire(True, -2),
        "timeout=-2.5": lambda l: l.acquire(True, -2.5),
        "(False, 0)": lambda l: l.acquire(False, 0),
        "(False, -1)": lambda l: l.acquire(False, -1),
        "too many": lambda l: l.acquire(1, 2, 3),
        "__enter__(0)": lambda l: l.__enter__(0),
    }
    for name, call in calls.items():
        results[kind + " " + name] = state_after(make, call)

before = _thread.stack_size(0)
module_calls = {
    "start_new_thread(f, (), None)": lambda: _thread.start_new_thread(print, (), None),
    "start_new_thread(f, (), [])": lambda: _thread.start_new_thread(print, (), []),
    "start_new_thread(f, [])": lambda: _thread.start_new_thread(print, []),
    "start_new_thread(1, ())": lambda: _thread.start_new_thread(1, ()),
    "stack_size(2**70)": lambda: _thread.stack_size(2**70),
    "stack_size(-2**70)": lambda: _thread.stack_size(-2**70),
    "stack_size(-1)": lambda: _thread.stack_size(-1),
    "stack_size(1.0)": lambda: _thread.stack_size(1.0),
    "stack_size(None)": lambda: _thread.stack_size(None),
    "stack_size(1000)": lambda: _thread.stack_size(1000),
    "interrupt_main(2**70)": lambda: _thread.interrupt_main(2**70),
    "interrupt_main('x')": lambda: _thread.interrupt_main("x"),
    "interrupt_main(0)": lambda: _thread.interrupt_main(0),
}
for name, call in module_calls.items():
    results[name] = outcome(call)
results["stack_size unchanged"] = _thread.stack_size(0) == before
print(json.dumps(results))
'''

SURFACE = r'''
import json, sys, _thread
def outcome(call):
    try:
        result = call()
    except BaseException as error:
        return [type(error).__name__, str(error)]
    return ["ok", repr(result).split(" at 0x")[0]]
lock_type = type(_thread.allocate_lock())
results = {
    "dir": sorted(dir(_thread)),
    "lock names": [lock_type.__module__, lock_type.__qualname__],
    "rlock names": [_thread.RLock.__module__, _thread.RLock.__qualname__],
    "LockType is lock": getattr(_thread, "lock", None) is _thread.LockType,
    "LockType()": outcome(lambda: _thread.LockType()),
    "LockType(1)": outcome(lambda: _thread.LockType(1)),
    "LockType(a=1)": outcome(lambda: _thread.LockType(a=1)),
    "subclass lock": outcome(lambda: type("S", (lock_type,), {}) and None),
    "subclass RLock": outcome(lambda: type("S", (_thread.RLock,), {}) and None),
    "lock repr": outcome(lambda: _thread.allocate_lock()),
    "rlock repr": outcome(lambda: _thread.RLock(1, a=2)),
    "lock dir": sorted(d for d in dir(lock_type) if not d.startswith("__")),
    "rlock dir": sorted(d for d in dir(_thread.RLock) if not d.startswith("__")),
    "get_ident(1)": outcome(lambda: _thread.get_ident(1)),
    "set on lock type": outcome(lambda: setattr(lock_type, "x", 1)),
    "set on RLock type": outcome(lambda: setattr(_thread.RLock, "x", 1)),
}
if hasattr(_thread, "_ThreadHandle"):
    H = _thread._ThreadHandle
    make = _thread._make_thread_handle
    class Index:
        def __index__(self): return 1
    results.update({
        "handle()": outcome(lambda: H(1, a=2)),
        "handle ident": outcome(lambda: H().ident),
        "handle is_done": outcome(lambda: H().is_done()),
        "handle join": outcome(lambda: H().join()),
        "handle _set_done": outcome(lambda: H()._set_done()),
        "handle ident=": outcome(lambda: setattr(H(), "ident", 1)),
        "handle join kw": outcome(lambda: H().join(timeout=1)),
        "subclass handle": outcome(lambda: type("S", (H,), {}) and None),
        "handle dir": sorted(d for d in dir(H) if not d.startswith("__")),
        "set on handle type": outcome(lambda: setattr(H, "x", 1)),
        "make('x')": outcome(lambda: make("x")),
        "make(Index())": outcome(lambda: make(Index())),
        "make(-1)": outcome(lambda: make(-1)),
        "make(2**64)": outcome(lambda: make(2**64)),
        "make(0)": outcome(lambda: make(0)),
        "make(True)": outcome(lambda: make(True)),
        "make(0).join(0.01)": outcome(lambda: make(0).join(0.01)),
        "make(0).is_done()": outcome(lambda: make(0).is_done()),
        "join(nan)": outcome(lambda: make(0).join(float("nan"))),
        "join(inf)": outcome(lambda: make(0).join(float("inf"))),
        "join(2**70)": outcome(lambda: make(0).join(2**70)),
        "join(Fraction)": outcome(lambda: make(0).join(__import__("fractions").Fraction(1, 100))),
        "sjt(1)": outcome(lambda: _thread.start_joinable_thread(1)),
        "sjt(f, handle=1)": outcome(lambda: _thread.start_joinable_thread(print, handle=1)),
        "lock(1)": outcome(lambda: _thread.lock(1)),
        "lock(a=1)": outcome(lambda: _thread.lock(a=1)),
    })
print(json.dumps(results))
'''

AUDIT = r'''
import sys, _thread, json
events = []
def hook(event, args):
    if event.startswith("_thread."):
        events.append([event, [type(a).__name__ if callable(a) or a is None else repr(a) for a in args]])
sys.addaudithook(hook)
done = _thread.allocate_lock()
done.acquire()
def f(*args, **kwargs):
    done.release()
_thread.start_new_thread(f, (1,), {"k": 2})
done.acquire()
if hasattr(_thread, "start_joinable_thread"):
    _thread.start_joinable_thread(f, daemon=False).join()
    done.acquire()
    handle = _thread._ThreadHandle()
    _thread.start_joinable_thread(f, handle=handle).join()
print(json.dumps(events))
'''


def child_env(pythread):
    env = dict(os.environ)
    if pythread:
        env["PYTHREAD_AS_THREAD"] = "1"
    else:
        env.pop("PYTHREAD_AS_THREAD", None)
    return env


def run_both(code):
    """Runs `code` on the built-in `_thread` and on pythread; returns both stdouts (checked)."""
    outputs = []
    for pythread in (False, True):
        check = "import _thread; assert _thread.__name__ == %r, _thread\n" % (
            "pythread" if pythread else "_thread")
        result = subprocess.run(
            [sys.executable, "-c", check + code], capture_output=True, text=True, timeout=120,
            env=child_env(pythread))
        if result.returncode != 0:
            raise AssertionError("%s failed: %s" % ("pythread" if pythread else "built-in",
                                                    result.stderr))
        outputs.append(result.stdout)
    return outputs


class AsTheBuiltin(unittest.TestCase):
    """pythread against the built-in `_thread` of the running interpreter, case by case."""

    def compare(self, code):
        import json
        builtin, ours = (json.loads(out) for out in run_both(code))
        self.assertEqual(sorted(builtin), sorted(ours))
        for key in builtin:
            with self.subTest(key):
                self.assertEqual(ours[key], builtin[key])
        return builtin, ours

    # proves: PY-3, PY-2, LOCK-4, LOCK-5, STACK-3
    def test_arguments_as_the_builtin(self):
        builtin, ours = self.compare(CASES)
        # The idiom of the issue: an int `blocking`, on Lock and RLock, every version.
        for kind in ("lock", "rlock"):
            for call in ("acquire(0)", "acquire(1)", "acquire(blocking=0)"):
                self.assertEqual(ours["%s %s" % (kind, call)][0], ["ok", True])

    # proves: PY-1, PY-5, PY-6
    def test_surface_as_the_builtin(self):
        builtin, ours = run_both(SURFACE)
        import json
        builtin, ours = json.loads(builtin), json.loads(ours)
        # Every attribute of the built-in, and maybe more (the module's own `__file__` etc.).
        self.assertLessEqual(set(builtin.pop("dir")), set(ours.pop("dir")))
        self.assertEqual(ours, builtin)

    # proves: PY-2, AUDIT-5, PY-4
    def test_audit_events_as_the_builtin(self):
        builtin, ours = run_both(AUDIT)
        self.assertEqual(ours, builtin)
        if sys.version_info < (3, 12):
            self.assertEqual(ours.strip(), "[]")


class Finalization(unittest.TestCase):
    # proves: PY-8, LOCK-15
    def test_join_main_thread_while_others_print(self):
        # A thread joins the main thread (for more than 1 ms: LOCK-15 would hand it the main
        # thread's lock) while non-daemon threads are still to print: none of it may be lost.
        code = """
            import os, threading, time
            main = threading.main_thread()
            def say(line):
                os.write(1, line.encode() + b"\\n")  # one write: lines never interleave
            def join_main():
                main.join()
                say("joiner: main ended")
            def worker(i):
                time.sleep(0.2)
                say("worker %d" % i)
            threading.Thread(target=join_main).start()
            for i in range(3):
                threading.Thread(target=worker, args=(i,)).start()
            time.sleep(0.05)
            say("main: done")
        """
        for _ in range(10):
            result = run_python(code)
            self.assertEqual((result.returncode, result.stderr), (0, ""))
            self.assertEqual(sorted(result.stdout.splitlines()),
                             ["joiner: main ended", "main: done",
                              "worker 0", "worker 1", "worker 2"])

    # proves: PY-10, SPAWN-9
    def test_wait_ending_at_finalization_as_the_builtin(self):
        # A daemon thread's lock wait ends during finalization (an audit hook releases the lock
        # at the interpreter's clearing, then gives the GIL away for a while): the thread takes
        # the GIL back and is ended there, as the built-in's is; it never runs on, and nothing
        # aborts.
        code = textwrap.dedent("""
            import os, sys, threading, time, _thread
            lock = _thread.allocate_lock()
            lock.acquire()
            waiting = _thread.allocate_lock()
            waiting.acquire()
            def wait():
                waiting.release()
                lock.acquire()
                os.write(1, b"after wait\\n")
            threading.Thread(target=wait, daemon=True).start()
            waiting.acquire()
            def hook(event, args, release=lock.release, write=os.write, sleep=time.sleep):
                if event == "cpython.PyInterpreterState_Clear":
                    release()
                    sleep(0.05)
                    write(1, b"released\\n")
            sys.addaudithook(hook)
            print("exiting", flush=True)
        """)
        for _ in range(5):
            builtin, ours = run_both(code)
            self.assertEqual(ours, builtin)
            self.assertEqual(ours, "exiting\nreleased\n")

    # proves: PY-2
    def test_refusal_at_shutdown_as_the_builtin(self):
        # Starting a thread from an atexit callback and from a `__del__` at finalization: each
        # version's built-in refuses (or not) in its own way; pythread the same.
        code = """
            import atexit, os, _thread
            def outcome(where):
                try:
                    _thread.start_new_thread(int, ())
                    result = "started"
                except BaseException as error:
                    result = "%s: %s" % (type(error).__name__, error)
                os.write(1, ("%s: %s\\n" % (where, result)).encode())
            atexit.register(outcome, "atexit")
            class AtFinalization:
                def __del__(self):
                    outcome("finalization")
            at_finalization = AtFinalization()
        """
        builtin, ours = run_both(textwrap.dedent(code))
        self.assertEqual(ours, builtin)
        self.assertEqual(len(ours.splitlines()), 2)

    STRESS = """
        import sys, threading, time, _thread
        # Python code that gives the GIL away wherever CPython may end a daemon thread at
        # exit: audit hooks, __index__/__bool__ in argument parsing, and lock waits.
        def hook(event, args):
            if event.startswith("_thread."):
                time.sleep(0)
        sys.addaudithook(hook)
        class Sleepy:
            def __index__(self):
                time.sleep(0)
                return 0
            def __bool__(self):
                time.sleep(0)
                return False
        held = threading.Lock()
        held.acquire()
        rheld = threading.RLock()
        rheld.acquire()
        def spawner():
            while True:
                try:
                    threading.Thread(target=time.sleep, args=(0.001,), daemon=True).start()
                except RuntimeError:
                    pass
        def parser():
            lock = _thread.allocate_lock()
            while True:
                lock.acquire(True, Sleepy())
                lock.release()
                if sys.version_info >= (3, 12):
                    lock.acquire(Sleepy())
        def waiter(lock):
            while True:
                lock.acquire(timeout=0.001)
        for target, args in [(spawner, ()), (spawner, ()), (parser, ()),
                             (waiter, (held,)), (waiter, (rheld,))]:
            threading.Thread(target=target, args=args, daemon=True).start()
        time.sleep(0.05)
        print("exiting")
    """

    # proves: PY-9, PY-10, SPAWN-9
    def test_daemon_threads_in_python_code_at_exit_never_abort(self):
        # Before PY-9 this aborted (SIGABRT) in about 2 of 20 runs: 60 runs.
        for run in range(60):
            result = run_python(self.STRESS)
            self.assertEqual((result.returncode, result.stdout), (0, "exiting\n"),
                             "run %d: %s" % (run, result.stderr[-2000:]))


@unittest.skipUnless(sys.version_info >= (3, 13), "3.13's joinable threads")
class Handles(unittest.TestCase):
    # proves: PY-4, PY-5, SPAWN-7
    def test_start_joinable_thread_with_handle(self):
        handle = _thread._ThreadHandle()
        self.assertEqual((handle.ident, handle.is_done()), (0, False))
        release = _thread.allocate_lock()
        release.acquire()
        returned = _thread.start_joinable_thread(release.acquire, handle=handle)
        self.assertIs(returned, handle)
        self.assertNotEqual(handle.ident, 0)
        self.assertEqual(repr(handle), "<_thread._ThreadHandle object: ident=%d>" % handle.ident)
        with self.assertRaises(RuntimeError) as cm:
            _thread.start_joinable_thread(release.acquire, handle=handle)
        self.assertEqual(str(cm.exception), "thread already started")
        start = time.monotonic()
        self.assertIsNone(handle.join(0.05))
        self.assertGreaterEqual(time.monotonic() - start, 0.05)
        self.assertFalse(handle.is_done())
        release.release()
        self.assertIsNone(handle.join())
        self.assertTrue(handle.is_done())
        self.assertIsNone(handle.join(-1))
        self.assertIsNone(handle._set_done())

    # proves: PY-5, SPAWN-7
    def test_join_own_thread(self):
        errors = []
        holder = {}
        ready = _thread.allocate_lock()
        ready.acquire()

        def body():
            ready.acquire()
            try:
                holder["handle"].join()
            except RuntimeError as error:
                errors.append(str(error))

        holder["handle"] = _thread.start_joinable_thread(body)
        ready.release()
        holder["handle"].join()
        self.assertEqual(errors, ["Cannot join current thread"])

    # proves: PY-6, HANDLE-1
    def test_make_thread_handle(self):
        handle = _thread._make_thread_handle(_thread.get_ident())
        self.assertEqual(handle.ident, _thread.get_ident())
        self.assertFalse(handle.is_done())
        other = _thread.start_joinable_thread(handle.join)
        self.assertIsNone(other.join(0.02))
        self.assertFalse(other.is_done())
        handle._set_done()
        other.join()
        self.assertTrue(handle.is_done())
        self.assertEqual(_thread._get_main_thread_ident(), threading.main_thread().ident)
        self.assertTrue(_thread._is_main_interpreter())

    # proves: PY-7, HANDLE-3
    def test_shutdown_joins_non_daemon_threads(self):
        result = run_python("""
            import _thread, time
            def slow(): time.sleep(0.2); print("non-daemon done", flush=True)
            def forever(): time.sleep(60)
            start = time.monotonic()
            _thread.start_joinable_thread(slow, daemon=False)
            _thread.start_joinable_thread(forever, daemon=True)
            _thread._shutdown()
            # Not before the non-daemon thread's sleep was over; the daemon one is not waited for.
            print("shutdown returned", time.monotonic() - start >= 0.2, flush=True)
        """)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.splitlines(), ["non-daemon done", "shutdown returned True"])

    # proves: PY-5, PY-7, HANDLE-2
    @unittest.skipUnless(hasattr(signal, "setitimer"), "needs setitimer")
    def test_main_thread_join_and_shutdown_interruptible(self):
        code = textwrap.dedent("""
            import _thread, signal, sys, time
            release = _thread.allocate_lock(); release.acquire()
            handle = _thread.start_joinable_thread(release.acquire, daemon=False)
            calls = []
            def handler(signum, frame):
                calls.append(signum)
                if len(calls) % 2 == 0:
                    raise KeyboardInterrupt("alarm %d" % len(calls))
            signal.signal(signal.SIGALRM, handler)
            signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
            try:
                handle.join()
            except KeyboardInterrupt as e:
                print("join:", e, handle.is_done(), flush=True)
            reports = []
            sys.unraisablehook = lambda u: reports.append((u.exc_type.__name__, u.err_msg, u.object))
            _thread._shutdown()
            signal.setitimer(signal.ITIMER_REAL, 0, 0)
            print("shutdown:", reports, flush=True)
            release.release()
            handle.join()
        """)
        builtin, ours = run_both(code)
        self.assertEqual(ours, builtin)
        self.assertEqual(ours.splitlines()[0], "join: alarm 2 False")


if __name__ == "__main__":
    unittest.main()
