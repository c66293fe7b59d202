//! Loom models of the direct handoff (LOCK-15), in their own test binary because the model's
//! fairness switch is process-wide: here every release that wakes a waiter hands it the lock.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

mod loom_support;
use loom_support::{bump, model_with, read, spawn_bumpers};

/// A release hands the lock to the parked waiter, which returns owning it without a CAS of its
/// own; exclusion and progress hold.
/// proves: LOCK-15, R-4
#[test]
fn handoff() {
    model_with(true, || {
        let lock = Arc::new(thread_lock::Lock::new());
        let data = Arc::new(UnsafeCell::new(0u32));
        lock.acquire_blocking();
        let waiter = {
            let (lock, data) = (lock.clone(), data.clone());
            thread::spawn(move || {
                lock.acquire_blocking();
                bump(&data);
                lock.release().unwrap();
            })
        };
        bump(&data);
        lock.release().unwrap();
        waiter.join().unwrap();
        assert_eq!(read(&data), 2);
        assert!(!lock.locked());
    });
}

/// Two waiters and handoffs: the first handoff keeps PARKED for the second waiter, whose turn
/// comes at the next release.
/// proves: LOCK-15, R-4
#[test]
fn handoff_two_waiters() {
    model_with(true, || {
        let lock = Arc::new(thread_lock::Lock::new());
        let data = Arc::new(UnsafeCell::new(0u32));
        lock.acquire_blocking();
        let waiters = spawn_bumpers(&lock, &data, 2);
        lock.release().unwrap();
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(read(&data), 2);
        assert!(!lock.locked());
    });
}
