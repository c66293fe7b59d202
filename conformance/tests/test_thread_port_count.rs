//! Tests ported from CPython's `Lib/test/test_thread.py` (`ThreadRunningTests.test__count`)
//! and rewritten in Rust. `count()` is process-wide: this binary holds only these tests, which
//! take a file-local lock so that they run one at a time.
//!
//! Source:
//!   - CPython 3.11.7 and 3.13.0, `Lib/test/test_thread.py`
//!   - <https://github.com/python/cpython/blob/v3.13.0/Lib/test/test_thread.py>
//!
//! Copyright & License:
//!   - Copyright (c) 2001-2024 Python Software Foundation
//!   - <https://docs.python.org/3/license.html> (PSF License Version 2)
//!
//! What changed: the original waits for the task's function object to be destroyed (a weak
//! reference's callback) to know the thread has ended; Rust has no such object, so the port
//! polls `count()` until it is back (the wait's length does not decide the outcome: the
//! ceiling is 10 s). Added: the joinable form, where `join` returning proves the count has
//! already fallen (CORE-7).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use thread_core::{count, start_joinable_thread, start_new_thread};
use thread_lock::Lock;

static COUNT: Mutex<()> = Mutex::new(());

const POLL_SLEEP: Duration = Duration::from_millis(10);
const LONG_TIMEOUT: Duration = Duration::from_secs(10);

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < LONG_TIMEOUT,
            "timed out waiting for {what}"
        );
        std::thread::sleep(POLL_SLEEP);
    }
}

// ThreadRunningTests.test__count
/// proves: CORE-7
#[test]
fn test_count() {
    let _one = COUNT.lock().unwrap_or_else(|e| e.into_inner());
    let orig = count();
    let mutex = Arc::new(Lock::new());
    mutex.acquire_blocking();
    let started = Arc::new(AtomicBool::new(false));
    let (task_mutex, task_started) = (Arc::clone(&mutex), Arc::clone(&started));
    start_new_thread(move || {
        // Release pairs with the main thread's Acquire load: nothing else is published.
        task_started.store(true, Ordering::Release);
        task_mutex.acquire_blocking();
        task_mutex.release().unwrap();
    })
    .unwrap();
    wait_until("the task to start", || started.load(Ordering::Acquire));
    assert_eq!(count(), orig + 1);
    // Allow the task to finish.
    mutex.release().unwrap();
    wait_until("the count to fall back", || count() == orig);
    assert_eq!(count(), orig);
}

// Added (CORE-7's order): the count has fallen before `join` returns.
/// proves: CORE-7, SPAWN-7
#[test]
fn count_falls_before_join_returns() {
    let _one = COUNT.lock().unwrap_or_else(|e| e.into_inner());
    let orig = count();
    let gate = Arc::new(Lock::new());
    gate.acquire_blocking();
    let inner = Arc::clone(&gate);
    let seen_inside = Arc::new(Mutex::new(0));
    let seen = Arc::clone(&seen_inside);
    let handle = start_joinable_thread(move || {
        // Inside the function the count already includes this thread.
        *seen.lock().unwrap() = count();
        inner.acquire_blocking();
    })
    .unwrap();
    gate.release().unwrap();
    handle.join(None).unwrap();
    assert!(handle.is_done());
    assert_eq!(*seen_inside.lock().unwrap(), orig + 1);
    assert_eq!(count(), orig);
}
