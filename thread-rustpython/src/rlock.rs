//! `_thread.RLock`: thread-lock's [`RLock`] with CPython's Python surface, including the private
//! methods `threading.Condition` uses (`_is_owned`, `_release_save`, `_acquire_restore`).

use rustpython_vm::builtins::{PyTupleRef, PyTypeRef};
use rustpython_vm::function::FuncArgs;
use rustpython_vm::types::Representable;
use rustpython_vm::{AsObject, Py, PyPayload, PyResult, VirtualMachine, pyclass};
use thread_core::Ident;
use thread_lock::{RLock, RLockState, Timeout};

use crate::errors::lock_error;
use crate::lock::{AcquireArgs, no_wait, wait_to_acquire};
use crate::wait::detached;

/// `_thread.RLock`: a reentrant lock owned by the thread that acquired it.
#[pyclass(module = "_thread", name = "RLock")]
#[derive(Debug, PyPayload)]
pub(crate) struct PyRLock {
    inner: RLock,
}

impl PyRLock {
    fn acquire_impl(&self, args: AcquireArgs, vm: &VirtualMachine) -> PyResult<bool> {
        let timeout = args.parse(vm)?;
        // One try attached; it also takes the owner's re-entry.
        if self
            .inner
            .acquire_with(Timeout::NonBlocking)
            .map_err(|e| lock_error(vm, e))?
        {
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

#[pyclass(with(Representable), flags(BASETYPE, HAS_WEAKREF))]
impl PyRLock {
    #[pyslot]
    fn slot_new(cls: PyTypeRef, _args: FuncArgs, vm: &VirtualMachine) -> PyResult {
        PyRLock {
            inner: RLock::new(),
        }
        .into_ref_with_type(vm, cls)
        .map(Into::into)
    }

    /// Lock the lock, or add one to its count if the caller owns it.
    #[pymethod]
    fn acquire(zelf: &Py<Self>, args: AcquireArgs, vm: &VirtualMachine) -> PyResult<bool> {
        zelf.acquire_impl(args, vm)
    }

    /// Lock the lock (`with rlock:`).
    #[pymethod]
    fn __enter__(zelf: &Py<Self>, args: AcquireArgs, vm: &VirtualMachine) -> PyResult<bool> {
        zelf.acquire_impl(args, vm)
    }

    /// Subtract one from the count; the lock is free at 0. Only the owner may.
    #[pymethod]
    fn release(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<()> {
        zelf.inner.release().map_err(|e| lock_error(vm, e))
    }

    /// Release at the end of a `with` block.
    #[pymethod]
    fn __exit__(zelf: &Py<Self>, _args: FuncArgs, vm: &VirtualMachine) -> PyResult<()> {
        Self::release(zelf, vm)
    }

    /// Whether any thread holds the lock.
    #[pymethod]
    fn locked(zelf: &Py<Self>) -> bool {
        zelf.inner.locked()
    }

    /// For internal use by `threading.Condition`.
    #[pymethod]
    fn _is_owned(zelf: &Py<Self>) -> bool {
        zelf.inner.is_owned()
    }

    /// For internal use by reentrancy checks.
    #[pymethod]
    fn _recursion_count(zelf: &Py<Self>) -> usize {
        zelf.inner.recursion_count()
    }

    /// For internal use by `threading.Condition`: frees the lock, returns `(count, owner)`.
    #[pymethod]
    fn _release_save(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<(usize, u64)> {
        let (count, owner) = zelf
            .inner
            .release_save()
            .map_err(|e| lock_error(vm, e))?
            .into_parts();
        Ok((count, owner.as_u64()))
    }

    /// For internal use by `threading.Condition`: waits for the lock, restores `(count, owner)`.
    #[pymethod]
    fn _acquire_restore(zelf: &Py<Self>, state: PyTupleRef, vm: &VirtualMachine) -> PyResult<()> {
        let [count, owner] = state.as_slice() else {
            return Err(vm.new_type_error("_acquire_restore() argument 1 must be a 2-item tuple"));
        };
        let count: usize = count.clone().try_into_value(vm)?;
        let owner: u64 = owner.clone().try_into_value(vm)?;
        let owner = Ident::from_u64(owner)
            .ok_or_else(|| vm.new_runtime_error("cannot restore an RLock to owner 0"))?;
        let state = RLockState::from_parts(count, owner);
        detached(vm, || zelf.inner.acquire_restore(state));
        Ok(())
    }

    /// Unlocked, owner 0, count 0, waking nobody (after a fork).
    #[pymethod]
    fn _at_fork_reinit(zelf: &Py<Self>) {
        // SAFETY: as for `lock._at_fork_reinit`: a forked child, or a lock nobody else uses.
        unsafe { zelf.inner.reinit_after_fork() }
    }
}

impl Representable for PyRLock {
    fn repr_str(zelf: &Py<Self>, _vm: &VirtualMachine) -> PyResult<String> {
        let state = if zelf.inner.locked() {
            "locked"
        } else {
            "unlocked"
        };
        let (owner, count) = zelf.inner.owner_and_count();
        Ok(format!(
            "<{state} {} object owner={} count={count} at {:#x}>",
            crate::type_name(zelf),
            owner.map_or(0, Ident::as_u64),
            zelf.get_id()
        ))
    }
}
