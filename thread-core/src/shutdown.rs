//! [`shutdown`]: CPython 3.13's `_thread._shutdown` (HANDLE-3).

use crate::wait::Woken;
use crate::{ThreadError, is_main_thread, record, signals, spawn};

/// Waits until every non-daemon thread (started with [`Builder::daemon(false)`](crate::Builder::daemon))
/// that is not done has finished, other than the caller's own thread (CPython 3.13's
/// `_thread._shutdown`, HANDLE-3). Threads started while it waits are waited for too; it returns
/// when none is left. Daemon threads, detached threads and [`for_thread`] handles are never
/// waited for, nor is a thread whose handle was marked done with [`set_done`].
///
/// Waiting for a thread here is waiting until its handle would report done; the OS-level join is
/// left to the thread's handles, as usual (the last one dropped detaches the thread).
///
/// On the main thread the wait is interruptible as [`ThreadHandle::join`] is (HANDLE-2): a signal
/// handler's error is returned at once as [`ThreadError::Interrupted`], and the threads run on.
///
/// The set it waits for is a count: it takes no memory per thread and no lock (R-5).
///
/// [`for_thread`]: crate::ThreadHandle::for_thread
/// [`set_done`]: crate::ThreadHandle::set_done
/// [`ThreadHandle::join`]: crate::ThreadHandle::join
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let finished = Arc::new(AtomicBool::new(false));
/// let f = Arc::clone(&finished);
/// let _handle = thread_core::Builder::new()
///     .daemon(false)
///     .spawn_joinable(move || {
///         std::thread::sleep(Duration::from_millis(10));
///         f.store(true, Ordering::SeqCst);
///     })
///     .unwrap();
/// thread_core::shutdown().unwrap();
/// assert!(finished.load(Ordering::SeqCst));
/// ```
pub fn shutdown() -> Result<(), ThreadError> {
    let interruptible = is_main_thread();
    spawn::with_current_record(|own| {
        loop {
            match record::non_daemons().wait_empty(own, interruptible) {
                Woken::Ready => return Ok(()),
                // There is no deadline: only an interrupt ends the wait early.
                Woken::TimedOut | Woken::Interrupted => {
                    signals::run_pending().map_err(ThreadError::Interrupted)?
                }
            }
        }
    })
}
