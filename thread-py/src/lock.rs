//! `_thread.lock` (`LockType`, and `lock` from 3.13): thread-lock's [`Lock`] with CPython's
//! Python surface, and the `acquire` argument handling that `RLock` shares.
//!
//! # Unwinding
//!
//! Every method is an `extern "C-unwind"` function (see [`crate::object`]). Where Python code can
//! run (`__index__`/`__bool__` in argument parsing) or the GIL is taken back after a wait, no
//! value with a destructor is live: the lock is borrowed from the object, which the caller keeps
//! alive.

use std::ffi::{CStr, c_int};
use std::mem::offset_of;
use std::ptr::{addr_of_mut, null, null_mut};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::time::Duration;

use pyo3::ffi::{self, PyObject, PyTypeObject};
use thread_core::wait::Nanos;
use thread_lock::{Lock, LockError, Timeout, parse_timeout};

use crate::args::{Keywords, Seconds};
use crate::capi;
use crate::errors::{raise, raise_lock_error};
use crate::interpreter::profile;
use crate::object::{self, Takes, alloc, none, plain, py_bool, slot, with_keywords};
use crate::wait::{Waited, wait_released};

/// A lock as its Python object has it: thread-lock's lock, and CPython 3.11/3.12's `locked`
/// field.
///
/// Before 3.13 the built-in's `locked()` and `release()` read a flag that `acquire` sets once it
/// has the GIL back, not the OS lock: a waiter woken by a release has not "acquired" the lock for
/// Python until it runs again, so the releaser's `assert not lock.locked()` (3.11/3.12's
/// `Thread._stop`) holds. Where the profile says so, this module does the same; the flag is
/// written with the GIL, or by the thread-exit release of a sentinel, which claims it with an
/// atomic swap.
#[derive(Debug)]
pub(crate) struct LockState {
    lock: Lock,
    /// Acquired, as Python sees it (3.11/3.12's `lockobject.locked`).
    held: AtomicBool,
    /// Whether a release may hand the lock to a waiter (LOCK-15); false for `_set_sentinel`'s
    /// locks (PY-8).
    handoff: bool,
}

impl LockState {
    /// After an acquire succeeded (with the GIL).
    fn acquired(&self) {
        // Relaxed: the flag guards nothing; the lock itself orders the critical sections.
        self.held.store(true, Relaxed);
    }

    /// Whether the lock is held, as this version's `locked()` says.
    fn locked(&self) -> bool {
        if profile().locked_is_flag {
            // Relaxed: a snapshot (LOCK-10).
            self.held.load(Relaxed)
        } else {
            self.lock.locked()
        }
    }

    /// `release()`: as this version's, never handing off a sentinel.
    pub(crate) fn release(&self) -> Result<(), LockError> {
        // Relaxed: the swap decides which of two racing releases wins; the lock orders the rest.
        let was_held = self.held.swap(false, Relaxed);
        if profile().locked_is_flag && !was_held {
            return Err(LockError::ReleaseUnlocked);
        }
        let released = if self.handoff {
            self.lock.release()
        } else {
            self.lock.release_without_handoff()
        };
        if released.is_err() && was_held {
            // Nothing was released after all: leave the flag as it was.
            self.held.store(true, Relaxed);
        }
        released
    }

    /// The release of a thread's sentinel when its Python state is gone (no GIL needed): only
    /// if Python holds it, as CPython's `release_sentinel`.
    pub(crate) fn release_if_held(&self) {
        // Relaxed: as in `release`.
        if self.held.swap(false, Relaxed) {
            let _ = self.lock.release_without_handoff();
        }
    }
}

/// The instance layout of `_thread.lock`.
#[repr(C)]
pub(crate) struct LockObject {
    base: PyObject,
    weakrefs: *mut PyObject,
    /// Shared so that a thread's sentinel can be released by a thread-exit destructor.
    state: Arc<LockState>,
}

/// The type object, made at import.
static LOCK_TYPE: AtomicPtr<PyTypeObject> = AtomicPtr::new(null_mut());

