//! `pythread`: pythread as a drop-in `_thread` for CPython — the extension module that CPython's
//! own `test_thread`, `test_threading` and `test_threadsignals` run on (`cargo xtask cpython`).
//!
//! # What it offers
//!
//! The surface of CPython 3.11's `_thread`, on thread-core, thread-lock, thread-hooks and
//! thread-audit:
//!
//! - `LockType` (`lock`) and `allocate_lock()` / `allocate()`: [`thread_lock::Lock`]
//!   ([`lock`](crate::lock)), with `acquire`/`acquire_lock`, `release`/`release_lock`,
//!   `locked`/`locked_lock`, `with`, `_at_fork_reinit`.
//! - `RLock`: [`thread_lock::RLock`] ([`rlock`](crate::rlock)), with `_is_owned`,
//!   `_recursion_count`, `_release_save` → `(count, owner)`, `_acquire_restore`,
//!   `_at_fork_reinit`.
//! - `start_new_thread()` / `start_new()` on thread-core's foreign-body path (SPAWN-9), with the
//!   `_thread.start_new_thread` audit event and failures through `sys.unraisablehook`
//!   ([`spawn`](crate::spawn)); `_set_sentinel()`.
//! - `get_ident()`, `get_native_id()`, `_count()`, `stack_size()`, `TIMEOUT_MAX`, `error`
//!   (`RuntimeError`), `exit()` / `exit_thread()`, `interrupt_main()` (CPython's
//!   `PyErr_SetInterruptEx`), `daemon_threads_allowed()`.
//! - Blocking waits release the GIL after one try with it held; the main thread's waits wake for
//!   signals and run CPython's Python-level handlers ([`wait`](crate::wait)); errors become the
//!   Python exceptions their `python_type()` names ([`errors`](crate::errors)).
//!
//! # Taken from the built-in `_thread`
//!
//! `_local`, `_excepthook` and `_ExceptHookArgs` are the built-in module's objects. `_local`
//! keys its storage on CPython's per-thread state dictionary and cleans up through the thread
//! state's deletion, which belongs to the interpreter, not to the thread implementation; the
//! other two format an exception for `threading.excepthook` and touch no thread or lock. Taking
//! them keeps their behaviour exactly CPython's.
//!
//! # Using it in place of `_thread`
//!
//! ```text
//! pip install ./thread-py            # maturin builds the extension module
//! ```
//!
//! ```python
//! import sys, pythread
//! sys.modules["_thread"] = pythread  # before `threading` (or anything using it) is imported
//! import threading
//! assert type(threading.Lock()) is pythread.LockType
//! ```
//!
//! `cargo xtask cpython` does this for a whole interpreter and its child processes with a `.pth`
//! file switched on by `PYTHREAD_AS_THREAD=1`.
//!
//! # Building
//!
//! The crate is a `cdylib` only, with no Rust test targets: PyO3's `extension-module` mode stays
//! off in plain cargo builds (maturin switches it on with `PYO3_BUILD_EXTENSION_MODULE`), and
//! `cargo test --workspace` builds nothing that links libpython, so it works whichever `python3`
//! PyO3's build script finds on `PATH`. `cargo xtask cpython` builds the wheel with
//! `PYO3_PYTHON` set by the project's interpreter rule (`xtask/src/python.rs`), in its own
//! target directory, and tests it at the Python level.
//!
//! # Not finished
//!
//! - Only 3.11's surface: 3.13's `threading.py` needs `start_joinable_thread`, `_ThreadHandle`,
//!   `_make_thread_handle`, `_shutdown` and friends, which are not offered, so `cargo xtask
//!   cpython` runs against 3.11.7 only.
//! - A daemon thread whose lock wait ends while the interpreter finalizes sleeps until the process
//!   exits instead of being ended by `pthread_exit` (see [`wait`](crate::wait)); no test of the
//!   three modules shows it.
//! - Sub-interpreters: a thread joins the interpreter that started it, but PyO3 shares one
//!   module object between interpreters; only CPython's own sub-interpreter tests exercise it.

mod errors;
mod lock;
mod rlock;
mod spawn;
mod wait;

