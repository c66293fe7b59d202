//! `_thread.RLock`: thread-lock's [`RLock`] with CPython's Python surface, including the private
//! methods `threading.Condition` uses (`_is_owned`, `_release_save`, `_acquire_restore`).
//! Subclassable, and its constructor ignores its arguments, as CPython's.
//!
//! # Unwinding
//!
//! As for [`crate::lock`]: raw `extern "C-unwind"` methods, the lock borrowed from the object.

use std::ffi::c_ulong;
use std::mem::offset_of;
use std::ptr::{addr_of_mut, null_mut};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use pyo3::ffi::{self, PyObject, PyTypeObject};
use thread_core::Ident;
use thread_lock::{RLock, RLockState, Timeout};

use crate::capi;
use crate::errors::raise_lock_error;
use crate::interpreter::profile;
use crate::lock::{acquire_with_args, type_name};
use crate::object::{self, Takes, alloc, none, plain, py_bool, slot, with_keywords};
use crate::wait::{Waited, wait_released};

/// The instance layout of `_thread.RLock`.
#[repr(C)]
struct RLockObject {
    base: PyObject,
    weakrefs: *mut PyObject,
    rlock: RLock,
    /// Set while the lock is held by `_acquire_restore((n, 0))`: CPython's owner 0, which
    /// thread-lock stores as an ident no thread has, and which `repr` shows as 0 again.
    ownerless: AtomicBool,
}

/// The type object, made at the first import.
static RLOCK_TYPE: AtomicPtr<PyTypeObject> = AtomicPtr::new(null_mut());

/// The `ownerless` flag of an instance (or a subclass's). Relaxed access is enough: it is only
/// read and written with the GIL held, which orders them.
///
/// # Safety
///
/// `object` is a live instance; the reference does not outlive it.
unsafe fn ownerless_of<'a>(object: *mut PyObject) -> &'a AtomicBool {
    // SAFETY: forwarded from the contract.
    unsafe { &(*object.cast::<RLockObject>()).ownerless }
}

/// The RLock inside an instance (or a subclass's).
///
/// # Safety
///
/// `object` is a live instance; the reference does not outlive it.
unsafe fn rlock_of<'a>(object: *mut PyObject) -> &'a RLock {
    // SAFETY: forwarded from the contract.
    unsafe { &(*object.cast::<RLockObject>()).rlock }
}

/// `RLock(*args, **kwargs)`: a new, free RLock; the arguments are ignored.
unsafe extern "C-unwind" fn new(
    type_: *mut PyTypeObject,
    _args: *mut PyObject,
    _kwargs: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls `tp_new` with the GIL; the memory is zeroed and ours to initialise.
    unsafe {
        let object = alloc(type_);
        if !object.is_null() {
            addr_of_mut!((*object.cast::<RLockObject>()).rlock).write(RLock::new());
            addr_of_mut!((*object.cast::<RLockObject>()).ownerless).write(AtomicBool::new(false));
        }
        object
    }
}

/// `acquire(blocking=True, timeout=-1)`, `__enter__`.
unsafe extern "C-unwind" fn acquire(
    object: *mut PyObject,
    args: *mut PyObject,
    kwargs: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: CPython calls methods with the GIL, a live instance and a tuple/dict/null.
    unsafe {
        let rlock = rlock_of(object);
        // The first try, with the GIL held, also takes the owner's re-entry.
        let acquired = acquire_with_args(
            args,
            kwargs,
            || rlock.acquire_with(Timeout::NonBlocking),
            |timeout, since| rlock.acquire_resuming(timeout, since),
        );
        match acquired {
            Some(acquired) => py_bool(acquired),
            None => null_mut(),
        }
    }
}

/// `release()`: one level less; free at 0. Only the owner may.
unsafe extern "C-unwind" fn release(object: *mut PyObject, _: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `acquire`.
    match unsafe { rlock_of(object) }.release() {
        Ok(()) => none(),
        // SAFETY: we hold the GIL.
        Err(error) => unsafe { raise_lock_error(error) },
    }
}

