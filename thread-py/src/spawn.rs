//! `start_new_thread` on thread-core's foreign-body spawn path (SPAWN-9), and `_set_sentinel`.
//!
//! The thread's body is an `extern "C-unwind"` function that makes a thread state in the
//! interpreter that started it and takes the GIL with it (as CPython's `thread_run` does, so a
//! sub-interpreter's threads are its own), calls the function, and reports an uncaught exception as CPython 3.11's
//! `thread_run` does: `SystemExit` silently, anything else through `sys.unraisablehook` with
//! err_msg "Exception ignored in thread started by" and the function as object. At interpreter
//! shutdown CPython ends a daemon thread that asks for the GIL with `pthread_exit`; that forced
//! unwind must find no `catch_unwind` and no guard that would release a GIL it does not hold, so
//! the body uses CPython's thread-state calls directly (no `Python::attach` guard) and drops its
//! Python objects by hand after the call: a forced unwind leaks them, as CPython does, instead of
//! touching reference counts without the GIL.
//!
//! The sentinel (`threading`'s `_tstate_lock`) is a lock that the thread acquires and that is
//! released, if held, when the thread's Python state is gone: right after the body deletes it, or,
//! for a thread pythread did not start, by a thread-local destructor at thread exit.

use std::cell::RefCell;
use std::ffi::c_void;
use std::mem::ManuallyDrop;
use std::sync::Arc;