/// A new unlocked lock object (null with an exception set on failure). `handoff` false makes
/// every release leave the lock free (PY-8).
///
/// # Safety
///
/// The caller holds the GIL, after [`make_type`].
pub(crate) unsafe fn new_lock(handoff: bool) -> *mut PyObject {
    // Acquire: pairs with the Release store in `make_type` (the type object's initialisation).
    let type_ = LOCK_TYPE.load(Ordering::Acquire);
    // SAFETY: forwarded from the contract.
    unsafe { new_lock_of(type_, handoff) }
}

/// [`new_lock`] of a given type.
///
/// # Safety
///
/// As [`new_lock`]; `type_` is the lock type.
unsafe fn new_lock_of(type_: *mut PyTypeObject, handoff: bool) -> *mut PyObject {
    // SAFETY: forwarded from the contract; the memory is zeroed and ours to initialise.
    unsafe {
        let object = alloc(type_);
        if object.is_null() {
            return null_mut();
        }
        let this = object.cast::<LockObject>();
        addr_of_mut!((*this).state).write(Arc::new(LockState {
            lock: Lock::new(),
            held: AtomicBool::new(false),
            handoff,
        }));
        object
    }
}

/// The state of a lock object.
///
/// # Safety
///
/// `object` is a live instance of the lock type; the reference does not outlive it.
pub(crate) unsafe fn lock_of<'a>(object: *mut PyObject) -> &'a Arc<LockState> {
    // SAFETY: forwarded from the contract.
    unsafe { &(*object.cast::<LockObject>()).state }
}

/// `acquire`'s keywords.
static ACQUIRE_KEYWORDS: Keywords<3> =
    Keywords([c"blocking".as_ptr(), c"timeout".as_ptr(), null()]);

/// Parses `acquire(blocking=True, timeout=-1)` as this version does (PY-3, LOCK-4..6); `None`
/// with an exception set.
///
/// # Safety
///
/// The caller holds the GIL; `args` is a tuple and `kwargs` a dict or null.
unsafe fn parse_acquire(args: *mut PyObject, kwargs: *mut PyObject) -> Option<Timeout> {
    let mut blocking: c_int = 1;
    let mut timeout: *mut PyObject = null_mut();
    // SAFETY: the format takes an int ("i" or "p") and an object, matching the pointers.
    let parsed = unsafe {
        capi::PyArg_ParseTupleAndKeywords(
            args,
            kwargs,
            profile().acquire_format.as_ptr(),
            ACQUIRE_KEYWORDS.as_ptr(),
            &mut blocking as *mut c_int,
            &mut timeout as *mut *mut PyObject,
        )
    };
    if parsed == 0 {
        return None;
    }
    let seconds = if timeout.is_null() {
        -1.0
    } else {
        // SAFETY: `timeout` is a borrowed argument; we hold the GIL.
        unsafe { Seconds::from_object(timeout) }?.as_f64()
    };
    match parse_timeout(blocking != 0, seconds) {
        Ok(timeout) => Some(timeout),
        Err(error) => {
            // SAFETY: we hold the GIL.
            unsafe { raise_lock_error(error) };
            None
        }
    }
}

/// The wait of a blocking acquire whose first try failed: `Some(acquired)`, or `None` with the
/// exception a signal handler raised (main thread). `wait` is thread-lock's acquire for a
/// timeout, resuming a wait that began at the time it is given: the main thread's wait comes in
/// slices, each of which keeps the place in the queue that the first one took.
///
/// # Safety
///
/// The caller holds the GIL; `wait` touches no Python object.
unsafe fn wait_for(
    timeout: Timeout,
    wait: impl Fn(Timeout, Nanos) -> Result<bool, LockError>,
) -> Option<bool> {
    let limit = match timeout {
        Timeout::NonBlocking => return Some(false),
        Timeout::Within(d) if d.is_zero() => return Some(false),
        Timeout::Within(d) => Some(d),
        Timeout::Forever => None,
    };
    let since = thread_core::wait::now();
    let once = |remaining: Option<Duration>| {
        let timeout = remaining.map_or(Timeout::Forever, Timeout::Within);
        // The error (an interruption: the arguments were checked) is dropped here, before the
        // GIL is taken back.
        match wait(timeout, since) {
            Ok(true) => Waited::Done(true),
            Ok(false) => Waited::TimedOut,
            Err(_) => Waited::Interrupted,
        }
    };
    // SAFETY: forwarded from the contract.
    unsafe { wait_released(limit, false, once) }
}

