//! CPython's `_thread` for Rust: identifiers, spawning, stack size, count, exit and
//! `interrupt_main`.
//!
//! Work in progress: the thread core lands with issue 6.
