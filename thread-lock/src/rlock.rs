//! [`RLock`], CPython's `_thread.RLock`: a reentrant lock owned by the thread that took it.
//!
//! # Implementation details
//!
//! An `RLock` is a [`RawLock`] plus two fields, `owner` (the owner's `get_ident()`, 0 when free)
//! and `extra`, the levels held beyond the first: the recursion count is `extra + 1`, wrapping,
//! so the count of 0 that only [`acquire_restore`](RLock::acquire_restore) can set is
//! `extra == usize::MAX`. Both are written only by the thread that holds the raw lock; `owner` is
//! cleared before the raw lock is released, and `extra` is 0 whenever the lock is free (the last
//! release finds it there, [`release_save`](RLock::release_save) and the fork reinit put it
//! back). So taking a free lock writes `owner` alone, and releasing the last level tests `extra`
//! against 0 and writes `owner` alone: the pair is a compare-and-swap, a swap, two stores and the
//! owner checks. The orderings:
//!
//! * `owner` is read and written with `Relaxed`. A thread compares it with its own ident. If the
//!   thread owns the lock, it wrote that value itself and program order makes it visible. If it
//!   does not, the value it reads cannot be its own ident: it never stored its ident there, or
//!   it stored 0 after it (before releasing), and coherence forbids reading a value older than
//!   its own latest write. Idents are unique among live threads (CORE-2), so no other thread
//!   writes our ident. The comparison therefore needs no synchronisation.
//! * `extra` is read and written with `Relaxed`: only the owner changes it, and a new owner's
//!   view of it (0) is ordered by the raw lock (the previous owner's Release unlock, our Acquire
//!   lock). Other threads read it only for snapshots (`Debug`), where any recent value is right.
//!   It is an atomic rather than a plain cell only so those snapshots are not data races.
//! * The raw lock's own Acquire/Release orderings carry the data the `RLock` protects.

use crate::clock::Nanos;
use crate::error::LockError;
use crate::lock::acquire_raw;
use crate::loom::{AtomicU64, AtomicUsize};
use crate::raw::RawLock;
use crate::timeout::{Timeout, parse_timeout, surely_valid};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::Ordering::Relaxed;
use thread_core::{Ident, get_ident};

/// CPython's `_thread.RLock`: reentrant, owned; released only by its owner.
///
/// ```
/// use thread_lock::RLock;
///
/// let rlock = RLock::new();
/// assert_eq!(rlock.acquire(true, -1.0), Ok(true));
/// assert_eq!(rlock.acquire(false, -1.0), Ok(true)); // reentrant
/// assert_eq!(rlock.recursion_count(), 2);
/// rlock.release().unwrap();
/// rlock.release().unwrap();
/// assert!(!rlock.locked());
/// ```
pub struct RLock {
    raw: RawLock,
    owner: AtomicU64,
    /// The levels held beyond the first (see the module docs).
    extra: AtomicUsize,
}

/// What [`RLock::release_save`] returns and [`RLock::acquire_restore`] takes: CPython's
/// `(count, owner)`.
///
/// ```
/// use thread_lock::RLockState;
///
/// let me = thread_core::get_ident();
/// let state = RLockState::from_parts(2, me);
/// assert_eq!(state.into_parts(), (2, me));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RLockState {
    count: usize,
    owner: Ident,
}

impl RLockState {
    /// Builds a state from CPython's `(count, owner)` (a binding rebuilds `owner` with
    /// `Ident::from_u64`).
    ///
    /// ```
    /// let state = thread_lock::RLockState::from_parts(1, thread_core::get_ident());
    /// assert_eq!(state.into_parts().0, 1);
    /// ```
    pub fn from_parts(count: usize, owner: Ident) -> RLockState {
        RLockState { count, owner }
    }

    /// CPython's `(count, owner)`.
    ///
    /// ```
    /// let me = thread_core::get_ident();
    /// assert_eq!(thread_lock::RLockState::from_parts(3, me).into_parts(), (3, me));
    /// ```
    pub fn into_parts(self) -> (usize, Ident) {
        (self.count, self.owner)
    }
}

