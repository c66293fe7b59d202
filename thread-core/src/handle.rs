//! [`ThreadHandle`]: what `start_joinable_thread` returns (SPAWN-7, FORK-3), and what
//! `for_thread` makes for a thread pythread did not start (HANDLE-1); its join is interruptible
//! on the main thread (HANDLE-2).

use std::sync::Arc;
use std::time::Duration;

use crate::record::Record;
use crate::wait::{self, Woken};
use crate::{Ident, ThreadError, is_main_thread, signals};

/// A handle on a thread (CPython 3.13's `_ThreadHandle`): one started by
/// [`start_joinable_thread`](crate::start_joinable_thread) or
/// [`Builder::spawn_joinable`](crate::Builder::spawn_joinable), or any thread named by
/// [`for_thread`](ThreadHandle::for_thread).
///
/// Clones share the thread: marking one done marks all. Dropping the last handle of a thread
/// pythread started detaches it. In a forked child, the handle of any thread but the forking one
/// reports done and joins at once (FORK-3).
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

    /// A handle on a thread that pythread did not start — the main thread, a thread an embedder
    /// adopted — known only by its ident (CPython 3.13's `_make_thread_handle`, HANDLE-1). It is
    /// running until [`set_done`](Self::set_done) is called, whatever the thread does; joining it
    /// from its own thread is `RuntimeError|Cannot join current thread` until then. In a forked
    /// child it is done unless the forking thread had its ident (as in CPython).
    ///
    /// ```
    /// use std::time::Duration;
    /// use thread_core::{ThreadHandle, get_ident};
    ///
    /// let me = ThreadHandle::for_thread(get_ident());
    /// assert!(!me.is_done());
    /// assert_eq!(me.join(None).unwrap_err().to_string(), "Cannot join current thread");
    ///
    /// let other = me.clone();
    /// std::thread::spawn(move || {
    ///     // Waits its timeout: only set_done ends it.
    ///     other.join(Some(Duration::from_millis(1))).unwrap();
    ///     assert!(!other.is_done());
    /// })
    /// .join()
    /// .unwrap();
    /// me.set_done();
    /// assert!(me.is_done());
    /// me.join(None).unwrap(); // returns at once
    /// ```
    pub fn for_thread(ident: Ident) -> ThreadHandle {
        ThreadHandle::new(Arc::new(Record::adopted(ident)), ident)
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

    /// Whether the thread has finished, hook reporting included, or the handle was marked
    /// done ([`set_done`](Self::set_done)).
    ///
    /// ```
    /// let handle = thread_core::start_joinable_thread(|| ()).unwrap();
    /// handle.join(None).unwrap();
    /// assert!(handle.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.record.is_done()
    }

    /// Marks the handle done at once (CPython 3.13's `_ThreadHandle._set_done`, HANDLE-1): a
    /// thread pythread started is detached if nobody joined it yet, and leaves the set
    /// [`shutdown`](crate::shutdown) waits for; every later [`join`](Self::join) returns at once
    /// and reaps nothing; [`is_done`](Self::is_done) is true. The thread itself runs on, and
    /// [`count`](crate::count) falls only when it really ends. Calling it again does nothing.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// let (tx, rx) = mpsc::channel::<()>();
    /// let handle = thread_core::start_joinable_thread(move || {
    ///     let _ = rx.recv();
    /// })
    /// .unwrap();
    /// handle.set_done();
    /// assert!(handle.is_done());
    /// handle.join(None).unwrap(); // returns at once: the thread still waits on `rx`
    /// drop(tx); // now it ends, detached
    /// ```
    pub fn set_done(&self) {
        self.record.set_done();
    }

    /// Waits for the thread to finish (`None`), or at most about `timeout`; then
    /// [`is_done`](Self::is_done) tells whether it did. Joining twice is fine.
    ///
    /// From the thread itself, while it is not done: `RuntimeError|Cannot join current thread`
    /// ("itself" by identity for a thread pythread started, so a later thread that gets the same
    /// ident is never taken for it: HANDLE-4).
    ///
    /// On the main thread the wait is interruptible (HANDLE-2), as a main-thread lock acquire:
    /// woken by [`interrupt_main`](crate::interrupt_main), [`signals::notify`] or a signal's
    /// `EINTR`, it runs [`signals::run_pending`]; a handler's error is returned as
    /// [`ThreadError::Interrupted`] (the thread runs on and the handle stays joinable), otherwise
    /// it waits again against the same deadline. Off the main thread it is not interruptible.
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
        if self.record.is_done() {
            self.record.reap(timeout.is_none());
            return Ok(());
        }
        if self.record.is_calling_thread() {
            return Err(ThreadError::JoinCurrent);
        }
        let deadline = timeout.map(wait::deadline_after);
        let interruptible = is_main_thread();
        loop {
            match self.record.wait(deadline, interruptible) {
                Woken::Ready => break,
                // It may have ended just then: a timed join reaps only a thread already gone.
                Woken::TimedOut => break,
                Woken::Interrupted => signals::run_pending().map_err(ThreadError::Interrupted)?,
            }
        }
        if self.record.is_done() {
            self.record.reap(timeout.is_none());
        }
        Ok(())
    }
}
