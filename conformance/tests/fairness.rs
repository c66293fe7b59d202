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

/// Waits until `queued()` (a lock's waiter count) reaches `n`.
fn wait_queued(queued: impl Fn() -> usize, n: usize) {
    let started = Instant::now();
    while queued() < n {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{n} waiters never queued"
        );
        std::thread::yield_now();
    }
}

/// A wait resumed with the time it began goes back to its place: ahead of a waiter that queued
/// after that time, though that one queued before the resumed wait did.
/// proves: LOCK-15
#[test]
fn a_resumed_wait_is_served_before_waiters_that_came_after_it_began() {
    let lock = Lock::new();
    let order = std::sync::Mutex::new(Vec::new());
    lock.acquire_blocking();
    let since = thread_core::wait::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            lock.acquire_blocking();
            order.lock().unwrap().push("later");
            lock.release().unwrap();
        });
        wait_queued(|| lock.__waiters(), 1);
        s.spawn(|| {
            assert_eq!(
                lock.acquire_resuming(thread_lock::Timeout::Forever, since),
                Ok(true)
            );
            order.lock().unwrap().push("resumed");
            lock.release().unwrap();
        });
        wait_queued(|| lock.__waiters(), 2);
        lock.release().unwrap();
    });
    assert_eq!(*order.lock().unwrap(), ["resumed", "later"]);
}

/// The same for an RLock.
/// proves: LOCK-15, RLOCK-6
#[test]
fn a_resumed_rlock_wait_is_served_before_waiters_that_came_after_it_began() {
    let rlock = RLock::new();
    let order = std::sync::Mutex::new(Vec::new());
    assert_eq!(rlock.acquire(true, -1.0), Ok(true));
    let since = thread_core::wait::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(rlock.acquire(true, -1.0), Ok(true));
            order.lock().unwrap().push("later");
            rlock.release().unwrap();
        });
        wait_queued(|| rlock.__waiters(), 1);
        s.spawn(|| {
            assert_eq!(
                rlock.acquire_resuming(thread_lock::Timeout::Forever, since),
                Ok(true)
            );
            order.lock().unwrap().push("resumed");
            rlock.release().unwrap();
        });
        wait_queued(|| rlock.__waiters(), 2);
        rlock.release().unwrap();
    });
    assert_eq!(*order.lock().unwrap(), ["resumed", "later"]);
}

/// A wait cut into slices shorter than the time the waiters ahead of it hold the lock (as the
/// Python bindings' main thread waits, in 50 ms slices) is not starved by workers that queue
/// again as soon as they release: resumed with the time it began, each slice keeps its place.
/// (Each slice as a new wait would go to the back, behind workers that are never all served
/// within one slice, forever.)
/// proves: LOCK-15, R-4
#[test]
fn a_wait_in_slices_is_not_starved_by_workers_that_queue_again() {
    let lock = Lock::new();
    let stop = AtomicBool::new(false);
    // The workers give up after 10 s even if the sliced wait never gets the lock.
    let give_up = Instant::now() + Duration::from_secs(10);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !stop.load(SeqCst) && Instant::now() < give_up {
                    lock.acquire_blocking();
                    // Held longer than a slice: the assertion holds whatever the timing.
                    std::thread::sleep(Duration::from_millis(4));
                    lock.release().unwrap();
                }
            });
        }
        wait_queued(|| lock.__waiters(), 2);
        let since = thread_core::wait::now();
        let slice = thread_lock::Timeout::Within(Duration::from_millis(1));
        let started = Instant::now();
        while !lock.acquire_resuming(slice, since).unwrap() {}
        let waited = started.elapsed();
        stop.store(true, SeqCst);
        lock.release().unwrap();
        // Two or three holds of 4 ms are ahead of it; starved, it would wait until the workers
        // give up.
        assert!(
            waited < Duration::from_secs(5),
            "the sliced wait waited {waited:?}"
        );
    });
}
