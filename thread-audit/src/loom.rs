//! The atomics facade: std's atomics in normal builds, loom's under `--cfg loom`.
//!
//! The registry's lock-free list is written once against this module, so the loom models in
//! `registry.rs` check the same code that users run.

#[cfg(loom)]
pub(crate) use ::loom::sync::atomic::{AtomicPtr, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, Ordering};
