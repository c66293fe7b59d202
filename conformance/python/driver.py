"""The CPython side of pythread's differential runs (conformance/src/cpython.rs drives it).

Protocol, one JSON document a line:
  stdin, first line: {"compensate": ["X-STACK-1", ...]} -- the known-difference table's
    compensations that this driver applies (see conformance/src/differences.rs);
  stdin, then: {"seq": N, "ops": [OP, ...]} -- one single-threaded operation sequence;
  stdout: {"seq": N, "results": [RESULT, ...]} -- one result per operation, in order.
  An empty stdin line or EOF ends the run.

OP is an object with "op" naming the operation (the names of conformance::ops::Op in
snake case). Floats travel as the hexadecimal bits of the IEEE double, so NaN, the
infinities, -0.0 and every rounding edge arrive exactly. RESULT is {"ok": VALUE} or
{"err": [TYPE, MESSAGE]}; VALUE is null, a bool, an int, {"saved": [COUNT, OWNER]}
(OWNER "main", "other" or "none", relative to the thread running the sequence), a
string (a repr without its address, the owner's ident written "main" or "other"; or, for
thread_fails / thread_exits, what sys.unraisablehook was given, or "no report"),
{"fired": [TYPE, MESSAGE]} (what ran at the check after interrupt_main) or {"f64": HEX}.

Every sequence gets fresh locks (two Locks, two RLocks) and ends with stack_size(0),
so no sequence leaks its setting into the next one.

The handle operations (handle_*: 3.13's start_joinable_thread, _ThreadHandle and
_make_thread_handle) work on the sequence's handles, numbered in the order they are made.
A started thread is a Worker: it reads its own ident, then (gated) runs the joins the
sequence sends it until it is released, runs a short while, and ends. handle_join answers
the join's error or, from is_done() right after it, "done" or "running". Every sequence
ends by releasing its threads and waiting for each one's last act.
"""

import _thread
import json
import re
import signal
import struct
import sys
import time

LOCKS = 2


def f64_from_hex(bits):
    return struct.unpack("<d", int(bits, 16).to_bytes(8, "little"))[0]


def f64_to_hex(value):
    return "%016x" % int.from_bytes(struct.pack("<d", value), "little")


def failure(exc):
    return {"err": [type(exc).__name__, str(exc)]}


# How long a handle's thread runs after its release (or, ungated, from its start).
RUNS_FOR = 0.002


def locked_lock():
    lock = _thread.allocate_lock()
    lock.acquire()
    return lock


def joined(handle, timeout):
    """handle.join(timeout), answered as the runners compare it: "done" or "running"."""
    if timeout is None:
        handle.join()
    else:
        handle.join(timeout)
    return "done" if handle.is_done() else "running"


class Worker:
    """The thread of a started handle, and the sequence's way to talk to it."""

    def __init__(self, gated):
        self.gated = gated
        self.ident = None
        self.started = locked_lock()
        self.wake = locked_lock()
        self.replied = locked_lock()
        self.finished = locked_lock()
        self.command = None
        self.reply = None
        self.ended = False

    def body(self):
        try:
            self.ident = _thread.get_ident()
            self.started.release()
            while self.gated:
                self.wake.acquire()
                if self.command is None:
                    break
                handle, timeout = self.command
                self.command = None
                try:
                    self.reply = {"ok": joined(handle, timeout)}
                except Exception as exc:
                    self.reply = failure(exc)
                self.replied.release()
            time.sleep(RUNS_FOR)
        finally:
            self.finished.release()

    def join(self, handle, timeout):
        self.command = (handle, timeout)
        self.wake.release()
        self.replied.acquire()
        return self.reply

    def end(self):
        if self.gated and not self.ended:
            self.ended = True
            self.command = None
            self.wake.release()


class Entry:
    """A handle of the sequence, with the ident its thread reads for itself."""

    def __init__(self, handle, ident, worker):
        self.handle = handle
        self.ident = ident
        self.worker = worker


def join_timeout(bits):
    return None if bits is None else f64_from_hex(bits)