/// The `acquire(blocking=True, timeout=-1)` that `lock` and `RLock` share: parses the arguments,
/// tries once with the GIL held (`try_once`), then waits with it released (`wait`, thread-lock's
/// acquire for a timeout, resuming a wait begun at the given time). `Some(acquired)`, or `None`
/// with an exception set: bad arguments, a failed try, or a signal handler's exception (main
/// thread).
///
/// # Safety
///
/// The caller holds the GIL; `args` is a tuple and `kwargs` a dict or null; `try_once` and
/// `wait` touch no Python object.
pub(crate) unsafe fn acquire_with_args(
    args: *mut PyObject,
    kwargs: *mut PyObject,
    try_once: impl Fn() -> Result<bool, LockError>,
    wait: impl Fn(Timeout, Nanos) -> Result<bool, LockError>,
) -> Option<bool> {
    // SAFETY: forwarded from the contract.
    unsafe {
        let timeout = parse_acquire(args, kwargs)?;
        match try_once() {
            Ok(true) => return Some(true),
            Ok(false) => {}
            Err(error) => {
                raise_lock_error(error);
                return None;
            }
        }
        wait_for(timeout, wait)
    }
}

/// `acquire(blocking=True, timeout=-1)`, `acquire_lock`, `__enter__`.
unsafe extern "C-unwind" fn acquire(
    object: *mut PyObject,
    args: *mut PyObject,
    kwargs: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls methods with the GIL, a live instance and a tuple/dict/null.
    unsafe {
        let state: &LockState = lock_of(object);
        let lock = &state.lock;
        let acquired = acquire_with_args(
            args,
            kwargs,
            || Ok(lock.try_acquire()),
            |timeout, since| lock.acquire_resuming(timeout, since),
        );
        match acquired {
            Some(acquired) => {
                if acquired {
                    state.acquired();
                }
                py_bool(acquired)
            }
            None => null_mut(),
        }
    }
}

/// `release()`, `release_lock()`.
unsafe extern "C-unwind" fn release(object: *mut PyObject, _: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `acquire`.
    unsafe {
        match lock_of(object).release() {
            Ok(()) => none(),
            Err(error) => raise_lock_error(error),
        }
    }
}

/// `__exit__(*args)`: releases.
unsafe extern "C-unwind" fn exit(object: *mut PyObject, _args: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `acquire`.
    unsafe { release(object, null_mut()) }
}

/// `locked()`, `locked_lock()`.
unsafe extern "C-unwind" fn locked(object: *mut PyObject, _: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `acquire`.
    py_bool(unsafe { lock_of(object) }.locked())
}

/// `_at_fork_reinit()`: unlocked, waking nobody (FORK-1).
unsafe extern "C-unwind" fn at_fork_reinit(
    object: *mut PyObject,
    _: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls this in a forked child, where no other thread exists, or (its tests)
    // on a lock no other thread uses; a Python-level waiter elsewhere would be a misuse CPython's
    // own lock does not survive either.
    unsafe {
        let state = lock_of(object);
        state.lock.reinit_after_fork();
        // Relaxed: no other thread uses the lock (see above).
        state.held.store(false, Relaxed);
    }
    none()
}

/// `repr()`: `<unlocked _thread.lock object at 0x...>`.
unsafe extern "C-unwind" fn repr(object: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `acquire`.
    unsafe {
        let state = if lock_of(object).locked() {
            "locked"
        } else {
            "unlocked"
        };
        let text = format!("<{state} {} object at {object:p}>", type_name(object));
        object::new_str(&text)
    }
}

