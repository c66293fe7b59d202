//! Rust errors as Python exceptions: the exception class is the one `python_type()` names.
//!
//! A main-thread wait interrupted by a Python signal handler that raised keeps the handler's own
//! exception object (see [`crate::wait`]); every other error is rebuilt from its type name and
//! CPython's message.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;
use thread_core::ThreadError;
use thread_lock::LockError;

/// The exception `python_type` names (a builtin), raised with `message`.
pub(crate) fn python_error(py: Python<'_>, python_type: &str, message: String) -> PyErr {
    let class = py
        .import("builtins")
        .and_then(|builtins| builtins.getattr(python_type))
        .ok()
        .and_then(|class| class.cast_into::<PyType>().ok());
    match class {
        Some(class) => PyErr::from_type(class, (message,)),
        None => PyRuntimeError::new_err(message),
    }
}

/// A lock error as CPython raises it; an interrupted wait re-raises the handler's exception.
pub(crate) fn lock_error(py: Python<'_>, error: LockError) -> PyErr {
    if let LockError::Interrupted(_) = &error
        && let Some(raised) = crate::wait::take_interrupt_error()
    {
        return raised;
    }
    python_error(py, error.python_type(), error.to_string())
}

/// A thread error as CPython raises it.
pub(crate) fn thread_error(py: Python<'_>, error: ThreadError) -> PyErr {
    python_error(py, error.python_type(), error.to_string())
}
