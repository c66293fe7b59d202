//! [`Lock`], CPython's `_thread.LockType`, and its guard [`LockGuard`].

use crate::clock::{Nanos, TIME_TO_BE_FAIR};
use crate::error::LockError;
use crate::raw::{Outcome, RawLock};
use crate::timeout::{Timeout, parse_timeout, surely_valid};
use std::fmt;
use std::time::Duration;
use thread_core::{is_main_thread, signals};

/// CPython's `_thread.lock`: a one-byte lock that is not owned (any thread may release it) and
/// not reentrant, with timed and interruptible acquires.
///
/// The `Result` forms ([`acquire`](Lock::acquire), [`acquire_with`](Lock::acquire_with),
/// [`release`](Lock::release)) behave as CPython's methods, errors and messages included. The
/// typed forms ([`try_acquire`](Lock::try_acquire), [`acquire_for`](Lock::acquire_for),
/// [`acquire_blocking`](Lock::acquire_blocking), [`lock`](Lock::lock)) skip the argument checks
/// and are not interruptible.
///
/// ```
/// use thread_lock::Lock;
///
/// static LOCK: Lock = Lock::new();
/// assert_eq!(LOCK.acquire(true, -1.0), Ok(true));
/// assert!(LOCK.locked());
/// assert_eq!(LOCK.acquire(false, -1.0), Ok(false)); // not reentrant
/// std::thread::spawn(|| LOCK.release().unwrap()).join().unwrap(); // not owned
/// assert!(!LOCK.locked());
/// ```
pub struct Lock {
    raw: RawLock,
}

impl Lock {
    /// A new, unlocked lock (LOCK-1).
    ///
    /// ```
    /// let lock = thread_lock::Lock::new();
    /// assert!(!lock.locked());
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> Lock {
        Lock {
            raw: RawLock::new(),
        }
    }

    /// A new, unlocked lock (LOCK-1); not `const` under loom.
    #[cfg(loom)]
    pub fn new() -> Lock {
        Lock {
            raw: RawLock::new(),
        }
    }

    /// `lock.acquire(blocking, timeout)`: CPython's argument checks (LOCK-4..6, through
    /// [`parse_timeout`](crate::parse_timeout)), then [`acquire_with`](Lock::acquire_with).
    /// `timeout` −1 waits forever.
    ///
    /// The common arguments (−1, or a blocking timeout from 0 to [`TIMEOUT_MAX`](crate::TIMEOUT_MAX))
    /// cannot fail a check: for them a free lock is taken with one compare-and-swap after three
    /// comparisons, and the timeout is converted only if the lock is busy.
    ///
    /// ```
    /// let lock = thread_lock::Lock::new();
    /// assert_eq!(lock.acquire(true, 0.01), Ok(true));
    /// assert_eq!(lock.acquire(true, 0.01), Ok(false)); // timed out
    /// assert_eq!(lock.acquire(false, 0.0).unwrap_err().python_type(), "ValueError");
    /// ```
    #[inline]
    pub fn acquire(&self, blocking: bool, timeout: f64) -> Result<bool, LockError> {
        // The outcome stays a `bool` until the end: a `Result<bool, LockError>` is sixteen bytes
        // returned through memory, and were the fast path's `Ok(true)` merged with the slow
        // path's, a caller's test of it would be done on the merged value, on every call.
        let acquired = if surely_valid(blocking, timeout) && self.raw.try_lock_fast() {
            true
        } else {
            acquire_checked(&self.raw, blocking, timeout)?
        };
        Ok(acquired)
    }

    /// Acquires within `timeout` and tells whether it got the lock (LOCK-7).
    ///
    /// On the main thread a blocking wait is interruptible (X-INTR-3, LOCK-13): woken by
    /// `interrupt_main` or by thread-core's `signals::notify` (or a signal's `EINTR`), it runs the
    /// pending handlers; if one fails it returns that error without the lock, otherwise it waits
    /// again until the original deadline. If the lock was handed over (LOCK-15) before the wait
    /// saw the interrupt, it returns `Ok(true)` and the interrupt stays pending.
    ///
    /// ```
    /// use std::time::Duration;
    /// use thread_lock::{Lock, Timeout};
    ///
    /// let lock = Lock::new();
    /// assert_eq!(lock.acquire_with(Timeout::NonBlocking), Ok(true));
    /// assert_eq!(lock.acquire_with(Timeout::Within(Duration::from_millis(1))), Ok(false));
    /// ```
    #[inline]
    pub fn acquire_with(&self, timeout: Timeout) -> Result<bool, LockError> {
        acquire_raw(&self.raw, timeout, None)
    }

