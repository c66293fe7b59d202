//! Creating threads with `pthread_create`, and the exit bookkeeping that runs even when a thread
//! is ended by a forced unwind (SPAWN-9).
//!
//! Detached spawns create detached pthreads; joinable ones joinable pthreads, which the record
//! joins or detaches (see `record`). Handles wait on the record's done flag, not in
//! `pthread_join`, so that a join can time out. At its start the thread hands its record to
//! [`current`] and raises the count; at its end it takes the record back and finishes it (count
//! down, done flag, wake joiners, free). If the thread is ended by `pthread_exit` instead,
//! [`current`] finishes the record at the thread's exit, so nothing leaks and nothing stays
//! counted.
//!
//! The foreign trampoline holds no value with a destructor and no `catch_unwind` while the body
//! runs, so a forced unwind passes through it: it is `extern "C-unwind"` and keeps only `Copy`
//! values live across the call.

use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::sync::Arc;

use crate::current;
use crate::name;
use crate::record::{self, Record};
use crate::{Ident, ThreadError};

/// The OS name a new thread gives itself, already cut to what Linux keeps.
pub(crate) type OsName = [u8; 16];

/// Whether `record` is the calling thread's own (HANDLE-4: identity, not ident).
pub(crate) fn is_current_record(record: &Record) -> bool {
    std::ptr::eq(current::get(), record)
}

/// Calls `f` with the calling thread's own record, if pythread started it and it has not ended.
pub(crate) fn with_current_record<T>(f: impl FnOnce(Option<&Record>) -> T) -> T {
    // SAFETY: a non-null pointer from `current::get` is the record that the calling thread's
    // key (or fallback) owns; it lets it go only in `thread_finished` or at the thread's exit,
    // on this thread, neither of which can run while `f` does.
    f(unsafe { current::get().as_ref() })
}

/// The fork handler's part here, on the forking thread in the child: its own record (if any)
/// goes on existing, and the non-daemon set holds only it.
pub(crate) fn after_fork_in_child() {
    with_current_record(record::after_fork_in_child);
}

/// In the new thread, before its function runs: name it, keep its record, raise the count.
pub(crate) fn thread_started(record: Arc<Record>, os_name: Option<OsName>) {
    if let Some(raw) = os_name {
        // A name the OS refuses leaves the thread unnamed; the spawn itself has succeeded.
        // SAFETY: `pthread_self` has no preconditions.
        let _ = name::set_raw(unsafe { libc::pthread_self() }, &raw);
    }
    current::hold(record);
    record::global().rise();
}

/// In the thread, after its function and any report: finish its record. A thread ended by a
/// forced unwind never gets here; [`current`] finishes its record at its exit.
pub(crate) fn thread_finished() {
    if let Some(record) = current::take() {
        record.finish(record::global());
    }
}

/// `pthread_create` with pythread's attributes: joinable (then `record` learns the thread) or
/// detached, and `stack_size` bytes of stack unless it is 0 (pthread's default attribute). On
/// failure `start` is not called and `arg` is untouched: the caller still owns it.
pub(crate) fn create(
    start: extern "C" fn(*mut c_void) -> *mut c_void,
    arg: *mut c_void,
    stack_size: usize,
    joinable: Option<&Record>,
) -> Result<Ident, ThreadError> {
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: `pthread_attr_init` initialises the attribute it is given.
    if unsafe { libc::pthread_attr_init(attr.as_mut_ptr()) } != 0 {
        return Err(ThreadError::CantStart);
    }
    let result = create_with(attr.as_mut_ptr(), start, arg, stack_size, joinable);
    // SAFETY: initialised above, destroyed once; `pthread_create` does not keep it.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    result
}

fn create_with(
    attr: *mut libc::pthread_attr_t,
    start: extern "C" fn(*mut c_void) -> *mut c_void,
    arg: *mut c_void,
    stack_size: usize,
    joinable: Option<&Record>,
) -> Result<Ident, ThreadError> {
    let detach = match joinable {
        Some(_) => libc::PTHREAD_CREATE_JOINABLE,
        None => libc::PTHREAD_CREATE_DETACHED,
    };
    // SAFETY: `attr` is initialised (by `create`).
    if unsafe { libc::pthread_attr_setdetachstate(attr, detach) } != 0 {
        return Err(ThreadError::CantStart);
    }
    // SAFETY: as above. A size pthread refuses is the OS refusing the thread (SPAWN-4).
    if stack_size != 0 && unsafe { libc::pthread_attr_setstacksize(attr, stack_size) } != 0 {
        return Err(ThreadError::CantStart);
    }
    let mut thread = MaybeUninit::<libc::pthread_t>::uninit();
    // SAFETY: `thread` is writable, `attr` initialised; `start` is a valid C-ABI function that
    // takes ownership of `arg` only if the thread is created.
    let rc = unsafe { libc::pthread_create(thread.as_mut_ptr(), attr, start, arg) };
    if rc != 0 {
        return Err(ThreadError::CantStart);
    }
    // SAFETY: `pthread_create` succeeded, so it wrote the id.
    let thread = unsafe { thread.assume_init() };
    if let Some(record) = joinable {
        record.set_joinable(thread);
    }
    // `pthread_t` is `unsigned long`: u64 on the 64-bit targets, narrower elsewhere.
    #[allow(clippy::unnecessary_cast)]
    let raw = thread as u64;
    // The thread's own `get_ident()` is this same `pthread_self()` value, never 0.
    Ident::from_u64(raw).ok_or(ThreadError::CantStart)
}
