//! 3.13's joinable threads: `_ThreadHandle`, `_make_thread_handle`, `_shutdown`,
//! `_get_main_thread_ident` (PY-4..7), on thread-core's handles (HANDLE-1..3).
//!
//! A `_ThreadHandle()` exists before its thread is started (`start_joinable_thread(f,
//! handle=h)`), so the object keeps its own not-started state; once started it holds the
//! thread-core handle. A start that could not create the thread leaves the handle done, as
//! CPython's does: it cannot be started again, and joining it returns at once.
//! `_make_thread_handle(0)` (CPython accepts ident 0) is a handle on no thread: thread-core's
//! handles need a real ident, so it gets one no thread can have (`u64::MAX`) and shows 0.
//!
//! # Unwinding
//!
//! `join` and `_shutdown` wait with the GIL released ([`crate::wait`]); the thread-core handle is
//! borrowed from the object, which the caller keeps alive, so nothing with a destructor is live
//! when the GIL is taken back.

use std::ffi::c_void;
use std::ptr::{addr_of_mut, null_mut};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::ffi::{self, PyObject, PyTypeObject};
use thread_core::{Ident, ThreadError, ThreadHandle};

use crate::args::Seconds;
use crate::capi;
use crate::errors::{raise, raise_thread_error};
use crate::object::{self, Takes, alloc, none, plain, py_bool, slot};
use crate::sub_interpreters;
use crate::wait::{Waited, wait_released};

/// A started handle, and the ident it shows.
struct Started {
    handle: ThreadHandle,
    ident: u64,
}

/// What became of a start: the thread, or (`None`) a start that created no thread.
type Start = Option<Started>;

/// The instance layout of `_thread._ThreadHandle`.
#[repr(C)]
struct HandleObject {
    base: PyObject,
    /// Set once, with the GIL held, when a start is tried.
    start: OnceLock<Start>,
}

static HANDLE_TYPE: AtomicPtr<PyTypeObject> = AtomicPtr::new(null_mut());

fn handle_type() -> *mut PyTypeObject {
    // Acquire: pairs with the Release store in `make_type`.
    HANDLE_TYPE.load(Ordering::Acquire)
}

/// Whether `object` is a `_ThreadHandle`.
///
/// # Safety
///
/// The caller holds the GIL; `object` is live.
pub(crate) unsafe fn is_handle(object: *mut PyObject) -> bool {
    let type_ = handle_type();
    // SAFETY: forwarded from the contract.
    !type_.is_null() && unsafe { ffi::PyObject_TypeCheck(object, type_) } != 0
}

/// A new, not started handle (null with an exception set).
///
/// # Safety
///
/// The caller holds the GIL, after [`make_type`].
pub(crate) unsafe fn new_handle() -> *mut PyObject {
    // SAFETY: forwarded from the contract.
    unsafe { new_of(handle_type()) }
}

/// # Safety
///
/// The caller holds the GIL; `type_` is the handle type.
unsafe fn new_of(type_: *mut PyTypeObject) -> *mut PyObject {
    // SAFETY: forwarded from the contract; the memory is zeroed and ours to initialise.
    unsafe {
        let object = alloc(type_);
        if !object.is_null() {
            addr_of_mut!((*object.cast::<HandleObject>()).start).write(OnceLock::new());
        }
        object
    }
}

/// What became of the handle's start (`None`: not tried yet).
///
/// # Safety
///
/// `object` is a live handle; the reference does not outlive it.
unsafe fn start<'a>(object: *mut PyObject) -> Option<&'a Start> {
    // SAFETY: forwarded from the contract.
    unsafe { (*object.cast::<HandleObject>()).start.get() }
}

/// The handle's thread, if one was started.
///
/// # Safety
///
/// As [`start`].
unsafe fn started<'a>(object: *mut PyObject) -> Option<&'a Started> {
    // SAFETY: forwarded from the contract.
    unsafe { start(object) }.and_then(Option::as_ref)
}

/// Whether a start of the handle was tried, successful or not: it may not be started again.
///
/// # Safety
///
/// As [`start`].
pub(crate) unsafe fn is_started(object: *mut PyObject) -> bool {
    // SAFETY: forwarded from the contract.
    unsafe { start(object) }.is_some()
}

/// Records the started thread in a not-started handle.
///
/// # Safety
///
/// As [`start`]; the caller holds the GIL and checked [`is_started`] under it.
pub(crate) unsafe fn set_started(object: *mut PyObject, handle: ThreadHandle) {
    let ident = handle.ident().as_u64();
    // SAFETY: forwarded from the contract.
    let _ = unsafe { &(*object.cast::<HandleObject>()).start }.set(Some(Started { handle, ident }));
}

/// Records in a not-started handle that its start created no thread: the handle is done.
///
/// # Safety
///
/// As [`set_started`].
pub(crate) unsafe fn set_start_failed(object: *mut PyObject) {
    // SAFETY: forwarded from the contract.
    let _ = unsafe { &(*object.cast::<HandleObject>()).start }.set(None);
}

