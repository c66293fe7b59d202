//! How a pythread thread ends: `SystemExit`, uncaught failures and the unraisable hook.
//!
//! What this crate offers:
//!
//! * [`SystemExit`] — the unwind payload of `thread_core::exit()`; a thread that ends with it
//!   ends silently.
//! * [`run_thread_body`] (and [`run_thread_body_in`]) — runs a thread's function, classifies
//!   the ending as a [`ThreadExit`], and reports a failure once; [`ThreadResult`] /
//!   [`BodyOutcome`] say what a function may return.
//! * [`UnraisableHookArgs`] — what the unraisable hook is given.
//! * [`UnraisableHooks`] — the settable hook (`sys.unraisablehook`), with one process-wide
//!   instance, [`UnraisableHooks::global`], behind [`set_unraisable_hook`],
//!   [`reset_unraisable_hook`] and [`write_unraisable`].
//! * [`default_unraisable_hook`] and [`format_unraisable`] — CPython's report, to the letter.
//! * [`install_panic_hook`] — the process-wide panic hook that keeps pythread's threads from
//!   printing Rust's own panic message (installed by the first [`run_thread_body`]; see the
//!   [panic hook notes](install_panic_hook) for an application that installs its own later).
//!
//! A thread whose function panics or returns `Err` is reported through the unraisable hook, in
//! the dying thread, once (HOOK-1). The default hook prints what CPython prints:
//!
//! ```text
//! Exception ignored in thread started by: <function worker>
//! Traceback (most recent call last):
//!   File "src/worker.rs", line 12
//! PanicException: index out of bounds: the len is 3 but the index is 7
//! ```
//!
//! Before any hook is called the audit event `sys.unraisablehook(hook, unraisable)` is raised
//! through [`thread_audit`].
//!
//! # Routing an embedder's own failures
//!
//! An embedder that hits a failure it cannot raise (in a destructor, a callback, a background
//! task) reports it the way CPython's `PyErr_WriteUnraisable` does, so it goes to the same hook
//! as threads' failures (HOOK-10):
//!
//! ```
//! use thread_hooks::{UnraisableHookArgs, write_unraisable};
//!
//! fn close_connection(id: u32) -> Result<(), std::io::Error> {
//!     Err(std::io::Error::other("connection reset"))
//! }
//!
//! if let Err(e) = close_connection(7) {
//!     // Prints "Exception ignored while closing: <connection 7>\nOSError: connection reset\n".
//!     write_unraisable(
//!         UnraisableHookArgs::new("OSError", e.to_string())
//!             .with_err_msg("Exception ignored while closing")
//!             .with_object("<connection 7>"),
//!     );
//! }
//! ```
//!
//! # Not finished
//!
//! Tracebacks of panics are their location (and Rust's backtrace when `RUST_BACKTRACE` asks),
//! not a list of Python frames.

mod args;
mod body;
mod capture;
mod exit;
mod printer;
mod registry;

pub use args::UnraisableHookArgs;
pub use body::{
    BodyOutcome, THREAD_ERR_MSG, ThreadExit, ThreadResult, run_thread_body, run_thread_body_in,
};
pub use capture::install_panic_hook;
pub use exit::SystemExit;
pub use printer::{default_unraisable_hook, format_unraisable};
pub use registry::{AuditFn, DEFAULT_HOOK_NAME, UnraisableHooks};

/// Sets the process-wide unraisable hook (`sys.unraisablehook = hook`).
///
/// ```
/// use thread_hooks::{UnraisableHookArgs, reset_unraisable_hook, set_unraisable_hook};
///
/// set_unraisable_hook(|args: &UnraisableHookArgs| {
///     eprintln!("[my app] {} in {:?}: {}", args.exc_type, args.object, args.exc_value);
/// });
/// reset_unraisable_hook();
/// ```
pub fn set_unraisable_hook<H>(hook: H)
where
    H: Fn(&UnraisableHookArgs) + Send + Sync + 'static,
{
    UnraisableHooks::global().set(hook);
}

/// Restores the process-wide default hook, [`default_unraisable_hook`] (HOOK-5).
///
/// ```
/// thread_hooks::reset_unraisable_hook();
/// assert_eq!(thread_hooks::UnraisableHooks::global().hook_name(), "<default unraisable hook>");
/// ```
pub fn reset_unraisable_hook() {
    UnraisableHooks::global().reset();
}

/// Reports `args` through the process-wide registry (`PyErr_WriteUnraisable`): the audit
/// event, then the hook. The entry point for an embedder's own failures (HOOK-10); see
/// [`UnraisableHooks::write`].
///
/// ```
/// use thread_hooks::{UnraisableHookArgs, write_unraisable};
///
/// // Prints "Exception ignored in: <timer>\nRuntimeError: callback failed\n" to stderr.
/// write_unraisable(UnraisableHookArgs::new("RuntimeError", "callback failed").with_object("<timer>"));
/// ```
pub fn write_unraisable(args: UnraisableHookArgs) {
    UnraisableHooks::global().write(args);
}