impl RLock {
    /// A new, unlocked RLock.
    ///
    /// ```
    /// static RLOCK: thread_lock::RLock = thread_lock::RLock::new();
    /// assert!(!RLOCK.locked());
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> RLock {
        RLock {
            raw: RawLock::new(),
            owner: AtomicU64::new(0),
            extra: AtomicUsize::new(0),
        }
    }

    /// A new, unlocked RLock; not `const` under loom.
    #[cfg(loom)]
    pub fn new() -> RLock {
        RLock {
            raw: RawLock::new(),
            owner: AtomicU64::new(0),
            extra: AtomicUsize::new(0),
        }
    }

    #[inline]
    fn owned_by(&self, me: u64) -> bool {
        // Relaxed: see "Implementation details" in the module docs.
        self.owner.load(Relaxed) == me
    }

    /// `rlock.acquire(blocking, timeout)`: the checks of LOCK-4..6 first, even when the caller
    /// already owns it (RLOCK-2); then [`acquire_with`](RLock::acquire_with).
    ///
    /// ```
    /// let rlock = thread_lock::RLock::new();
    /// rlock.acquire(true, -1.0).unwrap();
    /// assert_eq!(rlock.acquire(false, 0.0).unwrap_err().python_type(), "ValueError");
    /// assert_eq!(rlock.recursion_count(), 1);
    /// ```
    #[inline]
    pub fn acquire(&self, blocking: bool, timeout: f64) -> Result<bool, LockError> {
        let me = get_ident().as_u64();
        // The common arguments cannot fail a check (see `Lock::acquire`).
        if surely_valid(blocking, timeout) {
            if self.owned_by(me) {
                return self.add_level();
            }
            if self.raw.try_lock_fast() {
                self.take_ownership(me);
                return Ok(true);
            }
        }
        // As in `Lock::acquire`: the slow path's outcome as a `bool` before it is wrapped again,
        // so that a caller's test of the outcome folds away on the fast paths.
        let acquired = self.acquire_checked(me, blocking, timeout)?;
        Ok(acquired)
    }

    /// The owner's re-acquire adds one to the count and returns `Ok(true)` at once (or
    /// `OverflowError|Internal lock count overflowed`, unchanged); another thread waits as
    /// [`Lock::acquire_with`](crate::Lock::acquire_with) does, interruptibly on the main thread
    /// (RLOCK-6).
    ///
    /// ```
    /// use thread_lock::{RLock, Timeout};
    ///
    /// let rlock = RLock::new();
    /// assert_eq!(rlock.acquire_with(Timeout::Forever), Ok(true));
    /// assert_eq!(rlock.acquire_with(Timeout::NonBlocking), Ok(true));
    /// assert_eq!(rlock.recursion_count(), 2);
    /// ```
    pub fn acquire_with(&self, timeout: Timeout) -> Result<bool, LockError> {
        let acquired = self.acquire_timeout(get_ident().as_u64(), timeout, None)?;
        Ok(acquired)
    }

    /// [`acquire_with`](RLock::acquire_with) as the continuation of a wait that began at
    /// `waiting_since`, keeping the caller's place among the waiters (see
    /// [`Lock::acquire_resuming`](crate::Lock::acquire_resuming)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use thread_lock::{RLock, Timeout};
    ///
    /// let rlock = RLock::new();
    /// let since = thread_core::wait::now();
    /// let slice = Timeout::Within(Duration::from_millis(1));
    /// assert_eq!(rlock.acquire_resuming(slice, since), Ok(true));
    /// assert_eq!(rlock.acquire_resuming(slice, since), Ok(true)); // reentrant
    /// assert_eq!(rlock.recursion_count(), 2);
    /// ```
    pub fn acquire_resuming(
        &self,
        timeout: Timeout,
        waiting_since: Nanos,
    ) -> Result<bool, LockError> {
        let acquired = self.acquire_timeout(get_ident().as_u64(), timeout, Some(waiting_since))?;
        Ok(acquired)
    }

