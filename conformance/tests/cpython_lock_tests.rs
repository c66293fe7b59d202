//! Tests ported from CPython's `Lib/test/lock_tests.py` (`BaseLockTests`, `LockTests`,
//! `RLockTests`) and rewritten in Rust, run on `thread_lock::Lock` (CPython runs `LockTests`
//! on `_thread.allocate_lock` from `test_thread.py`) and `thread_lock::RLock`.
//!
//! Source:
//!   - CPython 3.13.0, `Lib/test/lock_tests.py` (the copy pyenv installs)
//!   - <https://github.com/python/cpython/blob/v3.13.0/Lib/test/lock_tests.py>
//!
//! Copyright & License:
//!   - Copyright (c) 2001-2024 Python Software Foundation
//!   - <https://docs.python.org/3/license.html> (PSF License Version 2)
//!
//! What changed, throughout: `Bunch` starts pythread joinable threads and joins them instead of
//! waiting for `_count()` (other tests of this binary run threads at the same time); an
//! exception in a bunch's function is a panic, caught in the thread and re-raised on the test's
//! thread. `test_repr` compares the whole `Debug` text (Rust has no address to match).
//! `test_timeout`'s 0.5 s wait is 50 ms, and its lower bound is the full timeout (LOCK-7: never
//! false before it has passed), not 60 % of it. Left out: `test_weakref_exists`,
//! `test_weakref_deleted` (weak references are Python-only), and `EventTests`,
//! `ConditionTests`, the semaphore and barrier tests (they test `threading`, not `_thread`).
//!
//! Atomic orderings: the counters and phases (the original's lists) are SeqCst, the test's own
//! observations, kept independent of the orderings of the locks under test.

use std::any::Any;
use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thread_core::{ThreadHandle, start_joinable_thread, start_new_thread};
use thread_lock::{Lock, LockError, RLock, TIMEOUT_MAX};

const SHORT_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(1);

/// The two lock types under one face, as the original's `self.locktype`.
trait LockType: Debug + Send + Sync + 'static {
    fn create() -> Self;
    fn acquire(&self, blocking: bool, timeout: f64) -> Result<bool, LockError>;
    fn release(&self) -> Result<(), LockError>;
    fn locked(&self) -> bool;
    /// `with lock: body()`.
    fn with<R>(&self, body: impl FnOnce() -> R) -> R;
    /// `repr` of a free lock.
    fn unlocked_repr() -> String;
    /// Whether `repr` of a lock held by the calling thread, acquired once, is right.
    fn locked_repr(&self) -> String;
}

impl LockType for Lock {
    fn create() -> Self {
        Lock::new()
    }
    fn acquire(&self, blocking: bool, timeout: f64) -> Result<bool, LockError> {
        Lock::acquire(self, blocking, timeout)
    }
    fn release(&self) -> Result<(), LockError> {
        Lock::release(self)
    }
    fn locked(&self) -> bool {
        Lock::locked(self)
    }
    fn with<R>(&self, body: impl FnOnce() -> R) -> R {
        let _guard = self.lock();
        body()
    }
    fn unlocked_repr() -> String {
        "<unlocked _thread.lock object>".to_owned()
    }
    fn locked_repr(&self) -> String {
        "<locked _thread.lock object>".to_owned()
    }
}

impl LockType for RLock {
    fn create() -> Self {
        RLock::new()
    }
    fn acquire(&self, blocking: bool, timeout: f64) -> Result<bool, LockError> {
        RLock::acquire(self, blocking, timeout)
    }
    fn release(&self) -> Result<(), LockError> {
        RLock::release(self)
    }
    fn locked(&self) -> bool {
        RLock::locked(self)
    }
    fn with<R>(&self, body: impl FnOnce() -> R) -> R {
        let _guard = self.lock();
        body()
    }
    fn unlocked_repr() -> String {
        "<unlocked _thread.RLock object owner=0 count=0>".to_owned()
    }
    fn locked_repr(&self) -> String {
        let me = thread_core::get_ident();
        format!("<locked _thread.RLock object owner={me} count=1>")
    }
}

fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < SHORT_TIMEOUT,
            "timed out waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// `wait_threads_blocked`: an arbitrary sleep to let threads block (only ever used where the
