"""A signal that the main thread blocks, raised on another thread, during one kind of main-thread
wait (argv[-1]: lock, lock-forever, rlock, join, shutdown). The C handler runs on that other
thread and only marks the signal pending, so the kernel never interrupts the main thread's futex
wait; the wait must still run the Python handler (within one of its slices), and a handler that
raises must end it long before what it waits for would happen (UNTIL seconds).

The handler raises only when the main thread is inside the wait's call (its frame says so);
otherwise the signal is raised again. Prints `<outcome> <unraisable reports> <last call> <seconds>`.

Shared by thread-py's tests (test_pythread.py, on CPython) and thread-rustpython's
(tests/interrupt.rs, on RustPython, whose handlers get `frame=None`).
"""
import _thread, dis, os, signal, sys, time

kind = sys.argv[-1]
SIG = signal.SIGUSR1
# How long the wait would take without the signal (then it reports that it was not ended).
UNTIL = 10.0
# The main thread never runs the C handler: the kernel cannot interrupt its wait.
signal.pthread_sigmask(signal.SIG_BLOCK, {SIG})

lock = _thread.allocate_lock(); lock.acquire()
rlock = _thread.RLock()
rlock_held = _thread.allocate_lock(); rlock_held.acquire()


def hold_rlock():
    rlock.acquire(); rlock_held.release(); time.sleep(UNTIL + 5)


if kind == "rlock":
    _thread.start_new_thread(hold_rlock, ())
    rlock_held.acquire()
if kind in ("join", "shutdown"):
    handle = _thread.start_joinable_thread(lambda: time.sleep(UNTIL), daemon=False)


# Each wait is one call in a function of its own, so that the handler can tell from its frame
# whether the main thread was already inside the call.
def wait_lock(): return lock.acquire(timeout=UNTIL)
def wait_lock_forever(): return lock.acquire()
def wait_rlock(): return rlock.acquire(timeout=UNTIL)
def wait_join(): return handle.join()
def wait_shutdown(): return _thread._shutdown()


waiting = {"lock": wait_lock, "lock-forever": wait_lock_forever, "rlock": wait_rlock,
           "join": wait_join, "shutdown": wait_shutdown}[kind]
call = next(i.offset for i in dis.get_instructions(waiting) if i.opname.startswith("CALL"))

# True: the handler ran inside the wait, and raised.
calls = []


def handler(signum, frame):
    if frame is None:  # RustPython: the interrupted frame is the handler's caller
        frame = sys._getframe(1)
    inside = frame.f_code is waiting.__code__ and frame.f_lasti >= call
    calls.append(inside)
    if inside:
        raise KeyboardInterrupt("handled on the main thread")


signal.signal(SIG, handler)


def send():
    # This thread takes the signal: its C handler runs here and only marks it pending
    # (`raise_signal` is raise(3): it signals the calling thread).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {SIG})
    deadline = time.monotonic() + UNTIL
    while time.monotonic() < deadline:
        time.sleep(0.1)
        seen = len(calls)
        signal.raise_signal(SIG)
        while len(calls) == seen and time.monotonic() < deadline:
            time.sleep(0.01)
        if calls[seen:] == [True]:
            return
        # The handler ran before the main thread was waiting: raise it again.
    if kind == "lock-forever":
        lock.release()


reports = []
sys.unraisablehook = lambda u: reports.append((u.exc_type.__name__, u.err_msg, u.object))
_thread.start_new_thread(send, ())
start = time.monotonic()
try:
    result = waiting()
except KeyboardInterrupt as error:
    outcome = "raised %s" % error
else:
    outcome = "returned %r" % (result,)
print(outcome, reports, calls[-1:], time.monotonic() - start, flush=True)
os._exit(0)
