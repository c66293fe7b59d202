//! The loom facade: every atomic that a loom model checks is taken from here.
//!
//! Under `--cfg loom` the names resolve to loom's model-checked types; otherwise to std's. The
//! algorithm is written once and the model checker sees the code the users run (tokio's
//! `src/loom/` does the same).
//!
//! Process-wide statics that no model checks (stack size, signal tables, the main thread) use
//! `std::sync::atomic` directly: loom's atomics are not `const`-constructible and may only be used
//! inside a model, while these statics are touched from load-time constructors and signal
//! handlers.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::thread::yield_now as spin_hint;

#[cfg(not(loom))]
pub(crate) use std::hint::spin_loop as spin_hint;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicUsize};
