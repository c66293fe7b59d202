//! The per-thread parker: one futex word per thread that its waits sleep on.
//!
//! A waiting thread arms its word ([`Parker::prepare`]), queues itself in the parking lot and
//! sleeps in [`Parker::park`] until one of these happens:
//!
//! * a releaser un-arms the word and wakes it ([`Parker::unpark`]) — [`Wake::Unparked`];
//! * the absolute deadline on `CLOCK_MONOTONIC` passes — [`Wake::TimedOut`];
//! * for an interruptible wait (the main thread's `Result`-returning acquire, LOCK-13): a signal
//!   interrupts the system call (`EINTR`), or thread-core's async-signal-safe `signals::notify`
//!   / `interrupt_main` sets [`NOTIFY`] in the word and wakes it — [`Wake::Interrupted`].
//!
//! Word bits:
//!
//! | bit | name | set by | cleared by |
//! |-----|------|--------|------------|
//! | 0 | `ARMED` | the waiter, before it queues itself | the unparker, with Release |
//! | 1 | [`NOTIFY`] | thread-core's notify, while the word is registered with `signals::watch` | the waiter that reports [`Wake::Interrupted`] |
//!
//! The word is only ever changed by read-modify-write operations, so a notify is never
//! overwritten by the waiter arming its word again.
//!
//! Under `cfg(loom)` the parker is a shim: loom has no futex, so the word is a loom atomic and
//! sleeping is `loom::thread::park`, with `unpark` on the waiter's loom thread handle. A timed
//! wait in the shim looks at the word once and, if no release has un-armed it yet, reports a
//! timeout: the model's "time" is a nondeterministic early return whose outcome depends only on
//! how the release interleaves with it. Interrupts are not modelled.

use crate::clock::Nanos;
use crate::loom::{Arc, AtomicBool, AtomicU32, thread_local};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// The waiter is asleep (or about to be) and no unpark has reached it yet.
const ARMED: u32 = 1;
/// thread-core's notify came (the bit it is told to set through `signals::watch`).
#[cfg_attr(loom, allow(dead_code))] // interrupts are not modelled
pub(crate) const NOTIFY: u32 = 2;

/// Why [`Parker::park`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// A releaser un-armed the word: the waiter was dequeued by it.
    Unparked,
    /// The deadline passed first.
    TimedOut,
    /// A signal or thread-core's notify came first (interruptible waits only).
    #[cfg_attr(loom, allow(dead_code))] // interrupts are not modelled
    Interrupted,
}

/// One thread's parker; shared (`Arc`) between the thread and a releaser that dequeued it, so
/// the word outlives the releaser's wake-up call even if the waiter has already returned.
#[derive(Debug)]
pub(crate) struct Parker {
    word: AtomicU32,
    /// Set by the releaser before it un-arms the word: the lock was handed over (LOCK-15).
    handoff: AtomicBool,
    #[cfg(loom)]
    thread: loom::thread::Thread,
}

thread_local! {
    static CURRENT: Arc<Parker> = Arc::new(Parker::new());
}

impl Parker {
    fn new() -> Parker {
        Parker {
            word: AtomicU32::new(0),
            handoff: AtomicBool::new(false),
            #[cfg(loom)]
            thread: loom::thread::current(),
        }
    }

    /// The calling thread's parker (a fresh one while the thread-locals are being destroyed).
    pub(crate) fn current() -> Arc<Parker> {
        CURRENT
            .try_with(Arc::clone)
            .unwrap_or_else(|_| Arc::new(Parker::new()))
    }

    /// Arms the word before the thread queues itself. Relaxed: the releaser reads the queue entry
    /// under the bucket lock, which orders this before anything it does to the word.
    pub(crate) fn prepare(&self) {
        self.handoff.store(false, Relaxed);
        self.word.fetch_or(ARMED, Relaxed);
    }

    /// Whether the releaser that woke this parker handed the lock over. Relaxed: read after
    /// `park`/`wait_unparked` saw the word un-armed with Acquire, which the releaser's Release
    /// un-arming ordered after its store here.
    pub(crate) fn handed_off(&self) -> bool {
        self.handoff.load(Relaxed)
    }

    /// Wakes the parker's thread (which a parking-lot bucket had queued and this caller dequeued).
    pub(crate) fn unpark(this: Arc<Parker>, handoff: bool) {
        this.handoff.store(handoff, Relaxed);
        // Release: the waiter's Acquire load of the word then sees the handoff flag and, on a
        // handoff, everything the releaser did inside its critical section.
        this.word.fetch_and(!ARMED, Release);
        #[cfg(not(loom))]
        thread_core::futex::wake_one(&this.word);
        #[cfg(loom)]
        this.thread.unpark();
    }

    /// Waits, uninterruptibly and without a deadline, for a releaser that has already dequeued
    /// this parker to finish un-arming it.
    pub(crate) fn wait_unparked(&self) {
        loop {
            let v = self.word.load(Acquire);
            if v & ARMED == 0 {
                return;
            }
            #[cfg(not(loom))]
            thread_core::futex::wait_until(&self.word, v, None);
            #[cfg(loom)]
            loom::thread::park();
        }
    }

    /// Sleeps until unparked, until `deadline` (`None`: no deadline), or — when `interruptible`
    /// — until interrupted. See the module docs. The sleep itself, with its registration for
    /// interrupts, is thread-core's [`wait_word`](thread_core::wait::wait_word), which joins on
    /// the main thread share.
    #[cfg(not(loom))]
    pub(crate) fn park(&self, deadline: Option<Nanos>, interruptible: bool) -> Wake {
        use thread_core::wait::{Woken, wait_word};
        // Acquire (in `wait_word`): pairs with the Release un-arming in `unpark`.
        match wait_word(&self.word, NOTIFY, deadline, interruptible, |v| {
            v & ARMED == 0
        }) {
            Woken::Ready => Wake::Unparked,
            Woken::TimedOut => Wake::TimedOut,
            Woken::Interrupted => Wake::Interrupted,
        }
    }

    /// The loom shim of `park` (see the module docs): interrupts are not modelled, and a timed
    /// wait looks once.
    #[cfg(loom)]
    pub(crate) fn park(&self, deadline: Option<Nanos>, _interruptible: bool) -> Wake {
        loop {
            if self.word.load(Acquire) & ARMED == 0 {
                return Wake::Unparked;
            }
            if deadline.is_some() {
                return Wake::TimedOut;
            }
            loom::thread::park();
        }
    }
}