/// The `tp_name` of an object's type (`_thread.lock`; a subclass's own name).
///
/// # Safety
///
/// `object` is live.
pub(crate) unsafe fn type_name(object: *mut PyObject) -> String {
    // SAFETY: every type has a NUL-terminated `tp_name`.
    unsafe { CStr::from_ptr((*ffi::Py_TYPE(object)).tp_name) }
        .to_string_lossy()
        .into_owned()
}

/// `lock()` (3.13+): a new unlocked lock; no arguments.
unsafe extern "C-unwind" fn new(
    type_: *mut PyTypeObject,
    args: *mut PyObject,
    kwargs: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls `tp_new` with the GIL, a tuple and a dict or null.
    unsafe {
        if !kwargs.is_null() && ffi::PyDict_Size(kwargs) != 0 {
            return raise(ffi::PyExc_TypeError, c"lock() takes no keyword arguments");
        }
        if capi::PyArg_UnpackTuple(args, c"lock".as_ptr(), 0, 0) == 0 {
            return null_mut();
        }
        new_lock_of(type_, true)
    }
}

unsafe extern "C-unwind" fn dealloc(object: *mut PyObject) {
    // SAFETY: CPython deallocates with the GIL, once; the fields were initialised at creation.
    unsafe {
        object::untrack(object);
        let this = object.cast::<LockObject>();
        if !(*this).weakrefs.is_null() {
            capi::PyObject_ClearWeakRefs(object);
        }
        std::ptr::drop_in_place(addr_of_mut!((*this).state));
        object::free(object);
    }
}

/// Makes `_thread.lock` (instantiable from 3.13, PY-1) and returns it (null with an exception).
///
/// # Safety
///
/// The caller holds the GIL; `twin` is null or the built-in `_thread`'s type of the same name
/// (its docstrings are copied).
pub(crate) unsafe fn make_type(twin: *mut PyObject) -> *mut PyTypeObject {
    let make = || {
        let acquire_doc = c"acquire($self, /, blocking=True, timeout=-1)\n--\n\nLock the lock.";
        let methods = vec![
            with_keywords(c"acquire", acquire, acquire_doc),
            with_keywords(
                c"acquire_lock",
                acquire,
                c"An obsolete synonym of acquire().",
            ),
            with_keywords(c"__enter__", acquire, c"Lock the lock."),
            plain(c"release", release, Takes::Nothing, c"Release the lock."),
            plain(
                c"release_lock",
                release,
                Takes::Nothing,
                c"An obsolete synonym of release().",
            ),
            plain(c"__exit__", exit, Takes::Tuple, c"Release the lock."),
            plain(
                c"locked",
                locked,
                Takes::Nothing,
                c"Tell whether the lock is locked.",
            ),
            plain(
                c"locked_lock",
                locked,
                Takes::Nothing,
                c"An obsolete synonym of locked().",
            ),
            plain(c"_at_fork_reinit", at_fork_reinit, Takes::Nothing, c""),
        ];
        let mut slots = vec![
            slot(ffi::Py_tp_dealloc, dealloc as *mut _),
            slot(ffi::Py_tp_repr, repr as *mut _),
            slot(
                ffi::Py_tp_doc,
                c"A lock object is a synchronization primitive.".as_ptr() as *mut _,
            ),
        ];
        let mut flags = ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_IMMUTABLETYPE;
        if profile().has_thread_handles {
            slots.push(slot(ffi::Py_tp_new, new as *mut _));
        } else {
            flags |= ffi::Py_TPFLAGS_DISALLOW_INSTANTIATION;
        }
        let members = vec![object::weaklist_member(offset_of!(LockObject, weakrefs))];
        // SAFETY: forwarded from the contract; the slots match their functions.
        unsafe {
            object::make_type(
                c"_thread.lock",
                size_of::<LockObject>(),
                flags,
                twin,
                slots,
                methods,
                members,
            )
        }
    };
    // SAFETY: forwarded from the contract.
    unsafe { object::type_once(&LOCK_TYPE, make) }
}
