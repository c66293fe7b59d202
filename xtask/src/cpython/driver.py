"""The driver of `cargo xtask cpython` and `cargo xtask rustpython`: runs in the interpreter under
test, checks which `_thread` the process really has, then runs one unittest name (a module, a
class or one test) with a per-test timeout, writing one line per event to a results file that
the runner reads as it goes.

Arguments: name, per-test timeout (seconds), results file, file of test ids to leave out, and
optionally a directory to put first on `sys.path` (pythread's own tests).

`PYTHREAD_DRIVER_CHECK=0` leaves the `_thread` check out: `cargo xtask rustpython` compares two
interpreter binaries, not a module switched in by `PYTHREAD_AS_THREAD`.

Lines: `CHECK ok|WRONG|BROKEN <what>`, `START <id>`, `pass|fail|skip <id>`, `DONE <name>`; a name
that does not load is a `fail` line of its own, with the error, and no `DONE`.
"""

import os, sys

name, timeout, results_path, skip_path = sys.argv[1:5]
if len(sys.argv) > 5:
    sys.path.insert(0, sys.argv[5])
timeout = float(timeout)
skip = set(open(skip_path).read().split())
results = open(results_path, "a", buffering=1)


def emit(kind, what):
    results.write("%s %s\n" % (kind, what))
    results.flush()


def last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


# The check: here and in a child interpreter, `_thread` is the one this mode wants and
# `threading` allocates its locks from it. A `_thread` that `threading` cannot even import is
# reported as BROKEN with the error, at once, instead of failing every test one by one. It comes
# before every other import: `subprocess` and `unittest` import `threading` themselves.
def check_thread_module():
    want_pythread = os.environ.get("PYTHREAD_AS_THREAD") == "1"
    try:
        import _thread, threading
    except BaseException as error:
        emit("CHECK", "BROKEN import threading: %s: %s" % (type(error).__name__, error))
        sys.exit(3)

    import subprocess

    CHECK = ("import _thread, threading; t = type(threading.Lock()); "
             "print(_thread.__name__, t.__module__ + '.' + t.__qualname__)")
    here = subprocess.run([sys.executable, "-I", "-c", CHECK], capture_output=True, text=True)
    lock_type = type(threading.Lock())
    if want_pythread:
        import pythread
        ok = (_thread is pythread and lock_type is pythread.LockType
              and threading.RLock().__class__ is pythread.RLock)
    else:
        ok = _thread.__name__ == "_thread" and lock_type.__module__ == "_thread"
    own = "%s %s.%s" % (_thread.__name__, lock_type.__module__, lock_type.__qualname__)
    if here.returncode != 0:
        emit("CHECK", "BROKEN %s | child: %s" % (own, last_line(here.stderr)))
        sys.exit(3)
    child = here.stdout.strip()
    ok = ok and child == own
    emit("CHECK", "%s %s | child: %s" % ("ok" if ok else "WRONG", own, child))
    if not ok:
        sys.exit(3)


if os.environ.get("PYTHREAD_DRIVER_CHECK") != "0":
    check_thread_module()

import faulthandler, signal, traceback, unittest

# A background job starts with SIGINT ignored, and Python then leaves it so: give the tests (and
# the interpreters they start) the SIGINT handling of an ordinary start.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from test import support
support.verbose = 0


class Result(unittest.TestResult):
    current = None

    def startTest(self, test):
        super().startTest(test)
        self.current, self.outcome = test, "pass"
        emit("START", test.id())
        faulthandler.dump_traceback_later(timeout, exit=True)

    def stopTest(self, test):
        faulthandler.cancel_dump_traceback_later()
        # 3.12.0-3.12.1 stop a test of a skipped class without starting it; addSkip has
        # reported it, and `outcome` would still be the previous test's.
        if test is self.current:
            emit(self.outcome, test.id())
        self.current = None
        super().stopTest(test)

    def _failed(self, test, err):
        # A failure outside a running test (a class or module fixture) is a line of its own.
        if test is self.current:
            self.outcome = "fail"
        else:
            emit("fail", getattr(test, "description", None) or str(test))
        sys.stderr.write("FAILED %s\n%s\n" % (test, self._exc_info_to_string(err, test)))

    def addError(self, test, err):
        super().addError(test, err)
        self._failed(test, err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._failed(test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._failed(test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if test is self.current:
            self.outcome = "skip"
        elif isinstance(test, unittest.TestCase):
            # A test of a skipped class on 3.12.0-3.12.1, which never start it (see stopTest).
            emit("skip", test.id())
        else:
            emit("skip", getattr(test, "description", None) or str(test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.outcome = "fail"


def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


try:
    loaded = unittest.defaultTestLoader.loadTestsFromName(name)
except BaseException as error:
    traceback.print_exc()
    emit("fail", "%s (import: %s: %s)" % (name, type(error).__name__, error))
    sys.exit(0)
tests = [t for t in flatten(loaded) if t.id() not in skip]
unittest.TestSuite(tests).run(Result())
emit("DONE", name)
