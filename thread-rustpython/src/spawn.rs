//! Spawning on thread-core: `start_new_thread`, `start_joinable_thread`, `_ThreadHandle`,
//! `_make_thread_handle` and `_shutdown`.
//!
//! A new thread is created by thread-core's [`Builder`] (its count, its done flag, its place in
//! the non-daemon set that [`thread_core::shutdown`] waits for) and runs Python as a RustPython VM
//! thread: `vm.new_thread()` makes the thread's VM, `attach_current_thread` enters it (which
//! registers the thread's frame slot, so `sys._current_frames()` sees it). Around the
//! function the thread keeps RustPython's own books as its `_thread` does — `vm.state.thread_count`
//! (what `_count()` reports), the frame slot's clean-up (`cleanup_current_thread_frames`) — and
//! reports an uncaught exception other than `SystemExit` through `sys.unraisablehook` with
//! RustPython's message.
//!
//! RustPython's own threads clear their `_thread._local` dictionaries before leaving the VM with
//! a private function; here the same clean-up runs from thread-local destructors while the VM is
//! still current (see [`thread_body`]).
//!
//! A main-thread `join` (and `_shutdown`) waits detached in thread-core's `ThreadHandle::join`
//! (`shutdown_timeout`), which is interruptible there (HANDLE-2), in slices that run the pending
//! signal handlers between them (`crate::wait`): a raising signal handler ends it with its
//! exception, the thread runs on and stays joinable.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::Duration;

use rustpython_vm::builtins::{PyBaseExceptionRef, PyDictRef, PyStrRef, PyTupleRef, PyTypeRef};
use rustpython_vm::function::{ArgCallable, FuncArgs, KwArgs, OptionalArg};
use rustpython_vm::types::Representable;
use rustpython_vm::vm::thread::{
    CurrentVmAttachState, ThreadedVirtualMachine, attach_current_thread, release_current_thread,
    with_current_vm,
};
use rustpython_vm::{
    AsObject, FromArgs, Py, PyObjectRef, PyPayload, PyRef, PyResult, VirtualMachine, pyclass,
};
use thread_core::{Builder, Ident, ThreadError, ThreadHandle};

use crate::errors::thread_error;
use crate::wait::{take_interrupt_error, wait_in_slices};

/// `_thread._ThreadHandle`: made unstarted by `threading`, then started by
/// `start_joinable_thread(..., handle=h)`; or made by `_make_thread_handle` for a thread pythread
/// did not start.
#[pyclass(module = "_thread", name = "_ThreadHandle")]
#[derive(Debug, PyPayload)]
pub(crate) struct PyThreadHandle {
    handle: OnceLock<ThreadHandle>,
}

impl PyThreadHandle {
    fn unstarted() -> PyThreadHandle {
        PyThreadHandle {
            handle: OnceLock::new(),
        }
    }

    fn started(vm: &VirtualMachine, zelf: &Py<Self>) -> PyResult<ThreadHandle> {
        zelf.handle
            .get()
            .cloned()
            .ok_or_else(|| vm.new_runtime_error("thread not started"))
    }
}

/// A join's error: a handler's exception for an interrupted wait, CPython's error otherwise.
fn join_error(vm: &VirtualMachine, error: ThreadError) -> PyBaseExceptionRef {
    if let ThreadError::Interrupted(_) = &error
        && let Some(raised) = take_interrupt_error()
    {
        return raised;
    }
    thread_error(vm, error)
}

