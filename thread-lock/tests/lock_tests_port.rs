//! Ported from CPython's `Lib/test/lock_tests.py` (3.11.7 as installed by pyenv on this
//! machine): the `BaseLockTests` cases run against both `Lock` and `RLock`, then `LockTests` and
//! `RLockTests`. Each Rust test names the original above it.
//!
//! What changed in the port:
//! * `Bunch(f, n)` is `bunch(n, f)`: `n` scoped threads, all joined before it returns.
//! * CPython's `wait_threads_blocked(n)` sleeps for a while and hopes; here we wait until `n`
//!   threads are actually parked on the lock (`__waiters`), which makes the tests deterministic.
//! * `wait_phase` polls a counter with a ceiling, as CPython's `sleeping_retry` does.
//! * `repr` is `Debug`, without CPython's `at 0x...` address (LOCK-12, RLOCK-4).
//! * `test_timeout`'s 0.5 s timed wait is 0.05 s (the house rule on generated timeouts); the
//!   check is the same lower bound.
//! * `test_weakref_exists` and `test_weakref_deleted` are not ported: Rust has no weak references
//!   to plain values (N/A in SPEC.md). `test_acquire_destroy` becomes dropping a held lock.
//! * `assertRaises(Type, ...)` checks `python_type()` of the returned error.
#![cfg(not(loom))] // the API tests run on the real build; loom_*.rs are the models

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use thread_lock::{Lock, LockError, RLock, TIMEOUT_MAX};

const SHORT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the shared cases need from a lock type.
trait LockType: Sync + Debug {
    fn new() -> Self;
    fn acquire(&self, blocking: bool, timeout: f64) -> Result<bool, LockError>;
    fn release(&self) -> Result<(), LockError>;
    fn with<R>(&self, f: impl FnOnce() -> R) -> R;
    fn waiters(&self) -> usize;
}

impl LockType for Lock {
    fn new() -> Self {
        Lock::new()
    }
    fn acquire(&self, blocking: bool, timeout: f64) -> Result<bool, LockError> {
        Lock::acquire(self, blocking, timeout)
    }
    fn release(&self) -> Result<(), LockError> {
        Lock::release(self)
    }
    fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        let _g = self.lock();
        f()
    }
    fn waiters(&self) -> usize {
        self.__waiters()
    }
}

impl LockType for RLock {
    fn new() -> Self {
        RLock::new()
    }
    fn acquire(&self, blocking: bool, timeout: f64) -> Result<bool, LockError> {
        RLock::acquire(self, blocking, timeout)
    }
    fn release(&self) -> Result<(), LockError> {
        RLock::release(self)
    }
    fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        let _g = self.lock();
        f()
    }
    fn waiters(&self) -> usize {
        self.__waiters()
    }
}

/// CPython's `Bunch(f, n)`: runs `f` on `n` threads and waits for all of them.
fn bunch(n: usize, f: impl Fn() + Sync) {
    thread::scope(|s| {
        for _ in 0..n {
            s.spawn(&f);
        }
    });
}

/// Polls `cond` until true, failing after `SHORT_TIMEOUT`.
fn wait_until(cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < SHORT_TIMEOUT, "timed out");
        thread::sleep(Duration::from_micros(200));
    }
}

// ---- BaseLockTests, for both lock types ----

// BaseLockTests.test_constructor
fn constructor<L: LockType>() {
    let lock = L::new();
    drop(lock);
}

// BaseLockTests.test_repr
fn repr<L: LockType>() {
    let lock = L::new();
    assert!(format!("{lock:?}").starts_with("<unlocked "), "{lock:?}");
    assert!(format!("{lock:?}").contains(" object"));
}

// BaseLockTests.test_locked_repr
fn locked_repr<L: LockType>() {
    let lock = L::new();
    lock.acquire(true, -1.0).unwrap();
    assert!(format!("{lock:?}").starts_with("<locked "), "{lock:?}");
    lock.release().unwrap();
}

// BaseLockTests.test_acquire_destroy
fn acquire_destroy<L: LockType>() {
    let lock = L::new();
    lock.acquire(true, -1.0).unwrap();
    drop(lock);
}

