//! The parking lot: threads waiting for a lock, queued by the lock's address in hashed buckets.
//!
//! As in CPython's `Python/parking_lot.c` and parking_lot_core, a lock needs no queue of its own
//! (our lock is one byte): a waiter queues itself in the bucket its lock's address hashes to and
//! sleeps on its own [`Parker`]. Each bucket is a queue in order of arrival behind a short critical section:
//!
//! * [`park`] validates the lock's state under the bucket lock (so a release, which also takes
//!   the bucket lock to dequeue, cannot slip between the check and the enqueue), enqueues the
//!   caller in order of fairness points (so, of arrival), and sleeps. A waiter that times out or is interrupted takes the bucket lock again and
//!   removes itself — unless a releaser has already dequeued it, in which case the release wins:
//!   it waits for the un-arming and reports [`Parked::Unparked`].
//! * [`unpark_one`] looks at the first waiter for the key, lets the lock decide its new state
//!   under the bucket lock, dequeues the waiter, and wakes it after the bucket lock is released.
//!
//! The buckets are a fixed static array (no allocation per lock, nothing grows with the number of
//! threads the process ever started, R-5; a queue's capacity grows only to the most waiters it
//! ever held at once). A `pthread_atfork` child handler empties every bucket and resets its lock
//! (FORK-3): the parent's waiters do not exist in the child, so none may be handed a lock there,
//! and a bucket lock held by a parent thread at the fork would otherwise stay held forever.
//!
//! Under `cfg(loom)` there is one bucket, a `loom::sync::Mutex`, and no fork handler.

use crate::clock::Nanos;
use crate::loom::Arc;
use crate::parker::{Parker, Wake};
use std::collections::VecDeque;

/// A queued waiter.
#[derive(Debug)]
struct Entry {
    /// The address of the lock it waits for.
    key: usize,
    parker: Arc<Parker>,
    /// When a release must hand it the lock (LOCK-15).
    fair_at: Nanos,
}

type Queue = VecDeque<Entry>;

/// How [`park`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parked {
    /// The validation failed; the caller was not queued.
    Invalid,
    /// A releaser dequeued and woke the caller; `handoff`: it now owns the lock.
    Unparked {
        /// The releaser handed the lock over.
        handoff: bool,
    },
    /// The deadline passed; the caller is no longer queued.
    TimedOut,
    /// A signal or interrupt came; the caller is no longer queued.
    Interrupted,
}

/// What [`unpark_one`] shows the lock about the first waiter for its key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Front {
    /// The waiter's fairness point (LOCK-15).
    pub(crate) fair_at: Nanos,
    /// Other waiters for the same key stay queued after this one.
    pub(crate) more: bool,
}

/// Queues the calling thread under `key` if `validate()` (run under the bucket lock) holds, and
/// sleeps until unparked, until `deadline`, or, when `interruptible`, until interrupted.
/// `on_cancel(last)` runs under the bucket lock when a timed-out or interrupted caller removes
/// itself; `last` tells that no waiter for `key` is left.
pub(crate) fn park(
    key: usize,
    validate: impl FnOnce() -> bool,
    fair_at: Nanos,
    deadline: Option<Nanos>,
    interruptible: bool,
    on_cancel: impl FnOnce(bool),
) -> Parked {
    #[cfg(not(loom))]
    fork::register();
    let parker = Parker::current();
    let queued = with_queue(key, |q| {
        if !validate() {
            return false;
        }
        parker.prepare();
        // In order of fairness points, which is the order of arrival (each waiter's is a
        // millisecond after it first parked): a waiter that comes back after a timeout or an
        // interrupt with the point it had goes back to its place (in practice near the front),
        // anyone else to the back, found at the first look.
        let place = q
            .iter()
            .rposition(|e| e.fair_at <= fair_at)
            .map_or(0, |i| i + 1);
        q.insert(
            place,
            Entry {
                key,
                parker: Arc::clone(&parker),
                fair_at,
            },
        );
        true
    });
    if !queued {
        return Parked::Invalid;
    }
    let wake = parker.park(deadline, interruptible);
    if wake == Wake::Unparked {
        return Parked::Unparked {
            handoff: parker.handed_off(),
        };
    }
    let removed = with_queue(key, |q| {
        let Some(i) = q.iter().position(|e| Arc::ptr_eq(&e.parker, &parker)) else {
            return false;
        };
        q.remove(i);
        on_cancel(!q.iter().any(|e| e.key == key));
        true
    });
    if removed {
        if wake == Wake::TimedOut {
            Parked::TimedOut
        } else {
            Parked::Interrupted
        }
    } else {
        // A releaser dequeued us before we could leave: its wake-up (and maybe the lock) is ours.
        parker.wait_unparked();
        Parked::Unparked {
            handoff: parker.handed_off(),
        }
    }
}