/// `__exit__(*args)`: releases.
unsafe extern "C-unwind" fn exit(object: *mut PyObject, _args: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `acquire`.
    unsafe { release(object, null_mut()) }
}

/// `locked()` (3.14+).
unsafe extern "C-unwind" fn locked(object: *mut PyObject, _: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `acquire`.
    py_bool(unsafe { rlock_of(object) }.locked())
}

/// `_is_owned()`.
unsafe extern "C-unwind" fn is_owned(object: *mut PyObject, _: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `acquire`.
    py_bool(unsafe { rlock_of(object) }.is_owned())
}

/// `_recursion_count()`.
unsafe extern "C-unwind" fn recursion_count(
    object: *mut PyObject,
    _: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: as in `acquire`.
    unsafe { ffi::PyLong_FromSize_t(rlock_of(object).recursion_count()) }
}

/// `_release_save()`: frees the lock, returns `(count, owner)`.
unsafe extern "C-unwind" fn release_save(object: *mut PyObject, _: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `acquire`.
    unsafe {
        match rlock_of(object).release_save() {
            Ok(state) => {
                let (count, owner) = state.into_parts();
                let count = ffi::PyLong_FromSize_t(count);
                let owner = ffi::PyLong_FromUnsignedLongLong(owner.as_u64());
                if count.is_null() || owner.is_null() {
                    ffi::Py_XDECREF(count);
                    ffi::Py_XDECREF(owner);
                    return null_mut();
                }
                ffi::PyTuple_Pack(2, count, owner).also_decref(&[count, owner])
            }
            Err(error) => raise_lock_error(error),
        }
    }
}

/// Drops the given temporaries after building a result from them.
trait AlsoDecref {
    fn also_decref(self, temporaries: &[*mut PyObject]) -> Self;
}

impl AlsoDecref for *mut PyObject {
    fn also_decref(self, temporaries: &[*mut PyObject]) -> Self {
        for &temporary in temporaries {
            // SAFETY: each is a new reference of ours (an int: its decref runs no Python code).
            unsafe { ffi::Py_DecRef(temporary) };
        }
        self
    }
}

/// `_acquire_restore((count, owner))`: waits for the lock (not interruptibly, as CPython), then
/// restores both.
unsafe extern "C-unwind" fn acquire_restore(
    object: *mut PyObject,
    args: *mut PyObject,
) -> *mut PyObject {
    let mut count: c_ulong = 0;
    let mut owner: c_ulong = 0;
    // SAFETY: "(kk)" writes two unsigned longs; we hold the GIL.
    if unsafe {
        capi::PyArg_ParseTuple(
            args,
            c"(kk):_acquire_restore".as_ptr(),
            &mut count as *mut c_ulong,
            &mut owner as *mut c_ulong,
        )
    } == 0
    {
        return null_mut();
    }
    // CPython restores owner 0 too (a hold no thread can release); thread-lock's owners are real
    // idents, so it gets one no thread can have, and `ownerless` remembers the 0 for `repr`.
    let ownerless = owner == 0;
    let Some(owner) = Ident::from_u64(owner as u64).or_else(|| Ident::from_u64(u64::MAX)) else {
        return none();
    };
    let state = RLockState::from_parts(count as usize, owner);
    // SAFETY: as in `acquire`.
    let rlock = unsafe { rlock_of(object) };
    let once = |_: Option<std::time::Duration>| {
        rlock.acquire_restore(state);
        Waited::Done(())
    };
    // SAFETY: we hold the GIL; the wait touches no Python object.
    match unsafe { wait_released(None, (), once) } {
        Some(()) => {
            // SAFETY: as in `acquire`; the GIL is held again.
            unsafe { ownerless_of(object) }.store(ownerless, Ordering::Relaxed);
            none()
        }
        None => null_mut(),
    }
}

/// `_at_fork_reinit()`: free, owner 0, count 0, waking nobody (FORK-1).
unsafe extern "C-unwind" fn at_fork_reinit(
    object: *mut PyObject,
    _: *mut PyObject,
) -> *mut PyObject {
    // SAFETY: as for `lock._at_fork_reinit`: a forked child, or a lock nobody else uses.
    unsafe {
        rlock_of(object).reinit_after_fork();
        ownerless_of(object).store(false, Ordering::Relaxed);
    }
    none()
}

