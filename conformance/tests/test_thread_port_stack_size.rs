//! Tests ported from CPython's `Lib/test/test_thread.py` (`ThreadRunningTests.test_stack_size`,
//! `test_nt_and_posix_stack_size`) and rewritten in Rust. `stack_size` is process-wide: this
//! binary holds only these tests, and they take a file-local lock so that they run one at a
//! time.
//!
//! Source:
//!   - CPython 3.11.7 and 3.13.0, `Lib/test/test_thread.py`
//!   - <https://github.com/python/cpython/blob/v3.13.0/Lib/test/test_thread.py>
//!
//! Copyright & License:
//!   - Copyright (c) 2001-2024 Python Software Foundation
//!   - <https://docs.python.org/3/license.html> (PSF License Version 2)
//!
//! What changed: CPython's no-argument `stack_size()` both reads and resets; pythread's
//! `stack_size(None)` only reads (X-STACK-1), so the reads here are `stack_size(None)` and the
//! resets `stack_size(Some(0))`. Added: each started thread checks the stack it really got
//! (`pthread_getattr_np`), which the original cannot see from Python.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use thread_core::{stack_size, start_new_thread};
use thread_lock::Lock;

const NUMTASKS: usize = 10;

/// One test at a time: the setting is process-wide.
static SETTING: Mutex<()> = Mutex::new(());

/// The calling thread's stack size as pthread reports it.
fn own_stack_size() -> usize {
    // SAFETY: a zeroed pthread_attr_t is valid storage for pthread_getattr_np to initialise;
    // it is destroyed once, after the size is read.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        assert_eq!(libc::pthread_getattr_np(libc::pthread_self(), &mut attr), 0);
        let mut size = 0;
        assert_eq!(libc::pthread_attr_getstacksize(&attr, &mut size), 0);
        libc::pthread_attr_destroy(&mut attr);
        size
    }
}

/// pthread's default stack size: the RLIMIT_STACK soft limit (glibc), when it is finite.
fn platform_default() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for getrlimit to fill.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur as usize)
}

/// Starts NUMTASKS tasks (`ThreadRunningTests.newtask`) and waits until the last releases
/// `done`; returns the stack sizes the tasks saw.
fn run_tasks() -> Vec<usize> {
    let done = Arc::new(Lock::new());
    assert!(done.try_acquire());
    let running = Arc::new(AtomicUsize::new(NUMTASKS));
    let sizes = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..NUMTASKS {
        let (done, running, sizes) = (Arc::clone(&done), Arc::clone(&running), Arc::clone(&sizes));
        start_new_thread(move || {
            sizes.lock().unwrap().push(own_stack_size());
            // AcqRel is not needed for the count itself; the release of `done` publishes.
            if running.fetch_sub(1, Relaxed) == 1 {
                done.release().unwrap();
            }
        })
        .unwrap();
    }
    done.acquire_blocking();
    Arc::try_unwrap(sizes)
        .map(|m| m.into_inner().unwrap())
        .unwrap_or_else(|shared| shared.lock().unwrap().clone())
}

// ThreadRunningTests.test_stack_size
/// proves: STACK-1, X-STACK-1
#[test]
fn test_stack_size() {
    let _one = SETTING.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(stack_size(None).unwrap(), 0, "initial stack size is not 0");
    stack_size(Some(0)).unwrap();
    assert_eq!(
        stack_size(None).unwrap(),
        0,
        "stack_size not reset to default"
    );
}

// ThreadRunningTests.test_nt_and_posix_stack_size
/// proves: STACK-1, STACK-4, STACK-5, X-STACK-1
#[test]
fn test_nt_and_posix_stack_size() {
    let _one = SETTING.lock().unwrap_or_else(|e| e.into_inner());
    let refused = stack_size(Some(4096)).unwrap_err();
    assert_eq!(refused.python_type(), "ValueError");
    assert_eq!(refused.to_string(), "size not valid: 4096 bytes");
    assert_eq!(
        stack_size(None).unwrap(),
        0,
        "a refused size changed the setting"
    );

    for tss in [262_144, 0x10_0000, 0] {
        stack_size(Some(tss)).unwrap();
        assert_eq!(stack_size(None).unwrap(), tss, "stack_size({tss}) failed");
    }

    for tss in [262_144usize, 0x10_0000] {
        stack_size(Some(tss)).unwrap();
        for size in run_tasks() {
            // Never less than asked. It may be more: pthread rounds up to whole pages, and
            // glibc reuses a cached stack of an ended thread that is up to 4 times the size
            // asked for (a 2 MiB stack of an ended Rust thread serves a 1 MiB request).
            assert!(size >= tss, "asked {tss}, got {size}");
        }
    }

    // Added: 0 is pthread's default, not Rust's 2 MiB.
    stack_size(Some(0)).unwrap();
    if let Some(default) = platform_default() {
        for size in run_tasks() {
            assert!(size >= default, "default {default}, got {size}");
        }
    }
}
