//! The loom facade: every atomic, thread-local and yield the lock algorithms use comes from here.
//!
//! Under `cfg(loom)` the names resolve to loom's model-checked versions, otherwise to `std`'s,
//! the way tokio's `src/loom/` does it. The algorithms in [`crate::raw`] and [`crate::parking`]
//! are written once against these names, so the models check the code users run. The two places
//! where the model and the real build differ are the parker (a loom shim instead of a futex, see
//! [`crate::parker`]) and the bucket lock of the parking lot (loom's `Mutex` instead of our futex
//! word lock), both documented where they are defined.

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::thread_local;

#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::thread_local;

/// Gives the processor (or, under loom, the model's scheduler) to another thread.
#[inline]
pub(crate) fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

/// A busy-wait hint; under loom a yield, so that spin loops make progress in the model.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}
