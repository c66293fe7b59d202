//! Loom models of the public Lock and RLock API (`RUSTFLAGS="--cfg loom"`, release mode,
//! `LOOM_MAX_PREEMPTIONS=2`): every interleaving of a few threads, up to the preemption bound,
//! on the same code users run (thread-lock takes its atomics and parking from its loom facade;
//! its parker is a loom shim there, and the fairness rule's clock is replaced by
//! `thread_lock::__loom::set_handoff`, so each model runs with and without handoff).
//!
//! Small models, one behaviour each, at most three threads.

#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use thread_lock::{Lock, RLock};

/// The fairness switch is process-wide: one model at a time.
static SWITCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `model` under loom twice: releases never hand over, then always hand over (LOCK-15's
/// two outcomes).
fn both_fairness_outcomes(model: impl Fn() + Sync + Send + 'static) {
    let _one = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    let model = std::sync::Arc::new(model);
    for handoff in [false, true] {
        thread_lock::__loom::set_handoff(handoff);
        let model = std::sync::Arc::clone(&model);
        loom::model(move || model());
    }
}

/// proves: LOCK-8
#[test]
fn release_from_another_thread() {
    both_fairness_outcomes(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire_blocking();
        let other = Arc::clone(&lock);
        thread::spawn(move || other.release().unwrap())
            .join()
            .unwrap();
        assert!(!lock.locked());
        assert!(lock.try_acquire());
    });
}

/// proves: LOCK-9
#[test]
fn racing_releases_exactly_one_succeeds() {
    both_fairness_outcomes(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire_blocking();
        let releasers: Vec<_> = (0..2)
            .map(|_| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || lock.release())
            })
            .collect();
        let results: Vec<_> = releasers.into_iter().map(|t| t.join().unwrap()).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "{results:?}");
        let refused = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert_eq!(refused.to_string(), "release unlocked lock");
        assert!(!lock.locked());
    });
}

/// proves: R-4, LOCK-11
#[test]
fn no_lost_wake_up_with_two_waiters() {
    both_fairness_outcomes(|| {
        let lock = Arc::new(Lock::new());
        let counter = Arc::new(UnsafeCell::new(0));
        lock.acquire_blocking();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (lock, counter) = (Arc::clone(&lock), Arc::clone(&counter));
                thread::spawn(move || {
                    let _guard = lock.lock();
                    // SAFETY: the lock excludes the other writer; loom checks it does.
                    counter.with_mut(|c| unsafe { *c += 1 });
                })
            })
            .collect();
        lock.release().unwrap();
        for waiter in waiters {
            waiter.join().unwrap();
        }
        // SAFETY: every writer has been joined.
        assert_eq!(counter.with(|c| unsafe { *c }), 2);
        assert!(!lock.locked());
    });
}

/// proves: LOCK-7, LOCK-10
#[test]
fn try_acquire_racing_a_release() {
    both_fairness_outcomes(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire_blocking();
        let releaser = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || lock.release().unwrap())
        };
        let got = lock.try_acquire();
        releaser.join().unwrap();
        // If the try won, the lock is held now; otherwise the release freed it.
        assert_eq!(lock.locked(), got);
    });
}

/// proves: RLOCK-2, RLOCK-3, RLOCK-5
#[test]
fn rlock_owners_exclude_each_other() {
    both_fairness_outcomes(|| {
        let rlock = Arc::new(RLock::new());
        let counter = Arc::new(UnsafeCell::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (rlock, counter) = (Arc::clone(&rlock), Arc::clone(&counter));
                thread::spawn(move || {
                    assert_eq!(rlock.acquire(true, -1.0), Ok(true));
                    assert_eq!(rlock.acquire(false, -1.0), Ok(true));
                    assert_eq!(rlock.recursion_count(), 2);
                    // SAFETY: the RLock excludes the other writer; loom checks it does.
                    counter.with_mut(|c| unsafe { *c += 1 });
                    rlock.release().unwrap();
                    assert!(rlock.is_owned());
                    rlock.release().unwrap();
                    assert!(!rlock.is_owned());
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        // SAFETY: every writer has been joined.
        assert_eq!(counter.with(|c| unsafe { *c }), 2);
        assert!(!rlock.locked());
    });
}

/// proves: RLOCK-3, RLOCK-5
#[test]
fn rlock_non_owner_is_refused_while_the_owner_saves_and_restores() {
    both_fairness_outcomes(|| {
        let rlock = Arc::new(RLock::new());
        assert_eq!(rlock.acquire(true, -1.0), Ok(true));
        let other = {
            let rlock = Arc::clone(&rlock);
            thread::spawn(move || {
                // Never the owner: refused whatever the owner is doing.
                assert!(rlock.release().is_err());
                assert_eq!(rlock.recursion_count(), 0);
            })
        };
        let state = rlock.release_save().unwrap();
        assert_eq!(state.into_parts().0, 1);
        rlock.acquire_restore(state);
        assert_eq!(rlock.recursion_count(), 1);
        other.join().unwrap();
        rlock.release().unwrap();
        assert!(!rlock.locked());
    });
}
