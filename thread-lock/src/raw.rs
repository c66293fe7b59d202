//! The raw lock: one byte of state on our own parking lot.
//!
//! The design is CPython 3.13+'s `PyMutex` and parking_lot's `RawMutex`: two bits, a fast path of
//! one atomic instruction each way (a compare-and-swap to acquire, a swap to release), waiters
//! queued in [`crate::parking`] by the lock's address.
//!
//! # State
//!
//! | `PARKED` | `LOCKED` | meaning |
//! |---|---|---|
//! | 0 | 0 | free, nobody queued: `acquire` is one CAS 0 → `LOCKED` |
//! | 0 | 1 | held, nobody queued: `release` is one swap to 0 |
//! | 1 | 1 | held, waiters may be queued: `release` swaps to 0, then wakes one through the bucket |
//! | 1 | 0 | free, waiters queued: a woken waiter (or a newcomer, barging) takes it |
//!
//! # The invariant that keeps a parked thread from being lost
//!
//! *While no thread holds the bucket lock of this lock's address and no release is between its
//! swap and its slow path, if any waiter for the lock is queued, `PARKED` is set.* It holds
//! because
//!
//! * a waiter sets `PARKED` itself (a CAS, outside the bucket) and then, *under the bucket lock*,
//!   queues itself only if the state is still exactly `LOCKED | PARKED` (otherwise it retries);
//! * `PARKED` is cleared in two ways only. Under the bucket lock: by a release that leaves no
//!   waiter for the key queued, and by a timed-out or interrupted waiter that removes the last
//!   entry. And by a release's swap, which always continues under the bucket lock when it
//!   cleared `PARKED`: there it sets `PARKED` again if waiters are queued and the lock is held
//!   (by a newcomer that barged in meanwhile, whose release will then wake one), or wakes one if
//!   the lock is free;
//! * acquirers only add `LOCKED`.
//!
//! So a release that begins after a waiter queued itself sees `PARKED` (or follows a release
//! that did and has yet to run its slow path, which then finds the waiter queued) and, under the
//! bucket lock, dequeues and wakes a waiter. A woken waiter that was not handed the lock
//! tries to take it; if a newcomer barged in first, that newcomer's release finds `PARKED` set
//! (the remaining waiters kept it set, or the woken thread sets it again before it sleeps) and
//! wakes a waiter in turn.
//!
//! # Fairness (LOCK-15)
//!
//! A release that dequeues a waiter that has waited more than 1 ms hands the lock over: it sets
//! `LOCKED` again for the waiter (so `locked()` is true when `release` returns) and the waiter
//! returns owning it. Otherwise the lock stays free and the woken waiter competes with newcomers.
//!
//! # Release-if-locked (LOCK-9)
//!
//! Every release is one swap to 0, which checks `LOCKED` and clears it in one atomic step: of two
//! racing releases of a held lock, exactly one finds `LOCKED` set (unless the first handed the
//! lock over to a waiter, whose hold the second then releases, as in CPython). A release that
//! finds the lock free loses and changes nothing: the swap wrote the 0 it read, or it cleared
//! `PARKED`, which its slow path puts back before it returns the error.
//!
//! (The release was a CAS that expected exactly `LOCKED`, as parking_lot's and CPython's are;
//! the swap is std's futex mutex's, and measured about 0.3 ns less per pair on this project's
//! machine.)

use crate::clock::{self, Nanos, TIME_TO_BE_FAIR};
use crate::loom::{AtomicU8, spin_loop, yield_now};
use crate::parking::{self, Parked};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

/// Held.
const LOCKED: u8 = 1;
/// Waiters may be queued in the parking lot under this lock's address.
const PARKED: u8 = 2;

