//! pythread's conformance suite: every clause of `SPEC.md` proven by tests.
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
