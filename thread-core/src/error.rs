//! [`ThreadError`]: every error thread-core returns, with CPython's exception type and message.

use thiserror::Error;
use thread_audit::AuditError;

use crate::Interrupt;

/// An error from thread-core: `Display` is CPython's message to the letter, and
/// [`python_type`](ThreadError::python_type) names the exception CPython raises.
///
/// ```
/// use thread_core::{stack_size, ThreadError};
/// let err = stack_size(Some(4096)).unwrap_err();
/// assert_eq!(err, ThreadError::StackSizeInvalid { size: 4096 });
/// assert_eq!(err.python_type(), "ValueError");
/// assert_eq!(err.to_string(), "size not valid: 4096 bytes");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ThreadError {
    /// The OS could not create the thread (SPAWN-4).
    #[error("can't start new thread")]
    CantStart,
    /// A thread tried to join itself (SPAWN-7).
    #[error("Cannot join current thread")]
    JoinCurrent,
    /// A stack size that is neither 0 nor a size the platform accepts (STACK-4).
    #[error("size not valid: {size} bytes")]
    StackSizeInvalid {
        /// The refused size, in bytes.
        size: usize,
    },
    /// A signal number outside `1..NSIG` (INTR-1).
    #[error("signal number out of range")]
    SignalOutOfRange,
    /// [`set_main_thread`](crate::set_main_thread) was called a second time (CORE-9).
    #[error("the main thread has already been set")]
    MainThreadAlreadySet,
    /// An audit hook refused the spawn (SPAWN-3); type and message are the hook's.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// A main-thread [`join`](crate::ThreadHandle::join) or [`shutdown`](crate::shutdown) was
    /// interrupted and a signal handler failed (HANDLE-2): type and message are the handler's
    /// ("KeyboardInterrupt" for the default SIGINT handler). The thread runs on.
    ///
    /// ```
    /// let err = thread_core::ThreadError::Interrupted(thread_core::Interrupt::new(
    ///     2,
    ///     "KeyboardInterrupt",
    ///     "",
    /// ));
    /// assert_eq!((err.python_type(), err.to_string().as_str()), ("KeyboardInterrupt", ""));
    /// ```
    #[error(transparent)]
    Interrupted(Interrupt),
    /// An OS call failed (`OSError`), e.g. naming a thread (SPAWN-8).
    #[error("[Errno {errno}] {message}")]
    Os {
        /// The `errno` value.
        errno: i32,
        /// `strerror(errno)`.
        message: String,
    },
}

impl ThreadError {
    /// The name of the Python exception CPython raises for this error.
    ///
    /// ```
    /// assert_eq!(thread_core::ThreadError::CantStart.python_type(), "RuntimeError");
    /// ```
    pub fn python_type(&self) -> &str {
        match self {
            ThreadError::CantStart
            | ThreadError::JoinCurrent
            | ThreadError::MainThreadAlreadySet => "RuntimeError",
            ThreadError::StackSizeInvalid { .. } | ThreadError::SignalOutOfRange => "ValueError",
            ThreadError::Os { .. } => "OSError",
            ThreadError::Audit(e) => e.python_type(),
            ThreadError::Interrupted(i) => i.python_type(),
        }
    }

    /// An `OSError` for `errno`, with the C library's text for it.
    pub(crate) fn os(errno: i32) -> ThreadError {
        let mut buf = [0u8; 128];
        // SAFETY: `buf` is writable for its whole length and `strerror_r` (the XSI variant libc
        // binds on Linux) writes at most `buflen` bytes, NUL included.
        let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
        let message = if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            String::from_utf8_lossy(&buf[..end]).into_owned()
        } else {
            format!("Unknown error {errno}")
        };
        ThreadError::Os { errno, message }
    }
}