/// How many rounds a contended acquire spends before it parks: first [`SPIN_BUSY`] busy-wait
/// rounds, then yields.
#[cfg(not(loom))]
const SPIN_LIMIT: u32 = 60;
/// Spinning is only a delay; loom would explore every iteration of it.
#[cfg(loom)]
const SPIN_LIMIT: u32 = 0;
/// The busy-wait rounds: one pause instruction and one load each, so that a waiter sees the
/// release within a round (std's futex mutex spins the same way, 100 rounds), for about a
/// microsecond and a half: longer than a short critical section or a two-thread handoff, so
/// that neither puts a thread to sleep. The rounds after it yield the processor (as
/// parking_lot's do), which lets a preempted holder run when there are more threads than cores.
/// (Spinning with exponentially longer pauses, 2, 4 and 8, then seven yields, as before, saw a
/// release late and slept more: contended 2 and 4 threads measured 1.2x std's mutex.)
const SPIN_BUSY: u32 = 50;

/// How a blocking acquire ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The caller owns the lock.
    Acquired,
    /// The deadline passed without the lock.
    TimedOut,
    /// The wait was interrupted (a signal, or thread-core's notify) without the lock.
    Interrupted,
}

/// The release found the lock unlocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotLocked;

/// The one-byte lock. Not reentrant, not owned: any thread may release it.
#[derive(Debug)]
pub(crate) struct RawLock {
    state: AtomicU8,
}

