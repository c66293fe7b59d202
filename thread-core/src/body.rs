//! Running a thread's function: the bridge to thread-hooks, which classifies how it ended
//! (returned, `SystemExit`, failure) and reports a failure once, through the unraisable hook, in
//! the dying thread (EXIT-2, EXIT-3, HOOK-1, HOOK-2).

pub use thread_hooks::{SystemExit, ThreadResult};

/// Runs `body` for the thread described by `object` (`<function {name}>`); never panics.
pub(crate) fn run<F, R>(object: &str, body: F)
where
    F: FnOnce() -> R,
    R: ThreadResult,
{
    // How it ended does not matter here: a failure has been reported already, and the thread
    // ends the same way in every case.
    let _ = thread_hooks::run_thread_body(object, body);
}