// BaseLockTests.test_acquire_release
fn acquire_release<L: LockType>() {
    let lock = L::new();
    lock.acquire(true, -1.0).unwrap();
    lock.release().unwrap();
}

// BaseLockTests.test_try_acquire
fn try_acquire<L: LockType>() {
    let lock = L::new();
    assert_eq!(lock.acquire(false, -1.0), Ok(true));
    lock.release().unwrap();
}

// BaseLockTests.test_try_acquire_contended
fn try_acquire_contended<L: LockType>() {
    let lock = L::new();
    lock.acquire(true, -1.0).unwrap();
    let result = AtomicUsize::new(2);
    bunch(1, || {
        result.store(
            usize::from(lock.acquire(false, -1.0).unwrap()),
            Ordering::SeqCst,
        )
    });
    assert_eq!(result.load(Ordering::SeqCst), 0);
    lock.release().unwrap();
}

// BaseLockTests.test_acquire_contended
fn acquire_contended<L: LockType>() {
    let lock = L::new();
    lock.acquire(true, -1.0).unwrap();
    let finished = AtomicUsize::new(0);
    const N: usize = 5;
    thread::scope(|s| {
        for _ in 0..N {
            s.spawn(|| {
                lock.acquire(true, -1.0).unwrap();
                lock.release().unwrap();
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
        // Threads block on lock.acquire().
        wait_until(|| lock.waiters() == N);
        assert_eq!(finished.load(Ordering::SeqCst), 0);
        // Threads unblocked.
        lock.release().unwrap();
    });
    assert_eq!(finished.load(Ordering::SeqCst), N);
}

// BaseLockTests.test_with
fn with<L: LockType>() {
    let lock = L::new();
    let f = || {
        lock.acquire(true, -1.0).unwrap();
        lock.release().unwrap();
    };
    // Acquire the lock, do nothing, with releases the lock.
    lock.with(|| ());
    // Check that the lock is unacquired.
    bunch(1, f);
    // Acquire the lock, raise an exception, with releases the lock.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lock.with(|| panic!("TypeError"))
    }));
    assert!(r.is_err());
    // Check that the lock is unacquired even if after an exception was raised in the previous
    // "with lock:" block.
    bunch(1, f);
}

// BaseLockTests.test_thread_leak
fn thread_leak<L: LockType>() {
    let lock = L::new();
    bunch(15, || {
        lock.acquire(true, -1.0).unwrap();
        lock.release().unwrap();
    });
}

// BaseLockTests.test_timeout
fn timeout<L: LockType>() {
    let lock = L::new();
    // Can't set timeout if not blocking.
    assert_eq!(
        lock.acquire(false, 1.0).unwrap_err().python_type(),
        "ValueError"
    );
    // Invalid timeout values.
    assert_eq!(
        lock.acquire(true, -100.0).unwrap_err().python_type(),
        "ValueError"
    );
    assert_eq!(
        lock.acquire(true, 1e100).unwrap_err().python_type(),
        "OverflowError"
    );
    assert_eq!(
        lock.acquire(true, TIMEOUT_MAX + 1.0)
            .unwrap_err()
            .python_type(),
        "OverflowError"
    );
    // TIMEOUT_MAX is ok.
    lock.acquire(true, TIMEOUT_MAX).unwrap();
    lock.release().unwrap();
    let t1 = Instant::now();
    assert_eq!(lock.acquire(true, 5.0), Ok(true));
    // Just a sanity test that it didn't actually wait for the timeout.
    assert!(t1.elapsed() < Duration::from_secs(5));
    let results = std::sync::Mutex::new(None);
    bunch(1, || {
        let t1 = Instant::now();
        let got = lock.acquire(true, 0.05).unwrap();
        *results.lock().unwrap() = Some((got, t1.elapsed()));
    });
    let (got, waited) = results.into_inner().unwrap().unwrap();
    assert!(!got);
    assert!(waited >= Duration::from_millis(50));
    lock.release().unwrap();
}

macro_rules! base_lock_tests {
    ($($name:ident => $case:ident::<$ty:ty>,)*) => {$(
        #[doc = concat!("BaseLockTests.test_", stringify!($case), " on ", stringify!($ty), ".")]
        #[test]
        fn $name() {
            $case::<$ty>();
        }
    )*};
}

