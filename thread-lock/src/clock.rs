//! The fairness rule's clock: when a waiter is owed a direct handoff (LOCK-15).
//!
//! Times are thread-core's [`thread_core::wait::Nanos`] on `CLOCK_MONOTONIC`, what
//! `futex(FUTEX_WAIT_BITSET)` measures absolute timeouts against, so a deadline is handed to the
//! kernel as it is, with no second clock read after a spurious wake-up.

pub(crate) use thread_core::wait::{Nanos, now};

/// How long a waiter waits before a release hands it the lock directly (CPython 3.14's
/// `TIME_TO_BE_FAIR_NS`, LOCK-15).
pub(crate) const TIME_TO_BE_FAIR: Nanos = 1_000_000;

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
