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
//! CPython's own C signal handler does not call thread-core's `notify`, and thread-lock runs the
//! registered check only after a `notify`. So before a main-thread wait, every signal whose OS
//! handler is CPython's is re-pointed at [`forward`], which calls CPython's handler and then
//! `notify` (both async-signal-safe). Python code that sets a handler later installs CPython's
//! handler again; the next wait wraps it again. CPython's own bookkeeping (`signal.getsignal`) is
//! untouched.
//!
//! `interrupt_main` is CPython's (`PyErr_SetInterruptEx`): it wakes no wait, as in CPython
//! (thread-core's X-INTR-3 wake-up belongs to thread-core's own `interrupt_main`, unused here).
//!
//! At interpreter shutdown CPython 3.11 ends a daemon thread that asks for the GIL back with
//! `pthread_exit`; unwinding that through PyO3's `catch_unwind` would abort the process. A thread
//! other than the main one whose wait ends while the interpreter finalizes therefore never asks:
//! it sleeps until the process exits (see the differences file of `cargo xtask cpython`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::prelude::*;
use thread_core::Interrupt;

/// The exception a Python signal handler raised in the main thread's wait, for the acquire to
/// re-raise.
static INTERRUPT_ERROR: Mutex<Option<PyErr>> = Mutex::new(None);

/// CPython's C-level signal handler (`signal_handler` in `Modules/signalmodule.c`); 0 until
/// learned.
static PY_HANDLER: AtomicUsize = AtomicUsize::new(0);

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
pub(crate) fn install(py: Python<'_>) {
    thread_core::signals::set_check(check_python_signals);
    learn_python_handler(py);
}

/// Learns CPython's C signal handler: the OS handler of a signal whose Python-level handler is a
/// function (SIGINT's `default_int_handler` at start-up, unless the process started with SIGINT
/// ignored, as background jobs do; else whatever handler Python code set since). Only signals
/// with an OS handler of their own are asked about (`faulthandler`'s have none at Python level).
fn learn_python_handler(py: Python<'_>) {
    // Relaxed: a code address, only ever set to the same value.
    if PY_HANDLER.load(Ordering::Relaxed) != 0 {
        return;
    }
    let Ok(signal) = py.import("signal") else {
        return;
    };
    for signum in 1..thread_core::NSIG {
        let handler = current_handler(signum);
        if handler <= 1 || handler == forward as *const () as usize {
            continue;
        }
        let python_function = signal
            .call_method1("getsignal", (signum,))
            .is_ok_and(|h| h.is_callable());
        if python_function {
            // Relaxed: see above.
            PY_HANDLER.store(handler, Ordering::Relaxed);
            return;
        }
    }
}

fn current_handler(signum: i32) -> usize {
    // SAFETY: an all-zero `sigaction` is a valid out-parameter.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null `act` only reads the current action into `action`.
    if unsafe { libc::sigaction(signum, std::ptr::null(), &mut action) } != 0 {
        return 0;
    }
    action.sa_sigaction
}

/// The OS handler of wrapped signals: CPython's, then thread-core's notify. Async-signal-safe.
extern "C" fn forward(signum: libc::c_int) {
    // Relaxed: a code address, set before any signal was wrapped.
    let handler = PY_HANDLER.load(Ordering::Relaxed);
    if handler > 1 {
        // SAFETY: `handler` is CPython's `void signal_handler(int)`, read from sigaction.
        let handler: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        handler(signum);
    }
    thread_core::signals::notify();
}

/// Re-points every signal that CPython handles at [`forward`] (see the module docs).
fn wrap_python_handlers(py: Python<'_>) {
    learn_python_handler(py);
    // Relaxed: see `learn_python_handler`.
    let python = PY_HANDLER.load(Ordering::Relaxed);
    if python <= 1 {
        return;
    }
    for signum in 1..thread_core::NSIG {
        // SAFETY: an all-zero `sigaction` is a valid out-parameter.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null `act` only reads the current action.
        if unsafe { libc::sigaction(signum, std::ptr::null(), &mut action) } != 0
            || action.sa_sigaction != python
        {
            continue;
        }
        action.sa_sigaction = forward as *const () as usize;
        // SAFETY: `action` is the current action with only the handler changed, to one that
        // does what the old one did and then an async-signal-safe notify.
        unsafe { libc::sigaction(signum, &action, std::ptr::null_mut()) };
    }
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
    if thread_core::is_main_thread() {
        wrap_python_handlers(py);
    }
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
