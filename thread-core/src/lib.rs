//! CPython's `_thread` for Rust: identifiers, spawning, stack size, count, exit and
//! `interrupt_main`.
//!
//! # What is here
//!
//! * Identifiers: [`get_ident`] and [`Ident`] (`pthread_self()`, a thread-local load),
//!   [`get_native_id`] (`gettid`), [`main_thread_ident`], [`is_main_thread`],
//!   [`set_main_thread`], [`set_name`].
//! * Stack size: [`stack_size`]. [`daemon_threads_allowed`].
//! * Signals: [`interrupt_main`], [`check_signals`], [`set_signal_handler`] with
//!   [`SignalHandler`] and [`Interrupt`]; the seam for interruptible waits in [`signals`].
//! * Errors: [`ThreadError`], CPython's messages with [`ThreadError::python_type`].
//!
//! # Not finished yet
//!
//! Spawning (`start_new_thread`, `start_joinable_thread`, `Builder`, `ThreadHandle`, `count`,
//! `exit`) lands next.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod error;
mod ident;
mod interrupt;
mod loom;
mod name;
pub mod signals;
mod stack;

pub use error::ThreadError;
pub use ident::{
    Ident, get_ident, get_native_id, is_main_thread, main_thread_ident, set_main_thread,
};
pub use interrupt::{
    HandlerFn, Interrupt, NSIG, SignalHandler, check_signals, default_int_handler, interrupt_main,
    set_signal_handler,
};
pub use name::set_name;
pub use stack::stack_size;

/// CPython's `_thread.daemon_threads_allowed()` (3.12+): always true here (CORE-8).
///
/// ```
/// assert!(thread_core::daemon_threads_allowed());
/// ```
pub fn daemon_threads_allowed() -> bool {
    true
}