/// `join`'s timeout as RustPython's `_ThreadHandle.join` reads it: None or negative is forever.
fn join_timeout(timeout: Option<PyObjectRef>, vm: &VirtualMachine) -> PyResult<Option<Duration>> {
    let Some(timeout) = timeout.filter(|t| !vm.is_none(t)) else {
        return Ok(None);
    };
    let seconds = if let Some(integer) = timeout.try_index_opt(vm) {
        let value: i64 = integer?
            .try_to_primitive(vm)
            .map_err(|_| vm.new_overflow_error("timestamp too large to convert to C PyTime_t"))?;
        value as f64
    } else if let Some(float) = timeout.try_float_opt(vm) {
        float?.to_f64()
    } else {
        return Err(vm.new_type_error(format!(
            "'{}' object cannot be interpreted as an integer or float",
            timeout.class().name()
        )));
    };
    if seconds.is_nan() {
        return Err(vm.new_value_error("Invalid value NaN (not a number)"));
    }
    if !(-thread_lock::TIMEOUT_MAX..=thread_lock::TIMEOUT_MAX).contains(&seconds) {
        return Err(vm.new_overflow_error("timestamp out of range for platform time_t"));
    }
    if seconds < 0.0 {
        return Ok(None);
    }
    Ok(Some(Duration::from_secs_f64(seconds)))
}

#[pyclass(with(Representable))]
impl PyThreadHandle {
    #[pyslot]
    fn slot_new(cls: PyTypeRef, _args: FuncArgs, vm: &VirtualMachine) -> PyResult {
        PyThreadHandle::unstarted()
            .into_ref_with_type(vm, cls)
            .map(Into::into)
    }

    /// The thread's ident; 0 before it is started.
    #[pygetset]
    fn ident(zelf: &Py<Self>) -> u64 {
        zelf.handle.get().map_or(0, |h| h.ident().as_u64())
    }

    /// Whether the thread has finished (or was marked done); false before it is started (as
    /// RustPython's, which `threading.Thread.__repr__` relies on).
    #[pymethod]
    fn is_done(zelf: &Py<Self>) -> bool {
        zelf.handle.get().is_some_and(ThreadHandle::is_done)
    }

    /// Marks the thread done (for a thread pythread did not start, or a forked child's).
    #[pymethod]
    fn _set_done(zelf: &Py<Self>, vm: &VirtualMachine) -> PyResult<()> {
        Self::started(vm, zelf)?.set_done();
        Ok(())
    }

    /// Waits for the thread to finish, at most `timeout` seconds (None: forever).
    #[pymethod]
    fn join(zelf: &Py<Self>, mut args: FuncArgs, vm: &VirtualMachine) -> PyResult<()> {
        if !args.kwargs.is_empty() {
            return Err(vm.new_type_error("_ThreadHandle.join() takes no keyword arguments"));
        }
        let given = args.args.len();
        if given > 1 {
            return Err(
                vm.new_type_error(format!("join() takes at most 1 argument ({given} given)"))
            );
        }
        let timeout = join_timeout(args.take_positional(), vm)?;
        let handle = Self::started(vm, zelf)?;
        if !handle.is_done()
            && vm
                .state
                .finalizing
                .load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(vm.new_exception_msg(
                vm.ctx.exceptions.python_finalization_error.to_owned(),
                "cannot join thread at interpreter shutdown"
                    .to_owned()
                    .into(),
            ));
        }
        wait_in_slices(
            vm,
            timeout,
            |limit| {
                handle.join(limit)?;
                if !handle.is_done() {
                    return Ok(None);
                }
                if timeout.is_none() && limit.is_some() {
                    // An untimed join waits for the thread's very end, its thread-local
                    // destructors (where its `_local` values go) included, which a timed slice
                    // does not: the thread is done, so this only waits for that.
                    handle.join(None)?;
                }
                Ok(Some(()))
            },
            |e| join_error(vm, e),
        )?;
        Ok(())
    }
}

impl Representable for PyThreadHandle {
    fn repr_str(zelf: &Py<Self>, _vm: &VirtualMachine) -> PyResult<String> {
        Ok(format!(
            "<_thread._ThreadHandle object: ident={}>",
            Self::ident(zelf)
        ))
    }
}

/// The builder for a new thread: RustPython's `stack_size()` setting, and daemon-ness.
fn builder(vm: &VirtualMachine, daemon: bool) -> Builder {
    let builder = Builder::new().daemon(daemon);
    match vm.state.stacksize.load() {
        0 => builder,
        size => builder.stack_size(size),
    }
}

