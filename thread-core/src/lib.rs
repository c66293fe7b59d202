//! CPython's `_thread` for Rust: identifiers, spawning, stack size, count, exit and
//! `interrupt_main`.
//!
//! # What is here
//!
//! * Identifiers: [`get_ident`] and [`Ident`] (`pthread_self()`, a thread-local load),
//!   [`get_native_id`] (`gettid`), [`main_thread_ident`], [`is_main_thread`],
//!   [`set_main_thread`], [`set_name`].
//! * Spawning: [`start_new_thread`], [`start_joinable_thread`] and their [`Builder`] (name,
//!   description, stack size, daemon or not, audit arguments and function, and the foreign-body
//!   path [`Builder::spawn_foreign`]); [`count`]; [`exit`]. A thread's function returns a
//!   [`ThreadResult`]; [`SystemExit`] is the payload that ends it silently.
//! * Joinable handles (CPython 3.13): [`ThreadHandle`] (`join`, `is_done`, `set_done`, and
//!   [`ThreadHandle::for_thread`] for a thread pythread did not start) and [`shutdown`], which
//!   waits for the non-daemon threads ([`shutdown_timeout`]: at most so long). On the main thread `join` and `shutdown` are
//!   interruptible, as a lock acquire there is ([`ThreadError::Interrupted`]).
//! * Stack size: [`stack_size`]. [`daemon_threads_allowed`].
//! * Signals: [`interrupt_main`], [`check_signals`], [`set_signal_handler`] with
//!   [`SignalHandler`] and [`Interrupt`]; the seam for interruptible waits in [`signals`], and the
//!   one interruptible futex wait that every main-thread wait shares in [`wait`].
//! * Errors: [`ThreadError`], CPython's messages with [`ThreadError::python_type`].
//!
//! ```
//! use std::time::Duration;
//! use thread_core::{Builder, count, get_ident, start_joinable_thread};
//!
//! let handle = start_joinable_thread(|| -> Result<(), String> {
//!     assert_ne!(get_ident(), thread_core::main_thread_ident());
//!     Ok(())
//! })
//! .unwrap();
//! handle.join(Some(Duration::from_secs(10))).unwrap();
//! assert!(handle.is_done());
//!
//! let named = Builder::new().name("worker").describe("worker_main").spawn(|| ()).unwrap();
//! assert_ne!(named, get_ident());
//! let _running = count();
//!
//! // A non-daemon thread: shutdown() waits for it.
//! let worker = Builder::new().daemon(false).spawn_joinable(|| ()).unwrap();
//! thread_core::shutdown().unwrap();
//! assert!(worker.is_done());
//! ```
//!
//! # How it is built
//!
//! Threads are created with `pthread_create` (not `std::thread`): the body runs through
//! `thread_hooks::run_thread_body` (silent `SystemExit`, one report per failure), the count and
//! the handle's done flag are kept in a small record released by a thread-local destructor, so
//! the foreign path survives `pthread_exit` (SPAWN-9). The thread-local that holds a thread's
//! record also says which thread a record is: "is this my own handle" and "does this thread
//! exist in a forked child" are answered by the record's identity, never by comparing idents,
//! which glibc reuses (HANDLE-4). The non-daemon set that [`shutdown`] waits for is a count in
//! a futex word, not a list: no memory per thread, no lock for a fork to leave held. Atomics that
//! loom checks come from the `loom` facade; `RUSTFLAGS="--cfg loom" cargo test -p thread-core
//! --release --lib` runs the models of the spawn accounting, `set_done` and `shutdown`.
//!
//! # Limits and what is not finished
//!
//! * Linux only (tested with glibc; x86-64 and aarch64, where `NSIG` is 65): idents are
//!   `pthread_self()`, native ids `gettid`, waits raw futexes, the main thread comes from an
//!   `.init_array` constructor.
//! * SPAWN-9 is best effort, as the spec says: forced unwinding through Rust frames is not fully
//!   specified by Rust. It is tested with glibc's `pthread_exit`.
//! * Under `cfg(loom)` the interrupt seam ([`signals`], [`wait`]) is not modelled: its statics
//!   use std's atomics, the futex wake is a no-op and a wait is never interrupted; only the spawn
//!   accounting and the non-daemon set have loom models.
//! * [`shutdown`] waits until the non-daemon threads are done; their OS-level join is left to
//!   their handles (the last handle dropped detaches a thread), as for any joinable thread.
//!   [`set_main_thread`] may be called again under loom, so each model can name its main thread.
//! * A Rust panic escaping a foreign body ([`Builder::spawn_foreign`]) aborts the process: such a
//!   body reports its own failures.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod body;
mod builder;
mod current;
mod error;
mod exit;
#[doc(hidden)]
pub mod futex;
mod handle;
mod ident;
mod interrupt;
mod loom;
mod name;
mod record;
mod shutdown;
pub mod signals;
mod slices;
mod spawn;
mod stack;
pub mod wait;

pub use body::{SystemExit, ThreadResult};
pub use builder::{AuditFn, Builder, FunctionDescription, start_joinable_thread, start_new_thread};
pub use error::ThreadError;
pub use exit::exit;
pub use handle::ThreadHandle;
pub use ident::{
    Ident, get_ident, get_native_id, get_native_id_uncached, is_main_thread, main_thread_ident,
    set_main_thread,
};
pub use interrupt::{
    HandlerFn, Interrupt, NSIG, SignalHandler, check_signals, default_int_handler, interrupt_main,
    set_signal_handler,
};
pub use name::set_name;
pub use shutdown::{shutdown, shutdown_timeout};
pub use slices::WaitSlices;
pub use stack::stack_size;

/// CPython's `_thread.daemon_threads_allowed()` (3.12+): always true here (CORE-8).
///
/// ```
/// assert!(thread_core::daemon_threads_allowed());
/// ```
pub fn daemon_threads_allowed() -> bool {
    true
}

/// CPython's `_thread._count()`: how many threads started through pythread are running (CORE-7).
/// It rises in the new thread before its function runs (so it may lag the spawn's return) and
/// falls after the function and any failure report, before the handle reports done — unless
/// [`ThreadHandle::set_done`] marked the handle done earlier (HANDLE-1).
///
/// ```
/// let before = thread_core::count();
/// let h = thread_core::start_joinable_thread(|| ()).unwrap();
/// h.join(None).unwrap();
/// assert!(thread_core::count() <= before + 1); // other doc tests may run threads too
/// ```
pub fn count() -> usize {
    record::global().get()
}
