//! Starting threads — `start_new_thread`, and `start_joinable_thread` (3.13) — on thread-core's
//! foreign-body spawn path (SPAWN-9), and `_set_sentinel` (3.11, 3.12).
//!
//! The thread's body is an `extern "C-unwind"` function that makes a thread state in the
//! interpreter that started it and takes the GIL with it (as CPython's `thread_run` does, so a
//! sub-interpreter's threads are its own), calls the function, and reports an uncaught exception
//! in the version's form (PY-2): `SystemExit` silently, anything else through
//! `sys.unraisablehook`.
//!
//! # Unwinding
//!
//! At interpreter shutdown CPython ends a daemon thread that asks for the GIL, or that runs
//! Python code which does, with `pthread_exit` (PY-9). Between the thread's start and every
//! CPython call that may do it, the body holds only raw pointers: the boot record is unpacked
//! and freed before the GIL is asked for, and the function's references are dropped by hand
//! after the call — a forced unwind leaks them, as CPython's own `pthread_exit` does, instead of
//! touching reference counts without the GIL. The entry points that start threads run the
//! audit hooks (Python code) with nothing to drop live either.
//!
//! The sentinel (3.11/3.12 `threading`'s `_tstate_lock`) is a lock that the thread acquires and
//! that is released, if held, when the thread's Python state is gone: right after the body
//! deletes it, or, for a thread pythread did not start, by a thread-local destructor at thread
//! exit. Its releases never hand it to a waiter (PY-8): `threading` asserts it is unlocked right
//! after releasing it.

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void};
use std::ptr::{null, null_mut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::ffi::{self, PyObject};
use thread_core::{Builder, ThreadHandle};

use crate::args::Keywords;
use crate::capi;
use crate::errors::{raise, raise_thread_error};
use crate::handle;
use crate::interpreter::{Feature, FinalizingRefusal, Unraisable, profile};
use crate::lock::{LockState, lock_of, new_lock};
use crate::sub_interpreters;

/// What a new thread runs: owned references, given up by the thread.
struct Boot {
    function: *mut PyObject,
    args: *mut PyObject,
    /// A dict, or null.
    kwargs: *mut PyObject,
    /// The interpreter that started the thread, which the thread joins (as CPython's own
    /// threads do; a sub-interpreter's threads are its own).
    interpreter: *mut ffi::PyInterpreterState,
    /// The thread state the parent made for the thread (null: the thread makes it).
    tstate: *mut ffi::PyThreadState,
}

/// The calling thread's sentinel; released when the slot drops (thread exit) unless taken first.
struct Sentinel(Option<Arc<LockState>>);

impl Drop for Sentinel {
    fn drop(&mut self) {
        release_sentinel(self.0.take());
    }
}

thread_local! {
    static SENTINEL: RefCell<Sentinel> = const { RefCell::new(Sentinel(None)) };
    /// Whether this thread ever stored a sentinel: a thread that did not never touches
    /// `SENTINEL`, whose first use registers a destructor with the C library (an allocation, and
    /// a search of the loaded objects).
    static HAS_SENTINEL: Cell<bool> = const { Cell::new(false) };
}

/// Whether any thread ever stored a sentinel. Until one has (on 3.13, which has no
/// `_set_sentinel`, never), a thread's end touches no thread-local of this module: the first
/// one a thread touches makes the C library allocate the module's thread-local block for it.
static SENTINELS_MADE: AtomicBool = AtomicBool::new(false);

fn release_sentinel(lock: Option<Arc<LockState>>) {
    if let Some(lock) = lock {
        // Usually held by `threading`; an unlocked one is left as it is, as CPython does.
        lock.release_if_held();
    }
}

/// `_set_sentinel()`: a new lock (unlocked: `threading` acquires it), released, if held, when
/// the calling thread's state goes away; its releases never hand off (PY-8).
pub(crate) unsafe extern "C-unwind" fn set_sentinel(
    _module: *mut PyObject,
    _: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: called by CPython with the GIL.
    let object = unsafe { new_lock(false) };
    if !object.is_null() {
        // SAFETY: a live lock object, just made.
        let lock = Arc::clone(unsafe { lock_of(object) });
        // CPython drops the old sentinel's reference (releasing nothing); we do the same.
        // Relaxed: only this thread's own end reads it and needs to see it true, which program
        // order gives.
        SENTINELS_MADE.store(true, Ordering::Relaxed);
        HAS_SENTINEL.set(true);
        let previous = SENTINEL.with(|slot| slot.borrow_mut().0.replace(lock));
        drop(previous);
    }
    object
}

/// The refusal of a thread started while the interpreter finalizes (PY-2); null.
///
/// # Safety
///
/// The caller holds the GIL.
unsafe fn refuse_at_shutdown() -> *mut PyObject {
    let class = match profile().finalizing_refusal {
        FinalizingRefusal::RuntimeFinalizing(_) => {
            let found = capi::symbol(c"PyExc_PythonFinalizationError");
            // SAFETY: 3.13 exports the exception class as a `PyObject *` variable.
            match unsafe { found.cast::<*mut PyObject>().as_ref() } {
                Some(class) => *class,
                // SAFETY: a static of the interpreter.
                None => unsafe { ffi::PyExc_RuntimeError },
            }
        }
        // SAFETY: a static of the interpreter.
        _ => unsafe { ffi::PyExc_RuntimeError },
    };
    // SAFETY: forwarded from the contract.
    unsafe { raise(class, c"can't create new thread at interpreter shutdown") }
}

/// Whether this interpreter may start threads: false with `RuntimeError` set when it may not
/// (an isolated sub-interpreter), or when the query failed.
///
/// # Safety
///
/// The caller holds the GIL.
unsafe fn may_start_threads() -> bool {
    // SAFETY: forwarded from the contract.
    match unsafe { profile().allows(Feature::Threads) } {
        Some(true) => true,
        Some(false) => {
            // SAFETY: forwarded from the contract.
            unsafe {
                raise(
                    ffi::PyExc_RuntimeError,
                    c"thread is not supported for isolated subinterpreters",
                )
            };
            false
        }
        None => false,
    }
}

/// `start_new_thread(function, args, kwargs=None)`: starts a detached thread, returns its ident.
pub(crate) unsafe extern "C-unwind" fn start_new_thread(
    _module: *mut PyObject,
    args: *mut PyObject,
) -> *mut PyObject {
    let mut function: *mut PyObject = null_mut();
    let mut call_args: *mut PyObject = null_mut();
    let mut call_kwargs: *mut PyObject = null_mut();
    // SAFETY: CPython calls us with the GIL and an argument tuple; three object pointers.
    unsafe {
        if capi::PyArg_UnpackTuple(
            args,
            c"start_new_thread".as_ptr(),
            2,
            3,
            &mut function as *mut *mut PyObject,
            &mut call_args as *mut *mut PyObject,
            &mut call_kwargs as *mut *mut PyObject,
        ) == 0
        {
            return null_mut();
        }
        if ffi::PyCallable_Check(function) == 0 {
            return raise(ffi::PyExc_TypeError, c"first arg must be callable");
        }
        if ffi::PyTuple_Check(call_args) == 0 {
            return raise(ffi::PyExc_TypeError, c"2nd arg must be a tuple");
        }
        if !call_kwargs.is_null() && ffi::PyDict_Check(call_kwargs) == 0 {
            return raise(
                ffi::PyExc_TypeError,
                c"optional 3rd arg must be a dictionary",
            );
        }
        // The event of 3.12+ (3.11 has none), before anything is allocated (SPAWN-3). The hooks
        // are Python code: nothing here needs dropping (module docs).
        if profile().audits_start_new_thread {
            let kwargs_arg = if call_kwargs.is_null() {
                ffi::Py_None()
            } else {
                call_kwargs
            };
            if capi::PySys_Audit(
                c"_thread.start_new_thread".as_ptr(),
                c"OOO".as_ptr(),
                function,
                call_args,
                kwargs_arg,
            ) < 0
            {
                return null_mut();
            }
        }
        if !may_start_threads() {
            return null_mut();
        }
        if profile().refuses_new_threads() {
            return refuse_at_shutdown();
        }
        match spawn(function, call_args, call_kwargs, None) {
            Some((ident, _)) => ffi::PyLong_FromUnsignedLongLong(ident),
            None => null_mut(),
        }
    }
}

/// `start_joinable_thread`'s keywords.
static JOINABLE_KEYWORDS: Keywords<4> = Keywords([
    c"function".as_ptr(),
    c"handle".as_ptr(),
    c"daemon".as_ptr(),
    null(),
]);

/// `start_joinable_thread(function, handle=None, daemon=True)` (3.13, PY-4): starts a thread
/// and returns its handle (the one given, else a new one).
pub(crate) unsafe extern "C-unwind" fn start_joinable_thread(
    _module: *mut PyObject,
    args: *mut PyObject,
    kwargs: *mut PyObject,
) -> *mut PyObject {
    let mut function: *mut PyObject = null_mut();
    let mut handle_arg: *mut PyObject = null_mut();
    let mut daemon: c_int = 1;
    // SAFETY: CPython calls us with the GIL, a tuple and a dict or null; "O|Op" writes two
    // objects and an int.
    unsafe {
        if capi::PyArg_ParseTupleAndKeywords(
            args,
            kwargs,
            c"O|Op:start_joinable_thread".as_ptr(),
            JOINABLE_KEYWORDS.as_ptr(),
            &mut function as *mut *mut PyObject,
            &mut handle_arg as *mut *mut PyObject,
            &mut daemon as *mut c_int,
        ) == 0
        {
            return null_mut();
        }
        if ffi::PyCallable_Check(function) == 0 {
            return raise(ffi::PyExc_TypeError, c"thread function must be callable");
        }
        if handle_arg.is_null() {
            handle_arg = ffi::Py_None();
        } else if handle_arg != ffi::Py_None() && !handle::is_handle(handle_arg) {
            return raise(ffi::PyExc_TypeError, c"'handle' must be a _ThreadHandle");
        }
        if capi::PySys_Audit(
            c"_thread.start_joinable_thread".as_ptr(),
            c"OiO".as_ptr(),
            function,
            daemon,
            handle_arg,
        ) < 0
        {
            return null_mut();
        }
        // From here on, a new reference to the handle to return.
        let handle_object = if handle_arg == ffi::Py_None() {
            handle::new_handle()
        } else {
            ffi::Py_IncRef(handle_arg);
            handle_arg
        };
        if handle_object.is_null() {
            return null_mut();
        }
        if handle::is_started(handle_object) {
            ffi::Py_DecRef(handle_object);
            return raise(ffi::PyExc_RuntimeError, c"thread already started");
        }
        if !may_start_threads() {
            ffi::Py_DecRef(handle_object);
            return null_mut();
        }
        if profile().refuses_new_threads() {
            ffi::Py_DecRef(handle_object);
            return refuse_at_shutdown();
        }
        let empty = ffi::PyTuple_New(0);
        if empty.is_null() {
            ffi::Py_DecRef(handle_object);
            return null_mut();
        }
        let spawned = spawn(function, empty, null_mut(), Some(daemon != 0));
        ffi::Py_DecRef(empty);
        match spawned {
            Some((_, Some(started))) => {
                if daemon == 0 {
                    sub_interpreters::add_non_daemon(ffi::PyInterpreterState_Get(), &started);
                }
                handle::set_started(handle_object, started);
                handle_object
            }
            _ => {
                // As CPython's: the handle is done, and refuses a second start.
                handle::set_start_failed(handle_object);
                ffi::Py_DecRef(handle_object);
                null_mut()
            }
        }
    }
}

/// Starts the thread: detached (`joinable` None) or joinable, a daemon or not. Returns its ident
/// and handle, or `None` with the exception set.
///
/// # Safety
///
/// The caller holds the GIL; `function` is callable, `args` a tuple, `kwargs` a dict or null.
unsafe fn spawn(
    function: *mut PyObject,
    args: *mut PyObject,
    kwargs: *mut PyObject,
    joinable: Option<bool>,
) -> Option<(u64, Option<ThreadHandle>)> {
    // SAFETY: forwarded from the contract: the new references go to the thread.
    let boot = unsafe {
        ffi::Py_IncRef(function);
        ffi::Py_IncRef(args);
        if !kwargs.is_null() {
            ffi::Py_IncRef(kwargs);
        }
        let interpreter = ffi::PyInterpreterState_Get();
        let tstate = profile().thread_states.prepare(interpreter);
        if tstate.is_null() && !ffi::PyErr_Occurred().is_null() {
            release_boot_references(function, args, kwargs);
            return None;
        }
        Box::into_raw(Box::new(Boot {
            function,
            args,
            kwargs,
            interpreter,
            tstate,
        }))
    };
    // Python's hooks saw the event already, with its real arguments; thread-core's own registry
    // in this module has no hooks, so its event changes nothing, and it is raised with no
    // arguments rather than a description of the body formatted for no one (a fifth of the
    // instructions this module added to a thread's start and join on 3.13).
    let builder = Builder::new().audit_args(Vec::new());
    let builder = match joinable {
        Some(daemon) => builder.daemon(daemon),
        None => builder,
    };
    // SAFETY: `boot` is a `Boot` that the new thread takes over (or that we take back below when
    // no thread was created); `body` reports its own failures and never calls `exit()`.
    let spawned = unsafe { builder.spawn_foreign(body, boot.cast(), joinable.is_some()) };
    match spawned {
        Ok((ident, handle)) => Some((ident.as_u64(), handle)),
        Err(error) => {
            // SAFETY: no thread was created, so the box and its references are still ours.
            unsafe {
                let boot = Box::from_raw(boot);
                release_boot_references(boot.function, boot.args, boot.kwargs);
                if !boot.tstate.is_null() {
                    ffi::PyThreadState_Clear(boot.tstate);
                    ffi::PyThreadState_Delete(boot.tstate);
                }
                raise_thread_error(error);
            }
            None
        }
    }
}

/// Drops the references a boot record took.
///
/// # Safety
///
/// The caller holds the GIL; the references are owned (kwargs may be null).
unsafe fn release_boot_references(
    function: *mut PyObject,
    args: *mut PyObject,
    kwargs: *mut PyObject,
) {
    // SAFETY: forwarded from the contract.
    unsafe {
        ffi::Py_DecRef(function);
        ffi::Py_DecRef(args);
        if !kwargs.is_null() {
            ffi::Py_DecRef(kwargs);
        }
    }
}

/// The thread's body (see the module docs).
extern "C-unwind" fn body(arg: *mut c_void) {
    // SAFETY: `arg` is the `Boot` boxed by `spawn`, handed to this thread; unpacked into raw
    // pointers and freed before anything can unwind.
    let Boot {
        function,
        args,
        kwargs,
        interpreter,
        tstate,
    } = *unsafe { Box::from_raw(arg.cast::<Boot>()) };
    // Started too late: the runtime finalizes, and the thread state may already be gone with
    // the interpreter's others. `PyEval_AcquireThread` would end the thread now; so do we,
    // leaking the references as it would.
    if profile().runtime_finalizing() {
        return;
    }
    // SAFETY: the thread state was made for us by the parent and is not bound yet (or is made
    // now, in the interpreter that started us); no GIL needed.
    let tstate = unsafe { profile().thread_states.adopt(tstate, interpreter) };
    // SAFETY: `tstate` is ours and new; this may end the thread with pthread_exit at shutdown,
    // with nothing of ours to clean up (the references leak, as in CPython).
    unsafe { capi::PyEval_AcquireThread(tstate) };
    sub_interpreters::thread_started(interpreter);
    // SAFETY: we hold the GIL; the references are ours.
    unsafe {
        let result = capi::PyObject_Call(function, args, kwargs);
        if result.is_null() {
            if ffi::PyErr_ExceptionMatches(ffi::PyExc_SystemExit) != 0 {
                ffi::PyErr_Clear();
            } else {
                report_failure(function);
            }
        } else {
            capi::Py_DecRef(result);
        }
        capi::Py_DecRef(function);
        capi::Py_DecRef(args);
        if !kwargs.is_null() {
            capi::Py_DecRef(kwargs);
        }
    }
    sub_interpreters::thread_finished(interpreter);
    // SAFETY: we hold the GIL with `tstate`, which is current; clearing and deleting it is how
    // CPython ends its own threads, and releases the GIL.
    unsafe {
        capi::PyThreadState_Clear(tstate);
        ffi::PyThreadState_DeleteCurrent();
    }
    // Relaxed: as where it is set.
    if SENTINELS_MADE.load(Ordering::Relaxed) {
        release_own_sentinel();
    }
}

/// Releases the calling thread's sentinel, if it stored one. Not inlined: the compiler would
/// compute the thread-local's address before the caller's test, touching it on every thread.
#[inline(never)]
fn release_own_sentinel() {
    if HAS_SENTINEL.get() {
        release_sentinel(SENTINEL.with(|slot| slot.borrow_mut().0.take()));
    }
}

/// Reports the set exception of a thread's function through `sys.unraisablehook`, in the
/// version's form (PY-2).
///
/// # Safety
///
/// An exception is set; the caller holds the GIL.
unsafe fn report_failure(function: *mut PyObject) {
    // SAFETY: forwarded from the contract; the signatures are the versions' (see `Unraisable`).
    unsafe {
        match profile().unraisable {
            Unraisable::InThreadStartedBy(write) => {
                write(c"in thread started by".as_ptr(), function)
            }
            Unraisable::FormattedWithFunction(format) => format(
                c"Exception ignored in thread started by %R".as_ptr(),
                function,
            ),
            Unraisable::Plain => capi::PyErr_WriteUnraisable(function),
        }
    }
}
