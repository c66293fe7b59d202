//! `_thread.LockType` (`lock`): thread-lock's [`Lock`] with CPython's Python surface.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use thread_lock::{Lock, Timeout, parse_timeout};

use crate::errors::lock_error;
use crate::wait::without_gil;

/// `_thread.lock`: a lock any thread may release. Shared (`Arc`) so that a thread's sentinel can
/// release it from a thread-exit destructor without the GIL.
#[pyclass(name = "lock", module = "pythread", frozen, weakref)]
#[derive(Debug)]
pub(crate) struct PyLock {
    pub(crate) inner: Arc<Lock>,
}

/// An acquire as CPython does it: the argument checks, one try with the GIL held, then the wait
/// without it.
pub(crate) fn acquire_lock(
    py: Python<'_>,
    lock: &Arc<Lock>,
    blocking: bool,
    timeout: f64,
) -> PyResult<bool> {
    let timeout = parse_timeout(blocking, timeout).map_err(|e| lock_error(py, e))?;
    if lock.try_acquire() {
        return Ok(true);
    }
    if matches!(timeout, Timeout::NonBlocking) || timeout == Timeout::Within(Default::default()) {
        return Ok(false);
    }
    let lock = Arc::clone(lock);
    without_gil(py, move || lock.acquire_with(timeout)).map_err(|e| lock_error(py, e))
}

impl PyLock {
    pub(crate) fn new_unlocked() -> Self {
        PyLock {
            inner: Arc::new(Lock::new()),
        }
    }
}

#[pymethods]
impl PyLock {
    /// Lock the lock; `blocking` and `timeout` as in CPython. Returns whether it was acquired.
    #[pyo3(signature = (blocking = true, timeout = -1.0))]
    fn acquire(&self, py: Python<'_>, blocking: bool, timeout: f64) -> PyResult<bool> {
        acquire_lock(py, &self.inner, blocking, timeout)
    }

    /// An obsolete synonym of `acquire()`.
    #[pyo3(signature = (blocking = true, timeout = -1.0))]
    fn acquire_lock(&self, py: Python<'_>, blocking: bool, timeout: f64) -> PyResult<bool> {
        acquire_lock(py, &self.inner, blocking, timeout)
    }

    /// Lock the lock (`with lock:`).
    #[pyo3(signature = (blocking = true, timeout = -1.0))]
    fn __enter__(&self, py: Python<'_>, blocking: bool, timeout: f64) -> PyResult<bool> {
        acquire_lock(py, &self.inner, blocking, timeout)
    }

    /// Release the lock; any thread may.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.release().map_err(|e| lock_error(py, e))
    }

    /// An obsolete synonym of `release()`.
    fn release_lock(&self, py: Python<'_>) -> PyResult<()> {
        self.release(py)
    }

    /// Release the lock at the end of a `with` block.
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.release(py)
    }

    /// Whether the lock is held.
    fn locked(&self) -> bool {
        self.inner.locked()
    }

    /// An obsolete synonym of `locked()`.
    fn locked_lock(&self) -> bool {
        self.inner.locked()
    }

    /// Make the lock unlocked, whatever its state, waking nobody (after a fork).
    fn _at_fork_reinit(&self) {
        // SAFETY: CPython calls this in a forked child, where no other thread exists, or (its
        // tests) on a lock no other thread uses; a Python-level waiter elsewhere would be a
        // misuse CPython's own lock does not survive either.
        unsafe { self.inner.reinit_after_fork() }
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let state = if slf.get().inner.locked() {
            "locked"
        } else {
            "unlocked"
        };
        let class = slf.get_type();
        Ok(format!(
            "<{state} {}.{} object at {:p}>",
            class.module()?,
            class.qualname()?,
            slf.as_ptr()
        ))
    }
}
