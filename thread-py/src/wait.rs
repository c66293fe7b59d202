//! Blocking waits with the GIL released (PY-10), interruptible on the main thread (LOCK-13,
//! HANDLE-2), and with a way out that a forced unwind can take (PY-9).
//!
//! A wait releases the GIL (`PyEval_SaveThread`), waits in thread-lock or thread-core, and takes
//! the GIL back (`PyEval_RestoreThread`). On the main thread those waits are interruptible: when a
//! signal's `EINTR` or thread-core's `signals::notify` wakes them, they run the check registered
//! here, which only says "interrupted" — the wait returns, [`wait_released`] takes the GIL back
//! and runs CPython's pending Python signal handlers (`PyErr_CheckSignals`) itself; a handler
//! that raises ends the wait with its exception, otherwise it waits again against the same
//! deadline. No Python code runs inside thread-lock's or thread-core's frames.
//!
//! CPython's own C signal handler only records the signal; the OS runs a process-directed
//! signal's handler on a thread that does not block it, and when that is the main thread its
//! `futex` wait fails with `EINTR`. `interrupt_main` is CPython's `PyErr_SetInterruptEx`, which
//! wakes no wait (as in CPython).
//!
//! `EINTR` alone can miss a signal: one whose handler runs after the GIL was released but
//! before the `futex` system call starts (the thread was preempted there, or was spinning before
//! it parks), or on another thread (the main thread blocks the signal, or the signal was sent to
//! a thread with `pthread_kill`), records itself and interrupts nothing, and CPython's handler
//! never calls thread-core's `notify`. So the main thread waits in slices of at most
//! [`SIGNAL_SLICE`] — lock and `RLock` acquires, 3.13's `join` and `_shutdown` alike: at the
//! end of a slice that is not the caller's deadline it takes the GIL back and runs the pending
//! handlers, as after an `EINTR`, then waits again. A signal is thus handled at most a slice
//! late, never only at the timeout.
//!
//! # Unwinding
//!
//! While the interpreter finalizes (3.11–3.13), `PyEval_RestoreThread` ends a daemon thread with
//! `pthread_exit`, as the built-in's waits do (PY-10). That forced unwind leaves through
//! [`wait_released`] and its callers, all `extern "C-unwind"` or plain Rust: nothing with a
//! destructor is live across the call (the wait's outcome is a `Copy` value by then).

use std::time::Duration;

use thread_core::{Interrupt, WaitSlices};

use crate::capi;

/// The longest the main thread waits without running pending Python signal handlers (see the
/// module docs).
const SIGNAL_SLICE: Duration = Duration::from_millis(50);

/// How one wait ended, as a plain value (nothing to drop while the GIL is taken back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited<T: Copy> {
    /// The wait finished with this result.
    Done(T),
    /// The time it was given passed first.
    TimedOut,
    /// A signal woke the main thread: run the handlers, then wait again.
    Interrupted,
}

/// The check thread-core runs when a signal wakes a main-thread wait: it hands the signal to
/// [`wait_released`], which runs the Python handlers with the GIL.
fn interrupted() -> Result<(), Interrupt> {
    Err(Interrupt::new(0, "KeyboardInterrupt", "signal"))
}

/// Registers the check with thread-core. Called once, at import.
pub(crate) fn install() {
    thread_core::signals::set_check(interrupted);
}

/// Runs `wait(limit)` with the GIL released until it is `Done`, until `timeout` has passed
/// (`timed_out`), or until a Python signal handler raises (`None`, with the exception set).
/// `limit` is `None` for "forever", else at most what is left of `timeout` (zero once the
/// deadline has passed: one last try); on the main thread it is at most [`SIGNAL_SLICE`], and a
/// slice that ends (`TimedOut`) before the deadline runs the pending handlers.
///
/// # Safety
///
/// The caller holds the GIL (with the calling thread's own thread state). `wait` must not
/// touch Python objects and must not unwind.
pub(crate) unsafe fn wait_released<T: Copy>(
    timeout: Option<Duration>,
    timed_out: T,
    mut wait: impl FnMut(Option<Duration>) -> Waited<T>,
) -> Option<T> {
    let mut slices = WaitSlices::new(timeout, SIGNAL_SLICE);
    loop {
        let limit = slices.limit();
        // SAFETY: we hold the GIL (contract); the state is given back below.
        let state = unsafe { capi::PyEval_SaveThread() };
        let outcome = wait(limit);
        // SAFETY: `state` is this thread's, released above. May end the thread (module docs).
        unsafe { capi::PyEval_RestoreThread(state) };
        match outcome {
            Waited::Done(value) => return Some(value),
            Waited::TimedOut if slices.is_last(limit) => return Some(timed_out),
            Waited::TimedOut | Waited::Interrupted => {
                // SAFETY: we hold the GIL again.
                if unsafe { capi::PyErr_CheckSignals() } != 0 {
                    return None;
                }
                slices.advance();
            }
        }
    }
}
