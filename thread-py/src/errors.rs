//! Raising exceptions from the raw entry points: the class `python_type()` names (a builtin
//! exception), with CPython's message. Each function sets the exception and returns the null
//! pointer (or -1) that a C entry point hands back to CPython.

use std::ffi::{CStr, CString};
use std::ptr::null_mut;

use pyo3::ffi::{self, PyObject};
use thread_core::ThreadError;
use thread_lock::LockError;

use crate::interpreter::profile;

/// Sets `kind(message)` and returns null.
///
/// # Safety
///
/// The caller holds the GIL; `kind` is an exception class.
pub(crate) unsafe fn raise(kind: *mut PyObject, message: &CStr) -> *mut PyObject {
    // SAFETY: forwarded from the contract; the message is NUL-terminated UTF-8.
    unsafe { ffi::PyErr_SetString(kind, message.as_ptr()) };
    null_mut()
}

/// The builtin exception class `name` names (`RuntimeError` for one we do not know).
fn class_named(name: &str) -> *mut PyObject {
    // SAFETY: the exception classes are static objects of the interpreter, alive for its life.
    unsafe {
        match name {
            "ValueError" => ffi::PyExc_ValueError,
            "OverflowError" => ffi::PyExc_OverflowError,
            "TypeError" => ffi::PyExc_TypeError,
            "KeyboardInterrupt" => ffi::PyExc_KeyboardInterrupt,
            "SystemExit" => ffi::PyExc_SystemExit,
            "OSError" => ffi::PyExc_OSError,
            _ => ffi::PyExc_RuntimeError,
        }
    }
}

/// Sets the exception `python_type` names with `message`; returns null.
///
/// # Safety
///
/// The caller holds the GIL.
pub(crate) unsafe fn raise_named(python_type: &str, message: String) -> *mut PyObject {
    let message = CString::new(message).unwrap_or_default();
    // SAFETY: forwarded from the contract.
    unsafe { raise(class_named(python_type), &message) }
}

/// A lock error as this version's `_thread` raises it (LOCK-5's negative-timeout text is the
/// version's, PY-2); returns null.
///
/// # Safety
///
/// The caller holds the GIL.
pub(crate) unsafe fn raise_lock_error(error: LockError) -> *mut PyObject {
    if let LockError::NegativeTimeout = error {
        // SAFETY: forwarded from the contract.
        return unsafe { raise(ffi::PyExc_ValueError, profile().negative_timeout) };
    }
    // SAFETY: forwarded from the contract.
    unsafe { raise_named(error.python_type(), error.to_string()) }
}

/// A thread error as CPython raises it; returns null.
///
/// # Safety
///
/// The caller holds the GIL.
pub(crate) unsafe fn raise_thread_error(error: ThreadError) -> *mut PyObject {
    // SAFETY: forwarded from the contract.
    unsafe { raise_named(error.python_type(), error.to_string()) }
}
