//! `_thread.lock` (`LockType`): thread-lock's [`Lock`] with CPython's Python surface.

use std::time::Duration;

use rustpython_vm::builtins::PyType;
use rustpython_vm::function::{FuncArgs, TimeoutSeconds};
use rustpython_vm::types::{Constructor, Representable};
use rustpython_vm::{AsObject, FromArgs, Py, PyPayload, PyResult, VirtualMachine, pyclass};
use thread_core::wait::Nanos;
use thread_lock::{Lock, LockError, Timeout, parse_timeout};

use crate::errors::lock_error;
use crate::wait::wait_in_slices;

/// `acquire(blocking=True, timeout=-1)`'s arguments.
#[derive(FromArgs)]
pub(crate) struct AcquireArgs {
    #[pyarg(any, default = true)]
    blocking: bool,
    #[pyarg(any, default = TimeoutSeconds::new(-1.0))]
    timeout: TimeoutSeconds,
}

impl AcquireArgs {
    /// The arguments checked as CPython checks them (LOCK-4..6).
    pub(crate) fn parse(self, vm: &VirtualMachine) -> PyResult<Timeout> {
        parse_timeout(self.blocking, self.timeout.to_secs_f64()).map_err(|e| lock_error(vm, e))
    }
}

/// Whether a parsed timeout forbids waiting at all.
pub(crate) fn no_wait(timeout: Timeout) -> bool {
    matches!(timeout, Timeout::NonBlocking) || timeout == Timeout::Within(Default::default())
}

/// A blocking timeout as a wait's limit: `None` is forever.
pub(crate) fn timeout_duration(timeout: Timeout) -> Option<Duration> {
    match timeout {
        Timeout::Within(duration) => Some(duration),
        Timeout::NonBlocking => Some(Duration::ZERO),
        Timeout::Forever => None,
    }
}

/// The wait of a blocking acquire whose first try failed, for `timeout` (checked, not a
/// non-blocking one): `acquire` is thread-lock's acquire resuming a wait begun at the given time,
/// so that every slice of the main thread's wait keeps the place in the queue that the first one
/// took. Whether the lock was taken, or a signal handler's error.
pub(crate) fn wait_to_acquire(
    vm: &VirtualMachine,
    timeout: Timeout,
    acquire: impl Fn(Timeout, Nanos) -> Result<bool, LockError>,
) -> PyResult<bool> {
    let since = thread_core::wait::now();
    let acquired = wait_in_slices(
        vm,
        timeout_duration(timeout),
        |limit| {
            acquire(limit.map_or(Timeout::Forever, Timeout::Within), since)
                .map(|acquired| acquired.then_some(()))
        },
        |e| lock_error(vm, e),
    )?;
    Ok(acquired.is_some())
}

/// `_thread.lock`: a lock any thread may release.
#[pyclass(module = "_thread", name = "lock")]
#[derive(Debug, PyPayload)]
pub(crate) struct PyLock {
    inner: Lock,
}

impl PyLock {
    /// A new, unlocked lock.
    pub(crate) fn new_unlocked() -> PyLock {
        PyLock { inner: Lock::new() }
    }

    fn acquire_impl(&self, args: AcquireArgs, vm: &VirtualMachine) -> PyResult<bool> {
        let timeout = args.parse(vm)?;
        // One try attached, as CPython tries once with the GIL held.
        if self.inner.try_acquire() {
            return Ok(true);
        }
        if no_wait(timeout) {
            return Ok(false);
        }
        wait_to_acquire(vm, timeout, |timeout, since| {
            self.inner.acquire_resuming(timeout, since)
        })
    }
}

#[pyclass(with(Constructor, Representable), flags(HAS_WEAKREF))]
impl PyLock {
    /// Lock the lock; `blocking` and `timeout` as in CPython. Returns whether it was acquired.
    #[pymethod]
    fn acquire(zelf: &Py<Self>, args: AcquireArgs, vm: &VirtualMachine) -> PyResult<bool> {
        zelf.acquire_impl(args, vm)
    }

    /// An obsolete synonym of `acquire()`.
    #[pymethod]
    fn acquire_lock(zelf: &Py<Self>, args: AcquireArgs, vm: &VirtualMachine) -> PyResult<bool> {
        zelf.acquire_impl(args, vm)
    }

    /// Lock the lock (`with lock:`).
    #[pymethod]
    fn __enter__(zelf: &Py<Self>, args: AcquireArgs, vm: &VirtualMachine) -> PyResult<bool> {
        zelf.acquire_impl(args, vm)
    }

    /// Release the lock; any thread may.
    #[pymethod]
    fn release(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<()> {
        zelf.inner.release().map_err(|e| lock_error(vm, e))
    }

    /// An obsolete synonym of `release()`.
    #[pymethod]
    fn release_lock(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<()> {
        Self::release(zelf, vm)
    }

    /// Release the lock at the end of a `with` block.
    #[pymethod]
    fn __exit__(zelf: &Py<Self>, _args: FuncArgs, vm: &VirtualMachine) -> PyResult<()> {
        Self::release(zelf, vm)
    }

    /// Whether the lock is held.
    #[pymethod]
    fn locked(zelf: &Py<Self>) -> bool {
        zelf.inner.locked()
    }

    /// An obsolete synonym of `locked()`.
    #[pymethod]
    fn locked_lock(zelf: &Py<Self>) -> bool {
        zelf.inner.locked()
    }

    /// Make the lock unlocked, whatever its state, waking nobody (after a fork).
    #[pymethod]
    fn _at_fork_reinit(zelf: &Py<Self>) {
        // SAFETY: threading.py calls this in a forked child, where no other thread exists, or
        // (CPython's tests) on a lock no other thread uses.
        unsafe { zelf.inner.reinit_after_fork() }
    }
}

impl Constructor for PyLock {
    type Args = ();

    fn py_new(_cls: &Py<PyType>, _args: Self::Args, _vm: &VirtualMachine) -> PyResult<Self> {
        Ok(PyLock::new_unlocked())
    }
}

impl Representable for PyLock {
    fn repr_str(zelf: &Py<Self>, _vm: &VirtualMachine) -> PyResult<String> {
        let state = if zelf.inner.locked() {
            "locked"
        } else {
            "unlocked"
        };
        Ok(format!(
            "<{state} {} object at {:#x}>",
            crate::type_name(zelf),
            zelf.get_id()
        ))
    }
}