/// assertion after it holds whatever the threads managed to do meanwhile).
fn wait_threads_blocked(nthread: u32) {
    std::thread::sleep(Duration::from_millis(10) * nthread);
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "Box<dyn Any>".to_owned())
}

/// A bunch of threads running the same function.
struct Bunch {
    handles: Vec<ThreadHandle>,
    finished: Arc<AtomicUsize>,
    can_exit: Arc<AtomicBool>,
    exceptions: Arc<Mutex<Vec<String>>>,
}

impl Bunch {
    /// Starts `nthread` threads running `func` and waits until all have started; with
    /// `wait_before_exit` they do not end until [`Bunch::do_finish`].
    fn new(
        func: impl Fn() + Send + Sync + 'static,
        nthread: usize,
        wait_before_exit: bool,
    ) -> Bunch {
        let func = Arc::new(func);
        let started = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let can_exit = Arc::new(AtomicBool::new(!wait_before_exit));
        let exceptions = Arc::new(Mutex::new(Vec::new()));
        let handles = (0..nthread)
            .map(|_| {
                let (func, started, finished, can_exit, exceptions) = (
                    Arc::clone(&func),
                    Arc::clone(&started),
                    Arc::clone(&finished),
                    Arc::clone(&can_exit),
                    Arc::clone(&exceptions),
                );
                start_joinable_thread(move || {
                    // SeqCst throughout: these counters are the test's own observations.
                    started.fetch_add(1, SeqCst);
                    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| func())) {
                        exceptions.lock().unwrap().push(panic_message(&*payload));
                    }
                    finished.fetch_add(1, SeqCst);
                    wait_for("do_finish", || can_exit.load(SeqCst));
                })
                .expect("start_joinable_thread")
            })
            .collect();
        wait_for("the bunch to start", || started.load(SeqCst) >= nthread);
        Bunch {
            handles,
            finished,
            can_exit,
            exceptions,
        }
    }

    fn finished(&self) -> usize {
        self.finished.load(SeqCst)
    }

    fn do_finish(&self) {
        self.can_exit.store(true, SeqCst);
    }

    /// `__exit__`: waits for every thread, then re-raises what they raised.
    fn join(self) {
        for handle in &self.handles {
            handle.join(None).unwrap();
        }
        let exceptions = self.exceptions.lock().unwrap();
        assert!(
            exceptions.is_empty(),
            "the bunch's threads failed: {exceptions:?}"
        );
    }
}

/// `BaseLockTests`, for any lock type.
mod base {
    use super::*;

    pub(super) fn constructor<L: LockType>() {
        let lock = L::create();
        assert!(!lock.locked());
        drop(lock);
    }

    pub(super) fn repr<L: LockType>() {
        assert_eq!(format!("{:?}", L::create()), L::unlocked_repr());
    }

    pub(super) fn locked_repr<L: LockType>() {
        let lock = L::create();
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        assert_eq!(format!("{lock:?}"), lock.locked_repr());
    }

    pub(super) fn acquire_destroy<L: LockType>() {
        let lock = L::create();
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        drop(lock);
    }

    pub(super) fn acquire_release<L: LockType>() {
        let lock = L::create();
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        lock.release().unwrap();
    }

    pub(super) fn try_acquire<L: LockType>() {
        let lock = L::create();
        assert_eq!(lock.acquire(false, -1.0), Ok(true));
        lock.release().unwrap();
    }

    pub(super) fn try_acquire_contended<L: LockType>() {
        let lock = Arc::new(L::create());
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        let result = Arc::new(Mutex::new(Vec::new()));
        let (shared, out) = (Arc::clone(&lock), Arc::clone(&result));
        Bunch::new(
            move || out.lock().unwrap().push(shared.acquire(false, -1.0)),
            1,
            false,
        )
        .join();
        assert_eq!(result.lock().unwrap()[0], Ok(false));
        lock.release().unwrap();
    }

    pub(super) fn acquire_contended<L: LockType>() {
        let lock = Arc::new(L::create());
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        let shared = Arc::clone(&lock);
        const N: usize = 5;
        let bunch = Bunch::new(
            move || {
                assert_eq!(shared.acquire(true, -1.0), Ok(true));
                shared.release().unwrap();
            },
            N,
            false,
        );
        // Threads block on acquire.
        wait_threads_blocked(N as u32);
        assert_eq!(bunch.finished(), 0);
        // Threads unblocked.
        lock.release().unwrap();
        let finished = Arc::clone(&bunch.finished);
        bunch.join();
        assert_eq!(finished.load(SeqCst), N);
    }

