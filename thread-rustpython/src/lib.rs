//! `thread-rustpython`: pythread as RustPython's `_thread`.
//!
//! RustPython lets an embedder replace a built-in module: module definitions are keyed by name
//! and the embedder's come last. [`install`] adds a `_thread` definition ([`module_def`]) built
//! from pythread's objects and RustPython's own `_thread` for the rest, so importlib's bootstrap,
//! `threading` and everything else get it with no patch to RustPython.
//!
//! ```no_run
//! use rustpython::{InterpreterBuilder, InterpreterBuilderExt};
//!
//! let builder = thread_rustpython::install(InterpreterBuilder::new().init_stdlib());
//! let _exit = rustpython::run(builder);
//! ```
//!
//! The binary `rustpython-pythread` is RustPython's command line with this `_thread`;
//! `rustpython-stock` is the same command line, same versions, with RustPython's own (`cargo
//! xtask rustpython` runs CPython's thread suites on both).
//!
//! # What is pythread's
//!
//! - `lock` / `LockType` / `allocate_lock()`: [`thread_lock::Lock`] (one atomic release, LOCK-9;
//!   fair hand-off, LOCK-15), with `acquire`/`acquire_lock`, `release`/`release_lock`,
//!   `locked`/`locked_lock`, `with`, `_at_fork_reinit`.
//! - `RLock`: [`thread_lock::RLock`], with `_is_owned`, `_recursion_count`, `_release_save`,
//!   `_acquire_restore`, `_at_fork_reinit`, and a `repr` that shows owner and count.
//! - `get_ident()`, `get_native_id()`, `TIMEOUT_MAX`.
//! - Interruptible waits (LOCK-13, X-INTR-3): a blocking acquire on the main thread is ended by
//!   a raising Python signal handler (`SIGALRM`, `SIGINT`, …) and by `interrupt_main`, through
//!   thread-core's signals seam (see the `wait` module's docs). A signal whose C handler ran on
//!   another thread (RustPython's handler only records it, and wakes nothing) is handled within
//!   50 ms: the main thread's acquires, joins and `_shutdown` wait in slices of at most that,
//!   running the pending handlers between them. Stock RustPython waits in parking_lot, whose
//!   parker retries on `EINTR`: a raising handler runs only after a timed wait times out, and
//!   never during a blocking one.
//! - `interrupt_main(signum=SIGINT)`: RustPython's trigger, plus thread-core's
//!   `signals::notify` so that the main thread's wait wakes.
//! - Spawning (the `spawn` module): `start_new_thread`, `start_joinable_thread`,
//!   `_ThreadHandle`, `_make_thread_handle` and `_shutdown` on thread-core's `Builder`,
//!   `ThreadHandle` and `shutdown` (HANDLE-1..4): a main-thread `join` is interruptible like an
//!   acquire (stock RustPython's join waits on a parking_lot condition variable and is not).
//!   Each thread runs Python in a RustPython VM thread (`vm.new_thread()`, public API), keeping
//!   RustPython's books: `vm.state.thread_count` (`_count()`), the thread's frame slot
//!   (`sys._current_frames()`, cleaned up by `cleanup_current_thread_frames`), the clean-up of
//!   its `_thread._local` dictionaries while the VM is current (RustPython does it with a
//!   private function; here thread-local destructor order does it, see the `spawn` module).
//! - `sys.thread_info`: `("pthread", "futex", <libpthread version>)`, truthful for pythread.
//!
//! # What stays RustPython's, and why
//!
//! The rest of `_thread` is RustPython's own, taken from its module definition
//! (`rustpython_vm::stdlib::builtin_module_defs`):
//!
//! - `_count`, `stack_size`: they read and write the interpreter's state (`vm.state.thread_count`,
//!   `vm.state.stacksize`), which pythread's spawning keeps and uses.
//! - `_local`, `_excepthook`, `_ExceptHookArgs`, `set_name`, `_get_name`, `_NAME_MAXLEN`,
//!   `_get_main_thread_ident`, `_is_main_interpreter`, `daemon_threads_allowed`, `exit`,
//!   `error`: interpreter state (per-thread dictionaries, the main thread's ident as the VM
//!   records it) or formatting, no thread or lock of their own.
//! - `_set_sentinel` (not used by RustPython's `threading`, which is 3.14's): its locks are
//!   released by RustPython's own thread epilogue over a private thread-local, which threads
//!   started here do not run.
//!
//! # Not finished, and what blocks it
//!
//! - Fork: threads started here are marked done in a forked child by thread-core (FORK-3);
//!   RustPython's own after-fork pass covers only its own handles.
//!
//! # Building
//!
//! The crate is its own Cargo workspace with its own `Cargo.lock` (RustPython is large; `cargo
//! test --workspace` of pythread never builds it). RustPython 0.6.0 needs Rust 1.96 (its ruff
//! crates, 0.16.5; 0.16.10 needs 1.97, and `rust-version = "1.96"` keeps the resolver at 0.16.5),
//! above the workspace's stable 1.95: `rust-toolchain.toml` selects the installed nightly for
//! this crate alone (built and tested with `rustc 1.97.0-nightly (e50aa6fba 2026-05-19)`; the
//! channel is not pinned to that date because rustup would then download it instead of using the
//! installed `nightly`). The lockfile pins `malachite-bigint` to 0.12 (a fresh resolve also pulls
//! 0.14, which does not compile beside it: `cargo update -p malachite-bigint@0.14.0 --precise
//! 0.12.0`). The release profile is opt-level 1 (see `Cargo.toml`). Features: RustPython's
//! defaults without `ssl-rustls-aws-lc`, `mimalloc` and `doc` (`threading`, `stdlib`, `stdio`,
//! `importlib`, `host_env`), the same for both binaries.
//!
//! Measured on the project's 2-core machine, shared with other builds, everything `nice -n 19`
//! with `-j2` and the crates already downloaded: a clean `cargo build --release --bins` took
//! 454 s (load average about 8) and 1195 s in an earlier run under heavier load; the target
//! directory is about 1.6 GB. `cargo xtask rustpython` after the build takes about 3 minutes
//! (the crate's tests 1–3 s; per binary, `test_thread` 2–3 s, `test_threadsignals` 3–6 s,
//! `test_threading` 80–97 s, of which 60 s is the per-test deadline of
//! `ThreadJoinOnShutdown.test_4_daemon_threads`, which hangs on stock RustPython and on pythread
//! alike).

