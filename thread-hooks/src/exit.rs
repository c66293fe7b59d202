//! [`SystemExit`]: the unwind payload that ends a thread silently.

use std::fmt;

/// Python's `SystemExit`: the payload a thread unwinds with to end quietly.
///
/// `thread_core::exit()` is `std::panic::resume_unwind(Box::new(SystemExit { code: None }))`.
/// A thread body that ends with this payload — from `resume_unwind`, from
/// `std::panic::panic_any(SystemExit { .. })`, or by returning `Err(SystemExit { .. })` — ends
/// silently, whatever the code (EXIT-2): no hook call, no output.
///
/// `Display` is what `str(SystemExit(code))` gives: the code, or nothing.
///
/// ```
/// use thread_hooks::{SystemExit, ThreadExit, run_thread_body};
///
/// let ended = std::thread::spawn(|| {
///     run_thread_body("<function worker>", || -> () {
///         std::panic::resume_unwind(Box::new(SystemExit { code: None }))
///     })
/// })
/// .join()
/// .unwrap();
/// assert!(matches!(ended, ThreadExit::SystemExit(SystemExit { code: None })));
/// assert_eq!(SystemExit { code: Some(3) }.to_string(), "3");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SystemExit {
    /// The exit code; `None` for `exit()`.
    pub code: Option<i32>,
}

impl fmt::Display for SystemExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "{code}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for SystemExit {}
