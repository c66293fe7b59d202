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
//! # Unwinding
//!
//! While the interpreter finalizes (3.11–3.13), `PyEval_RestoreThread` ends a daemon thread with
//! `pthread_exit`, as the built-in's waits do (PY-10). That forced unwind leaves through
//! [`wait_released`] and its callers, all `extern "C-unwind"` or plain Rust: nothing with a
//! destructor is live across the call (the wait's outcome is a `Copy` value by then).

use std::time::{Duration, Instant};

use thread_core::Interrupt;

use crate::capi;

/// How one wait ended, as a plain value (nothing to drop while the GIL is taken back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited<T: Copy> {
    /// The wait finished with this result.
    Done(T),
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

/// Runs `wait(remaining)` with the GIL released until it is `Done`, or until a Python signal
/// handler raises (`None`, with the exception set). `remaining` is `None` for "forever", else
/// what is left of `timeout` (zero once the deadline has passed: one last try).
///
/// # Safety
///
/// The caller holds the GIL (with the calling thread's own thread state). `wait` must not
/// touch Python objects and must not unwind.
pub(crate) unsafe fn wait_released<T: Copy>(
    timeout: Option<Duration>,
    mut wait: impl FnMut(Option<Duration>) -> Waited<T>,
) -> Option<T> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut remaining = timeout;
    loop {
        // SAFETY: we hold the GIL (contract); the state is given back below.
        let state = unsafe { capi::PyEval_SaveThread() };
        let outcome = wait(remaining);
        // SAFETY: `state` is this thread's, released above. May end the thread (module docs).
        unsafe { capi::PyEval_RestoreThread(state) };
        match outcome {
            Waited::Done(value) => return Some(value),
            Waited::Interrupted => {
                // SAFETY: we hold the GIL again.
                if unsafe { capi::PyErr_CheckSignals() } != 0 {
                    return None;
                }
                if let Some(deadline) = deadline {
                    remaining = Some(deadline.saturating_duration_since(Instant::now()));
                }
            }
        }
    }
}
