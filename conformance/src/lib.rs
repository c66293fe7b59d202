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
//! * [`json`]: the little JSON the driver's line protocol needs.
//!
//! The tests live in `tests/`: the differential runs (`differential.rs`, on the main thread),
//! the proptest state machines (`state_machine_*.rs`), the port of CPython's `test_thread.py`
//! (`test_thread_port*.rs`). The interpreter is found by the project's one rule,
//! `xtask/src/python.rs`, included here by path.
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
pub mod json;
pub mod model;
pub mod ops;
pub mod ours;
pub mod strategy;

#[path = "../../xtask/src/python.rs"]
mod python;
