//! `pythread`: pythread as a drop-in `_thread` for CPython 3.11, 3.12 and 3.13 — the extension
//! module that CPython's own `test_thread`, `test_threading` and `test_threadsignals` run on
//! (`cargo xtask cpython`), with the same results as on the built-in.
//!
//! # What it offers
//!
//! The surface of the running interpreter's `_thread` (PY-1), decided once at import by
//! `interpreter` — the one place that knows what each version changes:
//!
//! - `LockType` (`lock`, instantiable from 3.13) and `allocate_lock()` / `allocate()`:
//!   [`thread_lock::Lock`] (`lock`); `RLock`: [`thread_lock::RLock`]
//!   (`rlock`), with the private methods `threading` uses.
//! - `start_new_thread()` / `start_new()`, and on 3.13 `start_joinable_thread()`, on
//!   thread-core's foreign-body spawn path (SPAWN-9), with the version's audit events and
//!   unraisable report (`spawn`); `_set_sentinel()` before 3.13.
//! - 3.13's `_ThreadHandle`, `_make_thread_handle()`, `_shutdown()`, `_get_main_thread_ident()`
//!   on thread-core's handles (`handle`).
//! - `get_ident()`, `get_native_id()`, `_count()`, `stack_size()`, `TIMEOUT_MAX`, `error`,
//!   `exit()` / `exit_thread()`, `interrupt_main()` (CPython's `PyErr_SetInterruptEx`),
//!   `daemon_threads_allowed()` and `_is_main_interpreter()` (3.12+).
//! - Arguments parsed by CPython's own parsers with the version's formats, timeouts converted as
//!   `_PyTime_FromSecondsObject` converts them (`args`, PY-3).
//! - Blocking waits release the GIL; the main thread's waits wake for signals and run the
//!   Python handlers (`wait`).
//!
//! # Entry points a forced unwind can cross (PY-9)
//!
//! On 3.11–3.13 CPython ends a daemon thread that takes the GIL back during finalization with
//! `pthread_exit`, from inside whatever runs. PyO3's generated wrappers would abort on that
//! unwind, so every function and method is a raw `extern "C-unwind"` function registered
//! through `PyMethodDef`s and `PyType_FromSpec` (`object`), calling CPython
//! through `"C-unwind"` declarations (`capi`), with nothing that needs dropping
//! live where Python code can run. Only the module's initialisation goes through PyO3.
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
//! target directory, and tests it at the Python level (CPython's suites, then
//! `thread-py/tests/`).
//!
//! # Not finished
//!
//! - 3.14's additions (`set_name`, `_get_name`, `_NAME_MAXLEN`, `RLock.locked`) are not offered:
//!   the profile has the switch (`has_names`), but no 3.14 interpreter was at hand to follow.
//! - Version-specific layouts are read where the interpreter exports no function for them:
//!   3.12's `PyInterpreterState.finalizing` (the "can't create new thread at interpreter
//!   shutdown" refusal) and the `thread_id`/`native_thread_id` fields of 3.11's and 3.13's
//!   `PyThreadState`, at offsets taken from those versions' headers for LP64 release builds
//!   (tested on x86-64). The import checks them and refuses rather than misbehave: a debug or
//!   free-threaded build (`sys.abiflags` with `d` or `t`) or a 32-bit platform is an
//!   `ImportError`, and so is a layout whose fields do not hold, for the importing thread and
//!   interpreter, the values they must (the thread's own idents; the interpreter's id, 1 and 0).
//! - Sub-interpreters share the module's type objects (one per process); a legacy
//!   sub-interpreter's `_count()` and 3.13 `_shutdown()` see only its own threads
//!   (`sub_interpreters`), but no other per-interpreter module state is kept. An isolated
//!   sub-interpreter (3.12+, its own GIL) cannot import the module: PyO3 refuses with an
//!   `ImportError`, where the built-in loads.

mod args;
mod capi;
mod docs;
mod errors;
mod handle;
mod interpreter;
mod lock;
mod main_thread;
mod object;
mod rlock;
mod spawn;
mod sub_interpreters;
mod wait;

