//! A legacy sub-interpreter's own threads: its `_count()` and (3.13) its `_shutdown()` see only
//! the threads it started, as CPython's do (the built-in keeps them in per-interpreter state;
//! pythread is one module for every interpreter of the process).
//!
//! The main interpreter goes on asking thread-core, whose count and non-daemon threads are the
//! process's: a sub-interpreter's threads have ended by the time it is destroyed, which is before
//! the main interpreter shuts down.

use std::sync::{Mutex, PoisonError};

use pyo3::ffi::{self, PyInterpreterState};
use thread_core::{Ident, ThreadHandle};

/// One sub-interpreter's threads.
struct Threads {
    /// The interpreter's address (an entry goes when it holds nothing, so no address outlives
    /// its interpreter here: CPython refuses to end an interpreter whose threads still run).
    interpreter: usize,
    /// Threads running their function.
    running: usize,
    /// 3.13: the non-daemon threads its `_shutdown` waits for; finished ones are dropped
    /// whenever the list is looked at.
    non_daemon: Vec<ThreadHandle>,
}

static THREADS: Mutex<Vec<Threads>> = Mutex::new(Vec::new());

/// Whether `interpreter` is a sub-interpreter: its threads are counted here.
fn is_sub_interpreter(interpreter: *mut PyInterpreterState) -> bool {
    // SAFETY: reads the runtime's main interpreter pointer, set before any module is imported.
    interpreter != unsafe { ffi::PyInterpreterState_Main() }
}

/// Runs `update` on the threads of `interpreter`, a sub-interpreter.
fn with_threads<R>(
    interpreter: *mut PyInterpreterState,
    update: impl FnOnce(&mut Threads) -> R,
) -> R {
    // Nothing panics while the lock is held; a poisoned lock's data is still consistent.
    let mut all = THREADS.lock().unwrap_or_else(PoisonError::into_inner);
    let key = interpreter as usize;
    let index = match all.iter().position(|threads| threads.interpreter == key) {
        Some(index) => index,
        None => {
            all.push(Threads {
                interpreter: key,
                running: 0,
                non_daemon: Vec::new(),
            });
            all.len() - 1
        }
    };
    let threads = &mut all[index];
    threads.non_daemon.retain(|handle| !handle.is_done());
    let result = update(threads);
    if threads.running == 0 && threads.non_daemon.is_empty() {
        all.swap_remove(index);
    }
    result
}

/// A thread of `interpreter` begins its function (with the GIL, as CPython counts it).
pub(crate) fn thread_started(interpreter: *mut PyInterpreterState) {
    if is_sub_interpreter(interpreter) {
        with_threads(interpreter, |threads| threads.running += 1);
    }
}

/// A thread of `interpreter` has returned from its function.
pub(crate) fn thread_finished(interpreter: *mut PyInterpreterState) {
    if is_sub_interpreter(interpreter) {
        with_threads(interpreter, |threads| {
            threads.running = threads.running.saturating_sub(1)
        });
    }
}

/// `_count()` in `interpreter`: its own running threads; in the main interpreter, thread-core's.
pub(crate) fn count(interpreter: *mut PyInterpreterState) -> usize {
    if is_sub_interpreter(interpreter) {
        with_threads(interpreter, |threads| threads.running)
    } else {
        thread_core::count()
    }
}

/// Records a non-daemon thread that `interpreter` started, for its `_shutdown` (3.13).
pub(crate) fn add_non_daemon(interpreter: *mut PyInterpreterState, handle: &ThreadHandle) {
    if is_sub_interpreter(interpreter) {
        with_threads(interpreter, |threads| {
            threads.non_daemon.push(handle.clone())
        });
    }
}

/// What `_shutdown` in `interpreter` waits for next: `None` in the main interpreter (it waits
/// through thread-core), else `Some` of one of its non-daemon threads still running, other than
/// `own` (`None` inside when there is none left).
pub(crate) fn next_to_join(
    interpreter: *mut PyInterpreterState,
    own: Ident,
) -> Option<Option<ThreadHandle>> {
    is_sub_interpreter(interpreter).then(|| {
        with_threads(interpreter, |threads| {
            threads
                .non_daemon
                .iter()
                .find(|handle| handle.ident() != own)
                .cloned()
        })
    })
}
