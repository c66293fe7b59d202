//! [`ThreadHandle`]: what `start_joinable_thread` returns (SPAWN-7, FORK-3).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::record::Record;
use crate::{Ident, ThreadError, get_ident};

/// A handle on a thread started by [`start_joinable_thread`](crate::start_joinable_thread) or
/// [`Builder::spawn_joinable`](crate::Builder::spawn_joinable) (CPython 3.13's `_ThreadHandle`).
///
/// Dropping the handle detaches the thread. In a forked child, the handle of any thread but the
/// forking one reports done and joins at once (FORK-3).
///
/// ```
/// let handle = thread_core::start_joinable_thread(|| ()).unwrap();
/// handle.join(None).unwrap();
/// assert!(handle.is_done());
/// handle.join(None).unwrap(); // joining twice is fine
/// ```
#[derive(Debug, Clone)]
pub struct ThreadHandle {
    record: Arc<Record>,
    ident: Ident,
}

impl ThreadHandle {
    pub(crate) fn new(record: Arc<Record>, ident: Ident) -> Self {
        ThreadHandle { record, ident }
    }

    /// The thread's ident, the value its `get_ident()` returns.
    ///
    /// ```
    /// let handle = thread_core::start_joinable_thread(|| ()).unwrap();
    /// assert_ne!(handle.ident(), thread_core::get_ident());
    /// handle.join(None).unwrap();
    /// ```
    pub fn ident(&self) -> Ident {
        self.ident
    }

    /// Whether the thread has finished, hook reporting included.
    ///
    /// ```
    /// let handle = thread_core::start_joinable_thread(|| ()).unwrap();
    /// handle.join(None).unwrap();
    /// assert!(handle.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.record.is_done(self.ident)
    }

    /// Waits for the thread to finish (`None`), or at most about `timeout`; then
    /// [`is_done`](Self::is_done) tells whether it did. From the thread itself:
    /// `RuntimeError|Cannot join current thread`. Not interrupted by `interrupt_main`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let handle = thread_core::start_joinable_thread(|| {
    ///     std::thread::sleep(Duration::from_millis(20));
    /// })
    /// .unwrap();
    /// handle.join(Some(Duration::from_millis(1))).unwrap(); // may return before the end
    /// handle.join(None).unwrap();
    /// assert!(handle.is_done());
    /// ```
    pub fn join(&self, timeout: Option<Duration>) -> Result<(), ThreadError> {
        if self.ident == get_ident() && !self.is_done() {
            return Err(ThreadError::JoinCurrent);
        }
        // A timeout too large for an `Instant` is forever.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        self.record.wait(self.ident, deadline);
        if self.is_done() {
            self.record.reap(timeout.is_none());
        }
        Ok(())
    }
}