    pub(super) fn with<L: LockType>() {
        let lock = Arc::new(L::create());
        let f = {
            let lock = Arc::clone(&lock);
            move || {
                assert_eq!(lock.acquire(true, -1.0), Ok(true));
                lock.release().unwrap();
            }
        };
        // Acquire the lock, do nothing, the guard releases it.
        lock.with(|| ());
        // The lock is free.
        Bunch::new(f.clone(), 1, false).join();
        // Acquire the lock, fail (panic), the guard releases it while unwinding.
        let failed = catch_unwind(AssertUnwindSafe(|| lock.with(|| panic!("TypeError"))));
        assert!(failed.is_err());
        // Free even after the failure.
        Bunch::new(f, 1, false).join();
        assert!(!lock.locked());
    }

    pub(super) fn thread_leak<L: LockType>() {
        let lock = Arc::new(L::create());
        let shared = Arc::clone(&lock);
        // Many threads, in the hope that idents are not recycled.
        Bunch::new(
            move || {
                assert_eq!(shared.acquire(true, -1.0), Ok(true));
                shared.release().unwrap();
            },
            15,
            false,
        )
        .join();
        assert!(!lock.locked());
    }

    pub(super) fn timeout<L: LockType>() {
        let lock = Arc::new(L::create());
        let kind = |r: Result<bool, LockError>| r.map_err(|e| e.python_type().to_owned());
        // Can't set a timeout if not blocking.
        assert_eq!(kind(lock.acquire(false, 1.0)), Err("ValueError".into()));
        // Invalid timeout values.
        assert_eq!(kind(lock.acquire(true, -100.0)), Err("ValueError".into()));
        assert_eq!(kind(lock.acquire(true, 1e100)), Err("OverflowError".into()));
        assert_eq!(
            kind(lock.acquire(true, TIMEOUT_MAX + 1.0)),
            Err("OverflowError".into())
        );
        // TIMEOUT_MAX is ok.
        assert_eq!(lock.acquire(true, TIMEOUT_MAX), Ok(true));
        lock.release().unwrap();
        let t1 = Instant::now();
        assert_eq!(lock.acquire(true, 5.0), Ok(true));
        // A sanity test that it did not wait for the timeout.
        assert!(t1.elapsed() < Duration::from_secs(5));
        let results = Arc::new(Mutex::new(None));
        let (shared, out) = (Arc::clone(&lock), Arc::clone(&results));
        Bunch::new(
            move || {
                let t1 = Instant::now();
                let got = shared.acquire(true, 0.05);
                *out.lock().unwrap() = Some((got, t1.elapsed()));
            },
            1,
            false,
        )
        .join();
        let (got, took) = results.lock().unwrap().take().unwrap();
        assert_eq!(got, Ok(false));
        assert!(took >= Duration::from_millis(50), "gave up after {took:?}");
        assert!(
            took < Duration::from_millis(500),
            "nothing insane: {took:?}"
        );
        lock.release().unwrap();
    }
}

