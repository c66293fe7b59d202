//! Loom models of the public Lock and RLock API (`RUSTFLAGS="--cfg loom"`, release mode,
//! `LOOM_MAX_PREEMPTIONS=2`): every interleaving of a few threads, up to the preemption bound,
//! on the same code users run (thread-lock takes its atomics and parking from its loom facade;
//! its parker is a loom shim there, and the fairness rule's clock is replaced by
//! `thread_lock::__loom::set_handoff`, so each model runs with and without handoff).
//!
//! Small models, one behaviour each, at most three threads. They complement the models beside
//! them (`loom_lock.rs`, `loom_handoff.rs`, `loom_rlock.rs`: exclusion, racing releases, lost
//! wake-ups, timeout against release, handoff, RLock ownership) with what those leave out: a try racing a
//! release, the guard moved to and dropped on another thread, and `release_save` /
//! `acquire_restore` against a contending thread — each under both fairness outcomes.

#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use thread_lock::{Lock, RLock};

mod loom_support;
use loom_support::{both_fairness_outcomes, bump, read};

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

/// proves: LOCK-11, R-3
#[test]
fn a_guard_dropped_on_another_thread_releases() {
    both_fairness_outcomes(|| {
        let lock: &'static Lock = Box::leak(Box::new(Lock::new()));
        let guard = lock.lock();
        let waiter = thread::spawn(move || {
            let _second = lock.lock();
        });
        let dropper = thread::spawn(move || drop(guard));
        dropper.join().unwrap();
        waiter.join().unwrap();
        assert!(!lock.locked());
    });
}

/// proves: RLOCK-5, R-4
#[test]
fn acquire_restore_waits_for_a_contending_owner() {
    both_fairness_outcomes(|| {
        let rlock = Arc::new(RLock::new());
        let counter = Arc::new(UnsafeCell::new(0));
        assert_eq!(rlock.acquire(true, -1.0), Ok(true));
        assert_eq!(rlock.acquire(true, -1.0), Ok(true));
        let other = {
            let (rlock, counter) = (Arc::clone(&rlock), Arc::clone(&counter));
            thread::spawn(move || {
                assert_eq!(rlock.acquire(true, -1.0), Ok(true));
                // SAFETY: the RLock excludes the other writer; loom checks it does.
                bump(&counter);
                rlock.release().unwrap();
            })
        };
        let state = rlock.release_save().unwrap();
        rlock.acquire_restore(state);
        // Restored: owner and count, exclusive again.
        assert!(rlock.is_owned());
        assert_eq!(rlock.recursion_count(), 2);
        // SAFETY: as above.
        bump(&counter);
        rlock.release().unwrap();
        rlock.release().unwrap();
        other.join().unwrap();
        // SAFETY: every writer has been joined.
        assert_eq!(read(&counter), 2);
        assert!(!rlock.locked());
    });
}
