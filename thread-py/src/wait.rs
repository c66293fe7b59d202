//! Blocking waits with the GIL released, and what wakes the main thread's waits.
//!
//! A blocking acquire first tries once with the GIL held (as CPython's `acquire_timed` does),
//! then releases the GIL and waits in thread-lock. On the main thread thread-lock's wait is
//! interruptible: when a signal's `EINTR` or thread-core's `signals::notify` wakes it, it runs the
//! check registered here with `signals::set_check`, which takes the GIL and runs CPython's
//! pending Python signal handlers (`PyErr_CheckSignals`). A handler that raises ends the acquire
//! with that very exception (kept in [`take_interrupt_error`]); otherwise the wait goes on
//! against its deadline (LOCK-13).
//!
//! CPython's own C signal handler only records the signal; it does not call thread-core's
//! `notify`. That is enough: the OS runs a process-directed signal's handler on a thread that does
//! not block it, and the handler's return makes the main thread's `futex` wait fail with `EINTR`
//! when it ran there, after which the wait runs the registered check whether or not `notify` was
//! called. CPython's handlers are left as CPython installed them.
//!
//! `interrupt_main` is CPython's (`PyErr_SetInterruptEx`): it wakes no wait, as in CPython
//! (thread-core's X-INTR-3 wake-up belongs to thread-core's own `interrupt_main`, unused here).
//!
//! At interpreter shutdown CPython 3.11 ends a daemon thread that asks for the GIL back with
//! `pthread_exit`; unwinding that through PyO3's `catch_unwind` would abort the process. A thread
//! other than the main one whose wait ends while the interpreter finalizes therefore never asks:
//! it sleeps until the process exits (see the differences file of `cargo xtask cpython`).

use std::sync::Mutex;

use pyo3::prelude::*;
use thread_core::Interrupt;

/// The exception a Python signal handler raised in the main thread's wait, for the acquire to
/// re-raise.
static INTERRUPT_ERROR: Mutex<Option<PyErr>> = Mutex::new(None);

/// The exception that ended an interrupted wait, if it is still to be raised.
pub(crate) fn take_interrupt_error() -> Option<PyErr> {
    INTERRUPT_ERROR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take()
}

/// thread-core's check for real signals: CPython's pending handlers, with the GIL.
fn check_python_signals() -> Result<(), Interrupt> {
    Python::attach(|py| {
        // SAFETY: we hold the GIL (attached just above).
        if unsafe { pyo3::ffi::PyErr_CheckSignals() } == 0 {
            return Ok(());
        }
        let error = PyErr::fetch(py);
        let python_type = error
            .get_type(py)
            .name()
            .map_or_else(|_| "BaseException".to_owned(), |name| name.to_string());
        let message = error.value(py).to_string();
        *INTERRUPT_ERROR
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
        Err(Interrupt::new(0, python_type, message))
    })
}

/// Registers the check with thread-core. Called once, at import.
pub(crate) fn install() {
    thread_core::signals::set_check(check_python_signals);
}

/// Whether the interpreter is finalizing (`_Py_IsFinalizing` in 3.11/3.12, `Py_IsFinalizing`
/// from 3.13), looked up at run time so one build serves both.
fn finalizing() -> bool {
    static LOOKUP: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let function = *LOOKUP.get_or_init(|| {
        ["Py_IsFinalizing\0", "_Py_IsFinalizing\0"]
            .iter()
            .map(|name| {
                // SAFETY: a NUL-terminated name looked up in the process's global symbols.
                unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr().cast()) as usize }
            })
            .find(|address| *address != 0)
            .unwrap_or(0)
    });
    if function == 0 {
        return false;
    }
    // SAFETY: both symbols are `int (void)`, callable without the GIL.
    let function: extern "C" fn() -> libc::c_int = unsafe { std::mem::transmute(function) };
    function() != 0
}

/// Runs `wait` with the GIL released. A thread other than the main one that comes back while
/// the interpreter finalizes sleeps until the process exits instead (see the module docs).
pub(crate) fn without_gil<T: Send>(py: Python<'_>, wait: impl FnOnce() -> T + Send) -> T {
    py.detach(|| {
        let result = wait();
        if !thread_core::is_main_thread() && finalizing() {
            loop {
                // SAFETY: pause has no preconditions; it returns only after a signal handler.
                unsafe { libc::pause() };
            }
        }
        result
    })
}
