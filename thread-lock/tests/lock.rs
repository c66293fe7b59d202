//! `Lock` against SPEC.md's LOCK-* clauses (public API only).
#![cfg(not(loom))] // the API tests run on the real build; loom_*.rs are the models

use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use thread_lock::{Lock, LockError, LockGuard, RLock, Timeout};

/// A generous ceiling for "returns at once" and "does not wait for the whole timeout".
const CEILING: Duration = Duration::from_secs(10);

/// Waits until `n` threads are parked on `lock` (instead of sleeping for a guessed time).
fn wait_parked(lock: &Lock, n: usize) {
    let start = Instant::now();
    while lock.__waiters() < n {
        assert!(start.elapsed() < CEILING, "no thread parked on the lock");
        thread::sleep(Duration::from_micros(200));
    }
}

/// proves: LOCK-1
#[test]
fn new_lock_is_unlocked_const_and_one_byte() {
    static LOCK: Lock = Lock::new();
    assert!(!LOCK.locked());
    assert!(!Lock::default().locked());
    assert!(size_of::<Lock>() <= 8);
    assert_eq!(size_of::<Lock>(), 1);
}

/// proves: R-3
#[test]
fn locks_errors_and_guards_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Lock>();
    send_sync::<RLock>();
    send_sync::<LockError>();
    send_sync::<Timeout>();
    send::<LockGuard<'static>>();
}

/// proves: LOCK-7
#[test]
fn non_blocking_and_zero_timeout_try_once() {
    let lock = Lock::new();
    lock.acquire_blocking();
    let start = Instant::now();
    assert_eq!(lock.acquire(false, -1.0), Ok(false));
    assert_eq!(lock.acquire(true, 0.0), Ok(false));
    assert_eq!(lock.acquire_with(Timeout::NonBlocking), Ok(false));
    assert_eq!(
        lock.acquire_with(Timeout::Within(Duration::ZERO)),
        Ok(false)
    );
    assert!(!lock.try_acquire());
    assert!(!lock.acquire_for(Duration::ZERO));
    assert!(start.elapsed() < CEILING);
    lock.release().unwrap();
    assert_eq!(lock.acquire(false, -1.0), Ok(true));
    lock.release().unwrap();
    assert_eq!(lock.acquire(true, 0.0), Ok(true));
    lock.release().unwrap();
    assert!(lock.try_acquire());
    lock.release().unwrap();
    assert!(lock.acquire_for(Duration::ZERO));
}

/// proves: LOCK-7
#[test]
fn timed_acquire_never_returns_false_early() {
    let lock = Lock::new();
    lock.acquire_blocking();
    for t in [1e-9, 0.000_5, 0.001, 0.01, 0.03] {
        let start = Instant::now();
        assert_eq!(lock.acquire(true, t), Ok(false));
        let waited = start.elapsed();
        // Rounded up to whole microseconds.
        let at_least = Duration::from_micros((t * 1e6).ceil() as u64);
        assert!(waited >= at_least, "{t}: waited {waited:?}");
        assert!(waited < at_least + CEILING);
    }
    let start = Instant::now();
    assert!(!lock.acquire_for(Duration::from_millis(20)));
    assert!(start.elapsed() >= Duration::from_millis(20));
    let start = Instant::now();
    assert_eq!(
        lock.acquire_with(Timeout::Within(Duration::from_millis(20))),
        Ok(false)
    );
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(lock.locked());
}

/// proves: LOCK-7, LOCK-8
#[test]
fn blocked_acquires_get_the_lock_released_by_another_thread() {
    let lock = Lock::new();
    for form in 0..4 {
        lock.acquire_blocking();
        thread::scope(|s| {
            let waiter = s.spawn(|| {
                let start = Instant::now();
                let got = match form {
                    0 => lock.acquire(true, -1.0).unwrap(),
                    1 => lock.acquire(true, 60.0).unwrap(),
                    2 => lock.acquire_for(Duration::from_secs(60)),
                    _ => {
                        lock.acquire_blocking();
                        true
                    }
                };
                assert!(start.elapsed() < Duration::from_secs(60));
                got
            });
            wait_parked(&lock, 1);
            // Released by a thread other than the one that acquired it.
            s.spawn(|| lock.release().unwrap()).join().unwrap();
            assert!(waiter.join().unwrap());
        });
        assert!(lock.locked());
        lock.release().unwrap();
    }
}

