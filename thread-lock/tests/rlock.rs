//! `RLock` against SPEC.md's RLOCK-* clauses (public API only).
#![cfg(not(loom))] // the API tests run on the real build; loom_*.rs are the models

use std::thread;
use std::time::{Duration, Instant};
use thread_core::get_ident;
use thread_lock::{LockError, RLock, RLockState};

/// Waits until `n` threads are parked on `rlock`.
fn wait_parked(rlock: &RLock, n: usize) {
    let start = Instant::now();
    while rlock.__waiters() < n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no thread parked"
        );
        thread::sleep(Duration::from_micros(200));
    }
}

/// proves: RLOCK-2, R-2
#[test]
fn argument_checks_come_first_even_when_owned() {
    let rlock = RLock::new();
    rlock.acquire(true, -1.0).unwrap();
    for (blocking, timeout, ty, msg) in [
        (
            false,
            0.0,
            "ValueError",
            "can't specify a timeout for a non-blocking call",
        ),
        (
            true,
            f64::NAN,
            "ValueError",
            "Invalid value NaN (not a number)",
        ),
        (
            true,
            -5.0,
            "ValueError",
            "timeout value must be a non-negative number",
        ),
        (
            true,
            1e300,
            "OverflowError",
            "timestamp out of range for platform time_t",
        ),
    ] {
        let err = rlock.acquire(blocking, timeout).unwrap_err();
        assert_eq!((err.python_type(), err.to_string().as_str()), (ty, msg));
        assert_eq!(rlock.recursion_count(), 1, "unchanged");
    }
    rlock.release().unwrap();
    assert!(!rlock.locked());
    // Also when free.
    assert!(rlock.acquire(false, 1.0).is_err());
    assert!(!rlock.locked());
}

/// proves: RLOCK-2
#[test]
fn owner_reacquires_at_once_even_non_blocking() {
    let rlock = RLock::new();
    assert_eq!(rlock.acquire(true, -1.0), Ok(true));
    assert_eq!(rlock.acquire(false, -1.0), Ok(true));
    assert_eq!(rlock.acquire(true, 0.0), Ok(true));
    assert_eq!(rlock.acquire(true, 0.5), Ok(true));
    assert_eq!(rlock.recursion_count(), 4);
    for _ in 0..4 {
        rlock.release().unwrap();
    }
    assert!(!rlock.locked());
}

/// proves: RLOCK-2, R-2
#[test]
fn count_overflow_is_an_error_that_changes_nothing() {
    let rlock = RLock::new();
    rlock.acquire_restore(RLockState::from_parts(usize::MAX, get_ident()));
    let err = rlock.acquire(true, -1.0).unwrap_err();
    assert_eq!(err, LockError::CountOverflow);
    assert_eq!(err.python_type(), "OverflowError");
    assert_eq!(err.to_string(), "Internal lock count overflowed");
    assert_eq!(rlock.recursion_count(), usize::MAX);
    assert!(rlock.is_owned());
    let state = rlock.release_save().unwrap();
    assert_eq!(state.into_parts(), (usize::MAX, get_ident()));
    assert!(!rlock.locked());
}

/// proves: RLOCK-3, R-2
#[test]
fn only_the_owner_releases_and_the_lock_frees_at_zero() {
    let rlock = RLock::new();
    let err = rlock.release().unwrap_err();
    assert_eq!(
        (err.python_type(), err.to_string().as_str()),
        ("RuntimeError", "cannot release un-acquired lock")
    );
    rlock.acquire(true, -1.0).unwrap();
    rlock.acquire(true, -1.0).unwrap();
    thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(rlock.release(), Err(LockError::ReleaseUnacquired));
            assert_eq!(rlock.acquire(false, -1.0), Ok(false));
        })
        .join()
        .unwrap();
    });
    assert_eq!(
        rlock.recursion_count(),
        2,
        "unchanged by the refused release"
    );
    rlock.release().unwrap();
    assert!(rlock.locked());
    rlock.release().unwrap();
    assert!(!rlock.locked());
    thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(rlock.acquire(false, -1.0), Ok(true));
            rlock.release().unwrap();
        })
        .join()
        .unwrap();
    });
}

/// proves: RLOCK-4
#[test]
fn debug_shows_state_owner_and_count() {
    let rlock = RLock::new();
    assert_eq!(
        format!("{rlock:?}"),
        "<unlocked _thread.RLock object owner=0 count=0>"
    );
    rlock.acquire(true, -1.0).unwrap();
    rlock.acquire(true, -1.0).unwrap();
    let me = get_ident();
    assert_eq!(
        format!("{rlock:?}"),
        format!("<locked _thread.RLock object owner={me} count=2>")
    );
    rlock.release().unwrap();
    rlock.release().unwrap();
    assert_eq!(
        format!("{rlock:?}"),
        "<unlocked _thread.RLock object owner=0 count=0>"
    );
}

/// proves: RLOCK-4
#[test]
fn owner_and_count_is_readable_from_another_thread() {
    let rlock = RLock::new();
    assert_eq!(rlock.owner_and_count(), (None, 0));
    rlock.acquire(true, -1.0).unwrap();
    rlock.acquire(true, -1.0).unwrap();
    rlock.acquire(true, -1.0).unwrap();
    let me = get_ident();
    thread::scope(|s| {
        s.spawn(|| {
            // Not the owner: recursion_count() says 0, the snapshot says who holds it.
            assert_eq!(rlock.recursion_count(), 0);
            assert_eq!(rlock.owner_and_count(), (Some(me), 3));
        });
    });
    for _ in 0..3 {
        rlock.release().unwrap();
    }
    thread::scope(|s| {
        s.spawn(|| assert_eq!(rlock.owner_and_count(), (None, 0)));
    });
}