base_lock_tests! {
    lock_constructor => constructor::<Lock>,
    rlock_constructor => constructor::<RLock>,
    lock_repr => repr::<Lock>,
    rlock_repr => repr::<RLock>,
    lock_locked_repr => locked_repr::<Lock>,
    rlock_locked_repr => locked_repr::<RLock>,
    lock_acquire_destroy => acquire_destroy::<Lock>,
    rlock_acquire_destroy => acquire_destroy::<RLock>,
    lock_acquire_release => acquire_release::<Lock>,
    rlock_acquire_release => acquire_release::<RLock>,
    lock_try_acquire => try_acquire::<Lock>,
    rlock_try_acquire => try_acquire::<RLock>,
    lock_try_acquire_contended => try_acquire_contended::<Lock>,
    rlock_try_acquire_contended => try_acquire_contended::<RLock>,
    lock_acquire_contended => acquire_contended::<Lock>,
    rlock_acquire_contended => acquire_contended::<RLock>,
    lock_with => with::<Lock>,
    rlock_with => with::<RLock>,
    lock_thread_leak => thread_leak::<Lock>,
    rlock_thread_leak => thread_leak::<RLock>,
    lock_timeout => timeout::<Lock>,
    rlock_timeout => timeout::<RLock>,
}

// ---- LockTests ----

// LockTests.test_reacquire
/// proves: LOCK-8
#[test]
fn lock_reacquire() {
    // Lock needs to be released before re-acquiring.
    let lock = Lock::new();
    let phase = AtomicUsize::new(0);
    thread::scope(|s| {
        s.spawn(|| {
            lock.acquire(true, -1.0).unwrap();
            phase.fetch_add(1, Ordering::SeqCst);
            lock.acquire(true, -1.0).unwrap();
            phase.fetch_add(1, Ordering::SeqCst);
        });
        // Thread blocked on lock.acquire().
        wait_until(|| phase.load(Ordering::SeqCst) == 1);
        wait_until(|| lock.__waiters() == 1);
        assert_eq!(phase.load(Ordering::SeqCst), 1);
        // Thread unblocked.
        lock.release().unwrap();
        wait_until(|| phase.load(Ordering::SeqCst) == 2);
    });
}

// LockTests.test_different_thread
/// proves: LOCK-8
#[test]
fn lock_different_thread() {
    // Lock can be released from a different thread.
    let lock = Lock::new();
    lock.acquire(true, -1.0).unwrap();
    bunch(1, || lock.release().unwrap());
    lock.acquire(true, -1.0).unwrap();
    lock.release().unwrap();
}

// LockTests.test_state_after_timeout
/// proves: LOCK-7, LOCK-10
#[test]
fn lock_state_after_timeout() {
    // Issue #11618: check that lock is in a proper state after a (non-zero) timeout.
    let lock = Lock::new();
    lock.acquire(true, -1.0).unwrap();
    assert_eq!(lock.acquire(true, 0.01), Ok(false));
    lock.release().unwrap();
    assert!(!lock.locked());
    assert_eq!(lock.acquire(false, -1.0), Ok(true));
}

// LockTests.test_at_fork_reinit
/// proves: FORK-1
#[test]
fn lock_at_fork_reinit() {
    fn use_lock(lock: &Lock) {
        // Make sure that the lock still works normally after _at_fork_reinit().
        lock.acquire(true, -1.0).unwrap();
        lock.release().unwrap();
    }
    // Unlocked.
    let lock = Lock::new();
    // SAFETY: no other thread uses the lock.
    unsafe { lock.reinit_after_fork() };
    use_lock(&lock);
    // Locked: _at_fork_reinit() resets the lock to the unlocked state.
    let lock2 = Lock::new();
    lock2.acquire(true, -1.0).unwrap();
    // SAFETY: as above.
    unsafe { lock2.reinit_after_fork() };
    use_lock(&lock2);
}

// ---- RLockTests ----

// RLockTests.test_reacquire
/// proves: RLOCK-2
#[test]
fn rlock_reacquire() {
    let lock = RLock::new();
    lock.acquire(true, -1.0).unwrap();
    lock.acquire(true, -1.0).unwrap();
    lock.release().unwrap();
    lock.acquire(true, -1.0).unwrap();
    lock.release().unwrap();
    lock.release().unwrap();
}