class Sequence:
    def __init__(self, compensate):
        self.compensate = compensate
        self.main = _thread.get_ident()
        self.locks = [_thread.allocate_lock() for _ in range(LOCKS)]
        self.rlocks = [_thread.RLock() for _ in range(LOCKS)]
        self.handles = []

    def owner(self, ident):
        if ident == 0:
            return "none"
        return "main" if ident == self.main else "other"

    def repr(self, lock):
        """repr without the address, the owner written main/other (ops::normalize_repr)."""
        text = re.sub(r" at 0x[0-9a-fA-F]+>$", ">", repr(lock))

        def owner(match):
            ident = int(match.group(1))
            return "owner=" + ("0" if ident == 0 else self.owner(ident))

        return re.sub(r"owner=(\d+)", owner, text)

    def run(self, op):
        """Runs one operation; every exception becomes a result, none escapes."""
        try:
            return {"ok": self.call(op)}
        except Relayed as relayed:
            return relayed.result
        except Exception as exc:  # KeyboardInterrupt is handled by interrupt_main alone
            return failure(exc)

    def call(self, op):
        name = op["op"]
        if name == "lock_acquire":
            lock = self.locks[op["lock"]]
            return lock.acquire(op["blocking"], f64_from_hex(op["timeout"]))
        if name == "lock_release":
            return self.locks[op["lock"]].release()
        if name == "lock_locked":
            return self.locks[op["lock"]].locked()
        if name == "rlock_acquire":
            rlock = self.rlocks[op["lock"]]
            return rlock.acquire(op["blocking"], f64_from_hex(op["timeout"]))
        if name == "rlock_release":
            return self.rlocks[op["lock"]].release()
        if name == "lock_repr":
            return self.repr(self.locks[op["lock"]])
        if name == "rlock_repr":
            return self.repr(self.rlocks[op["lock"]])
        if name == "rlock_is_owned":
            return self.rlocks[op["lock"]]._is_owned()
        if name == "rlock_recursion_count":
            return self.rlocks[op["lock"]]._recursion_count()
        if name == "rlock_release_save":
            count, owner = self.rlocks[op["lock"]]._release_save()
            return {"saved": [count, self.owner(owner)]}
        if name == "rlock_acquire_restore":
            state = (op["count"], _thread.get_ident())
            return self.rlocks[op["lock"]]._acquire_restore(state)
        if name == "stack_size":
            return _thread.stack_size(op["size"])
        if name == "stack_size_query":
            previous = _thread.stack_size()
            if "X-STACK-1" in self.compensate:
                # CPython's no-argument call also resets the setting; pythread's query does
                # not. Put the setting back so that the next operation compares.
                _thread.stack_size(previous)
            return previous
        if name == "timeout_max":
            return {"f64": f64_to_hex(_thread.TIMEOUT_MAX)}
        if name == "interrupt_main":
            return self.interrupt_main(op["signum"])
        if name == "start_thread":
            return self.start_thread()
        if name == "thread_fails":
            return self.thread_ends(failing_task)
        if name == "thread_exits":
            return self.thread_ends(exiting_task)
        if name == "other_thread":
            return self.on_other_thread(op["inner"])
        if name.startswith("handle_"):
            return self.handle_op(name, op)
        raise AssertionError("unknown operation %r" % (name,))

    def handle_op(self, name, op):
        if name == "handle_start":
            worker = Worker(op["gated"])
            handle = _thread.start_joinable_thread(worker.body)
            worker.started.acquire()
            self.handles.append(Entry(handle, worker.ident, worker))
            return None
        if name == "handle_for_thread":
            of = op["of"]
            ident = self.main if of is None else self.handles[of].ident
            self.handles.append(Entry(_thread._make_thread_handle(ident), ident, None))
            return None
        entry = self.handles[op["handle"]]
        if name == "handle_release":
            entry.worker.end()
            return None
        if name == "handle_join":
            timeout = join_timeout(op["timeout"])
            if op["by"] is None:
                return joined(entry.handle, timeout)
            result = self.handles[op["by"]].worker.join(entry.handle, timeout)
            if "err" in result:
                raise Relayed(result)
            return result["ok"]
        if name == "handle_is_done":
            return entry.handle.is_done()
        if name == "handle_ident":
            return entry.handle.ident == entry.ident
        if name == "handle_set_done":
            return entry.handle._set_done()
        raise AssertionError("unknown operation %r" % (name,))

    def end_threads(self):
        """Releases every thread the sequence started and waits for each one's last act."""
        for entry in self.handles:
            if entry.worker is not None:
                entry.worker.end()
        for entry in self.handles:
            if entry.worker is not None:
                entry.worker.finished.acquire()
                entry.handle.join()
        self.handles = []

    def interrupt_main(self, signum):
        # The handler runs at the interpreter's next check, which comes within the try: the
        # interrupt is consumed here and cannot leak into the next operation.
        try:
            _thread.interrupt_main(signum)
            for _ in range(100):
                pass
        except KeyboardInterrupt as exc:
            return {"fired": [type(exc).__name__, str(exc)]}
        return None

    def start_thread(self):
        """Starts a thread that does nothing and waits until it is gone; a refused start
        raises (and leaves no thread counted)."""
        before = _thread._count()
        task_entered.acquire()
        try:
            _thread.start_new_thread(noop_task, ())
        except BaseException:
            task_entered.release()
            raise
        task_entered.acquire()
        task_entered.release()
        while _thread._count() > before:
            time.sleep(0.0005)
        return None

    def thread_ends(self, function):
        """Starts `function` on a thread, waits until the thread is gone (it released
        task_entered, so it is counted; then its count falls back after the hook's report), and
        says what sys.unraisablehook was given."""
        reports = []
        saved = sys.unraisablehook
        sys.unraisablehook = reports.append
        try:
            before = _thread._count()
            task_entered.acquire()
            _thread.start_new_thread(function, ())
            task_entered.acquire()
            task_entered.release()
            while _thread._count() > before:
                time.sleep(0.0005)
        finally:
            sys.unraisablehook = saved
        if not reports:
            return "no report"
        report = reports[0]
        obj = report.object
        if obj is not None:
            obj = "<function %s>" % obj.__name__
        err_msg = report.err_msg
        if err_msg is not None:
            err_msg = re.sub(r" at 0x[0-9a-fA-F]+>", ">", err_msg)

        def quoted(text):
            return "None" if text is None else "'%s'" % text

        return "exc_value='%s' err_msg=%s object=%s" % (
            report.exc_value, quoted(err_msg), quoted(obj))

    def on_other_thread(self, inner):
        box = {}
        done = _thread.allocate_lock()
        done.acquire()

        def body():
            try:
                box["result"] = self.run(inner)
            finally:
                done.release()

        # The helper is harness, not subject: start it with the default stack whatever the
        # sequence has set (a huge setting would refuse the thread), and put the setting back.
        setting = _thread.stack_size(0)
        try:
            _thread.start_new_thread(body, ())
        finally:
            _thread.stack_size(setting)
        done.acquire()
        result = box["result"]
        if "err" in result:
            raise Relayed(result)
        return result["ok"]