/// `_ThreadHandle(*args, **kwargs)`: a handle not started yet; the arguments are ignored.
unsafe extern "C-unwind" fn new(
    type_: *mut PyTypeObject,
    _args: *mut PyObject,
    _kwargs: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls `tp_new` with the GIL.
    unsafe { new_of(type_) }
}

/// `ident` (read-only): the thread's ident, 0 before it starts.
unsafe extern "C-unwind" fn ident(object: *mut PyObject, _: *mut c_void) -> *mut PyObject {
    // SAFETY: CPython calls getters with the GIL and a live instance.
    unsafe { ffi::PyLong_FromUnsignedLongLong(started(object).map_or(0, |s| s.ident)) }
}

/// `is_done()`: the thread has ended, or its start failed.
unsafe extern "C-unwind" fn is_done(object: *mut PyObject, _: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `ident`.
    py_bool(match unsafe { start(object) } {
        Some(Some(started)) => started.handle.is_done(),
        Some(None) => true,
        None => false,
    })
}

/// `_set_done()`: detaches the thread and marks the handle done (HANDLE-1).
unsafe extern "C-unwind" fn set_done(object: *mut PyObject, _: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `ident`.
    match unsafe { start(object) } {
        Some(Some(started)) => {
            started.handle.set_done();
            none()
        }
        Some(None) => none(),
        // SAFETY: we hold the GIL.
        None => unsafe { raise(ffi::PyExc_RuntimeError, c"thread not started") },
    }
}

/// `join(timeout=None, /)` (PY-5): waits with the GIL released, interruptibly on the main
/// thread (HANDLE-2).
unsafe extern "C-unwind" fn join(object: *mut PyObject, args: *mut PyObject) -> *mut PyObject {
    let mut timeout_arg: *mut PyObject = null_mut();
    // SAFETY: CPython calls us with the GIL and an argument tuple; "|O" writes one object.
    unsafe {
        if capi::PyArg_ParseTuple(
            args,
            c"|O:join".as_ptr(),
            &mut timeout_arg as *mut *mut PyObject,
        ) == 0
        {
            return null_mut();
        }
        let timeout = if timeout_arg.is_null() || timeout_arg == ffi::Py_None() {
            None
        } else {
            let Some(seconds) = Seconds::from_object(timeout_arg) else {
                return null_mut();
            };
            match seconds.join_timeout() {
                Ok(timeout) => timeout,
                Err(()) => return null_mut(),
            }
        };
        let started = match start(object) {
            Some(Some(started)) => started,
            // A failed start: done, nothing to wait for.
            Some(None) => return none(),
            None => return raise(ffi::PyExc_RuntimeError, c"thread not started"),
        };
        let handle = &started.handle;
        // `true`: joined (or timed out); `false`: the caller's own thread.
        let once = |remaining: Option<_>| match handle.join(remaining) {
            Ok(()) if handle.is_done() => {
                if timeout.is_none() && remaining.is_some() {
                    // An untimed join waits for the thread's very end (its thread-local
                    // destructors), which a timed slice does not: the thread is done, so this
                    // only waits for that.
                    let _ = handle.join(None);
                }
                Waited::Done(true)
            }
            Ok(()) => Waited::TimedOut,
            Err(ThreadError::JoinCurrent) => Waited::Done(false),
            Err(_) => Waited::Interrupted,
        };
        match wait_released(timeout, true, once) {
            Some(true) => none(),
            Some(false) => raise_thread_error(ThreadError::JoinCurrent),
            None => null_mut(),
        }
    }
}

/// `repr()`: `<_thread._ThreadHandle object: ident=N>`.
unsafe extern "C-unwind" fn repr(object: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `ident`.
    let ident = unsafe { started(object) }.map_or(0, |s| s.ident);
    let text = format!("<_thread._ThreadHandle object: ident={ident}>");
    // SAFETY: we hold the GIL.
    unsafe { object::new_str(&text) }
}

unsafe extern "C-unwind" fn dealloc(object: *mut PyObject) {
    // SAFETY: CPython deallocates with the GIL, once; the field was initialised at creation.
    unsafe {
        object::untrack(object);
        std::ptr::drop_in_place(addr_of_mut!((*object.cast::<HandleObject>()).start));
        object::free(object);
    }
}

