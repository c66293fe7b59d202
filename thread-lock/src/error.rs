//! [`LockError`]: every error the locks return, with CPython's exception type and message.

use thread_core::Interrupt;

/// An error from a [`Lock`](crate::Lock) or [`RLock`](crate::RLock) operation.
///
/// `Display` is the message CPython raises, to the letter; [`python_type`](LockError::python_type)
/// names the exception. A call that returns an error has changed nothing (R-2); an interrupted
/// acquire has consumed its interrupt (X-INTR-3).
///
/// ```
/// use thread_lock::{Lock, LockError};
///
/// let err = Lock::new().release().unwrap_err();
/// assert_eq!(err, LockError::ReleaseUnlocked);
/// assert_eq!(err.python_type(), "RuntimeError");
/// assert_eq!(err.to_string(), "release unlocked lock");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// `Lock::release` of an unlocked lock (LOCK-9).
    #[error("release unlocked lock")]
    ReleaseUnlocked,
    /// `RLock::release`/`release_save` by a thread that does not own it (RLOCK-3, RLOCK-5).
    #[error("cannot release un-acquired lock")]
    ReleaseUnacquired,
    /// A NaN timeout (LOCK-4).
    #[error("Invalid value NaN (not a number)")]
    TimeoutNaN,
    /// A timeout whose nanoseconds fall outside `i64` (LOCK-4).
    #[error("timestamp out of range for platform time_t")]
    TimestampOutOfRange,
    /// A non-blocking call with a timeout other than −1 (LOCK-5).
    #[error("can't specify a timeout for a non-blocking call")]
    NonBlockingWithTimeout,
    /// A negative timeout other than −1 (LOCK-5).
    #[error("timeout value must be a non-negative number")]
    NegativeTimeout,
    /// A timeout above `PY_TIMEOUT_MAX` microseconds (LOCK-5; unreachable on Linux, where
    /// [`TimestampOutOfRange`](LockError::TimestampOutOfRange) comes first).
    #[error("timeout value is too large")]
    TimeoutTooLarge,
    /// An `RLock` re-acquire that would overflow its count (RLOCK-2).
    #[error("Internal lock count overflowed")]
    CountOverflow,
    /// The main thread's wait was interrupted and the pending handler failed (X-INTR-3,
    /// LOCK-13): the acquire returns the handler's error without the lock. (Boxed, so that
    /// `Result<bool, LockError>` stays two words and returns in registers on the fast path.)
    #[error("{0}")]
    Interrupted(Box<Interrupt>),
}

impl LockError {
    /// The Python exception CPython raises for this error ("RuntimeError", "ValueError",
    /// "OverflowError", or the interrupt handler's, e.g. "KeyboardInterrupt").
    ///
    /// ```
    /// use thread_lock::parse_timeout;
    ///
    /// let err = parse_timeout(true, f64::NAN).unwrap_err();
    /// assert_eq!(err.python_type(), "ValueError");
    /// ```
    pub fn python_type(&self) -> &str {
        match self {
            LockError::ReleaseUnlocked | LockError::ReleaseUnacquired => "RuntimeError",
            LockError::TimeoutNaN
            | LockError::NonBlockingWithTimeout
            | LockError::NegativeTimeout => "ValueError",
            LockError::TimestampOutOfRange
            | LockError::TimeoutTooLarge
            | LockError::CountOverflow => "OverflowError",
            LockError::Interrupted(i) => i.python_type(),
        }
    }
}

impl PartialEq for LockError {
    /// Variants compare equal; interrupts by signal number, type and message.
    fn eq(&self, other: &LockError) -> bool {
        match (self, other) {
            (LockError::Interrupted(a), LockError::Interrupted(b)) => {
                a.signum() == b.signum()
                    && a.python_type() == b.python_type()
                    && a.to_string() == b.to_string()
            }
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl Eq for LockError {}