macro_rules! base_lock_tests {
    ($type:ty) => {
        // BaseLockTests.test_constructor
        /// proves: LOCK-1
        #[test]
        fn test_constructor() {
            base::constructor::<$type>();
        }

        // BaseLockTests.test_repr
        /// proves: LOCK-12, RLOCK-4
        #[test]
        fn test_repr() {
            base::repr::<$type>();
        }

        // BaseLockTests.test_locked_repr
        /// proves: LOCK-12, RLOCK-4
        #[test]
        fn test_locked_repr() {
            base::locked_repr::<$type>();
        }

        // BaseLockTests.test_acquire_destroy
        /// proves: R-1
        #[test]
        fn test_acquire_destroy() {
            base::acquire_destroy::<$type>();
        }

        // BaseLockTests.test_acquire_release
        /// proves: LOCK-7, LOCK-10
        #[test]
        fn test_acquire_release() {
            base::acquire_release::<$type>();
        }

        // BaseLockTests.test_try_acquire
        /// proves: LOCK-7
        #[test]
        fn test_try_acquire() {
            base::try_acquire::<$type>();
        }

        // BaseLockTests.test_try_acquire_contended
        /// proves: LOCK-7
        #[test]
        fn test_try_acquire_contended() {
            base::try_acquire_contended::<$type>();
        }

        // BaseLockTests.test_acquire_contended
        /// proves: LOCK-7, R-4
        #[test]
        fn test_acquire_contended() {
            base::acquire_contended::<$type>();
        }

        // BaseLockTests.test_with
        /// proves: LOCK-11
        #[test]
        fn test_with() {
            base::with::<$type>();
        }

        // BaseLockTests.test_thread_leak
        /// proves: R-4
        #[test]
        fn test_thread_leak() {
            base::thread_leak::<$type>();
        }

        // BaseLockTests.test_timeout
        /// proves: LOCK-4, LOCK-5, LOCK-7, CORE-4, RLOCK-2
        #[test]
        fn test_timeout() {
            base::timeout::<$type>();
        }
    };
}

/// `LockTests` (and `test_thread.LockTests`, which runs them on `_thread.allocate_lock`).
mod lock {
    use super::*;

    base_lock_tests!(Lock);

    // LockTests.test_reacquire
    /// proves: LOCK-8
    #[test]
    fn test_reacquire() {
        let lock = Arc::new(Lock::new());
        let phase = Arc::new(AtomicUsize::new(0));
        let (shared, seen) = (Arc::clone(&lock), Arc::clone(&phase));
        // The thread ends holding the lock (a Lock has no owner); it is never joined, as in
        // the original, which only waits for it to exit.
        start_new_thread(move || {
            shared.acquire_blocking();
            seen.fetch_add(1, SeqCst);
            // Blocks: not reentrant.
            shared.acquire_blocking();
            seen.fetch_add(1, SeqCst);
        })
        .unwrap();
        wait_for("phase 1", || phase.load(SeqCst) >= 1);
        wait_threads_blocked(1);
        assert_eq!(phase.load(SeqCst), 1, "the second acquire did not block");
        // Unblocked by a release from another thread.
        lock.release().unwrap();
        wait_for("phase 2", || phase.load(SeqCst) >= 2);
    }

    // LockTests.test_different_thread
    /// proves: LOCK-8
    #[test]
    fn test_different_thread() {
        let lock = Arc::new(Lock::new());
        lock.acquire_blocking();
        let shared = Arc::clone(&lock);
        Bunch::new(move || shared.release().unwrap(), 1, false).join();
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        lock.release().unwrap();
    }

    // LockTests.test_state_after_timeout
    /// proves: LOCK-7, LOCK-10, R-2
    #[test]
    fn test_state_after_timeout() {
        let lock = Lock::new();
        lock.acquire_blocking();
        assert_eq!(lock.acquire(true, 0.01), Ok(false));
        lock.release().unwrap();
        assert!(!lock.locked());
        assert_eq!(lock.acquire(false, -1.0), Ok(true));
    }

    // LockTests.test_at_fork_reinit
    /// proves: FORK-1
    #[test]
    fn test_at_fork_reinit() {
        fn use_lock(lock: &Lock) {
            // The lock still works normally after the reinit.
            assert_eq!(lock.acquire(true, -1.0), Ok(true));
            lock.release().unwrap();
        }
        // Unlocked.
        let lock = Lock::new();
        // SAFETY: no other thread uses or waits on `lock`.
        unsafe { lock.reinit_after_fork() };
        use_lock(&lock);
        // Locked: the reinit resets it to unlocked.
        let lock2 = Lock::new();
        lock2.acquire_blocking();
        // SAFETY: as above; the lock is held by this thread only.
        unsafe { lock2.reinit_after_fork() };
        assert!(!lock2.locked());
        use_lock(&lock2);
    }
}

/// `RLockTests`.
mod rlock {
    use super::*;

    base_lock_tests!(RLock);

    fn runtime_error(result: Result<impl Debug, LockError>) {
        let error = result.expect_err("must fail");
        assert_eq!(error.python_type(), "RuntimeError");
        assert_eq!(error.to_string(), "cannot release un-acquired lock");
    }