/// proves: LOCK-6
#[test]
fn minus_point_nine_nines_waits_forever() {
    let lock = Lock::new();
    lock.acquire_blocking();
    thread::scope(|s| {
        let waiter = s.spawn(|| lock.acquire(true, -0.9999999999));
        wait_parked(&lock, 1);
        lock.release().unwrap();
        assert_eq!(waiter.join().unwrap(), Ok(true));
    });
    assert!(lock.locked());
    assert_eq!(
        lock.acquire(true, -1e-10).unwrap_err(),
        LockError::NegativeTimeout
    );
    assert_eq!(
        lock.acquire(true, -1.0000000001).unwrap_err(),
        LockError::NegativeTimeout
    );
}

/// proves: LOCK-8
#[test]
fn not_reentrant_and_not_owned() {
    let lock = Lock::new();
    lock.acquire_blocking();
    assert_eq!(lock.acquire(true, 0.01), Ok(false));
    assert!(!lock.try_acquire());
    thread::scope(|s| s.spawn(|| lock.release().unwrap()).join().unwrap());
    assert!(!lock.locked());
}

/// proves: LOCK-9, R-2
#[test]
fn releasing_an_unlocked_lock_is_an_error_that_changes_nothing() {
    let lock = Lock::new();
    let err = lock.release().unwrap_err();
    assert_eq!(err, LockError::ReleaseUnlocked);
    assert_eq!(err.python_type(), "RuntimeError");
    assert_eq!(err.to_string(), "release unlocked lock");
    assert!(!lock.locked());
    assert!(lock.try_acquire());
    lock.release().unwrap();
    assert!(lock.release().is_err());
}

/// proves: LOCK-9
#[test]
fn of_two_racing_releases_exactly_one_succeeds() {
    let lock = Lock::new();
    let barrier = Barrier::new(2);
    for _ in 0..500 {
        lock.acquire_blocking();
        let (a, b) = thread::scope(|s| {
            let a = s.spawn(|| {
                barrier.wait();
                lock.release().is_ok()
            });
            let b = s.spawn(|| {
                barrier.wait();
                lock.release().is_ok()
            });
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(a ^ b, "exactly one release succeeds");
        assert!(!lock.locked());
    }
}

/// proves: LOCK-10
#[test]
fn locked_tells_whether_held() {
    let lock = Lock::new();
    assert!(!lock.locked());
    lock.acquire_blocking();
    assert!(lock.locked());
    thread::scope(|s| s.spawn(|| assert!(lock.locked())).join().unwrap());
    lock.release().unwrap();
    assert!(!lock.locked());
}

/// proves: LOCK-11
#[test]
fn guard_releases_on_drop_and_on_panic() {
    let lock = Lock::new();
    {
        let _g = lock.lock();
        assert!(lock.locked());
    }
    assert!(!lock.locked());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _g = lock.lock();
        panic!("inside with");
    }));
    assert!(r.is_err());
    assert!(!lock.locked());
}

/// proves: LOCK-11
#[test]
fn guard_can_be_dropped_on_another_thread() {
    let lock = Lock::new();
    let guard = lock.lock();
    thread::scope(|s| {
        s.spawn(move || drop(guard)).join().unwrap();
    });
    assert!(!lock.locked());
}

/// proves: LOCK-11, R-1
#[test]
fn guard_of_an_already_released_lock() {
    let lock = Lock::new();
    // Drop does nothing and does not panic.
    let guard = lock.lock();
    lock.release().unwrap();
    drop(guard);
    assert!(!lock.locked());
    // unlock() returns CPython's error instead.
    let guard = lock.lock();
    lock.release().unwrap();
    let err = guard.unlock().unwrap_err();
    assert_eq!(
        (err.python_type(), err.to_string().as_str()),
        ("RuntimeError", "release unlocked lock")
    );
    assert!(!lock.locked());
    // unlock() of a held lock releases it.
    lock.lock().unlock().unwrap();
    assert!(!lock.locked());
}