/// proves: RLOCK-5
#[test]
fn is_owned_and_recursion_count_are_per_thread() {
    let rlock = RLock::new();
    assert!(!rlock.is_owned());
    assert_eq!(rlock.recursion_count(), 0);
    let _a = rlock.lock();
    let _b = rlock.lock();
    assert!(rlock.is_owned());
    assert_eq!(rlock.recursion_count(), 2);
    thread::scope(|s| {
        s.spawn(|| {
            assert!(!rlock.is_owned());
            assert_eq!(rlock.recursion_count(), 0);
        })
        .join()
        .unwrap();
    });
}

/// proves: RLOCK-5, R-2
#[test]
fn release_save_and_acquire_restore() {
    let rlock = RLock::new();
    // Not owned: refused.
    assert_eq!(
        rlock.release_save().unwrap_err(),
        LockError::ReleaseUnacquired
    );
    rlock.acquire(true, -1.0).unwrap();
    rlock.acquire(true, -1.0).unwrap();
    rlock.acquire(true, -1.0).unwrap();
    // Owned by another thread: refused, unchanged [3.14].
    thread::scope(|s| {
        s.spawn(|| {
            let err = rlock.release_save().unwrap_err();
            assert_eq!(err.to_string(), "cannot release un-acquired lock");
        })
        .join()
        .unwrap();
    });
    assert_eq!(rlock.recursion_count(), 3);
    let state = rlock.release_save().unwrap();
    assert_eq!(state.into_parts(), (3, get_ident()));
    assert!(!rlock.locked());
    assert_eq!(rlock.recursion_count(), 0);
    // acquire_restore blocks until it gets the lock.
    let rlock = &rlock;
    thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        let holder = s.spawn(move || {
            rlock.acquire(true, -1.0).unwrap();
            tx.send(()).unwrap();
            wait_parked(rlock, 1);
            rlock.release().unwrap();
        });
        rx.recv().unwrap();
        rlock.acquire_restore(state);
        holder.join().unwrap();
    });
    assert_eq!(rlock.recursion_count(), 3);
    assert!(rlock.is_owned());
    for _ in 0..3 {
        rlock.release().unwrap();
    }
    assert!(!rlock.locked());
}

/// proves: RLOCK-6
#[test]
fn locked_is_true_when_any_thread_holds_it() {
    let rlock = RLock::new();
    assert!(!rlock.locked());
    let rlock = &rlock;
    thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        let (tx2, rx2) = std::sync::mpsc::channel::<()>();
        s.spawn(move || {
            rlock.acquire(true, -1.0).unwrap();
            tx.send(()).unwrap();
            rx2.recv().unwrap();
            rlock.release().unwrap();
        });
        rx.recv().unwrap();
        assert!(rlock.locked());
        assert!(!rlock.is_owned());
        // A timed acquire from a non-owner waits (and times out).
        let start = Instant::now();
        assert_eq!(rlock.acquire(true, 0.02), Ok(false));
        assert!(start.elapsed() >= Duration::from_millis(20));
        tx2.send(()).unwrap();
    });
    assert!(!rlock.locked());
}

/// proves: FORK-1
#[test]
fn rlock_reinit_after_fork() {
    let rlock = RLock::new();
    // SAFETY: no other thread uses `rlock`.
    unsafe { rlock.reinit_after_fork() };
    assert!(!rlock.locked());
    rlock.acquire(true, -1.0).unwrap();
    rlock.acquire(true, -1.0).unwrap();
    // SAFETY: as above.
    unsafe { rlock.reinit_after_fork() };
    assert!(!rlock.locked());
    assert_eq!(rlock.recursion_count(), 0);
    assert!(!rlock.is_owned());
    assert_eq!(
        format!("{rlock:?}"),
        "<unlocked _thread.RLock object owner=0 count=0>"
    );
    rlock.acquire(true, -1.0).unwrap();
    rlock.release().unwrap();
}

/// The guard releases one level on drop; dropping it after `release_save` gave the lock away
/// does nothing.
/// proves: RLOCK-5, R-1
#[test]
fn guard_releases_one_level() {
    let rlock = RLock::new();
    {
        let _a = rlock.lock();
        {
            let _b = rlock.lock();
            assert_eq!(rlock.recursion_count(), 2);
        }
        assert_eq!(rlock.recursion_count(), 1);
    }
    assert!(!rlock.locked());
    let g = rlock.lock();
    let _state = rlock.release_save().unwrap();
    drop(g);
    assert!(!rlock.locked());
}

/// `lock()` at the maximum count cannot add a level (RLOCK-2's overflow), and `lock()` returns a
/// guard, not an error: the guard holds the lock through the levels already held, and its drop
/// takes off none of them — the count is what it was before, in and after the guard's scope.
/// proves: RLOCK-2, R-1, R-2
#[test]
fn guard_at_the_maximum_count_adds_and_removes_nothing() {
    let rlock = RLock::new();
    rlock.acquire_restore(RLockState::from_parts(usize::MAX, get_ident()));
    {
        let _guard = rlock.lock();
        assert!(rlock.is_owned());
        assert_eq!(rlock.recursion_count(), usize::MAX);
    }
    assert!(rlock.is_owned());
    assert_eq!(rlock.recursion_count(), usize::MAX);
    // One level below the maximum, a guard adds its level and takes it off again.
    rlock.release().unwrap();
    {
        let _guard = rlock.lock();
        assert_eq!(rlock.recursion_count(), usize::MAX);
    }
    assert_eq!(rlock.recursion_count(), usize::MAX - 1);
    let state = rlock.release_save().unwrap();
    assert_eq!(state.into_parts(), (usize::MAX - 1, get_ident()));
    assert!(!rlock.locked());
}