/// `repr()`: `<unlocked _thread.RLock object owner=0 count=0 at 0x...>`. As CPython's, "locked"
/// means a count above 0 (a `_acquire_restore((0, owner))` holds the lock at count 0), and the
/// owner is a signed long on 3.11/3.12.
unsafe extern "C-unwind" fn repr(object: *mut PyObject) -> *mut PyObject {
    // SAFETY: as in `acquire`.
    unsafe {
        let rlock = rlock_of(object);
        let (owner, count) = rlock.owner_and_count();
        let owner = owner.map_or(0, Ident::as_u64);
        let state = if count > 0 { "locked" } else { "unlocked" };
        let owner = if ownerless_of(object).load(Ordering::Relaxed) && rlock.locked() {
            0
        } else {
            owner
        };
        let owner = if profile().rlock_owner_signed {
            (owner as i64).to_string()
        } else {
            owner.to_string()
        };
        let text = format!(
            "<{state} {} object owner={owner} count={count} at {object:p}>",
            type_name(object)
        );
        object::new_str(&text)
    }
}

unsafe extern "C-unwind" fn dealloc(object: *mut PyObject) {
    // SAFETY: CPython deallocates with the GIL, once; the fields were initialised by `new`.
    unsafe {
        object::untrack(object);
        let this = object.cast::<RLockObject>();
        if !(*this).weakrefs.is_null() {
            capi::PyObject_ClearWeakRefs(object);
        }
        std::ptr::drop_in_place(addr_of_mut!((*this).rlock));
        object::free(object);
    }
}

/// Makes `_thread.RLock` and returns it (null with an exception set).
///
/// # Safety
///
/// The caller holds the GIL; `twin` is null or the built-in `_thread`'s type of the same name
/// (its docstrings are copied).
pub(crate) unsafe fn make_type(twin: *mut PyObject) -> *mut PyTypeObject {
    let make = || {
        let mut methods = vec![
            with_keywords(
                c"acquire",
                acquire,
                c"acquire($self, /, blocking=True, timeout=-1)\n--\n\nLock the lock.",
            ),
            with_keywords(c"__enter__", acquire, c"Lock the lock."),
            plain(c"release", release, Takes::Nothing, c"Release the lock."),
            plain(c"__exit__", exit, Takes::Tuple, c"Release the lock."),
            plain(
                c"_is_owned",
                is_owned,
                Takes::Nothing,
                c"For internal use by `threading.Condition`.",
            ),
            plain(
                c"_recursion_count",
                recursion_count,
                Takes::Nothing,
                c"For internal use by reentrancy checks.",
            ),
            plain(
                c"_release_save",
                release_save,
                Takes::Nothing,
                c"For internal use by `threading.Condition`.",
            ),
            plain(
                c"_acquire_restore",
                acquire_restore,
                Takes::Tuple,
                c"For internal use by `threading.Condition`.",
            ),
            plain(c"_at_fork_reinit", at_fork_reinit, Takes::Nothing, c""),
        ];
        if profile().has_names {
            methods.push(plain(
                c"locked",
                locked,
                Takes::Nothing,
                c"Tell whether the lock is locked.",
            ));
        }
        let slots = vec![
            slot(ffi::Py_tp_new, new as *mut _),
            slot(ffi::Py_tp_dealloc, dealloc as *mut _),
            slot(ffi::Py_tp_repr, repr as *mut _),
        ];
        let flags =
            ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_BASETYPE | ffi::Py_TPFLAGS_IMMUTABLETYPE;
        let members = vec![object::weaklist_member(offset_of!(RLockObject, weakrefs))];
        // SAFETY: forwarded from the contract; the slots match their functions.
        unsafe {
            object::make_type(
                c"_thread.RLock",
                size_of::<RLockObject>(),
                flags,
                twin,
                slots,
                methods,
                members,
            )
        }
    };
    // SAFETY: forwarded from the contract.
    unsafe { object::type_once(&RLOCK_TYPE, make) }
}
