//! SPAWN-9: the foreign-body path. A body ended by `pthread_exit` (a forced unwind, as CPython
//! before 3.14 ends daemon threads) ends its thread without aborting the process, and its
//! bookkeeping is released by the thread-local destructor: the count falls and the handle
//! reports done, and a non-daemon one leaves the set `shutdown` waits for. Own process: it reads
//! `count()` and calls `shutdown()`.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use thread_core::{Builder, count, get_ident};

unsafe extern "C-unwind" {
    /// glibc's `pthread_exit`, declared as unwinding (libc's declaration is not): it ends the
    /// thread with a forced unwind.
    fn pthread_exit(retval: *mut c_void) -> !;
}

static IDENT_IN_BODY: AtomicU64 = AtomicU64::new(0);
static COUNT_IN_BODY: AtomicUsize = AtomicUsize::new(0);

extern "C-unwind" fn exits_early(arg: *mut c_void) {
    IDENT_IN_BODY.store(get_ident().as_u64(), Ordering::SeqCst);
    COUNT_IN_BODY.store(count(), Ordering::SeqCst);
    // SAFETY: ends this thread; the trampoline below holds nothing that needs dropping.
    unsafe { pthread_exit(arg) }
}

extern "C-unwind" fn returns(arg: *mut c_void) {
    // SAFETY: the test passes a pointer to a live AtomicUsize.
    unsafe { &*arg.cast::<AtomicUsize>() }.fetch_add(1, Ordering::SeqCst);
}

/// proves: SPAWN-9, CORE-7, HANDLE-3
#[test]
fn a_forced_unwind_ends_the_thread_and_releases_its_bookkeeping() {
    assert_eq!(count(), 0);
    for _ in 0..20 {
        // SAFETY: the body ignores its argument.
        let (ident, handle) = unsafe {
            Builder::new()
                .describe("daemon")
                .spawn_foreign(exits_early, std::ptr::null_mut(), true)
        }
        .unwrap();
        let handle = handle.unwrap();
        assert_eq!(handle.ident(), ident);
        handle.join(None).unwrap();
        assert!(handle.is_done());
        assert_eq!(IDENT_IN_BODY.load(Ordering::SeqCst), ident.as_u64());
        assert_eq!(COUNT_IN_BODY.load(Ordering::SeqCst), 1);
        assert_eq!(count(), 0, "the thread-local destructor lowered the count");
    }
    // Detached bodies that exit the same way also leave the count.
    for _ in 0..20 {
        // SAFETY: the body ignores its argument.
        let (_, none) =
            unsafe { Builder::new().spawn_foreign(exits_early, std::ptr::null_mut(), false) }
                .unwrap();
        assert!(none.is_none());
    }
    while count() != 0 {
        std::thread::yield_now();
    }
    // A body that returns normally.
    let runs = AtomicUsize::new(0);
    // SAFETY: `runs` outlives the thread: we join it below.
    let (_, h) = unsafe {
        Builder::new().name("foreign").spawn_foreign(
            returns,
            std::ptr::from_ref(&runs).cast_mut().cast(),
            true,
        )
    }
    .unwrap();
    h.unwrap().join(None).unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(count(), 0);

    // A non-daemon body ended by `pthread_exit` leaves the set `shutdown` waits for through the
    // same destructor (HANDLE-3): shutdown returns, and the handle is done when it does.
    for _ in 0..5 {
        // SAFETY: the body ignores its argument.
        let (_, handle) = unsafe {
            Builder::new()
                .daemon(false)
                .spawn_foreign(exits_early, std::ptr::null_mut(), true)
        }
        .unwrap();
        thread_core::shutdown().unwrap();
        assert!(handle.unwrap().is_done());
    }
}
