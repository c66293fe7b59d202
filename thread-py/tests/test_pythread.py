"""pythread's own Python-level tests, run by `cargo xtask cpython` on `pythread` only.

CPython's suites check that pythread behaves as the built-in `_thread`; these check what they
cannot see: pythread's messages and exception types to the letter, the audit event that 3.11's
built-in lacks, the unraisable report, real signals waking a main-thread wait (also when the
process started with SIGINT ignored), and daemon threads at interpreter shutdown. Each test names
the spec clauses it proves. Timed waits are checked by their lower bound with generous ceilings.
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

    def test_lock_timeout_arguments(self):
        """proves: LOCK-4, LOCK-5"""
        lock = _thread.allocate_lock()
        self.check(ValueError, "Invalid value NaN (not a number)", lock.acquire, True, float("nan"))
        self.check(OverflowError, "timestamp out of range for platform time_t",
                   lock.acquire, True, 1e300)
        self.check(ValueError, "can't specify a timeout for a non-blocking call",
                   lock.acquire, False, 0.0)
        self.check(ValueError, "timeout value must be a non-negative number",
                   lock.acquire, True, -2.0)
        self.assertFalse(lock.locked())
        self.assertTrue(lock.acquire(False, -1.0))

    def test_release_errors(self):
        """proves: LOCK-9, RLOCK-3, RLOCK-5, CORE-1"""
        self.assertIs(_thread.error, RuntimeError)
        self.check(RuntimeError, "release unlocked lock", _thread.allocate_lock().release)
        rlock = _thread.RLock()
        self.check(RuntimeError, "cannot release un-acquired lock", rlock.release)
        self.check(RuntimeError, "cannot release un-acquired lock", rlock._release_save)

    def test_stack_size_and_interrupt_main_arguments(self):
        """proves: STACK-3, STACK-4, INTR-1"""
        self.check(ValueError, "size must be 0 or a positive value", _thread.stack_size, -1)
        self.check(ValueError, "size not valid: 1000 bytes", _thread.stack_size, 1000)
        self.assertEqual(_thread.stack_size(), 0)
        self.check(ValueError, "signal number out of range", _thread.interrupt_main, 0)
        self.check(ValueError, "signal number out of range", _thread.interrupt_main, 65)


class Threads(unittest.TestCase):
    def test_ident_and_count(self):
        """proves: CORE-2, CORE-7, SPAWN-5"""
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

    def test_audit_event(self):
        """proves: AUDIT-5, SPAWN-3"""
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

    def test_unraisable_report_and_silent_system_exit(self):
        """proves: HOOK-1, HOOK-2, EXIT-1, EXIT-2"""
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

    def test_real_signal_interrupts_lock_wait(self):
        """proves: LOCK-13"""
        self.check_interrupted()

    def test_real_signal_interrupts_rlock_wait(self):
        """proves: LOCK-13, RLOCK-6"""
        self.check_interrupted("rlock")

    def test_real_signal_with_sigint_ignored_at_start(self):
        """proves: LOCK-13"""
        self.check_interrupted(
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))


class Shutdown(unittest.TestCase):
    def test_daemon_threads_at_shutdown(self):
        """proves: SPAWN-6, SPAWN-9"""
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


if __name__ == "__main__":
    unittest.main()