/// Refuses a new thread where RustPython does: isolated sub-interpreters, and shutdown.
fn may_start(vm: &VirtualMachine) -> PyResult<()> {
    if !vm.state.allow_threads() {
        return Err(vm.new_runtime_error("thread is not supported for isolated subinterpreters"));
    }
    if vm
        .state
        .finalizing
        .load(std::sync::atomic::Ordering::Acquire)
    {
        return Err(vm.new_exception_msg(
            vm.ctx.exceptions.python_finalization_error.to_owned(),
            "can't create new thread at interpreter shutdown"
                .to_owned()
                .into(),
        ));
    }
    Ok(())
}

/// The VM a thread started here leaves at its exit; see [`thread_body`].
struct LeaveAtExit(Option<CurrentVmAttachState>);

impl Drop for LeaveAtExit {
    fn drop(&mut self) {
        let Some(state) = self.0.take() else {
            return;
        };
        with_current_vm(rustpython_vm::vm::thread::cleanup_current_thread_frames);
        release_current_thread(state);
    }
}

thread_local! {
    static LEAVE_AT_EXIT: RefCell<LeaveAtExit> = const { RefCell::new(LeaveAtExit(None)) };
}

/// What a new thread runs, in the VM `thread` made for it.
///
/// The thread attaches with `attach_current_thread` (public) rather than a scoped
/// `ThreadedVirtualMachine::run`, and leaves the VM from a thread-local destructor registered
/// before any Python runs. Thread-local destructors run in reverse order of registration, so
/// RustPython's own per-thread `_local` clean-up (a thread-local registered when the thread first
/// touches a `_thread._local`) runs first, while the VM is still current: the dictionaries'
/// contents are dropped with their `__del__` methods run, as RustPython's own threads do
/// explicitly with a private function.
fn thread_body(
    thread: ThreadedVirtualMachine,
    function: ArgCallable,
    args: FuncArgs,
) -> impl FnOnce() + Send + 'static {
    move || {
        let state = attach_current_thread(move || thread);
        LEAVE_AT_EXIT.with(|slot| slot.borrow_mut().0 = Some(state));
        with_current_vm(move |vm| {
            vm.state.thread_count.fetch_add(1);
            if let Err(exception) = function.invoke(args, vm)
                && !exception.fast_isinstance(vm.ctx.exceptions.system_exit)
            {
                let message = function
                    .as_ref()
                    .repr(vm)
                    .ok()
                    .map(|repr| format!("Exception ignored in thread started by {repr}"));
                vm.run_unraisable(exception, message, vm.ctx.none());
            }
            // `_count()` falls before the function is released, so whoever waits for that
            // release (a weak reference's callback, as CPython's `test__count` does) sees it.
            vm.state.thread_count.fetch_sub(1);
            drop(function);
        });
    }
}

/// `start_new_thread(function, args, kwargs={})`: a detached daemon thread; returns its ident.
pub(crate) fn start_new_thread(
    function: PyObjectRef,
    args: PyObjectRef,
    kwargs: OptionalArg<PyObjectRef>,
    vm: &VirtualMachine,
) -> PyResult<u64> {
    let callable: ArgCallable = function
        .clone()
        .try_into_value(vm)
        .map_err(|_| vm.new_type_error("first arg must be callable"))?;
    let tuple: PyTupleRef = args
        .clone()
        .downcast()
        .map_err(|_| vm.new_type_error("2nd arg must be a tuple"))?;
    let kwargs: Option<PyDictRef> = match kwargs {
        OptionalArg::Present(k) => Some(
            k.downcast()
                .map_err(|_| vm.new_type_error("optional 3rd arg must be a dictionary"))?,
        ),
        OptionalArg::Missing => None,
    };
    vm.audit("_thread.start_new_thread", || {
        (
            function,
            args,
            kwargs
                .as_ref()
                .map_or_else(|| vm.ctx.none(), |k| k.clone().into()),
        )
    })?;
    may_start(vm)?;
    let mut keywords = Vec::new();
    if let Some(kwargs) = kwargs {
        for (key, value) in &kwargs {
            let key: PyStrRef = key
                .downcast()
                .map_err(|_| vm.new_type_error("keywords must be strings"))?;
            keywords.push((key.to_string(), value));
        }
    }
    let keywords: KwArgs = keywords.into_iter().collect();
    let call_args = FuncArgs::new(tuple.as_slice().to_vec(), keywords);
    let body = thread_body(vm.new_thread(), callable, call_args);
    builder(vm, true)
        .spawn(body)
        .map(Ident::as_u64)
        .map_err(|e| thread_error(vm, e))
}

