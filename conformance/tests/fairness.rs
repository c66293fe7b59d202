//! LOCK-15 through the public API: no thread starves. A thread that releases and at once
//! re-acquires, over and over (a newcomer that could barge in every time), cannot keep a
//! waiter out: once the waiter has waited more than 1 ms, the next release hands the lock to it.
//!
//! Only the outcome is asserted (the waiter gets the lock while the other thread is still
//! looping); the loop's ceiling is generous (10 s), far above the 1 ms rule.
//!
//! Atomic orderings: the `got` flags are SeqCst, the test's own observation, kept independent
//! of the orderings of the lock under test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use thread_lock::{Lock, RLock};

fn busy(micros: u64) {
    let until = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// proves: LOCK-15, R-4
#[test]
fn a_waiter_is_not_starved_by_a_barging_thread() {
    let lock = Arc::new(Lock::new());
    let got = Arc::new(AtomicBool::new(false));
    lock.acquire_blocking();
    let (shared, flag) = (Arc::clone(&lock), Arc::clone(&got));
    let waiter = std::thread::spawn(move || {
        shared.acquire_blocking();
        flag.store(true, SeqCst);
        shared.release().unwrap();
    });
    let started = Instant::now();
    let mut rounds = 0u64;
    while !got.load(SeqCst) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the waiter starved for 10 s ({rounds} rounds)"
        );
        busy(50);
        lock.release().unwrap();
        // Barge straight back in.
        lock.acquire_blocking();
        rounds += 1;
    }
    lock.release().unwrap();
    waiter.join().unwrap();
}

/// proves: LOCK-15, RLOCK-6
#[test]
fn an_rlock_waiter_is_not_starved_by_a_barging_thread() {
    let rlock = Arc::new(RLock::new());
    let got = Arc::new(AtomicBool::new(false));
    assert_eq!(rlock.acquire(true, -1.0), Ok(true));
    let (shared, flag) = (Arc::clone(&rlock), Arc::clone(&got));
    let waiter = std::thread::spawn(move || {
        assert_eq!(shared.acquire(true, -1.0), Ok(true));
        flag.store(true, SeqCst);
        shared.release().unwrap();
    });
    let started = Instant::now();
    while !got.load(SeqCst) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the waiter starved for 10 s"
        );
        busy(50);
        rlock.release().unwrap();
        assert_eq!(rlock.acquire(true, -1.0), Ok(true));
    }
    rlock.release().unwrap();
    waiter.join().unwrap();
}
