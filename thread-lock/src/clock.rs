//! The monotonic clock the timed waits and the fairness rule read, in nanoseconds.
//!
//! `CLOCK_MONOTONIC` is what `futex(FUTEX_WAIT_BITSET)` measures absolute timeouts against, so a
//! deadline computed here is handed to the kernel as it is, with no second clock read and no
//! relative-time recomputation after a spurious wake-up.

/// A point on `CLOCK_MONOTONIC`, in nanoseconds since an arbitrary origin.
pub(crate) type Nanos = u64;

/// How long a waiter waits before a release hands it the lock directly (CPython 3.14's
/// `TIME_TO_BE_FAIR_NS`, LOCK-15).
pub(crate) const TIME_TO_BE_FAIR: Nanos = 1_000_000;

/// Reads `CLOCK_MONOTONIC`.
#[inline]
pub(crate) fn now() -> Nanos {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux, so the
    // call cannot fail (it is served by the vDSO, no system call).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    // tv_sec and tv_nsec of CLOCK_MONOTONIC are non-negative; u64 nanoseconds last 584 years.
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The deadline `timeout` from now, saturating far in the future (which is "forever" in
/// practice: about 584 years of uptime).
#[inline]
pub(crate) fn deadline_after(timeout_ns: u64) -> Nanos {
    now().saturating_add(timeout_ns)
}

/// Whether a waiter whose fairness point is `fair_at` must be handed the lock now.
#[cfg(not(loom))]
#[inline]
pub(crate) fn handoff_due(fair_at: Nanos) -> bool {
    now() > fair_at
}

/// Under loom, time does not pass: a model picks the fairness rule's outcome with
/// [`crate::__loom::set_handoff`].
#[cfg(loom)]
pub(crate) fn handoff_due(_fair_at: Nanos) -> bool {
    crate::__loom::HANDOFF.load(std::sync::atomic::Ordering::Relaxed)
}