/// The documented caveat: a guard whose lock was released by another thread and re-taken by a
/// third releases that third thread's hold when dropped, as CPython's `__exit__` does.
/// proves: LOCK-11
#[test]
fn guard_releases_a_third_threads_hold() {
    let lock = Lock::new();
    let guard = lock.lock();
    thread::scope(|s| {
        s.spawn(|| lock.release().unwrap()).join().unwrap();
        s.spawn(|| lock.acquire_blocking()).join().unwrap();
    });
    assert!(lock.locked());
    drop(guard);
    assert!(!lock.locked());
}

/// proves: LOCK-12
#[test]
fn debug_shows_the_state() {
    let lock = Lock::new();
    assert_eq!(format!("{lock:?}"), "<unlocked _thread.lock object>");
    lock.acquire_blocking();
    assert_eq!(format!("{lock:?}"), "<locked _thread.lock object>");
}

/// proves: LOCK-4, LOCK-5, R-1, R-2
#[test]
fn bad_arguments_return_cpythons_errors_and_change_nothing() {
    let cases: [(bool, f64, &str, &str); 8] = [
        (
            true,
            f64::NAN,
            "ValueError",
            "Invalid value NaN (not a number)",
        ),
        (
            false,
            f64::NAN,
            "ValueError",
            "Invalid value NaN (not a number)",
        ),
        (
            true,
            f64::INFINITY,
            "OverflowError",
            "timestamp out of range for platform time_t",
        ),
        (
            false,
            -1e100,
            "OverflowError",
            "timestamp out of range for platform time_t",
        ),
        (
            true,
            9223372036.854776,
            "OverflowError",
            "timestamp out of range for platform time_t",
        ),
        (
            false,
            0.0,
            "ValueError",
            "can't specify a timeout for a non-blocking call",
        ),
        (
            false,
            -2.0,
            "ValueError",
            "can't specify a timeout for a non-blocking call",
        ),
        (
            true,
            -100.0,
            "ValueError",
            "timeout value must be a non-negative number",
        ),
    ];
    let lock = Lock::new();
    for held in [false, true] {
        for (blocking, timeout, ty, msg) in cases {
            let err = lock.acquire(blocking, timeout).unwrap_err();
            assert_eq!((err.python_type(), err.to_string().as_str()), (ty, msg));
            assert_eq!(
                lock.locked(),
                held,
                "a refused call leaves the lock untouched"
            );
        }
        if !held {
            lock.acquire_blocking();
        }
    }
}

/// A waiter parked for more than 1 ms is handed the lock: `locked()` is already true when
/// `release()` returns, and the waiter returns owning it.
/// proves: LOCK-15
#[test]
fn a_waiter_parked_over_a_millisecond_is_handed_the_lock() {
    let lock = Lock::new();
    lock.acquire_blocking();
    thread::scope(|s| {
        let waiter = s.spawn(|| lock.acquire_blocking());
        wait_parked(&lock, 1);
        // Only a lower bound matters: the waiter has now waited more than 1 ms.
        thread::sleep(Duration::from_millis(2));
        lock.release().unwrap();
        assert!(lock.locked(), "handed over, not freed");
        waiter.join().unwrap();
    });
    assert!(lock.locked());
    lock.release().unwrap();
    assert!(!lock.locked());
}

