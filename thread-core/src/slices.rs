//! [`WaitSlices`]: a main-thread wait cut into slices, for bindings whose interpreter's signal
//! handler wakes nothing.
//!
//! CPython's and RustPython's C-level signal handlers only record the signal. A main thread
//! asleep in a futex wait sees it only if the kernel interrupts that system call, which it does
//! not when the handler ran just before the wait began or on another thread. So the bindings
//! wait in slices: between two slices they run the pending handlers, then wait again until the
//! same deadline. A signal is then handled at most a slice late, never only when the wait ends.

use std::time::{Duration, Instant};

use crate::is_main_thread;

/// The slices of one wait: on the main thread each at most `slice` long, elsewhere one slice,
/// the whole wait. The caller waits [`limit`](WaitSlices::limit) (then, if it did not get what
/// it waited for and the slice [`is_last`](WaitSlices::is_last), the wait has timed out),
/// runs the pending signal handlers, [`advance`](WaitSlices::advance)s and waits again.
///
/// ```
/// use std::time::Duration;
/// use thread_core::WaitSlices;
///
/// let slice = Duration::from_millis(50);
/// let mut slices = WaitSlices::new(Some(Duration::from_millis(120)), slice);
/// loop {
///     let limit = slices.limit();
///     std::thread::sleep(limit.unwrap()); // stands for a wait that got nothing
///     if slices.is_last(limit) {
///         break; // timed out
///     }
///     // Here a binding runs the pending signal handlers.
///     slices.advance();
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WaitSlices {
    deadline: Option<Instant>,
    remaining: Option<Duration>,
    slice: Option<Duration>,
}

impl WaitSlices {
    /// The slices of a wait of `timeout` (`None`: without end), each at most `slice` long when
    /// called on the main thread.
    ///
    /// ```
    /// use std::time::Duration;
    /// let slice = Duration::from_millis(50);
    /// let slices = thread_core::WaitSlices::new(None, slice);
    /// // On the main thread a slice; elsewhere one slice, the whole wait.
    /// let expected = thread_core::is_main_thread().then_some(slice);
    /// assert_eq!(slices.limit(), expected);
    /// ```
    pub fn new(timeout: Option<Duration>, slice: Duration) -> WaitSlices {
        WaitSlices {
            deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
            remaining: timeout,
            slice: is_main_thread().then_some(slice),
        }
    }

    /// How long the next slice may wait (`None`: without limit).
    ///
    /// ```
    /// use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// let slices = thread_core::WaitSlices::new(Some(ms(10)), ms(50));
    /// assert_eq!(slices.limit(), Some(ms(10)));
    /// ```
    pub fn limit(&self) -> Option<Duration> {
        match (self.remaining, self.slice) {
            (Some(left), Some(slice)) if left > slice => Some(slice),
            (None, Some(slice)) => Some(slice),
            (remaining, _) => remaining,
        }
    }

    /// Whether a slice that waited `limit` (what [`limit`](WaitSlices::limit) gave) reached the
    /// wait's deadline: if it ended without what it waited for, the wait has timed out.
    ///
    /// ```
    /// use std::time::Duration;
    /// let slices = thread_core::WaitSlices::new(Some(Duration::ZERO), Duration::from_millis(50));
    /// assert!(slices.is_last(slices.limit()));
    /// ```
    pub fn is_last(&self, limit: Option<Duration>) -> bool {
        limit == self.remaining
    }

    /// Before the next slice: what is left until the deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut slices = thread_core::WaitSlices::new(Some(Duration::from_secs(1)), Duration::ZERO);
    /// slices.advance();
    /// assert!(slices.limit() <= Some(Duration::from_secs(1)));
    /// ```
    pub fn advance(&mut self) {
        if let Some(deadline) = self.deadline {
            self.remaining = Some(deadline.saturating_duration_since(Instant::now()));
        }
    }
}
