//! pythread's conformance suite: every clause of `SPEC.md` proven by tests.
//!
//! # What this crate offers
//!
//! * [`ops`]: the operation vocabulary ([`ops::Op`], [`ops::Outcome`]) that every runner
//!   speaks: our crates ([`ours`]), CPython's `_thread` ([`cpython`], through
//!   `python/driver.py`) and the sequential [`model`].
//! * [`strategy`]: proptest strategies for operations, with every invalid-argument class.
//! * [`differential`]: the differential runs against CPython, and [`differences`], the one
//!   table of known differences keyed by clause and interpreter version.
//!
//! The tests live in `tests/`:
//!
//! | file | what |
//! |---|---|
//! | `differential.rs` | operation sequences run on our crates and, batched, on CPython 3.11.7, 3.12.1 and 3.13.0 (`python/driver.py`; see below) (`harness = false`, main thread) |
//! | `state_machine_single.rs` | proptest: sequences against [`model::Model`], state observed after every operation |
//! | `state_machine_concurrent.rs` | proptest: 1–3 threads of critical sections against invariants |
//! | `test_thread_port*.rs` | port of CPython's `Lib/test/test_thread.py` (process-wide parts in their own binaries) |
//! | `cpython_lock_tests.rs` | port of CPython's `Lib/test/lock_tests.py` (`BaseLockTests`, `LockTests`, `RLockTests`) |
//! | `interrupt_acquire.rs` | `interrupt_main` and real signals waking main-thread acquires (`harness = false`) |
//! | `fork_held_lock.rs`, `fairness.rs`, `auto_traits.rs` | FORK-2, LOCK-15, R-3 |
//! | `loom_public_api.rs` | loom models of the public API (`--cfg loom`) beside thread-lock's own |
//!
//! # What the differential runs cover
//!
//! Each batch runs in one `driver.py` process per interpreter and on our crates, and every
//! operation's value, exception type and message are compared; [`differences::KNOWN`]
//! explains what differs by design, per clause and version.
//!
//! | batch (test) | interpreters | operations |
//! |---|---|---|
//! | `differential_known_python3XX` | 3.11, 3.12, 3.13 | each known difference's witness: it must differ where the table says so and agree elsewhere |
//! | `differential_locks_python3XX` | 3.11, 3.12, 3.13 | Lock/RLock acquire (every timeout class), release, locked, repr, RLock internals, stack_size, TIMEOUT_MAX, some on a helper thread |
//! | `differential_interrupts_python3XX` | 3.11, 3.12, 3.13 | `interrupt_main` and the check after it |
//! | `differential_threads_python3XX` | 3.11, 3.12, 3.13 | threads that fail or exit (the unraisable hook's arguments), starts under stack size settings |
//! | `differential_handles_python313` | 3.13 | [3.13] `start_joinable_thread` (a thread gated on the sequence's commands, or one that runs ~2 ms), `join` with `None`, negative (forever), ±0 and short (≤ 20 ms) timeouts by the sequence's thread or another thread (self-joins: `Cannot join current thread`), `is_done`, `ident`, `_set_done` (running, ended, joined), `_make_thread_handle` of the sequence's thread or a live one; and HANDLE-4's reused idents |
//!
//! A join's outcome is its error, or whether `is_done()` right after it says the thread had
//! ended (`"done"`/`"running"`); `strategy::make_handles_runnable` only keeps joins whose
//! outcome the sequence decides (a gated thread cannot end before its release; a released
//! one is waited for without a timeout), so no comparison depends on speed. A normal run
//! compares about 3,000 operations with 3.11 and with 3.12, and 3,700 with 3.13 (some 700 of
//! them handle operations), in about 5 s.
//!
//! The interpreter is found by the project's one rule, `xtask/src/python.rs`, included here by
//! path. Without one the differential runs print a loud notice and are ignored; under
//! `CI=true` a missing 3.11 fails them. `PYTHREAD_DIFF_SEED` replays a differential run,
//! `PYTHREAD_DIFF_SEQUENCES` sizes it (the lock batch), `PROPTEST_CASES` sizes the state
//! machines; `cargo test -p conformance --test differential -- NAME` runs the tests whose names
//! contain NAME.
//!
//! # Limits (not finished, or not comparable)
//!
//! * The differential runs compare sequences run by one thread (plus one-operation helper
//!   threads, and the handle batch's threads, which act only on the sequence's commands);
//!   waits are compared by their result, never by their duration, and a blocking acquire is
//!   only generated where it cannot wait longer than 50 ms.
//! * Not compared in the handle batch: what only Python's binding decides (an unstarted
//!   `_ThreadHandle()`, NaN or overflowing `join` timeouts, argument errors: PY-5, PY-6), a
//!   timed join of a released thread (ended or not, by timing), a `_make_thread_handle` of a
//!   thread that may have ended joined by another thread (its answer depends on whether the
//!   joiner reuses the ident), the interruptible main-thread join (HANDLE-2) and
//!   `daemon(false)`/`_shutdown` (HANDLE-3), which the crates' own tests prove. 3.11 and 3.12
//!   have no handles.
//! * Not compared with CPython: `RLock.locked()` ([3.14], absent from 3.11–3.13), the
//!   exception type and traceback of a failing thread (Rust's own), the stderr-only report of
//!   signals 32 and 33, timing (LOCK-7's lower bounds are checked in the state machines and the
//!   ports instead). [`differences::KNOWN`] lists each with its reason.
//! * The lock_tests.py port leaves out the weak-reference tests and the `threading`-level
//!   classes (events, conditions, semaphores, barriers); the test_thread.py port leaves out
//!   the tests of unstarted or reused `_ThreadHandle`s, which Rust's API cannot express.
//!
//! # The `proves:` marker
//!
//! A test names the clauses it proves in a doc comment line directly above (or among the
//! attributes of) its `#[test]` function:
//!
//! ```text
//! /// proves: LOCK-7, LOCK-9
//! #[test]
//! fn timed_acquire_waits_its_timeout() { /* ... */ }
//! ```
//!
//! `cargo xtask verify` scans every crate's sources for these markers, matches each marked
//! function with libtest's `test NAME ... ok|FAILED|ignored` lines, and reports each clause of
//! `conformance/clauses.toml` with the tests that prove it. A clause is covered when at least one
//! passing test names it; a marker naming an ID that is not in the clause list fails the report.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod cpython;
pub mod differences;
pub mod differential;
pub mod model;
pub mod ops;
pub mod ours;
pub mod strategy;

#[path = "../../xtask/src/python.rs"]
mod python;

/// The README's example, compiled and run as a doc test so that it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;