/// Many threads hammer one lock with every acquire form; every increment happens under the
/// lock and every thread finishes (no lost wake-up leaves one asleep).
/// proves: R-4, LOCK-8
#[test]
fn contended_stress_loses_no_wakeup() {
    let lock = Lock::new();
    let inside = AtomicUsize::new(0);
    let total = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..4 {
            let (lock, inside, total) = (&lock, &inside, &total);
            s.spawn(move || {
                for i in 0..2000 {
                    match (t + i) % 4 {
                        0 => lock.acquire_blocking(),
                        1 => assert!(lock.acquire(true, -1.0).unwrap()),
                        2 => assert!(lock.acquire_for(Duration::from_secs(60))),
                        _ => while !lock.acquire(true, 0.000_05).unwrap() {},
                    }
                    assert_eq!(inside.fetch_add(1, Ordering::Relaxed), 0);
                    total.fetch_add(1, Ordering::Relaxed);
                    inside.fetch_sub(1, Ordering::Relaxed);
                    lock.release().unwrap();
                }
            });
        }
    });
    assert_eq!(total.load(Ordering::Relaxed), 8000);
    assert!(!lock.locked());
    assert_eq!(lock.__waiters(), 0);
}

/// proves: FORK-1
#[test]
fn reinit_after_fork_unlocks_without_waking() {
    let lock = Lock::new();
    // SAFETY: no other thread uses `lock`.
    unsafe { lock.reinit_after_fork() };
    assert!(!lock.locked());
    lock.acquire_blocking();
    // SAFETY: as above.
    unsafe { lock.reinit_after_fork() };
    assert!(!lock.locked());
    assert!(lock.try_acquire());
    lock.release().unwrap();
}

/// One operation of the single-thread model below.
#[derive(Debug, Clone)]
enum Op {
    Acquire(bool, f64),
    TryAcquire,
    AcquireFor(u64),
    Release,
    Locked,
    Reinit,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    let timeout = prop_oneof![
        Just(-1.0),
        Just(0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-0.9999999999),
        -3.0f64..0.001,
        proptest::num::f64::ANY,
    ];
    prop_oneof![
        (any::<bool>(), timeout).prop_map(|(b, t)| Op::Acquire(b, t)),
        Just(Op::TryAcquire),
        (0u64..500).prop_map(Op::AcquireFor),
        Just(Op::Release),
        Just(Op::Locked),
        Just(Op::Reinit),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
    /// Any sequence of operations on one thread behaves as a held/free flag: bad arguments
    /// return their error and change nothing, releases of a free lock fail, nothing panics.
    /// (Waits that would block forever are never generated: a held lock with timeout −1 is
    /// skipped.)
    /// proves, LOCK-9, LOCK-10, LOCK-7
    #[test]
    fn single_thread_model(ops in proptest::collection::vec(op(), 1..40)) {
        let lock = Lock::new();
        let mut held = false;
        for op in ops {
            match op {
                Op::Acquire(blocking, timeout) => {
                    let parsed = thread_lock::parse_timeout(blocking, timeout);
                    let waits_long = match parsed {
                        Ok(Timeout::Forever) => true,
                        Ok(Timeout::Within(d)) => d > Duration::from_millis(1),
                        _ => false,
                    };
                    if held && waits_long {
                        continue;
                    }
                    match (lock.acquire(blocking, timeout), parsed) {
                        (Err(e), Err(p)) => proptest::prop_assert_eq!(e, p),
                        (Ok(got), Ok(_)) => {
                            proptest::prop_assert_eq!(got, !held);
                            held = true;
                        }
                        (r, p) => proptest::prop_assert!(false, "{r:?} vs {p:?}"),
                    }
                }
                Op::TryAcquire => {
                    proptest::prop_assert_eq!(lock.try_acquire(), !held);
                    held = true;
                }
                Op::AcquireFor(us) => {
                    proptest::prop_assert_eq!(lock.acquire_for(Duration::from_micros(us)), !held);
                    held = true;
                }
                Op::Release => {
                    proptest::prop_assert_eq!(lock.release().is_ok(), held);
                    held = false;
                }
                Op::Locked => proptest::prop_assert_eq!(lock.locked(), held),
                Op::Reinit => {
                    // SAFETY: no other thread knows the lock.
                    unsafe { lock.reinit_after_fork() };
                    held = false;
                }
            }
            proptest::prop_assert_eq!(lock.locked(), held);
        }
    }
}