mod errors;
mod lock;
mod module;
mod rlock;
mod spawn;
mod thread_info;
mod wait;

use rustpython_vm::class::PyClassDef;
use rustpython_vm::class::StaticType;
use rustpython_vm::{AsObject, Context, InterpreterBuilder, Py, PyPayload};

pub use rustpython_vm::builtins::PyModuleDef;

/// The `_thread` module definition: pythread's objects over RustPython's own `_thread`.
///
/// ```no_run
/// let builder = rustpython_vm::InterpreterBuilder::new();
/// let def = thread_rustpython::module_def(&builder.ctx);
/// assert_eq!(def.name.as_str(), "_thread");
/// let _builder = builder.add_native_module(def);
/// ```
pub fn module_def(ctx: &Context) -> &'static PyModuleDef {
    module::module_def(ctx)
}

/// Adds pythread's `_thread` to an interpreter builder; call it after the standard library's
/// modules are added (`init_stdlib`), so that it replaces RustPython's.
///
/// ```
/// use rustpython::{InterpreterBuilder, InterpreterBuilderExt};
///
/// let interpreter = thread_rustpython::install(InterpreterBuilder::new().init_stdlib()).build();
/// interpreter.enter(|vm| {
///     let thread = vm.import("_thread", 0).unwrap();
///     let lock = thread.get_attr("allocate_lock", vm).unwrap().call((), vm).unwrap();
///     let repr = lock.repr(vm).unwrap().to_string();
///     assert!(repr.starts_with("<unlocked _thread.lock object at "), "{repr}");
/// });
/// ```
pub fn install(builder: InterpreterBuilder) -> InterpreterBuilder {
    let def = module_def(&builder.ctx);
    builder.add_native_module(def)
}

/// The type's name as CPython's `tp_name` shows it in a `repr`: `_thread.lock` for the type
/// itself, the bare name for a subclass.
fn type_name<T: PyPayload + PyClassDef + StaticType>(zelf: &Py<T>) -> String {
    if zelf.as_object().class().is(T::static_type()) {
        T::TP_NAME.to_owned()
    } else {
        zelf.as_object().class().name().to_string()
    }
}
