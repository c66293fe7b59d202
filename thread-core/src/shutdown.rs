//! [`shutdown`]: CPython 3.13's `_thread._shutdown` (HANDLE-3), and [`shutdown_timeout`], the
//! same with a limit.

use std::time::Duration;

use crate::wait::{self, Woken};
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
    shutdown_timeout(None).map(|_all_finished| ())
}

/// [`shutdown`] with a limit: waits at most `timeout` (`None`: no limit, as [`shutdown`]) for
/// the non-daemon threads, and says whether every one of them had finished (`true`) or the time
/// ran out first (`false`; the threads run on, and a later call waits for them again).
///
/// This is the form for a caller that must do its own work while it waits: a Python runtime's
/// main thread, whose signal handlers may be recorded without interrupting the wait (CPython's
/// C handler never calls [`signals::notify`](crate::signals::notify), and may run on another
/// thread), waits in short slices and runs its pending handlers between them. On the main thread
/// the wait is interruptible as [`shutdown`]'s is.
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
///
/// let (finish, finished) = mpsc::channel::<()>();
/// let _handle = thread_core::Builder::new()
///     .daemon(false)
///     .spawn_joinable(move || {
///         let _ = finished.recv();
///     })
///     .unwrap();
/// // The thread waits for us: the time runs out first.
/// assert!(!thread_core::shutdown_timeout(Some(Duration::from_millis(5))).unwrap());
/// drop(finish);
/// assert!(thread_core::shutdown_timeout(Some(Duration::from_secs(60))).unwrap());
/// assert!(thread_core::shutdown_timeout(Some(Duration::ZERO)).unwrap());
/// ```
pub fn shutdown_timeout(timeout: Option<Duration>) -> Result<bool, ThreadError> {
    let deadline = timeout.map(wait::deadline_after);
    let interruptible = is_main_thread();
    spawn::with_current_record(|own| {
        loop {
            match record::non_daemons().wait_empty(own, deadline, interruptible) {
                Woken::Ready => return Ok(true),
                Woken::TimedOut => return Ok(false),
                Woken::Interrupted => signals::run_pending().map_err(ThreadError::Interrupted)?,
            }
        }
    })
}
