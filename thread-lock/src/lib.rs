//! CPython's `_thread.LockType` and `_thread.RLock` for Rust.
//!
//! Work in progress: the locks land with issue 5.