    /// The owner's re-acquire: one more level, or `OverflowError` with the count unchanged.
    #[inline]
    fn add_level(&self) -> Result<bool, LockError> {
        if !self.add_level_if_room() {
            return Err(LockError::CountOverflow);
        }
        Ok(true)
    }

    /// [`acquire`](RLock::acquire) past its fast path: the arguments were not the common ones,
    /// or another thread holds the lock. The checks come first, even for the owner (RLOCK-2).
    #[cold]
    #[inline(never)]
    fn acquire_checked(&self, me: u64, blocking: bool, timeout: f64) -> Result<bool, LockError> {
        self.acquire_timeout(me, parse_timeout(blocking, timeout)?, None)
    }

    /// The owner's re-acquire, or the raw lock's acquire (the one path to the parking lot) and
    /// then ownership.
    fn acquire_timeout(
        &self,
        me: u64,
        timeout: Timeout,
        waiting_since: Option<Nanos>,
    ) -> Result<bool, LockError> {
        if self.owned_by(me) {
            return self.add_level();
        }
        if !acquire_raw(&self.raw, timeout, waiting_since)? {
            return Ok(false);
        }
        self.take_ownership(me);
        Ok(true)
    }

    /// The owner's re-acquire, if the count is below `usize::MAX`; whether it added the level.
    #[inline]
    fn add_level_if_room(&self) -> bool {
        // Relaxed: only the owner (us) writes `extra`.
        let extra = self.extra.load(Relaxed);
        // A count of usize::MAX is extra == usize::MAX - 1; from a count of 0 (extra ==
        // usize::MAX) the next level wraps to extra == 0, a count of 1.
        if extra == usize::MAX - 1 {
            return false;
        }
        self.extra.store(extra.wrapping_add(1), Relaxed);
        true
    }

    /// The recursion count while the caller owns the lock.
    fn count(&self) -> usize {
        // Relaxed: see "Implementation details".
        self.extra.load(Relaxed).wrapping_add(1)
    }

    /// Makes `me`, which has just taken the raw lock, the owner of one level: `extra` is
    /// already 0.
    #[inline]
    fn take_ownership(&self, me: u64) {
        // Relaxed: we hold the raw lock; see "Implementation details".
        self.owner.store(me, Relaxed);
    }

    /// Sets both fields, for `acquire_restore` (holding the raw lock) and for freeing the lock
    /// (`owner` 0 and a count of 1, `extra` 0, before the raw lock is released).
    fn set_owner(&self, owner: u64, count: usize) {
        // Relaxed: we hold the raw lock; see "Implementation details".
        self.owner.store(owner, Relaxed);
        self.extra.store(count.wrapping_sub(1), Relaxed);
    }

    /// Releases one level; the lock is freed when the count reaches 0. By a thread that does not
    /// own it: `RuntimeError|cannot release un-acquired lock` (RLOCK-3).
    ///
    /// ```
    /// let rlock = thread_lock::RLock::new();
    /// assert_eq!(rlock.release().unwrap_err().to_string(), "cannot release un-acquired lock");
    /// ```
    #[inline]
    pub fn release(&self) -> Result<(), LockError> {
        let me = get_ident().as_u64();
        // Relaxed: only the owner writes `extra`; the value is used only once ownership is
        // established.
        let extra = self.extra.load(Relaxed);
        if !self.owned_by(me) {
            return Err(LockError::ReleaseUnacquired);
        }
        if extra == 0 {
            // The last level; `extra` is already where a free lock keeps it.
            self.owner.store(0, Relaxed);
            // We own the raw lock, so this cannot fail; its Release publishes owner = 0.
            let _ = self.raw.unlock();
        } else if extra == usize::MAX {
            // A count of 0 with an owner, only reachable through `acquire_restore`.
            return Err(LockError::ReleaseUnacquired);
        } else {
            self.extra.store(extra - 1, Relaxed);
        }
        Ok(())
    }