    /// [`acquire_with`](Lock::acquire_with) as the continuation of a wait that began at
    /// `waiting_since` (a [`thread_core::wait::now`] reading): the caller keeps its place among
    /// the waiters, ahead of those that came after that time, and its fairness point, a
    /// millisecond after it (LOCK-15). A wait cut into slices, to do something between them
    /// (the Python bindings run signal handlers every 50 ms on the main thread), is so served as
    /// one wait; each slice on its own would queue behind every waiter that came during the
    /// earlier ones, and a steady stream of them could keep it waiting forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use thread_lock::{Lock, Timeout};
    ///
    /// let lock = Lock::new();
    /// let since = thread_core::wait::now();
    /// let slice = Timeout::Within(Duration::from_millis(1));
    /// assert_eq!(lock.acquire_resuming(slice, since), Ok(true));
    /// assert_eq!(lock.acquire_resuming(slice, since), Ok(false)); // the slice ran out
    /// ```
    #[inline]
    pub fn acquire_resuming(
        &self,
        timeout: Timeout,
        waiting_since: Nanos,
    ) -> Result<bool, LockError> {
        acquire_raw(&self.raw, timeout, Some(waiting_since))
    }

    /// One attempt, at once; no argument checks.
    ///
    /// ```
    /// let lock = thread_lock::Lock::new();
    /// assert!(lock.try_acquire());
    /// assert!(!lock.try_acquire());
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> bool {
        self.raw.try_lock()
    }

    /// Waits at most about `timeout` (never less); not interruptible.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = thread_lock::Lock::new();
    /// assert!(lock.acquire_for(Duration::from_millis(1)));
    /// assert!(!lock.acquire_for(Duration::from_millis(1)));
    /// ```
    #[inline]
    pub fn acquire_for(&self, timeout: Duration) -> bool {
        if self.raw.try_lock_fast() {
            return true;
        }
        // Not interruptible: the wait never reports an interrupt, so it never fails.
        wait(&self.raw, Timeout::Within(timeout), false, None) == Ok(true)
    }

    /// Waits as long as it takes; not interruptible (an interrupt stays pending).
    ///
    /// ```
    /// let lock = thread_lock::Lock::new();
    /// lock.acquire_blocking();
    /// assert!(lock.locked());
    /// ```
    #[inline]
    pub fn acquire_blocking(&self) {
        self.raw.lock();
    }

    /// Releases the lock, from any thread (LOCK-8). Checking that it is held and releasing it
    /// are one atomic step (LOCK-9). If a waiter has waited more than 1 ms it is handed the lock,
    /// which is then still `locked()` when this returns (LOCK-15).
    ///
    /// ```
    /// let lock = thread_lock::Lock::new();
    /// lock.acquire_blocking();
    /// assert_eq!(lock.release(), Ok(()));
    /// assert_eq!(lock.release().unwrap_err().to_string(), "release unlocked lock");
    /// ```
    #[inline]
    pub fn release(&self) -> Result<(), LockError> {
        self.raw.unlock().map_err(|_| LockError::ReleaseUnlocked)
    }

    /// [`release`](Lock::release) that never hands the lock to a waiter (LOCK-15's exception):
    /// the lock is unlocked when it returns, and a woken waiter competes for it like any
    /// newcomer. For locks whose releaser checks `locked()` right after releasing, as the
    /// thread-state locks of CPython 3.11/3.12's `threading` do (PY-8).
    ///
    /// ```
    /// let lock = thread_lock::Lock::new();
    /// lock.acquire_blocking();
    /// assert_eq!(lock.release_without_handoff(), Ok(()));
    /// assert!(!lock.locked());
    /// assert_eq!(lock.release_without_handoff().unwrap_err().to_string(), "release unlocked lock");
    /// ```
    #[inline]
    pub fn release_without_handoff(&self) -> Result<(), LockError> {
        self.raw
            .unlock_without_handoff()
            .map_err(|_| LockError::ReleaseUnlocked)
    }

    /// Whether the lock is held: a snapshot, not for synchronisation (LOCK-10).
    ///
    /// ```
    /// let lock = thread_lock::Lock::new();
    /// assert!(!lock.locked());
    /// ```
    #[inline]
    pub fn locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// `with lock:` — acquires (not interruptibly) and returns a guard that releases on drop
    /// (LOCK-11).
    ///
    /// ```
    /// let lock = thread_lock::Lock::new();
    /// {
    ///     let _guard = lock.lock();
    ///     assert!(lock.locked());
    /// }
    /// assert!(!lock.locked());
    /// ```
    #[inline]
    pub fn lock(&self) -> LockGuard<'_> {
        self.raw.lock();
        LockGuard { lock: self }
    }

    /// `_at_fork_reinit()`: makes the lock unlocked whatever its state, waking nobody (FORK-1).
    ///
    /// # Safety
    ///
    /// No other thread may be waiting on or using the lock (as in a forked child, where the
    /// parent's other threads do not exist).
    ///
    /// ```
    /// let lock = thread_lock::Lock::new();
    /// lock.acquire_blocking();
    /// // SAFETY: no other thread knows this lock.
    /// unsafe { lock.reinit_after_fork() };
    /// assert!(!lock.locked());
    /// ```
    pub unsafe fn reinit_after_fork(&self) {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.raw.force_unlock() }
    }
}