/// Under the bucket lock of `key`, shows `decide` the first waiter for `key` (if any);
/// `decide` returns its result and, to dequeue and wake that waiter, `Some(handoff)`.
pub(crate) fn unpark_one<T>(
    key: usize,
    decide: impl FnOnce(Option<Front>) -> (T, Option<bool>),
) -> T {
    let (result, woken) = with_queue(key, |q| {
        let mut found = q.iter().enumerate().filter(|(_, e)| e.key == key);
        let first = found.next().map(|(i, e)| (i, e.fair_at));
        let more = found.next().is_some();
        let front = first.map(|(_, fair_at)| Front { fair_at, more });
        let (result, wake) = decide(front);
        let woken = match (first, wake) {
            (Some((i, _)), Some(handoff)) => q.remove(i).map(|e| (e.parker, handoff)),
            _ => None,
        };
        (result, woken)
    });
    if let Some((parker, handoff)) = woken {
        Parker::unpark(parker, handoff);
    }
    result
}

/// How many waiters are queued under `key` (for tests that must know a thread is asleep).
pub(crate) fn queued(key: usize) -> usize {
    with_queue(key, |q| q.iter().filter(|e| e.key == key).count())
}

#[cfg(not(loom))]
use self::buckets::with_queue;

#[cfg(loom)]
fn with_queue<R>(_key: usize, f: impl FnOnce(&mut Queue) -> R) -> R {
    loom::lazy_static! {
        static ref QUEUE: loom::sync::Mutex<Queue> = loom::sync::Mutex::new(VecDeque::new());
    }
    let mut q = QUEUE.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut q)
}

/// The real buckets: a static array of word-locked queues.
#[cfg(not(loom))]
mod buckets {
    use super::Queue;
    use crate::loom::{AtomicU32, spin_loop};
    use std::cell::UnsafeCell;
    use std::collections::VecDeque;
    use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

    /// A power of two; CPython uses 257 buckets, parking_lot_core grows to 3× the threads.
    const BUCKETS: usize = 256;

    const UNLOCKED: u32 = 0;
    /// Locked, nobody sleeping on the word.
    const LOCKED: u32 = 1;
    /// Locked, and someone may sleep on the word: the unlocker must wake one.
    const CONTENDED: u32 = 2;

    /// One bucket, on its own cache line so that waiters on different locks do not share one.
    #[repr(align(64))]
    pub(super) struct Bucket {
        pub(super) lock: AtomicU32,
        pub(super) queue: UnsafeCell<Queue>,
    }

    // SAFETY: `queue` is only touched while `lock` is held (by `with_queue`), or by the fork child
    // handler, which runs while the child has a single thread.
    unsafe impl Sync for Bucket {}

    #[allow(clippy::declare_interior_mutable_const)] // each array element is a fresh bucket
    const EMPTY: Bucket = Bucket {
        lock: AtomicU32::new(UNLOCKED),
        queue: UnsafeCell::new(VecDeque::new()),
    };

    pub(super) static TABLE: [Bucket; BUCKETS] = [EMPTY; BUCKETS];

