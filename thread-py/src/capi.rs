//! The CPython functions this module calls where Python code may run or where the GIL is taken
//! back, declared `extern "C-unwind"` (PY-9).
//!
//! On 3.11–3.13 CPython ends a daemon thread that takes the GIL back while the interpreter
//! finalizes with `pthread_exit`, a forced unwind that starts inside whatever runs: the GIL's
//! re-acquisition after a wait, or any Python code (an audit hook, `__index__`, `__bool__`, a
//! signal handler, a `__del__` run by a reference count falling to zero). pyo3-ffi declares these
//! functions `extern "C"` (an unwind out of them is undefined behaviour; Rust marks such call
//! sites as never unwinding) or wraps them so that the thread hangs instead. Calling them
//! through these declarations lets the unwind pass: every frame of this crate between CPython's
//! caller and these calls is an `extern "C-unwind"` function or plain Rust, holds no
//! `catch_unwind`, and has no value with a destructor live across the call (see each caller's
//! `# Unwinding` note).

#![allow(clashing_extern_declarations)]

use std::ffi::{c_char, c_int, c_longlong};

use pyo3::ffi::{Py_ssize_t, PyObject, PyThreadState};

unsafe extern "C-unwind" {
    /// Releases the GIL (runs no Python code; declared here beside its partner).
    pub(crate) fn PyEval_SaveThread() -> *mut PyThreadState;
    /// Takes the GIL back: `pthread_exit` on a daemon thread during finalization (3.11–3.13).
    pub(crate) fn PyEval_RestoreThread(tstate: *mut PyThreadState);
    /// Takes the GIL with a new thread state: `pthread_exit` during finalization, likewise.
    pub(crate) fn PyEval_AcquireThread(tstate: *mut PyThreadState);
    pub(crate) fn PyObject_Call(
        callable: *mut PyObject,
        args: *mut PyObject,
        kwargs: *mut PyObject,
    ) -> *mut PyObject;
    /// Runs the audit hooks.
    pub(crate) fn PySys_Audit(event: *const c_char, format: *const c_char, ...) -> c_int;
    /// Argument parsing: `__index__` and `__bool__` of the arguments may run.
    pub(crate) fn PyArg_ParseTupleAndKeywords(
        args: *mut PyObject,
        kwargs: *mut PyObject,
        format: *const c_char,
        keywords: *mut *mut c_char,
        ...
    ) -> c_int;
    pub(crate) fn PyArg_ParseTuple(args: *mut PyObject, format: *const c_char, ...) -> c_int;
    pub(crate) fn PyArg_UnpackTuple(
        args: *mut PyObject,
        name: *const c_char,
        min: Py_ssize_t,
        max: Py_ssize_t,
        ...
    ) -> c_int;
    /// `__bool__` may run.
    pub(crate) fn PyObject_IsTrue(object: *mut PyObject) -> c_int;
    /// `__index__` may run.
    pub(crate) fn PyLong_AsLongLong(object: *mut PyObject) -> c_longlong;
    /// Runs the pending Python signal handlers (main thread).
    pub(crate) fn PyErr_CheckSignals() -> c_int;
    /// Reports the set exception through `sys.unraisablehook`.
    pub(crate) fn PyErr_WriteUnraisable(object: *mut PyObject);
    /// A decref may run `__del__` and weakref callbacks.
    pub(crate) fn Py_DecRef(object: *mut PyObject);
}

/// `_PyErr_WriteUnraisableMsg(err_msg, object)` (3.11, 3.12; looked up by name: 3.13 has none).
pub(crate) type UnraisableMsg = unsafe extern "C-unwind" fn(*const c_char, *mut PyObject);
/// `PyErr_FormatUnraisable(format, ...)` (3.13).
pub(crate) type FormatUnraisable = unsafe extern "C-unwind" fn(*const c_char, ...);

/// Looks up a symbol of the running interpreter by name (for functions that only some versions
/// export); null when absent.
pub(crate) fn symbol(name: &std::ffi::CStr) -> *mut std::ffi::c_void {
    // SAFETY: a NUL-terminated name looked up among the process's global symbols.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }
}

unsafe extern "C-unwind" {
    /// Calls weakref callbacks.
    pub(crate) fn PyObject_ClearWeakRefs(object: *mut PyObject);
    /// Clears thread-local data (`__del__` may run).
    pub(crate) fn PyThreadState_Clear(tstate: *mut PyThreadState);
}
