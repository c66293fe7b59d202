//! The one interruptible futex wait that every wait of the main thread shares: thread-lock's
//! parker (LOCK-13, X-INTR-3) and thread-core's [`ThreadHandle::join`](crate::ThreadHandle::join)
//! and [`shutdown`](crate::shutdown) (HANDLE-2, HANDLE-3).
//!
//! [`wait_word`] sleeps on a futex word until a caller-given condition on the word holds, until
//! an absolute deadline on `CLOCK_MONOTONIC`, or — when asked to be interruptible and called on
//! the main thread — until it is interrupted: the word is registered with
//! [`signals::watch`](crate::signals::watch), so [`interrupt_main`](crate::interrupt_main) and
//! [`signals::notify`](crate::signals::notify) set the caller's wake bit in it and wake it, and a
//! signal that interrupts the system call (`EINTR`) ends the sleep too. The caller then runs
//! [`signals::run_pending`](crate::signals::run_pending) and, if that succeeds, waits again
//! against the same deadline.
//!
//! The wake bit is the caller's: a bit of the word that its condition ignores. The wait clears
//! it when it reports [`Woken::Interrupted`]; a notify that lands after the wait has stopped
//! watching may leave it set, which only makes the next interruptible wait on that word run the
//! pending work once more. Other threads that sleep on the same word wait on whatever value it
//! holds, so a wake bit left set never makes them spin.
//!
//! Under `cfg(loom)` interrupts are not modelled: the wait never watches, and a timed wait looks
//! at the word once (time does not pass in a model).

use std::time::Duration;

use crate::futex::{self, Waited};
use crate::loom::AtomicU32;
use std::sync::atomic::Ordering;

/// A point on `CLOCK_MONOTONIC`, in nanoseconds since an arbitrary origin: what
/// `FUTEX_WAIT_BITSET` measures absolute timeouts against.
///
/// ```
/// let now: thread_core::wait::Nanos = thread_core::wait::now();
/// assert!(thread_core::wait::now() >= now);
/// ```
pub type Nanos = u64;

/// Reads `CLOCK_MONOTONIC` (the vDSO: no system call).
///
/// ```
/// let a = thread_core::wait::now();
/// std::thread::sleep(std::time::Duration::from_millis(1));
/// assert!(thread_core::wait::now() >= a + 1_000_000);
/// ```
#[inline]
pub fn now() -> Nanos {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux, so the
    // call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    // Both fields are non-negative for CLOCK_MONOTONIC; u64 nanoseconds last 584 years.
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The deadline `timeout` from now, saturating far in the future (forever, in practice).
///
/// ```
/// use std::time::Duration;
/// let d = thread_core::wait::deadline_after(Duration::from_secs(1));
/// assert!(d >= thread_core::wait::now());
/// assert_eq!(thread_core::wait::deadline_after(Duration::MAX), u64::MAX);
/// ```
#[inline]
pub fn deadline_after(timeout: Duration) -> Nanos {
    let ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    now().saturating_add(ns)
}

/// Why [`wait_word`] returned.
///
/// ```
/// assert_ne!(thread_core::wait::Woken::Ready, thread_core::wait::Woken::TimedOut);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// The condition holds.
    Ready,
    /// The deadline passed first.
    TimedOut,
    /// An interrupt came first (interruptible waits on the main thread only): the caller runs
    /// [`signals::run_pending`](crate::signals::run_pending).
    Interrupted,
}

/// Sleeps on `word` until `ready(value)` holds for the value it reads (then [`Woken::Ready`]),
/// until the absolute `deadline` passes (`None`: no deadline), or — when `interruptible` and
/// called on the main thread — until an interrupt comes: `interrupt_main`, `signals::notify`
/// (which set `wake_bit` in the word while it is watched) or a signal's `EINTR`. Off the main
/// thread an interruptible wait is an ordinary one. See the module docs.
///
/// Whoever makes `ready` true must change the word and wake its sleepers (a futex wake of all,
/// or of this waiter). `ready` must ignore `wake_bit`.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use thread_core::wait::{Woken, deadline_after, wait_word};
/// let word = AtomicU32::new(0);
/// // Nobody sets bit 0: the wait times out.
/// let deadline = Some(deadline_after(std::time::Duration::from_millis(5)));
/// assert_eq!(wait_word(&word, 2, deadline, false, |v| v & 1 != 0), Woken::TimedOut);
/// word.fetch_or(1, Ordering::Release);
/// assert_eq!(wait_word(&word, 2, None, true, |v| v & 1 != 0), Woken::Ready);
/// ```
#[cfg(not(loom))]
pub fn wait_word(
    word: &AtomicU32,
    wake_bit: u32,
    deadline: Option<Nanos>,
    interruptible: bool,
    ready: impl Fn(u32) -> bool,
) -> Woken {
    use crate::signals;
    // Register before looking at pending(): a notify either marked itself pending before our
    // look (we see it), or it reads our registration and sets the wake bit in the word (the
    // futex compare sees it, or its FUTEX_WAKE wakes us).
    // SAFETY: the guard lives in this frame and is dropped before it returns, while `word` (a
    // borrow that outlives the call) is still alive.
    let watch = interruptible.then(|| unsafe { signals::watch(word, wake_bit) });
    // Only a registered waiter looks: off the main thread nothing would consume what is pending,
    // and the wait would spin.
    let watching = watch.as_ref().is_some_and(|w| w.is_active());
    // Acquire: whoever made the condition true released what the caller reads next.
    if ready(word.load(Ordering::Acquire)) {
        return Woken::Ready;
    }
    if watching && signals::pending() {
        return Woken::Interrupted;
    }
    loop {
        // Acquire: as above.
        let v = word.load(Ordering::Acquire);
        if ready(v) {
            return Woken::Ready;
        }
        if watching && v & wake_bit != 0 {
            // Relaxed: the bit carries no data; pending() is what the caller checks next.
            word.fetch_and(!wake_bit, Ordering::Relaxed);
            return Woken::Interrupted;
        }
        match futex::wait_until(word, v, deadline) {
            Waited::TimedOut => return Woken::TimedOut,
            Waited::Interrupted if watching => {
                // The handler that interrupted us may have notified too: the caller's
                // run_pending covers that notify, so it must not wake the next wait again.
                // Relaxed: as above.
                word.fetch_and(!wake_bit, Ordering::Relaxed);
                return Woken::Interrupted;
            }
            _ => {}
        }
    }
}

/// The loom form of [`wait_word`]: never interrupted; a timed wait looks once.
#[cfg(loom)]
pub fn wait_word(
    word: &AtomicU32,
    _wake_bit: u32,
    deadline: Option<Nanos>,
    _interruptible: bool,
    ready: impl Fn(u32) -> bool,
) -> Woken {
    loop {
        let v = word.load(Ordering::Acquire);
        if ready(v) {
            return Woken::Ready;
        }
        if futex::wait_until(word, v, deadline) == Waited::TimedOut {
            return Woken::TimedOut;
        }
    }
}