# Released by the tasks below as their last act, so that the driver knows they are counted
# (CPython counts a thread from before its function runs until after the hook's report).
task_entered = _thread.allocate_lock()


def task():
    try:
        raise ValueError("task failed")
    finally:
        task_entered.release()


failing_task = task


def task():  # noqa: F811 -- both are named `task`, as pythread's Builder describes them
    try:
        raise SystemExit
    finally:
        task_entered.release()


exiting_task = task


def noop_task():
    task_entered.release()


class Relayed(Exception):
    """Carries a helper thread's error result to the main thread unchanged."""

    def __init__(self, result):
        super().__init__()
        self.result = result


def main():
    # INTR-2's starting state: SIGINT's handler fails with KeyboardInterrupt. CPython installs
    # that handler only if SIGINT was not ignored when the process started, and a process started
    # in the background by a non-interactive shell (`nohup ... &`, some CI runners) inherits it
    # ignored: interrupt_main(SIGINT) then does nothing in CPython, which is not what is compared.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    first = sys.stdin.readline()
    if not first.strip():
        return
    compensate = set(json.loads(first).get("compensate", []))
    for line in sys.stdin:
        if not line.strip():
            break
        request = json.loads(line)
        sequence = Sequence(compensate)
        results = []
        results = [sequence.run(op) for op in request["ops"]]
        sequence.end_threads()
        _thread.stack_size(0)
        sys.stdout.write(json.dumps({"seq": request["seq"], "results": results}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