use pyo3::exceptions::{PySystemExit, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use thread_core::Builder;
use thread_lock::Lock;

use crate::errors::thread_error;
use crate::lock::PyLock;

/// What a new thread runs.
struct Boot {
    function: Py<PyAny>,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
    /// The interpreter that started the thread, which the thread joins (as CPython's own
    /// threads do; a sub-interpreter's threads are its own).
    interpreter: *mut ffi::PyInterpreterState,
}

/// The calling thread's sentinel; released when the slot drops (thread exit) unless taken first.
struct Sentinel(Option<Arc<Lock>>);

impl Drop for Sentinel {
    fn drop(&mut self) {
        release_sentinel(self.0.take());
    }
}

thread_local! {
    static SENTINEL: RefCell<Sentinel> = const { RefCell::new(Sentinel(None)) };
}

fn release_sentinel(lock: Option<Arc<Lock>>) {
    if let Some(lock) = lock {
        // Usually held by `threading`; an unlocked one is left as it is, as CPython does.
        let _ = lock.release();
    }
}

/// `_set_sentinel()`: a new lock (unlocked: `threading` acquires it), released, if held, when the
/// calling thread's state goes away.
pub(crate) fn set_sentinel() -> PyLock {
    let lock = PyLock::new_unlocked();
    let previous = SENTINEL.with(|slot| slot.borrow_mut().0.replace(Arc::clone(&lock.inner)));
    // CPython drops the old sentinel's reference (releasing nothing); we do the same.
    drop(previous);
    lock
}

/// `start_new_thread(function, args, kwargs=None)`.
pub(crate) fn start_new_thread(
    py: Python<'_>,
    function: &Bound<'_, PyAny>,
    args: &Bound<'_, PyAny>,
    kwargs: Option<&Bound<'_, PyAny>>,
) -> PyResult<u64> {
    if !function.is_callable() {
        return Err(PyTypeError::new_err("first arg must be callable"));
    }
    let args = args
        .cast::<PyTuple>()
        .map_err(|_| PyTypeError::new_err("2nd arg must be a tuple"))?;
    let kwargs = match kwargs {
        None => None,
        Some(kwargs) => Some(
            kwargs
                .cast::<PyDict>()
                .map_err(|_| PyTypeError::new_err("optional 3rd arg must be a dictionary"))?,
        ),
    };
    // The event CPython 3.12+ raises (3.11 has none), before anything is allocated (SPAWN-3).
    let none = py.None();
    let kwargs_arg = kwargs.map_or_else(|| none.bind(py).clone(), |k| k.clone().into_any());
    py.import("sys")?.call_method1(
        "audit",
        ("_thread.start_new_thread", function, args, kwargs_arg),
    )?;
    let boot = Box::new(Boot {
        function: function.clone().unbind(),
        args: args.clone().unbind(),
        kwargs: kwargs.map(|k| k.clone().unbind()),
        // SAFETY: we hold the GIL, so there is a current interpreter.
        interpreter: unsafe { ffi::PyInterpreterState_Get() },
    });
    let raw = Box::into_raw(boot);
    // Python's hooks saw the event above; thread-core's own registry has none in a Python
    // process, so its event changes nothing.
    // SAFETY: `raw` is a `Boot` that the new thread takes over (or that we take back below when
    // no thread was created); `body` reports its own failures and never calls `exit()`.
    let spawned = unsafe { Builder::new().spawn_foreign(body, raw.cast(), false) };
    match spawned {
        Ok((ident, _)) => Ok(ident.as_u64()),
        Err(error) => {
            // SAFETY: no thread was created, so the box is still ours alone.
            drop(unsafe { Box::from_raw(raw) });
            Err(thread_error(py, error))
        }
    }
}

/// The thread's body (see the module docs). Its own frame holds nothing with a destructor while
/// Python runs.
extern "C-unwind" fn body(arg: *mut c_void) {
    let boot = arg.cast::<Boot>();
    // SAFETY: `arg` is the `Boot` boxed by `start_new_thread`, handed to this thread.
    let interpreter = unsafe { (*boot).interpreter };
    // SAFETY: the interpreter that started us is alive (it waits for or outlives its threads;
    // at shutdown CPython ends us in `PyEval_AcquireThread` instead). `PyThreadState_New` needs
    // no GIL.
    let tstate = unsafe { ffi::PyThreadState_New(interpreter) };
    // SAFETY: `tstate` is ours and new; this may end the thread with pthread_exit at shutdown,
    // with nothing of ours to clean up yet.
    unsafe { ffi::PyEval_AcquireThread(tstate) };
    // SAFETY: `boot` is ours (see above); we hold the GIL.
    unsafe { run(boot) };
    // SAFETY: we hold the GIL with `tstate`, which is current; clearing and deleting it is how
    // CPython ends its own threads, and releases the GIL.
    unsafe {
        ffi::PyThreadState_Clear(tstate);
        ffi::PyThreadState_DeleteCurrent();
    }
    release_sentinel(SENTINEL.with(|slot| slot.borrow_mut().0.take()));
}

/// Calls the function and reports how it ended, with the GIL held.
///
/// # Safety
///
/// `boot` is a boxed `Boot` owned by the caller; the caller holds the GIL.
unsafe fn run(boot: *mut Boot) {
    // SAFETY: forwarded from the contract.
    let Boot {
        function,
        args,
        kwargs,
        interpreter: _,
    } = *unsafe { Box::from_raw(boot) };
    // SAFETY: the caller holds the GIL; no PyO3 guard is made (see the module docs).
    let py = unsafe { Python::assume_attached() };
    // Dropped by hand at the end: a forced unwind out of the call leaks them, as CPython's
    // pthread_exit does, instead of touching reference counts without the GIL.
    let function = ManuallyDrop::new(function.into_bound(py));
    let args = ManuallyDrop::new(args.into_bound(py));
    let kwargs = ManuallyDrop::new(kwargs.map(|k| k.into_bound(py)));
    let result = function.call(&*args, kwargs.as_ref());
    if let Err(error) = result
        && !error.is_instance_of::<PySystemExit>(py)
    {
        error.restore(py);
        write_unraisable(&function);
    }
    drop(ManuallyDrop::into_inner(kwargs));
    drop(ManuallyDrop::into_inner(args));
    drop(ManuallyDrop::into_inner(function));
}

/// `_PyErr_WriteUnraisableMsg("in thread started by", function)` where the interpreter exports
/// it (3.11, 3.12); else `PyErr_WriteUnraisable(function)`.
fn write_unraisable(function: &Bound<'_, PyAny>) {
    type WriteMsg = unsafe extern "C" fn(*const libc::c_char, *mut ffi::PyObject);
    static LOOKUP: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let address = *LOOKUP.get_or_init(|| {
        // SAFETY: a NUL-terminated name looked up in the process's global symbols.
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"_PyErr_WriteUnraisableMsg".as_ptr()) as usize }
    });
    if address != 0 {
        // SAFETY: the 3.11/3.12 signature `void (const char *, PyObject *)`; an exception is set
        // and we hold the GIL.
        let write: WriteMsg = unsafe { std::mem::transmute(address) };
        // SAFETY: see above.
        unsafe { write(c"in thread started by".as_ptr(), function.as_ptr()) };
    } else {
        // SAFETY: an exception is set and we hold the GIL.
        unsafe { ffi::PyErr_WriteUnraisable(function.as_ptr()) };
    }
}