/// `start_joinable_thread(function, handle=None, daemon=True)`'s arguments.
#[derive(FromArgs)]
pub(crate) struct JoinableArgs {
    #[pyarg(any)]
    function: PyObjectRef,
    #[pyarg(any, optional)]
    handle: OptionalArg<PyObjectRef>,
    #[pyarg(any, default = true)]
    daemon: bool,
}

/// `start_joinable_thread(function, handle=None, daemon=True)`: returns the (started) handle.
pub(crate) fn start_joinable_thread(
    args: JoinableArgs,
    vm: &VirtualMachine,
) -> PyResult<PyRef<PyThreadHandle>> {
    let JoinableArgs {
        function,
        handle,
        daemon,
    } = args;
    let callable: ArgCallable = function
        .clone()
        .try_into_value(vm)
        .map_err(|_| vm.new_type_error("thread function must be callable"))?;
    let handle = match handle {
        OptionalArg::Present(h) if !vm.is_none(&h) => Some(
            h.downcast::<PyThreadHandle>()
                .map_err(|_| vm.new_type_error("'handle' must be a _ThreadHandle"))?,
        ),
        _ => None,
    };
    vm.audit("_thread.start_joinable_thread", || {
        (
            function,
            daemon,
            handle
                .as_ref()
                .map_or_else(|| vm.ctx.none(), |h| h.clone().into()),
        )
    })?;
    may_start(vm)?;
    let handle = handle.unwrap_or_else(|| PyThreadHandle::unstarted().into_ref(&vm.ctx));
    if handle.handle.get().is_some() {
        return Err(vm.new_runtime_error("thread already started"));
    }
    let body = thread_body(vm.new_thread(), callable, FuncArgs::default());
    let started = builder(vm, daemon)
        .spawn_joinable(body)
        .map_err(|e| thread_error(vm, e))?;
    handle
        .handle
        .set(started)
        .map_err(|_| vm.new_runtime_error("thread already started"))?;
    Ok(handle)
}

/// `_make_thread_handle(ident)`: a handle on a thread pythread did not start (HANDLE-1).
pub(crate) fn make_thread_handle(
    ident: PyObjectRef,
    vm: &VirtualMachine,
) -> PyResult<PyRef<PyThreadHandle>> {
    let Some(integer) = ident.try_index_opt(vm) else {
        return Err(vm.new_type_error("ident must be an integer"));
    };
    let value: u64 = integer?.try_to_primitive(vm)?;
    let ident = Ident::from_u64(value).ok_or_else(|| vm.new_value_error("ident must not be 0"))?;
    let handle = PyThreadHandle::unstarted();
    let _ = handle.handle.set(ThreadHandle::for_thread(ident));
    Ok(handle.into_ref(&vm.ctx))
}

/// `_shutdown()`: waits for every non-daemon thread (HANDLE-3).
pub(crate) fn shutdown(vm: &VirtualMachine) -> PyResult<()> {
    wait_in_slices(
        vm,
        None,
        |limit| thread_core::shutdown_timeout(limit).map(|finished| finished.then_some(())),
        |e| join_error(vm, e),
    )?;
    Ok(())
}
