//! `_thread.RLock`: thread-lock's [`RLock`] with CPython's Python surface, including the private
//! methods `threading.Condition` uses (`_is_owned`, `_release_save`, `_acquire_restore`).

use std::sync::Arc;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};
use thread_core::Ident;
use thread_lock::{RLock, RLockState, Timeout, parse_timeout};

use crate::errors::lock_error;
use crate::wait::without_gil;

/// `_thread.RLock`: a reentrant lock owned by the thread that acquired it.
#[pyclass(name = "RLock", module = "pythread", frozen, weakref, subclass)]
#[derive(Debug)]
pub(crate) struct PyRLock {
    inner: Arc<RLock>,
}

impl PyRLock {
    fn acquire_impl(&self, py: Python<'_>, blocking: bool, timeout: f64) -> PyResult<bool> {
        let timeout = parse_timeout(blocking, timeout).map_err(|e| lock_error(py, e))?;
        // One try with the GIL held; it also takes the owner's re-entry.
        if self
            .inner
            .acquire_with(Timeout::NonBlocking)
            .map_err(|e| lock_error(py, e))?
        {
            return Ok(true);
        }
        if matches!(timeout, Timeout::NonBlocking) || timeout == Timeout::Within(Default::default())
        {
            return Ok(false);
        }
        let rlock = Arc::clone(&self.inner);
        without_gil(py, move || rlock.acquire_with(timeout)).map_err(|e| lock_error(py, e))
    }
}

#[pymethods]
impl PyRLock {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>) -> Self {
        PyRLock {
            inner: Arc::new(RLock::new()),
        }
    }

    /// Lock the lock, or add one to its count if the caller owns it.
    #[pyo3(signature = (blocking = true, timeout = -1.0))]
    fn acquire(&self, py: Python<'_>, blocking: bool, timeout: f64) -> PyResult<bool> {
        self.acquire_impl(py, blocking, timeout)
    }

    /// Lock the lock (`with rlock:`).
    #[pyo3(signature = (blocking = true, timeout = -1.0))]
    fn __enter__(&self, py: Python<'_>, blocking: bool, timeout: f64) -> PyResult<bool> {
        self.acquire_impl(py, blocking, timeout)
    }

    /// Subtract one from the count; the lock is free at 0. Only the owner may.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.release().map_err(|e| lock_error(py, e))
    }

    /// Release at the end of a `with` block.
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.release(py)
    }

    /// Whether any thread holds the lock.
    fn locked(&self) -> bool {
        self.inner.locked()
    }

    /// For internal use by `threading.Condition`.
    fn _is_owned(&self) -> bool {
        self.inner.is_owned()
    }

    /// For internal use by reentrancy checks.
    fn _recursion_count(&self) -> usize {
        self.inner.recursion_count()
    }

    /// For internal use by `threading.Condition`: frees the lock, returns `(count, owner)`.
    fn _release_save(&self, py: Python<'_>) -> PyResult<(usize, u64)> {
        let (count, owner) = self
            .inner
            .release_save()
            .map_err(|e| lock_error(py, e))?
            .into_parts();
        Ok((count, owner.as_u64()))
    }

    /// For internal use by `threading.Condition`: waits for the lock, restores `(count, owner)`.
    fn _acquire_restore(&self, py: Python<'_>, state: (usize, u64)) -> PyResult<()> {
        let (count, owner) = state;
        let owner = Ident::from_u64(owner)
            .ok_or_else(|| PyRuntimeError::new_err("cannot restore an RLock to owner 0"))?;
        let state = RLockState::from_parts(count, owner);
        let rlock = Arc::clone(&self.inner);
        without_gil(py, move || rlock.acquire_restore(state));
        Ok(())
    }

    /// Unlocked, owner 0, count 0, waking nobody (after a fork).
    fn _at_fork_reinit(&self) {
        // SAFETY: as for `lock._at_fork_reinit`: a forked child, or a lock nobody else uses.
        unsafe { self.inner.reinit_after_fork() }
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let rlock = &slf.get().inner;
        let state = if rlock.locked() { "locked" } else { "unlocked" };
        let class: Bound<'_, PyType> = slf.get_type();
        let (owner, count) = owner_and_count(rlock);
        Ok(format!(
            "<{state} {}.{} object owner={owner} count={count} at {:p}>",
            class.module()?,
            class.qualname()?,
            slf.as_ptr()
        ))
    }
}

/// The owner and count as `Debug` shows them (RLOCK-4), read from its text so no private field
/// is needed.
fn owner_and_count(rlock: &RLock) -> (String, String) {
    let text = format!("{rlock:?}");
    let field = |name: &str| {
        text.split(name)
            .nth(1)
            .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect())
            .unwrap_or_else(|| "0".to_owned())
    };
    (field("owner="), field("count="))
}
