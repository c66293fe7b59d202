//! Loom models of `RLock`: ownership by ident and the recursion count.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use thread_lock::{LockError, RLock};

mod loom_support;
use loom_support::{bump, model, read};

/// Two threads each take the RLock twice and release it twice; counts and ownership are per
/// thread, and the protected cell is never accessed concurrently.
/// proves: RLOCK-2, RLOCK-3, RLOCK-5
#[test]
fn rlock_ownership_and_count() {
    model(|| {
        let rlock = Arc::new(RLock::new());
        let data = Arc::new(UnsafeCell::new(0u32));
        let other = {
            let (rlock, data) = (rlock.clone(), data.clone());
            thread::spawn(move || {
                assert_eq!(rlock.acquire(true, -1.0), Ok(true));
                assert_eq!(rlock.acquire(false, -1.0), Ok(true));
                assert_eq!(rlock.recursion_count(), 2);
                assert!(rlock.is_owned());
                bump(&data);
                rlock.release().unwrap();
                rlock.release().unwrap();
                assert!(!rlock.is_owned());
            })
        };
        assert_eq!(rlock.acquire(true, -1.0), Ok(true));
        assert_eq!(rlock.acquire(true, -1.0), Ok(true));
        assert_eq!(rlock.recursion_count(), 2);
        bump(&data);
        rlock.release().unwrap();
        rlock.release().unwrap();
        other.join().unwrap();
        assert_eq!(read(&data), 2);
        assert!(!rlock.locked());
    });
}

/// A thread that does not own the RLock cannot release it, whatever the owner is doing.
/// proves: RLOCK-3
#[test]
fn rlock_release_by_non_owner_fails() {
    model(|| {
        let rlock = Arc::new(RLock::new());
        let other = {
            let rlock = rlock.clone();
            thread::spawn(move || {
                rlock.acquire(true, -1.0).unwrap();
                rlock.release().unwrap();
            })
        };
        assert_eq!(rlock.release(), Err(LockError::ReleaseUnacquired));
        assert_eq!(rlock.recursion_count(), 0);
        other.join().unwrap();
        assert!(!rlock.locked());
    });
}