/// `_make_thread_handle(ident)` (PY-6): a handle on a thread pythread did not start (HANDLE-1).
pub(crate) unsafe extern "C-unwind" fn make_thread_handle(
    _module: *mut PyObject,
    ident: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls us with the GIL and one argument.
    unsafe {
        if ffi::PyLong_Check(ident) == 0 {
            return raise(ffi::PyExc_TypeError, c"ident must be an integer");
        }
        let value = ffi::PyLong_AsUnsignedLongLong(ident);
        if value == u64::MAX && !ffi::PyErr_Occurred().is_null() {
            return null_mut();
        }
        let object = new_handle();
        if object.is_null() {
            return null_mut();
        }
        // Ident 0 is no thread's: a stand-in no thread can have (module docs).
        let real = Ident::from_u64(value).or_else(|| Ident::from_u64(u64::MAX));
        if let Some(real) = real {
            let _ = (*object.cast::<HandleObject>()).start.set(Some(Started {
                handle: ThreadHandle::for_thread(real),
                ident: value,
            }));
        }
        object
    }
}

/// `_shutdown()` (PY-7): joins the non-daemon threads with the GIL released; an interrupted
/// join is reported through `sys.unraisablehook` and ends it. It waits through
/// `thread_core::shutdown_timeout`, so that on the main thread [`wait_released`] waits in slices
/// and runs the pending signal handlers between them, as every other wait does.
pub(crate) unsafe extern "C-unwind" fn shutdown(
    _module: *mut PyObject,
    _: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls us with the GIL.
    let interpreter = unsafe { ffi::PyInterpreterState_Get() };
    let own = thread_core::get_ident();
    if let Some(mut next) = sub_interpreters::next_to_join(interpreter, own) {
        // A sub-interpreter waits for its own non-daemon threads, one after another. (The clone
        // of the handle is the one value with a destructor live across the wait: dropping it
        // only lowers a count.)
        while let Some(handle) = next {
            let once = |limit| match handle.join(limit) {
                Ok(()) if handle.is_done() => Waited::Done(()),
                Ok(()) => Waited::TimedOut,
                Err(_) => Waited::Interrupted,
            };
            // SAFETY: we hold the GIL; the wait touches no Python object.
            if unsafe { wait_released(None, (), once) }.is_none() {
                // SAFETY: we hold the GIL; the interrupting exception is set.
                unsafe { capi::PyErr_WriteUnraisable(null_mut()) };
                return none();
            }
            next = sub_interpreters::next_to_join(interpreter, own).flatten();
        }
        return none();
    }
    let once = |limit| match thread_core::shutdown_timeout(limit) {
        Ok(true) => Waited::Done(()),
        Ok(false) => Waited::TimedOut,
        Err(_) => Waited::Interrupted,
    };
    // SAFETY: CPython calls us with the GIL; the wait touches no Python object.
    unsafe {
        if wait_released(None, (), once).is_none() {
            capi::PyErr_WriteUnraisable(null_mut());
        }
    }
    none()
}

/// `_get_main_thread_ident()`.
pub(crate) unsafe extern "C-unwind" fn get_main_thread_ident(
    _module: *mut PyObject,
    _: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls us with the GIL.
    unsafe { ffi::PyLong_FromUnsignedLongLong(thread_core::main_thread_ident().as_u64()) }
}

/// Makes `_thread._ThreadHandle` (not subclassable) and returns it (null with an exception).
///
/// # Safety
///
/// The caller holds the GIL; `twin` is null or the built-in `_thread`'s type of the same name
/// (its docstrings are copied).
pub(crate) unsafe fn make_type(twin: *mut PyObject) -> *mut PyTypeObject {
    let make = || {
        let methods = vec![
            plain(c"is_done", is_done, Takes::Nothing, c""),
            plain(c"_set_done", set_done, Takes::Nothing, c""),
            plain(c"join", join, Takes::Tuple, c""),
        ];
        let getset = Box::leak(Box::new([
            ffi::PyGetSetDef {
                name: c"ident".as_ptr(),
                get: Some(
                    // SAFETY: same arguments and calling convention (see `object::with_keywords`).
                    unsafe {
                        std::mem::transmute::<
                            unsafe extern "C-unwind" fn(
                                *mut PyObject,
                                *mut c_void,
                            )
                                -> *mut PyObject,
                            ffi::getter,
                        >(ident)
                    },
                ),
                set: None,
                doc: null_mut(),
                closure: null_mut(),
            },
            ffi::PyGetSetDef {
                name: std::ptr::null(),
                get: None,
                set: None,
                doc: std::ptr::null(),
                closure: null_mut(),
            },
        ]));
        let slots = vec![
            slot(ffi::Py_tp_new, new as *mut _),
            slot(ffi::Py_tp_dealloc, dealloc as *mut _),
            slot(ffi::Py_tp_repr, repr as *mut _),
            slot(ffi::Py_tp_getset, getset.as_mut_ptr().cast()),
        ];
        let flags = ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_IMMUTABLETYPE;
        // SAFETY: forwarded from the contract; the slots match their functions.
        unsafe {
            object::make_type(
                c"_thread._ThreadHandle",
                size_of::<HandleObject>(),
                flags,
                twin,
                slots,
                methods,
                vec![],
            )
        }
    };
    // SAFETY: forwarded from the contract.
    unsafe { object::type_once(&HANDLE_TYPE, make) }
}
