//! Locks across `fork()` (FORK-2, FORK-3). Its own test binary: forking is process-wide.
#![cfg(not(loom))] // the API tests run on the real build; loom_*.rs are the models

use std::thread;
use std::time::{Duration, Instant};
use thread_lock::{Lock, RLock};

static L: Lock = Lock::new();
static M: Lock = Lock::new();
static R: RLock = RLock::new();

/// What the child checks; returns the number of the first failed check, 0 if all passed.
fn child_checks() -> i32 {
    // FORK-2: held at the fork, held in the child; nothing reinitialises on its own.
    if !L.locked() || !M.locked() || !R.locked() {
        return 1;
    }
    if !R.is_owned() || R.recursion_count() != 1 {
        return 2;
    }
    // FORK-3: the parent's waiter on L is gone from the queues...
    if L.__waiters() != 0 {
        return 3;
    }
    // ...so the release (which would hand L to a waiter parked over 1 ms) frees it.
    if L.release().is_err() || L.locked() {
        return 4;
    }
    if !L.try_acquire() {
        return 5;
    }
    // Parking works in the child: the bucket locks are usable.
    if L.acquire_for(Duration::from_millis(1)) {
        return 6;
    }
    if L.release().is_err() || M.release().is_err() || R.release().is_err() {
        return 7;
    }
    0
}

/// proves: FORK-2, FORK-3
#[test]
fn forked_child_keeps_held_locks_and_loses_parent_waiters() {
    L.acquire_blocking();
    M.acquire_blocking();
    R.acquire(true, -1.0).unwrap();
    let waiter = thread::spawn(|| {
        L.acquire_blocking();
        L.release().unwrap();
    });
    let start = Instant::now();
    while L.__waiters() < 1 {
        assert!(start.elapsed() < Duration::from_secs(10));
        thread::sleep(Duration::from_micros(200));
    }
    // Lower bound only: the waiter has now waited more than 1 ms, so a release hands over.
    thread::sleep(Duration::from_millis(2));

    // SAFETY: the child only runs `child_checks` (atomics, futexes, its own thread-locals) and
    // then `_exit`s, never returning into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child_checks();
        // SAFETY: ends the child at once, without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is a valid out-pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child crashed: {status}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "child check failed");

    // The parent is untouched: its waiter still gets L.
    assert!(L.locked());
    L.release().unwrap();
    waiter.join().unwrap();
    M.release().unwrap();
    R.release().unwrap();
}