use std::ffi::{CStr, c_int};
use std::ptr::null_mut;

use pyo3::ffi::{self, PyObject};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{raise, raise_thread_error};
use crate::interpreter::profile;
use crate::object::{Plain, Takes, WithKeywords, none, plain, py_bool, with_keywords};

/// `allocate_lock()`, `allocate()`: a new, unlocked lock.
unsafe extern "C-unwind" fn allocate_lock(
    _module: *mut PyObject,
    _: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls us with the GIL, after the import made the type.
    unsafe { lock::new_lock(true) }
}

/// `get_ident()`: the calling thread's identifier (`pthread_self`).
unsafe extern "C-unwind" fn get_ident(_module: *mut PyObject, _: *mut PyObject) -> *mut PyObject {
    // SAFETY: CPython calls us with the GIL.
    unsafe { ffi::PyLong_FromUnsignedLongLong(thread_core::get_ident().as_u64()) }
}

/// `get_native_id()`: the kernel's id of the calling thread.
unsafe extern "C-unwind" fn get_native_id(
    _module: *mut PyObject,
    _: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls us with the GIL.
    unsafe { ffi::PyLong_FromUnsignedLongLong(thread_core::get_native_id()) }
}

/// `_count()`: threads started by this module that are still running (in a sub-interpreter,
/// those it started).
unsafe extern "C-unwind" fn count(_module: *mut PyObject, _: *mut PyObject) -> *mut PyObject {
    // SAFETY: CPython calls us with the GIL.
    unsafe { ffi::PyLong_FromSize_t(sub_interpreters::count(ffi::PyInterpreterState_Get())) }
}

/// `stack_size([size])`: sets the stack size of new threads (0: the platform default) and
/// returns the previous setting; no argument resets it (STACK-1).
unsafe extern "C-unwind" fn stack_size(
    _module: *mut PyObject,
    args: *mut PyObject,
) -> *mut PyObject {
    let mut size: ffi::Py_ssize_t = 0;
    // SAFETY: CPython calls us with the GIL and a tuple; "|n" writes one Py_ssize_t.
    unsafe {
        if capi::PyArg_ParseTuple(
            args,
            c"|n:stack_size".as_ptr(),
            &mut size as *mut ffi::Py_ssize_t,
        ) == 0
        {
            return null_mut();
        }
        let Ok(size) = usize::try_from(size) else {
            return raise(ffi::PyExc_ValueError, c"size must be 0 or a positive value");
        };
        match thread_core::stack_size(Some(size)) {
            Ok(previous) => ffi::PyLong_FromSize_t(previous),
            Err(error) => raise_thread_error(error),
        }
    }
}

/// `exit()`, `exit_thread()`: raises `SystemExit`, which ends the thread silently.
unsafe extern "C-unwind" fn exit(_module: *mut PyObject, _: *mut PyObject) -> *mut PyObject {
    // SAFETY: CPython calls us with the GIL.
    unsafe { ffi::PyErr_SetNone(ffi::PyExc_SystemExit) };
    null_mut()
}

/// `interrupt_main(signum=SIGINT, /)`: simulates the arrival of `signum` in the main thread,
/// through CPython's own signal machinery.
unsafe extern "C-unwind" fn interrupt_main(
    _module: *mut PyObject,
    args: *mut PyObject,
) -> *mut PyObject {
    let mut signum: c_int = libc::SIGINT;
    // SAFETY: CPython calls us with the GIL and a tuple; "|i" writes one int.
    unsafe {
        if capi::PyArg_ParseTuple(
            args,
            c"|i:interrupt_main".as_ptr(),
            &mut signum as *mut c_int,
        ) == 0
        {
            return null_mut();
        }
        if ffi::PyErr_SetInterruptEx(signum) != 0 {
            return raise(ffi::PyExc_ValueError, c"signal number out of range");
        }
    }
    none()
}

/// `daemon_threads_allowed()` (3.12+).
unsafe extern "C-unwind" fn daemon_threads_allowed(
    _module: *mut PyObject,
    _: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls us with the GIL.
    match unsafe { profile().allows(interpreter::Feature::DaemonThreads) } {
        Some(allowed) => py_bool(allowed && thread_core::daemon_threads_allowed()),
        None => null_mut(),
    }
}