    // RLockTests.test_reacquire
    /// proves: RLOCK-2
    #[test]
    fn test_reacquire() {
        let lock = RLock::new();
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        lock.release().unwrap();
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        lock.release().unwrap();
        lock.release().unwrap();
        assert!(!lock.locked());
    }

    // RLockTests.test_release_unacquired
    /// proves: RLOCK-3
    #[test]
    fn test_release_unacquired() {
        let lock = RLock::new();
        runtime_error(lock.release());
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        lock.release().unwrap();
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        lock.release().unwrap();
        lock.release().unwrap();
        runtime_error(lock.release());
    }

    // RLockTests.test_release_save_unacquired
    /// proves: RLOCK-5
    #[test]
    fn test_release_save_unacquired() {
        let lock = RLock::new();
        runtime_error(lock.release_save());
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        lock.release().unwrap();
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        lock.release().unwrap();
        lock.release().unwrap();
        runtime_error(lock.release_save());
    }

    // RLockTests.test_recursion_count
    /// proves: RLOCK-5
    #[test]
    fn test_recursion_count() {
        let lock = Arc::new(RLock::new());
        assert_eq!(lock.recursion_count(), 0);
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        assert_eq!(lock.recursion_count(), 1);
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        assert_eq!(lock.recursion_count(), 3);
        lock.release().unwrap();
        assert_eq!(lock.recursion_count(), 2);
        lock.release().unwrap();
        lock.release().unwrap();
        assert_eq!(lock.recursion_count(), 0);

        let phase = Arc::new(AtomicUsize::new(0));
        let (shared, seen) = (Arc::clone(&lock), Arc::clone(&phase));
        let handle = start_joinable_thread(move || {
            assert_eq!(shared.acquire(true, -1.0), Ok(true));
            seen.fetch_add(1, SeqCst);
            wait_for("phase 2", || seen.load(SeqCst) >= 2);
            shared.release().unwrap();
            seen.fetch_add(1, SeqCst);
        })
        .unwrap();
        // The other thread holds it: our count is 0.
        wait_for("phase 1", || phase.load(SeqCst) >= 1);
        assert_eq!(lock.recursion_count(), 0);
        // Unblock it.
        phase.fetch_add(1, SeqCst);
        wait_for("phase 3", || phase.load(SeqCst) >= 3);
        assert_eq!(lock.recursion_count(), 0);
        handle.join(None).unwrap();
    }

    // RLockTests.test_different_thread
    /// proves: RLOCK-3
    #[test]
    fn test_different_thread() {
        let lock = Arc::new(RLock::new());
        let shared = Arc::clone(&lock);
        let bunch = Bunch::new(
            move || assert_eq!(shared.acquire(true, -1.0), Ok(true)),
            1,
            true,
        );
        // Cannot release from a different thread.
        let refused = lock.release();
        bunch.do_finish();
        bunch.join();
        runtime_error(refused);
    }

    // RLockTests.test__is_owned
    /// proves: RLOCK-5
    #[test]
    fn test_is_owned() {
        let lock = Arc::new(RLock::new());
        assert!(!lock.is_owned());
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        assert!(lock.is_owned());
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        assert!(lock.is_owned());
        let result = Arc::new(AtomicBool::new(true));
        let (shared, out) = (Arc::clone(&lock), Arc::clone(&result));
        Bunch::new(move || out.store(shared.is_owned(), SeqCst), 1, false).join();
        assert!(!result.load(SeqCst));
        lock.release().unwrap();
        assert!(lock.is_owned());
        lock.release().unwrap();
        assert!(!lock.is_owned());
    }

    // Added: LockTests.test_at_fork_reinit on an RLock (FORK-1: owner 0, count 0).
    /// proves: FORK-1
    #[test]
    fn test_at_fork_reinit() {
        let lock = RLock::new();
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        // SAFETY: no other thread uses or waits on `lock`.
        unsafe { lock.reinit_after_fork() };
        assert!(!lock.locked());
        assert!(!lock.is_owned());
        assert_eq!(lock.recursion_count(), 0);
        assert_eq!(format!("{lock:?}"), RLock::unlocked_repr());
        assert_eq!(lock.acquire(true, -1.0), Ok(true));
        lock.release().unwrap();
        runtime_error(lock.release());
    }
}