impl RawLock {
    /// A free lock.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> RawLock {
        RawLock {
            state: AtomicU8::new(0),
        }
    }

    /// A free lock (loom's atomics cannot be built in a `const fn`).
    #[cfg(loom)]
    pub(crate) fn new() -> RawLock {
        RawLock {
            state: AtomicU8::new(0),
        }
    }

    /// The key under which waiters queue in the parking lot.
    fn key(&self) -> usize {
        &self.state as *const AtomicU8 as usize
    }

    /// The fast path: one CAS from free-and-unqueued. Acquire: the critical section begins after
    /// the previous owner's Release.
    #[inline]
    pub(crate) fn try_lock_fast(&self) -> bool {
        self.state
            .compare_exchange(0, LOCKED, Acquire, Relaxed)
            .is_ok()
    }

    /// One attempt, which succeeds whenever `LOCKED` is clear (also with waiters queued).
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        self.try_lock_fast() || self.try_lock_slow()
    }

    #[cold]
    fn try_lock_slow(&self) -> bool {
        // Relaxed: the CAS below is what acquires.
        let mut v = self.state.load(Relaxed);
        while v & LOCKED == 0 {
            match self
                .state
                .compare_exchange_weak(v, v | LOCKED, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
        false
    }

    /// Blocks until acquired; not interruptible.
    #[inline]
    pub(crate) fn lock(&self) {
        if !self.try_lock_fast() {
            self.lock_slow(None, false, &mut None);
        }
    }

    /// Whether the lock is held (a snapshot; Relaxed, since it orders nothing).
    #[inline]
    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Relaxed) & LOCKED != 0
    }

    /// The contended acquire: spin, then park until acquired, until `deadline` (absolute
    /// monotonic nanoseconds; `None`: no deadline), or — when `interruptible` — interrupted.
    ///
    /// `fair_at` is the waiter's fairness point (LOCK-15), which also orders it among the
    /// waiters: `None` until it first parks, when it is set to a millisecond from then. A caller
    /// that waits again after a timeout or an interrupt passes the same slot back, and so keeps
    /// its place.
    #[cold]
    #[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))] // SPIN_LIMIT is 0 under loom
    pub(crate) fn lock_slow(
        &self,
        deadline: Option<Nanos>,
        interruptible: bool,
        fair_at: &mut Option<Nanos>,
    ) -> Outcome {
        let mut spins = 0;
        // Relaxed: only the CASes acquire.
        let mut v = self.state.load(Relaxed);
        loop {
            if v & LOCKED == 0 {
                match self
                    .state
                    .compare_exchange_weak(v, v | LOCKED, Acquire, Relaxed)
                {
                    Ok(_) => return Outcome::Acquired,
                    Err(now) => {
                        v = now;
                        continue;
                    }
                }
            }
            // Spin only while nobody is queued: once threads park, newcomers queue behind them.
            if v & PARKED == 0 && spins < SPIN_LIMIT {
                if spins < SPIN_BUSY {
                    spin_loop();
                } else if let Some(d) = deadline
                    && clock::now() >= d
                {
                    // A yield can give the processor away for a whole time slice: a timed
                    // acquire must not sleep through its deadline in them.
                    return Outcome::TimedOut;
                } else {
                    yield_now();
                }
                spins += 1;
                v = self.state.load(Relaxed);
                continue;
            }
            if let Some(d) = deadline
                && clock::now() >= d
            {
                return Outcome::TimedOut;
            }
            if v & PARKED == 0 {
                // Relaxed: the flag publishes no data; the bucket lock orders what follows.
                if let Err(now) = self
                    .state
                    .compare_exchange_weak(v, v | PARKED, Relaxed, Relaxed)
                {
                    v = now;
                    continue;
                }
            }
            let fair_at =
                *fair_at.get_or_insert_with(|| clock::now().saturating_add(TIME_TO_BE_FAIR));
            let parked = parking::park(
                self.key(),
                // Relaxed: run under the bucket lock, which orders it against every release that
                // could clear LOCKED while PARKED is set.
                || self.state.load(Relaxed) == LOCKED | PARKED,
                fair_at,
                deadline,
                interruptible,
                |last| {
                    if last {
                        // Under the bucket lock, with no waiter left (the invariant's second
                        // clearing case). Relaxed: the flag publishes no data.
                        self.state.fetch_and(!PARKED, Relaxed);
                    }
                },
            );
            match parked {
                // The releaser left LOCKED set for us; its Release un-arming of our parker,
                // which we read with Acquire, orders its critical section before ours.
                Parked::Unparked { handoff: true } => return Outcome::Acquired,
                Parked::Unparked { handoff: false } => spins = 0,
                Parked::Invalid => {}
                Parked::TimedOut => return Outcome::TimedOut,
                Parked::Interrupted => return Outcome::Interrupted,
            }
            v = self.state.load(Relaxed);
        }
    }

    /// Releases the lock if it is held, as one atomic step (LOCK-9). The fast path is one swap.
    #[inline]
    pub(crate) fn unlock(&self) -> Result<(), NotLocked> {
        // Release: publishes the critical section to the next owner's Acquire.
        match self.state.swap(0, Release) {
            LOCKED => Ok(()),
            seen => self.unlock_slow(seen, true),
        }
    }

    /// [`unlock`](Self::unlock) that never hands the lock over (LOCK-15's exception for PY-8):
    /// the lock is free when it returns, and a woken waiter competes for it like a newcomer.
    #[inline]
    pub(crate) fn unlock_without_handoff(&self) -> Result<(), NotLocked> {
        // Release: as in `unlock`.
        match self.state.swap(0, Release) {
            LOCKED => Ok(()),
            seen => self.unlock_slow(seen, false),
        }
    }

    /// The rest of a release whose swap read `seen`, not `LOCKED`: it lost if the lock was free;
    /// if the swap cleared `PARKED`, it puts the invariant back under the bucket lock and wakes a
    /// waiter if the lock is still free. `fair` allows the handoff of LOCK-15.
    #[cold]
    fn unlock_slow(&self, seen: u8, fair: bool) -> Result<(), NotLocked> {
        let result = if seen & LOCKED != 0 {
            Ok(())
        } else {
            Err(NotLocked)
        };
        if seen & PARKED == 0 {
            // The swap read 0 and wrote 0: a release of a free lock that changed nothing.
            return result;
        }
        // A losing release hands nothing over: the lock was not its to give.
        let fair = fair && result.is_ok();
        parking::unpark_one(self.key(), |front| {
            // Nobody queued: PARKED, which the swap cleared, is right clear. (A waiter that set
            // it again since waits for this bucket lock to validate, and queues itself only if
            // the lock is held with PARKED set, whose holder's release will find it.)
            let Some(front) = front else {
                return (result, None);
            };
            let mut handoff = None;
            // Relaxed: the CAS below decides.
            let mut v = self.state.load(Relaxed);
            loop {
                let (new, wake) = if v & LOCKED != 0 {
                    // A newcomer took the lock since the swap: its release wakes the waiter.
                    (v | PARKED, None)
                } else {
                    let h =
                        *handoff.get_or_insert_with(|| fair && clock::handoff_due(front.fair_at));
                    let more = if front.more { PARKED } else { 0 };
                    (if h { LOCKED | more } else { more }, Some(h))
                };
                // Acquire: the value read may be a newcomer's release since our swap, whose
                // critical section must come before the woken waiter's (we hand it over through
                // the waiter's parker). Release: the next owner's Acquire CAS may read what we
                // write.
                match self.state.compare_exchange(v, new, AcqRel, Relaxed) {
                    Ok(_) => return (result, wake),
                    Err(now) => v = now,
                }
            }
        })
    }

    /// The state byte (a snapshot, for the stress programs' quiescence checks).
    pub(crate) fn state(&self) -> u8 {
        // Relaxed: a snapshot that orders nothing.
        self.state.load(Relaxed)
    }

    /// How many threads are queued on this lock right now (a snapshot, for tests).
    pub(crate) fn waiters(&self) -> usize {
        parking::queued(self.key())
    }

    /// Makes the lock free without waking anyone (FORK-1).
    ///
    /// # Safety
    ///
    /// No other thread may be using or waiting on the lock.
    pub(crate) unsafe fn force_unlock(&self) {
        // Release: a later acquire on this thread needs nothing more; no waiter exists.
        self.state.store(0, Release);
    }
}

