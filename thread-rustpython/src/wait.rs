//! Blocking waits detached from the VM, and what wakes the main thread's waits.
//!
//! RustPython has no GIL: each thread is attached to the VM while it runs Python and detaches
//! (`vm.allow_threads`) around a blocking call, so that a stop-the-world pause (its garbage
//! collector) need not wait for it. A lock wait here runs detached in thread-lock, which on the
//! main thread is interruptible: a signal's `EINTR` (RustPython installs its handlers with
//! `siginterrupt(sig, 1)`, so the futex wait is not restarted) or thread-core's
//! `signals::notify` wakes it, and it runs the check registered here with `signals::set_check`.
//! The check re-attaches to the VM (`vm.attach_for_callback`) and runs `vm.check_signals()`,
//! RustPython's pending Python-level signal handlers. A handler that raises ends the wait with
//! that very exception (kept for the waiter in [`take_interrupt_error`]); otherwise the wait goes
//! on against its deadline (LOCK-13).
//!
//! The check has no arguments (it is a plain `fn`), so the VM of the waiting main thread is kept
//! in a thread-local while the wait lasts; the check runs on that same thread, so no other
//! thread ever sees the pointer.
//!
//! `EINTR` alone misses a signal whose C-level handler ran on another thread (the main thread
//! blocks the signal, or it was sent to a thread with `raise_signal` or `pthread_kill`), or on
//! the main thread just before its futex wait began: RustPython's handler only records it, and
//! does not call `signals::notify` (it is not ours to change). So the main thread waits in
//! slices of at most [`SIGNAL_SLICE`] ([`wait_in_slices`]): at the end of a slice that is not the
//! wait's deadline it runs the pending handlers (`vm.check_signals()`, attached), as after an
//! `EINTR`, and waits again against the same deadline. A signal is thus handled at most a slice
//! late, never only at the deadline. `interrupt_main` calls `notify` as well (see
//! `crate::module`), and wakes the wait at once.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use rustpython_vm::builtins::PyBaseExceptionRef;
use rustpython_vm::{AsObject, PyResult, VirtualMachine};
use thread_core::{Interrupt, WaitSlices};

thread_local! {
    /// The VM of this thread's current detached wait; null when none.
    static WAITING_VM: Cell<*const VirtualMachine> = const { Cell::new(std::ptr::null()) };
    /// The exception a Python signal handler raised during this thread's wait.
    static INTERRUPT_ERROR: RefCell<Option<PyBaseExceptionRef>> = const { RefCell::new(None) };
}

/// The exception that ended this thread's interrupted wait, if it is still to be raised.
pub(crate) fn take_interrupt_error() -> Option<PyBaseExceptionRef> {
    INTERRUPT_ERROR.with(|slot| slot.borrow_mut().take())
}

/// thread-core's check for real signals and `interrupt_main`: RustPython's pending handlers,
/// run attached to the waiting VM.
fn check_rustpython_signals() -> Result<(), Interrupt> {
    let vm = WAITING_VM.with(Cell::get);
    if vm.is_null() {
        return Ok(());
    }
    // SAFETY: set by `detached` on this thread from a `&VirtualMachine` that outlives the wait,
    // and cleared before `detached` returns; the check runs inside that wait, on this thread.
    let vm = unsafe { &*vm };
    let Err(exception) = vm.attach_for_callback(|| vm.check_signals()) else {
        return Ok(());
    };
    let python_type = exception.class().name().to_string();
    let message = vm.attach_for_callback(|| {
        exception
            .as_object()
            .str(vm)
            .map(|text| text.to_string())
            .unwrap_or_default()
    });
    INTERRUPT_ERROR.with(|slot| *slot.borrow_mut() = Some(exception));
    Err(Interrupt::new(0, python_type, message))
}

/// Registers the check with thread-core (idempotent).
pub(crate) fn install() {
    thread_core::signals::set_check(check_rustpython_signals);
}

/// Runs `wait` detached from the VM, with the VM known to the check for its duration.
pub(crate) fn detached<T>(vm: &VirtualMachine, wait: impl FnOnce() -> T) -> T {
    let previous = WAITING_VM.with(|slot| slot.replace(vm));
    // Restores the previous VM however `wait` ends (a check may itself wait, nested).
    struct Restore(*const VirtualMachine);
    impl Drop for Restore {
        fn drop(&mut self) {
            WAITING_VM.with(|slot| slot.set(self.0));
        }
    }
    let _restore = Restore(previous);
    vm.allow_threads(wait)
}

/// The longest the main thread waits without running pending Python signal handlers (see the
/// module docs).
const SIGNAL_SLICE: Duration = Duration::from_millis(50);

/// Runs `wait(limit)` detached ([`detached`]) until it gives a value (`Ok(Some(value))`), until
/// `timeout` has passed (`Ok(None)`; `None` is forever), until it fails (its error turned into an
/// exception by `error`, attached), or until a Python signal handler raises (that exception).
/// `wait(limit)` gives `Ok(None)` when `limit` passed first; `limit` is `None` for "forever",
/// else at most what is left of `timeout` (zero once the deadline has passed: one last try). On
/// the main thread it is at most [`SIGNAL_SLICE`], and a slice that ends before the deadline runs
/// the pending handlers.
pub(crate) fn wait_in_slices<T, E>(
    vm: &VirtualMachine,
    timeout: Option<Duration>,
    mut wait: impl FnMut(Option<Duration>) -> Result<Option<T>, E>,
    error: impl Fn(E) -> PyBaseExceptionRef,
) -> PyResult<Option<T>> {
    let mut slices = WaitSlices::new(timeout, SIGNAL_SLICE);
    loop {
        let limit = slices.limit();
        match detached(vm, || wait(limit)) {
            Ok(Some(value)) => return Ok(Some(value)),
            Ok(None) if slices.is_last(limit) => return Ok(None),
            Ok(None) => {
                vm.check_signals()?;
                slices.advance();
            }
            Err(e) => return Err(error(e)),
        }
    }
}
