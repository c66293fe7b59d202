//! [`AuditError`]: a hook's refusal, carried as the Python exception it stands for.

use std::borrow::Cow;

/// The exception types that derive from `BaseException` but not from `Exception`.
///
/// AUDIT-4 treats a refusal of `sys.addaudithook` differently for these: they are returned to
/// the caller instead of swallowed.
const BASE_ONLY: [&str; 5] = [
    "BaseException",
    "BaseExceptionGroup",
    "GeneratorExit",
    "KeyboardInterrupt",
    "SystemExit",
];

/// A refusal by an audit hook: the Python exception type it stands for and its message.
///
/// `Display` is the message alone, as `str(exc)` is in Python.
///
/// ```
/// use thread_audit::AuditError;
///
/// let err = AuditError::new("PermissionError", "threads are not allowed here");
/// assert_eq!(err.python_type(), "PermissionError");
/// assert_eq!(err.to_string(), "threads are not allowed here");
/// assert!(err.is_exception());
/// assert!(!AuditError::new("KeyboardInterrupt", "").is_exception());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.message)]
pub struct AuditError(Box<Refusal>);

/// The contents of an [`AuditError`], boxed so that `Result<(), AuditError>` is one pointer
/// wide: the accepting path of `audit` returns a null in a register.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    python_type: Cow<'static, str>,
    message: String,
}

impl AuditError {
    /// Builds a refusal of Python type `python_type` (for example `"RuntimeError"`) with
    /// `message`.
    ///
    /// ```
    /// use thread_audit::AuditError;
    ///
    /// let err = AuditError::new("RuntimeError", String::from("no"));
    /// assert_eq!(err.python_type(), "RuntimeError");
    /// ```
    pub fn new(python_type: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        AuditError(Box::new(Refusal {
            python_type: python_type.into(),
            message: message.into(),
        }))
    }

    /// The name of the Python exception type this refusal stands for.
    ///
    /// ```
    /// use thread_audit::AuditError;
    ///
    /// assert_eq!(AuditError::new("OSError", "x").python_type(), "OSError");
    /// ```
    pub fn python_type(&self) -> &str {
        &self.0.python_type
    }

    /// The message (the same text as `Display`).
    ///
    /// ```
    /// use thread_audit::AuditError;
    ///
    /// assert_eq!(AuditError::new("OSError", "x").message(), "x");
    /// ```
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Whether the type derives from Python's `Exception`: true for every type except
    /// `BaseException`, `BaseExceptionGroup`, `GeneratorExit`, `KeyboardInterrupt` and
    /// `SystemExit`.
    ///
    /// A refusal of `sys.addaudithook` that is an `Exception` is swallowed (AUDIT-4).
    ///
    /// ```
    /// use thread_audit::AuditError;
    ///
    /// assert!(AuditError::new("RuntimeError", "").is_exception());
    /// assert!(!AuditError::new("SystemExit", "").is_exception());
    /// ```
    pub fn is_exception(&self) -> bool {
        !BASE_ONLY.contains(&&*self.0.python_type)
    }
}