    /// Whether any thread holds it ([3.14], RLOCK-6): a snapshot.
    ///
    /// ```
    /// let rlock = thread_lock::RLock::new();
    /// let _g = rlock.lock();
    /// assert!(rlock.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// `with rlock:` — acquires (not interruptibly) and releases one level on drop. The guard is
    /// not `Send`: only the owner may release.
    ///
    /// At the maximum count (`usize::MAX` levels, reachable only through
    /// [`acquire_restore`](RLock::acquire_restore)) no level can be added: where
    /// [`acquire`](RLock::acquire) returns `OverflowError` (RLOCK-2), `lock()`, which has no
    /// error to return and must not panic (R-1), returns a guard that adds no level and takes
    /// none off when dropped. The caller owns the lock for the guard's whole life all the same,
    /// through the levels it already holds.
    ///
    /// ```
    /// let rlock = thread_lock::RLock::new();
    /// {
    ///     let _a = rlock.lock();
    ///     let _b = rlock.lock();
    ///     assert_eq!(rlock.recursion_count(), 2);
    /// }
    /// assert!(!rlock.locked());
    /// ```
    pub fn lock(&self) -> RLockGuard<'_> {
        let me = get_ident().as_u64();
        let added_level = if self.owned_by(me) {
            self.add_level_if_room()
        } else {
            self.raw.lock();
            self.take_ownership(me);
            true
        };
        RLockGuard {
            rlock: self,
            added_level,
            _not_send: PhantomData,
        }
    }

    /// Whether the calling thread owns it (RLOCK-5).
    ///
    /// ```
    /// let rlock = thread_lock::RLock::new();
    /// assert!(!rlock.is_owned());
    /// let _g = rlock.lock();
    /// assert!(rlock.is_owned());
    /// ```
    pub fn is_owned(&self) -> bool {
        self.owned_by(get_ident().as_u64()) && self.count() > 0
    }

    /// The count if the calling thread owns it, else 0 (RLOCK-5).
    ///
    /// ```
    /// let rlock = thread_lock::RLock::new();
    /// let _g = rlock.lock();
    /// assert_eq!(rlock.recursion_count(), 1);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert_eq!(rlock.recursion_count(), 0));
    /// });
    /// ```
    pub fn recursion_count(&self) -> usize {
        if self.owned_by(get_ident().as_u64()) {
            self.count()
        } else {
            0
        }
    }

    /// Frees it completely and returns `(count, owner)`; by a thread that does not own it:
    /// `RuntimeError|cannot release un-acquired lock` [3.14] (RLOCK-5).
    ///
    /// ```
    /// let rlock = thread_lock::RLock::new();
    /// let _a = rlock.lock();
    /// let _b = rlock.lock();
    /// let state = rlock.release_save().unwrap();
    /// assert!(!rlock.locked());
    /// assert_eq!(state.into_parts(), (2, thread_core::get_ident()));
    /// rlock.acquire_restore(state);
    /// assert_eq!(rlock.recursion_count(), 2);
    /// # std::mem::forget((_a, _b)); rlock.release().unwrap(); rlock.release().unwrap();
    /// ```
    pub fn release_save(&self) -> Result<RLockState, LockError> {
        let me = get_ident();
        let count = self.count();
        if !self.owned_by(me.as_u64()) || count == 0 {
            return Err(LockError::ReleaseUnacquired);
        }
        self.set_owner(0, 1);
        // We own the raw lock: cannot fail.
        let _ = self.raw.unlock();
        Ok(RLockState { count, owner: me })
    }

    /// Blocks (not interruptibly) until it gets the lock, then restores count and owner
    /// (RLOCK-5).
    ///
    /// ```
    /// use thread_lock::{RLock, RLockState};
    ///
    /// let rlock = RLock::new();
    /// rlock.acquire_restore(RLockState::from_parts(3, thread_core::get_ident()));
    /// assert_eq!(rlock.recursion_count(), 3);
    /// ```
    pub fn acquire_restore(&self, state: RLockState) {
        self.raw.lock();
        self.set_owner(state.owner.as_u64(), state.count);
    }

    /// `_at_fork_reinit()`: unlocked, owner 0, count 0, waking nobody (FORK-1).
    ///
    /// # Safety
    ///
    /// No other thread may be waiting on or using the lock (as in a forked child).
    ///
    /// ```
    /// let rlock = thread_lock::RLock::new();
    /// std::mem::forget(rlock.lock());
    /// // SAFETY: no other thread knows this lock.
    /// unsafe { rlock.reinit_after_fork() };
    /// assert!(!rlock.locked());
    /// assert_eq!(rlock.recursion_count(), 0);
    /// ```
    pub unsafe fn reinit_after_fork(&self) {
        self.set_owner(0, 1);
        // SAFETY: forwarded from this function's contract.
        unsafe { self.raw.force_unlock() }
    }
}

