//! Running a thread's function: the bridge to thread-hooks, which classifies how it ended
//! (returned, `SystemExit`, failure) and reports failures through the unraisable hook.
//!
//! Interim: until thread-hooks' `run_thread_body` lands, the function runs under `catch_unwind`
//! and failures are dropped without a report.

use std::fmt::{Debug, Display};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What a thread's function may return: `()` or `Result<(), E>`.
pub trait ThreadResult {}

impl ThreadResult for () {}

impl<E: Display + Debug + Send + 'static> ThreadResult for Result<(), E> {}

/// Runs `body` for the thread described by `object`; never panics.
pub(crate) fn run<F, R>(_object: &str, body: F)
where
    F: FnOnce() -> R,
    R: ThreadResult,
{
    let _ = catch_unwind(AssertUnwindSafe(body));
}

/// The payload of a `SystemExit` unwind (interim; thread-hooks defines it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemExit {
    /// The exit code, if any.
    pub code: Option<i32>,
}