/// `_is_main_interpreter()` (3.12+).
unsafe extern "C-unwind" fn is_main_interpreter(
    _module: *mut PyObject,
    _: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls us with the GIL, so there is a current interpreter.
    py_bool(unsafe { ffi::PyInterpreterState_Get() == ffi::PyInterpreterState_Main() })
}

/// The module's functions for this version (PY-1): name, definition, and the aliases.
fn functions() -> Vec<(ffi::PyMethodDef, &'static [&'static CStr])> {
    let p = profile();
    let no_args = |name: &'static CStr, function: Plain, doc: &'static CStr| {
        plain(name, function, Takes::Nothing, doc)
    };
    let tuple = |name: &'static CStr, function: Plain, doc: &'static CStr| {
        plain(name, function, Takes::Tuple, doc)
    };
    let keywords = |name: &'static CStr, function: WithKeywords, doc: &'static CStr| {
        with_keywords(name, function, doc)
    };
    let mut list = vec![
        (
            no_args(
                c"allocate_lock",
                allocate_lock,
                c"Create a new lock object.",
            ),
            &[c"allocate"][..],
        ),
        (
            tuple(
                c"start_new_thread",
                spawn::start_new_thread,
                c"Start a new thread and return its identifier.",
            ),
            &[c"start_new"][..],
        ),
        (
            no_args(
                c"get_ident",
                get_ident,
                c"Return a non-zero integer that uniquely identifies the current thread.",
            ),
            &[][..],
        ),
        (
            no_args(
                c"get_native_id",
                get_native_id,
                c"Return the native integral thread ID of the current thread.",
            ),
            &[][..],
        ),
        (
            no_args(
                c"_count",
                count,
                c"Return the number of currently running Python threads.",
            ),
            &[][..],
        ),
        (
            tuple(
                c"stack_size",
                stack_size,
                c"Return the thread stack size used when creating new threads.",
            ),
            &[][..],
        ),
        (
            no_args(c"exit", exit, c"Raise SystemExit."),
            &[c"exit_thread"][..],
        ),
        (
            tuple(
                c"interrupt_main",
                interrupt_main,
                c"Simulate the arrival of the given signal in the main thread.",
            ),
            &[][..],
        ),
    ];
    if p.has_set_sentinel {
        list.push((no_args(c"_set_sentinel", spawn::set_sentinel, c"Set a sentinel lock that will be released when the current thread state is finalized."), &[][..]));
    }
    if p.has_interpreter_queries {
        list.push((
            no_args(
                c"daemon_threads_allowed",
                daemon_threads_allowed,
                c"Return True if daemon threads are allowed in the current interpreter.",
            ),
            &[][..],
        ));
        list.push((
            no_args(
                c"_is_main_interpreter",
                is_main_interpreter,
                c"Return True if the current interpreter is the main Python interpreter.",
            ),
            &[][..],
        ));
    }
    if p.has_thread_handles {
        list.push((
            keywords(
                c"start_joinable_thread",
                spawn::start_joinable_thread,
                c"Start a new thread and return a handle to it.",
            ),
            &[][..],
        ));
        list.push((plain(c"_make_thread_handle", handle::make_thread_handle, Takes::One, c"Internal only. Make a thread handle for threads not spawned by the _thread or threading module."), &[][..]));
        list.push((
            no_args(
                c"_shutdown",
                handle::shutdown,
                c"Wait for all non-daemon threads (other than the calling thread) to stop.",
            ),
            &[][..],
        ));
        list.push((no_args(c"_get_main_thread_ident", handle::get_main_thread_ident, c"Internal only. Return a non-zero integer that uniquely identifies the main thread of the main interpreter."), &[][..]));
    }
    list
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

/// A type made by one of the `make_type`s, as an owned object (the error if it failed).
fn made_type(py: Python<'_>, type_: *mut ffi::PyTypeObject) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: a new reference from `PyType_FromSpec`, or null with an exception set.
    unsafe { Bound::from_owned_ptr_or_err(py, type_.cast()) }
}

// The module's initialisation, the one entry point through PyO3: it runs once, at import. (A
// comment, not a doc comment: PyO3 would make a doc comment the module's `__doc__`.)
#[pymodule]
fn pythread(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let info = py.version_info();
    let abiflags: String = py.import("sys")?.getattr("abiflags")?.extract()?;
    interpreter::check_build(&abiflags).map_err(pyo3::exceptions::PyImportError::new_err)?;
    let decided = interpreter::decide((info.major, info.minor));
    // SAFETY: we hold the GIL (import).
    unsafe { interpreter::check_layouts(decided) }
        .map_err(pyo3::exceptions::PyImportError::new_err)?;
    wait::install();
    // SAFETY: we hold the GIL (import).
    unsafe { main_thread::follow_interpreter() };
    let builtin = builtin_thread(py)?;
    // The built-in's docstring (the package's `__init__` copies it, for `help(_thread)`).
    m.setattr("__doc__", builtin.getattr("__doc__")?)?;
    // The built-in's types, whose docstrings ours take (`docs`).
    let twin = |name: &str| builtin.getattr(name).ok();
    let twin_pointer =
        |twin: &Option<Bound<'_, PyAny>>| twin.as_ref().map_or(null_mut(), |t| t.as_ptr());
    let lock_twin = twin("LockType");
    // SAFETY: we hold the GIL (import); the twin is alive for the call.
    let lock_type = made_type(py, unsafe { lock::make_type(twin_pointer(&lock_twin)) })?;
    m.add("LockType", &lock_type)?;
    if profile().has_thread_handles {
        m.add("lock", &lock_type)?;
        let handle_twin = twin("_ThreadHandle");
        // SAFETY: as above.
        let handle_type = unsafe { handle::make_type(twin_pointer(&handle_twin)) };
        m.add("_ThreadHandle", made_type(py, handle_type)?)?;
    }
    let rlock_twin = twin("RLock");
    m.add(
        "RLock",
        // SAFETY: as above.
        made_type(py, unsafe { rlock::make_type(twin_pointer(&rlock_twin)) })?,
    )?;
    // The functions are `_thread`'s: their `__module__` (threading's `__all__` test counts them
    // by it) and their messages ("_thread.get_ident() takes no arguments") say so.
    let module_name = pyo3::types::PyString::new(py, "_thread");
    for (definition, aliases) in functions() {
        // Each alias is a function of its own, named as itself, as CPython's are: `exit_thread`'s
        // argument error names `exit_thread()`, and `_thread.exit_thread is not _thread.exit`.
        let named =
            std::iter::once(definition).chain(aliases.iter().map(|alias| ffi::PyMethodDef {
                ml_name: alias.as_ptr(),
                ..definition
            }));
        for mut definition in named {
            // SAFETY: `ml_name` is a static C string.
            let name = unsafe { CStr::from_ptr(definition.ml_name) };
            // SAFETY: we hold the GIL (import); the built-in module is alive.
            if let Some(doc) = unsafe { docs::twin_doc(builtin.as_ptr(), name) } {
                definition.ml_doc = doc.as_ptr();
            }
            let definition: &'static mut ffi::PyMethodDef = Box::leak(Box::new(definition));
            // SAFETY: the definition is leaked (it outlives the function); we hold the GIL.
            let function = unsafe {
                Bound::from_owned_ptr_or_err(
                    py,
                    ffi::PyCFunction_NewEx(definition, m.as_ptr(), module_name.as_ptr()),
                )?
            };
            // SAFETY: `ml_name` is a static C string.
            let name = unsafe { CStr::from_ptr(definition.ml_name) }.to_string_lossy();
            m.add(&*name, &function)?;
        }
    }
    m.add("TIMEOUT_MAX", thread_lock::TIMEOUT_MAX)?;
    m.add("error", py.get_type::<pyo3::exceptions::PyRuntimeError>())?;
    for name in ["_local", "_excepthook", "_ExceptHookArgs"] {
        m.add(name, builtin.getattr(name)?)?;
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