impl Lock {
    /// Not part of the API: how many threads are parked on this lock right now, so that tests
    /// can wait until a thread is asleep instead of sleeping for a guessed time.
    #[doc(hidden)]
    pub fn __waiters(&self) -> usize {
        self.raw.waiters()
    }

    /// Not part of the API: the state byte (0 when free with nobody queued), for the stress
    /// programs' check that a quiescent lock is back to 0. Only atomics: safe to call from a
    /// watchdog while the parking lot may be stuck.
    #[doc(hidden)]
    pub fn __state(&self) -> u8 {
        self.raw.state()
    }
}

impl Default for Lock {
    fn default() -> Lock {
        Lock::new()
    }
}

impl fmt::Debug for Lock {
    /// `<locked _thread.lock object>` / `<unlocked _thread.lock object>` (LOCK-12).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.locked() { "locked" } else { "unlocked" };
        write!(f, "<{state} _thread.lock object>")
    }
}

/// Every interruptible acquire (`Lock`'s and [`RLock`](crate::RLock)'s `acquire`,
/// `acquire_with` and `acquire_resuming`) on the raw lock: the fast compare-and-swap, then
/// [`wait`]; `waiting_since`, when the acquire continues a wait that began then.
#[inline]
pub(crate) fn acquire_raw(
    raw: &RawLock,
    timeout: Timeout,
    waiting_since: Option<Nanos>,
) -> Result<bool, LockError> {
    // The outcome as a `bool` until the end (as in `Lock::acquire`).
    let acquired = raw.try_lock_fast()
        || wait(
            raw,
            timeout,
            is_main_thread(),
            waiting_since.map(|since| since.saturating_add(TIME_TO_BE_FAIR)),
        )?;
    Ok(acquired)
}

/// [`Lock::acquire`] past its fast path: the arguments were not the common ones
/// or the lock was busy. CPython's checks, then [`acquire_raw`].
#[cold]
#[inline(never)]
fn acquire_checked(raw: &RawLock, blocking: bool, timeout: f64) -> Result<bool, LockError> {
    acquire_raw(raw, parse_timeout(blocking, timeout)?, None)
}

/// The one way from an acquire to the parking lot, once the fast compare-and-swap failed: one
/// more attempt for a non-blocking or zero timeout, otherwise a wait until `timeout` (the clock
/// is read only now). An `interruptible` wait runs the pending signal handlers when woken for
/// them; if one fails the acquire ends with its error, without the lock; otherwise the wait
/// resumes against the same deadline, and in the same place among the waiters. `fair_at`: the
/// caller's fairness point if it continues an earlier wait (see
/// [`Lock::acquire_resuming`]).
#[cold]
#[inline(never)]
fn wait(
    raw: &RawLock,
    timeout: Timeout,
    interruptible: bool,
    mut fair_at: Option<Nanos>,
) -> Result<bool, LockError> {
    let deadline = match timeout {
        Timeout::NonBlocking => return Ok(raw.try_lock()),
        Timeout::Within(d) if d.is_zero() => return Ok(raw.try_lock()),
        Timeout::Within(d) => Some(thread_core::wait::deadline_after(d)),
        Timeout::Forever => None,
    };
    loop {
        match raw.lock_slow(deadline, interruptible, &mut fair_at) {
            Outcome::Acquired => return Ok(true),
            Outcome::TimedOut => return Ok(false),
            Outcome::Interrupted => {
                signals::run_pending().map_err(|i| LockError::Interrupted(Box::new(i)))?
            }
        }
    }
}

/// Holds a [`Lock`] until dropped (`with lock:`, LOCK-11).
///
/// The guard is `Send`: it may be moved to (a scoped) thread and dropped there, since the lock
/// has no owner. Dropping it releases the lock if it is held and otherwise does nothing;
/// [`unlock`](LockGuard::unlock) returns CPython's error instead.
///
/// Like CPython's `__exit__`, a guard does not know whose hold it releases: if another thread
/// released the lock and a third thread took it since, dropping the guard releases that third
/// thread's hold.
///
/// ```
/// use thread_lock::Lock;
///
/// let lock = Lock::new();
/// let guard = lock.lock();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(guard)); // released on another thread
/// });
/// assert!(!lock.locked());
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl LockGuard<'_> {
    /// Releases now, returning `RuntimeError|release unlocked lock` if the lock is no longer held.
    ///
    /// ```
    /// let lock = thread_lock::Lock::new();
    /// let guard = lock.lock();
    /// lock.release().unwrap(); // someone else released it
    /// assert_eq!(guard.unlock().unwrap_err().python_type(), "RuntimeError");
    /// ```
    pub fn unlock(self) -> Result<(), LockError> {
        let lock = self.lock;
        std::mem::forget(self);
        lock.release()
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // An already-unlocked lock is not an error here (LOCK-11).
        let _ = self.lock.raw.unlock();
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("lock", self.lock)
            .finish()
    }
}