    /// Fibonacci hashing of the address: the low bits of a lock's address are mostly alignment.
    fn bucket(key: usize) -> &'static Bucket {
        let h = (key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BUCKETS.trailing_zeros());
        &TABLE[h as usize]
    }

    /// Runs `f` on the queue of `key`'s bucket, under the bucket lock.
    pub(in crate::parking) fn with_queue<R>(key: usize, f: impl FnOnce(&mut Queue) -> R) -> R {
        let b = bucket(key);
        lock(&b.lock);
        struct Unlock<'a>(&'a AtomicU32);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                unlock(self.0);
            }
        }
        let _unlock = Unlock(&b.lock);
        // SAFETY: we hold the bucket lock, so no other reference to the queue exists; the
        // reference does not outlive `_unlock`. `f` (our own closures) neither panics in practice
        // nor re-enters the parking lot; if it did panic, the guard still unlocks.
        f(unsafe { &mut *b.queue.get() })
    }

    /// Acquire: the queue's contents written by the previous holder become visible.
    #[inline]
    fn lock(word: &AtomicU32) {
        if word
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            lock_contended(word);
        }
    }

    #[cold]
    fn lock_contended(word: &AtomicU32) {
        // The critical sections are a few dozen instructions: spin on loads first.
        for _ in 0..100 {
            // Relaxed: only a hint for when to try the CAS below, which orders.
            if word.load(Relaxed) == UNLOCKED
                && word
                    .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
                    .is_ok()
            {
                return;
            }
            spin_loop();
        }
        // Taking it as CONTENDED: we cannot know whether others sleep too, so our unlock wakes.
        while word.swap(CONTENDED, Acquire) != UNLOCKED {
            thread_core::futex::wait_until(word, CONTENDED, None);
        }
    }

    /// Release: publishes the queue's contents to the next holder.
    #[inline]
    fn unlock(word: &AtomicU32) {
        if word.swap(UNLOCKED, Release) == CONTENDED {
            thread_core::futex::wake_one(word);
        }
    }
}

/// The `pthread_atfork` child handler (FORK-3), registered before any thread can queue.
///
/// A load-time constructor (in `.init_array`, as thread-core records the main thread) registers
/// it: for an executable before `main`, for a library loaded with `dlopen` before `dlopen`
/// returns, so before any code of ours can park. [`register`] in [`park`] is a fallback for a
/// build where the constructor did not run (and what keeps it linked); it sets its flag only
/// after `pthread_atfork` has returned. Either way a thread queues only after a registration
/// has completed: its own, or one whose flag it read with `Acquire`. glibc serialises
/// `pthread_atfork` with `fork` on one lock, held by `fork` from its prepare handlers until its
/// parent and child handlers have run, so a fork whose child can see that thread's queue entry
/// runs the handler there. (An earlier version set the flag before registering: a second thread
/// could queue while the first was still in `pthread_atfork`, waiting for a fork to finish that
/// then reached its child with no handler; `tests/fork_first_park.rs` holds that window open.)
/// Two threads that both find the flag unset both register; running the handler twice in a
/// child is harmless, and such a race can only happen before the constructor has run.
#[cfg(not(loom))]
mod fork {
    use super::buckets::TABLE;
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicBool;
    use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

    static REGISTERED: AtomicBool = AtomicBool::new(false);

    /// Runs when the binary or library is loaded, before any thread can park.
    extern "C" fn on_load() {
        register();
    }

    /// The load-time constructor; `#[used]` and the reference from [`register`] keep it linked.
    #[used]
    #[unsafe(link_section = ".init_array")]
    static ON_LOAD: extern "C" fn() = on_load;

    /// Makes sure the handler is registered before the caller queues itself.
    #[inline]
    pub(super) fn register() {
        // Acquire: pairs with the Release store in `register_now`, so the registration it
        // announces happened before we queue.
        if !REGISTERED.load(Acquire) {
            register_late();
        }
    }

    #[cold]
    #[inline(never)]
    fn register_late() {
        // Referencing the constructor's pointer keeps the linker from dropping it.
        std::hint::black_box(&ON_LOAD);
        register_now();
    }

    fn register_now() {
        // SAFETY: `child` is an `extern "C" fn` that stays valid for the life of the process.
        unsafe { libc::pthread_atfork(None, None, Some(child)) };
        // Release: announces the completed registration to `register`'s Acquire load.
        REGISTERED.store(true, Release);
    }

    /// Runs in the child right after `fork`, with only the forking thread alive: empties the
    /// queues and unlocks the bucket locks.
    extern "C" fn child() {
        for b in &TABLE {
            // SAFETY: the child has one thread, which is here and not inside `with_queue` (a fork
            // is not called from inside a bucket's critical section), so nothing references the
            // queue. The parent's waiters are leaked rather than dropped: their threads do not
            // exist here, and a leak keeps the handler free of calls into the allocator.
            unsafe {
                let old = std::ptr::replace(b.queue.get(), VecDeque::new());
                std::mem::forget(old);
            }
            b.lock.store(0, Relaxed);
        }
    }
}