use pyo3::exceptions::{PyRuntimeError, PySystemExit, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::thread_error;
use crate::lock::PyLock;
use crate::rlock::PyRLock;

/// `allocate_lock()`: a new, unlocked lock.
#[pyfunction]
fn allocate_lock() -> PyLock {
    PyLock::new_unlocked()
}

/// `start_new_thread(function, args, kwargs=None)`: starts a thread, returns its ident.
#[pyfunction]
#[pyo3(signature = (function, args, kwargs = None))]
fn start_new_thread(
    py: Python<'_>,
    function: &Bound<'_, PyAny>,
    args: &Bound<'_, PyAny>,
    kwargs: Option<&Bound<'_, PyAny>>,
) -> PyResult<u64> {
    spawn::start_new_thread(py, function, args, kwargs)
}

/// `get_ident()`: the calling thread's identifier (`pthread_self`).
#[pyfunction]
fn get_ident() -> u64 {
    thread_core::get_ident().as_u64()
}

/// `get_native_id()`: the kernel's id of the calling thread.
#[pyfunction]
fn get_native_id() -> u64 {
    thread_core::get_native_id()
}

/// `_count()`: threads started by this module that are still running.
#[pyfunction]
fn _count() -> usize {
    thread_core::count()
}

/// `stack_size([size])`: sets the stack size of new threads (0: the platform default) and
/// returns the previous setting.
#[pyfunction]
#[pyo3(signature = (size = 0))]
fn stack_size(py: Python<'_>, size: isize) -> PyResult<usize> {
    let size = usize::try_from(size)
        .map_err(|_| PyValueError::new_err("size must be 0 or a positive value"))?;
    thread_core::stack_size(Some(size)).map_err(|e| thread_error(py, e))
}

/// `exit()`: raises `SystemExit`, which ends the thread silently.
#[pyfunction]
fn exit() -> PyResult<()> {
    Err(PySystemExit::new_err(()))
}

/// `interrupt_main(signum=SIGINT)`: simulates the arrival of `signum` in the main thread, through
/// CPython's own signal machinery.
#[pyfunction]
#[pyo3(signature = (signum = libc::SIGINT))]
fn interrupt_main(signum: i32) -> PyResult<()> {
    // SAFETY: callable from any thread, with or without the GIL.
    if unsafe { pyo3::ffi::PyErr_SetInterruptEx(signum) } != 0 {
        return Err(PyValueError::new_err("signal number out of range"));
    }
    Ok(())
}

/// `_set_sentinel()`: a lock released (if held) when the calling thread's state goes away.
#[pyfunction]
fn _set_sentinel() -> PyLock {
    spawn::set_sentinel()
}

/// `daemon_threads_allowed()` (3.12+): always true here.
#[pyfunction]
fn daemon_threads_allowed() -> bool {
    thread_core::daemon_threads_allowed()
}

/// The built-in `_thread`, even when `sys.modules['_thread']` is already this module.
fn builtin_thread(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let sys_modules = py.import("sys")?.getattr("modules")?;
    let modules = sys_modules.cast::<PyDict>()?;
    let current = modules.get_item("_thread")?;
    if let Some(current) = &current
        && current.getattr("__name__")?.extract::<String>()? == "_thread"
    {
        return Ok(current.cast::<PyModule>()?.clone());
    }
    // Not imported yet, or replaced: import the built-in afresh and put things back.
    modules.del_item("_thread").ok();
    let builtin = py.import("_thread");
    if let Some(current) = current {
        modules.set_item("_thread", current)?;
    }
    builtin
}

#[pymodule]
fn pythread(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    wait::install();
    let builtin = builtin_thread(py)?;
    m.add_class::<PyLock>()?;
    m.add("LockType", m.getattr("lock")?)?;
    m.add_class::<PyRLock>()?;
    m.add_function(wrap_pyfunction!(allocate_lock, m)?)?;
    m.add("allocate", m.getattr("allocate_lock")?)?;
    m.add_function(wrap_pyfunction!(start_new_thread, m)?)?;
    m.add("start_new", m.getattr("start_new_thread")?)?;
    m.add_function(wrap_pyfunction!(get_ident, m)?)?;
    m.add_function(wrap_pyfunction!(get_native_id, m)?)?;
    m.add_function(wrap_pyfunction!(_count, m)?)?;
    m.add_function(wrap_pyfunction!(stack_size, m)?)?;
    m.add_function(wrap_pyfunction!(exit, m)?)?;
    m.add("exit_thread", m.getattr("exit")?)?;
    m.add_function(wrap_pyfunction!(interrupt_main, m)?)?;
    m.add_function(wrap_pyfunction!(_set_sentinel, m)?)?;
    m.add_function(wrap_pyfunction!(daemon_threads_allowed, m)?)?;
    m.add("TIMEOUT_MAX", thread_lock::TIMEOUT_MAX)?;
    m.add("error", py.get_type::<PyRuntimeError>())?;
    for name in ["_local", "_excepthook", "_ExceptHookArgs"] {
        m.add(name, builtin.getattr(name)?)?;
    }
    // The functions are `_thread`'s when the module stands in for it (threading's `__all__`
    // test counts them by their `__module__`); the types keep `pythread`, so which `_thread` is
    // in use stays visible.
    for (_, value) in m.dict().iter() {
        if value.is_instance_of::<pyo3::types::PyCFunction>() {
            value.setattr("__module__", "_thread")?;
        }
    }
    // maturin installs the module inside a package whose `__init__` star-imports it: name every
    // attribute, underscored ones too, so the package is the whole `_thread` surface.
    let names: Vec<String> = m
        .dict()
        .keys()
        .iter()
        .map(|key| key.to_string())
        .filter(|name| !name.starts_with("__"))
        .collect();
    m.add("__all__", names)?;
    Ok(())
}