impl RLock {
    /// A snapshot of `(owner, count)` that any thread may take, for a binding's `repr`
    /// (RLOCK-4): `(None, 0)` when free. Not for synchronisation: the lock may change hands
    /// right after.
    ///
    /// ```
    /// let rlock = thread_lock::RLock::new();
    /// assert_eq!(rlock.owner_and_count(), (None, 0));
    /// let _a = rlock.lock();
    /// let _b = rlock.lock();
    /// let me = thread_core::get_ident();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert_eq!(rlock.owner_and_count(), (Some(me), 2)));
    /// });
    /// ```
    pub fn owner_and_count(&self) -> (Option<Ident>, usize) {
        if !self.locked() {
            return (None, 0);
        }
        // Relaxed snapshots (see "Implementation details"); an owner of 0 means the holder has
        // not stored itself yet, or is leaving.
        let owner = Ident::from_u64(self.owner.load(Relaxed));
        let count = if owner.is_some() { self.count() } else { 0 };
        (owner, count)
    }
}

impl RLock {
    /// Not part of the API: how many threads are parked on this lock right now (for tests).
    #[doc(hidden)]
    pub fn __waiters(&self) -> usize {
        self.raw.waiters()
    }

    /// Not part of the API: the raw lock's state byte (0 when free with nobody queued), for the
    /// stress programs' quiescence checks.
    #[doc(hidden)]
    pub fn __state(&self) -> u8 {
        self.raw.state()
    }
}

impl Default for RLock {
    fn default() -> RLock {
        RLock::new()
    }
}

impl fmt::Debug for RLock {
    /// `<{locked|unlocked} _thread.RLock object owner={ident} count={n}>` (RLOCK-4).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let locked = self.locked();
        // Relaxed snapshots; both are 0 when free, and while a new owner has the raw lock but
        // has not yet written `owner`.
        let owner = self.owner.load(Relaxed);
        let (owner, count) = if locked && owner != 0 {
            (owner, self.count())
        } else {
            (0, 0)
        };
        let state = if locked { "locked" } else { "unlocked" };
        write!(
            f,
            "<{state} _thread.RLock object owner={owner} count={count}>"
        )
    }
}

/// Holds one level of an [`RLock`] until dropped. Not `Send`: only the owner may release it.
///
/// ```compile_fail
/// fn send<T: Send>() {}
/// send::<thread_lock::RLockGuard<'static>>(); // error: the guard is not Send
/// ```
///
/// ```
/// let rlock = thread_lock::RLock::new();
/// let guard = rlock.lock();
/// assert!(rlock.is_owned());
/// drop(guard);
/// assert!(!rlock.is_owned());
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct RLockGuard<'a> {
    rlock: &'a RLock,
    /// Whether `lock()` added a level for this guard (not at the maximum count), which its drop
    /// takes off again.
    added_level: bool,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared reference to the guard only exposes `Debug`, which reads atomics.
unsafe impl Sync for RLockGuard<'_> {}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        // The guard's thread owns a level (unless release_save gave it away meanwhile; then there
        // is nothing of ours to release).
        if self.added_level {
            let _ = self.rlock.release();
        }
    }
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard")
            .field("rlock", self.rlock)
            .field("added_level", &self.added_level)
            .finish()
    }
}