/// White-box loom models of the state byte (run by `cargo test --lib -- loom_models` under
/// `--cfg loom`).
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(2);
        }
        builder.check(f);
    }

    /// Once every thread is done — one of them a timed waiter that may give up — the byte is
    /// back to 0 (no stray PARKED bit to send later releases down the slow path) and no entry is
    /// left in the parking lot.
    /// proves: R-4
    #[test]
    fn quiescent_state_is_free_and_unparked() {
        model(|| {
            let lock = Arc::new(RawLock::new());
            lock.lock();
            let timed = {
                let lock = lock.clone();
                loom::thread::spawn(move || {
                    if lock.lock_slow(Some(u64::MAX), false, &mut None) == Outcome::Acquired {
                        lock.unlock().unwrap();
                    }
                })
            };
            let blocking = {
                let lock = lock.clone();
                loom::thread::spawn(move || {
                    lock.lock();
                    lock.unlock().unwrap();
                })
            };
            lock.unlock().unwrap();
            timed.join().unwrap();
            blocking.join().unwrap();
            assert_eq!(lock.state.load(Relaxed), 0);
            assert_eq!(lock.waiters(), 0);
        });
    }

    /// A release without handoff wakes a parked waiter, which then takes the lock itself (the
    /// fairness rule is not consulted: the outcome does not depend on `set_handoff`); when both
    /// threads are done the byte is free and unparked.
    /// proves: R-4, LOCK-15
    #[test]
    fn release_without_handoff_wakes_a_waiter_that_takes_the_lock() {
        model(|| {
            let lock = Arc::new(RawLock::new());
            lock.lock();
            let waiter = {
                let lock = lock.clone();
                loom::thread::spawn(move || {
                    lock.lock();
                    lock.unlock_without_handoff().unwrap();
                })
            };
            lock.unlock_without_handoff().unwrap();
            waiter.join().unwrap();
            assert_eq!(lock.state.load(Relaxed), 0);
            assert_eq!(lock.waiters(), 0);
        });
    }
}