// RLockTests.test_release_unacquired
/// proves: RLOCK-3
#[test]
fn rlock_release_unacquired() {
    // Cannot release an unacquired lock.
    let lock = RLock::new();
    assert_eq!(lock.release().unwrap_err().python_type(), "RuntimeError");
    lock.acquire(true, -1.0).unwrap();
    lock.acquire(true, -1.0).unwrap();
    lock.release().unwrap();
    lock.acquire(true, -1.0).unwrap();
    lock.release().unwrap();
    lock.release().unwrap();
    assert_eq!(lock.release().unwrap_err().python_type(), "RuntimeError");
}

// RLockTests.test_release_save_unacquired
/// proves: RLOCK-5
#[test]
fn rlock_release_save_unacquired() {
    // Cannot _release_save an unacquired lock.
    let lock = RLock::new();
    assert_eq!(
        lock.release_save().unwrap_err().python_type(),
        "RuntimeError"
    );
    lock.acquire(true, -1.0).unwrap();
    lock.acquire(true, -1.0).unwrap();
    lock.release().unwrap();
    lock.acquire(true, -1.0).unwrap();
    lock.release().unwrap();
    lock.release().unwrap();
    assert_eq!(
        lock.release_save().unwrap_err().python_type(),
        "RuntimeError"
    );
}

// RLockTests.test_recursion_count
/// proves: RLOCK-5
#[test]
fn rlock_recursion_count() {
    let lock = RLock::new();
    assert_eq!(lock.recursion_count(), 0);
    lock.acquire(true, -1.0).unwrap();
    assert_eq!(lock.recursion_count(), 1);
    lock.acquire(true, -1.0).unwrap();
    lock.acquire(true, -1.0).unwrap();
    assert_eq!(lock.recursion_count(), 3);
    lock.release().unwrap();
    assert_eq!(lock.recursion_count(), 2);
    lock.release().unwrap();
    lock.release().unwrap();
    assert_eq!(lock.recursion_count(), 0);

    let phase = AtomicUsize::new(0);
    thread::scope(|s| {
        s.spawn(|| {
            lock.acquire(true, -1.0).unwrap();
            phase.fetch_add(1, Ordering::SeqCst);
            wait_until(|| phase.load(Ordering::SeqCst) == 2);
            lock.release().unwrap();
            phase.fetch_add(1, Ordering::SeqCst);
        });
        // Thread holds the lock.
        wait_until(|| phase.load(Ordering::SeqCst) == 1);
        assert_eq!(lock.recursion_count(), 0);
        // Thread unblocked.
        phase.fetch_add(1, Ordering::SeqCst);
        wait_until(|| phase.load(Ordering::SeqCst) == 3);
        assert_eq!(lock.recursion_count(), 0);
    });
}

// RLockTests.test_different_thread
/// proves: RLOCK-3
#[test]
fn rlock_different_thread() {
    // Cannot release from a different thread.
    let lock = RLock::new();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
    thread::scope(|s| {
        let lock = &lock;
        s.spawn(move || {
            lock.acquire(true, -1.0).unwrap();
            held_tx.send(()).unwrap();
            finish_rx.recv().unwrap();
            // (CPython's thread ends holding it; ours releases so the lock is dropped clean.)
            lock.release().unwrap();
        });
        held_rx.recv().unwrap();
        assert_eq!(lock.release().unwrap_err().python_type(), "RuntimeError");
        finish_tx.send(()).unwrap();
    });
}

// RLockTests.test__is_owned
/// proves: RLOCK-5
#[test]
fn rlock_is_owned() {
    let lock = RLock::new();
    assert!(!lock.is_owned());
    lock.acquire(true, -1.0).unwrap();
    assert!(lock.is_owned());
    lock.acquire(true, -1.0).unwrap();
    assert!(lock.is_owned());
    let result = AtomicUsize::new(2);
    bunch(1, || {
        result.store(usize::from(lock.is_owned()), Ordering::SeqCst)
    });
    assert_eq!(result.load(Ordering::SeqCst), 0);
    lock.release().unwrap();
    assert!(lock.is_owned());
    lock.release().unwrap();
    assert!(!lock.is_owned());
}
