//! Loom models of `Lock` on the raw lock, parking lot and parker shim (one behaviour each),
//! with the fairness rule never due (handoffs are modelled in `loom_handoff.rs`).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p conformance --release
//! --target-dir target/loom --test 'loom_*'`.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use std::time::Duration;
use thread_lock::Lock;

mod loom_support;
use loom_support::{both_fairness_outcomes, bump, model, read, spawn_bumpers};

/// Two threads increment a plain cell under the lock; loom reports any overlapping access.
/// proves: LOCK-8, R-4
#[test]
fn mutual_exclusion() {
    model(|| {
        let lock = Arc::new(Lock::new());
        let data = Arc::new(UnsafeCell::new(0u32));
        let handles = spawn_bumpers(&lock, &data, 2);
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(read(&data), 2);
        assert!(!lock.locked());
    });
}

/// A lock taken on one thread is released by another; a third waiter then gets it.
/// proves: LOCK-8, R-4
#[test]
fn release_from_other_thread() {
    model(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire_blocking();
        let releaser = {
            let lock = lock.clone();
            thread::spawn(move || lock.release().unwrap())
        };
        let waiter = {
            let lock = lock.clone();
            thread::spawn(move || {
                lock.acquire_blocking();
                lock.release().unwrap();
            })
        };
        releaser.join().unwrap();
        waiter.join().unwrap();
        assert!(!lock.locked());
    });
}

/// Two racing releases of a held lock nobody waits for: exactly one succeeds.
/// proves: LOCK-9
#[test]
fn two_racing_releases() {
    model(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire_blocking();
        let other = {
            let lock = lock.clone();
            thread::spawn(move || lock.release().is_ok())
        };
        let here = lock.release().is_ok();
        let there = other.join().unwrap();
        assert!(here ^ there, "exactly one release succeeds");
        assert!(!lock.locked());
    });
}

/// Two waiters block on a held lock; one release must lead to both getting it in turn (loom
/// reports a deadlock if a wake-up is lost).
/// proves: R-4
#[test]
fn no_lost_wakeup_two_waiters() {
    model(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire_blocking();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let lock = lock.clone();
                thread::spawn(move || {
                    lock.acquire_blocking();
                    lock.release().unwrap();
                })
            })
            .collect();
        lock.release().unwrap();
        for w in waiters {
            w.join().unwrap();
        }
        assert!(!lock.locked());
    });
}

/// A timed acquire races the release (the shim's timeout is an early return at any point):
/// either it gets the lock, or it times out and leaves no trace that would lose a later waiter.
/// proves: LOCK-7, R-4
#[test]
fn timeout_races_release() {
    model(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire_blocking();
        let timed = {
            let lock = lock.clone();
            thread::spawn(move || {
                let got = lock.acquire_for(Duration::from_secs(60));
                if got {
                    lock.release().unwrap();
                }
                got
            })
        };
        lock.release().unwrap();
        timed.join().unwrap();
        // Whatever happened, the lock is usable: free, and a blocking acquire gets it.
        assert!(!lock.locked());
        lock.acquire_blocking();
        lock.release().unwrap();
    });
}

/// A timed waiter that gives up (and may clear PARKED as the last one queued) must not strand a
/// blocking waiter: the release still reaches it.
/// proves: R-4, LOCK-7
#[test]
fn timeout_does_not_strand_another_waiter() {
    model(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire_blocking();
        let timed = {
            let lock = lock.clone();
            thread::spawn(move || {
                if lock.acquire_for(Duration::from_secs(60)) {
                    lock.release().unwrap();
                }
            })
        };
        let blocking = {
            let lock = lock.clone();
            thread::spawn(move || {
                lock.acquire_blocking();
                lock.release().unwrap();
            })
        };
        lock.release().unwrap();
        timed.join().unwrap();
        blocking.join().unwrap();
        assert!(!lock.locked());
    });
}

/// A release that finds waiters clears the state with its swap and wakes one afterwards, under
/// the bucket lock; a newcomer may take the lock in between (and release it again, or hold it
/// when the slow path looks). Exclusion holds, every thread gets the lock, and the byte ends
/// free with nobody queued.
/// proves: LOCK-8, R-4
#[test]
fn newcomer_between_swap_and_wake() {
    both_fairness_outcomes(|| {
        let lock = Arc::new(Lock::new());
        let data = Arc::new(UnsafeCell::new(0u32));
        lock.acquire_blocking();
        let threads = spawn_bumpers(&lock, &data, 2);
        bump(&data);
        lock.release().unwrap();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(read(&data), 3);
        assert_eq!(lock.__state(), 0);
        assert_eq!(lock.__waiters(), 0);
    });
}

/// A release of a lock that is already free loses; when its swap finds waiters queued behind a
/// free lock (PARKED without LOCKED) it clears PARKED, and must put it back so that no waiter is
/// stranded. Two waiters, a racing extra release: of the four releases of three holds exactly
/// three succeed (which three depends on the order: the lock has no owner), everyone finishes,
/// and the byte ends free with nobody queued.
/// proves: LOCK-9, R-4
#[test]
fn losing_release_keeps_waiters_reachable() {
    model(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire_blocking();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let lock = lock.clone();
                thread::spawn(move || {
                    lock.acquire_blocking();
                    lock.release().is_ok()
                })
            })
            .collect();
        let racer = {
            let lock = lock.clone();
            thread::spawn(move || lock.release().is_ok())
        };
        let mut won = vec![lock.release().is_ok(), racer.join().unwrap()];
        won.extend(waiters.into_iter().map(|w| w.join().unwrap()));
        assert_eq!(won.iter().filter(|&&w| w).count(), 3, "{won:?}");
        assert_eq!(lock.__state(), 0);
        assert_eq!(lock.__waiters(), 0);
    });
}
