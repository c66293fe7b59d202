//! [`run_thread_body`]: how a thread's function ends, and the report of a failure.

use std::any::{Any, type_name};
use std::fmt::{Debug, Display};

use crate::capture::catch_captured;
use crate::{SystemExit, UnraisableHookArgs, UnraisableHooks};

/// The `err_msg` of a thread's failure report.
///
/// ```
/// assert_eq!(thread_hooks::THREAD_ERR_MSG, "Exception ignored in thread started by");
/// ```
pub const THREAD_ERR_MSG: &str = "Exception ignored in thread started by";

/// How a thread's body ended (after any report was made).
///
/// ```
/// use thread_hooks::{ThreadExit, run_thread_body};
///
/// assert!(matches!(run_thread_body("<function f>", || ()), ThreadExit::Returned));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadExit {
    /// The body returned `()` or `Ok(())`.
    Returned,
    /// The body ended with `SystemExit` (silently: no report).
    SystemExit(SystemExit),
    /// The body failed (panicked or returned `Err`), and the failure was reported through the
    /// unraisable hook.
    Reported,
}

/// What a thread's body returned, classified.
///
/// ```
/// use thread_hooks::{BodyOutcome, ThreadResult};
///
/// assert_eq!(().into_outcome(), BodyOutcome::Returned);
/// let failed = Err::<(), _>("bad").into_outcome();
/// assert_eq!(
///     failed,
///     BodyOutcome::Failed { exc_type: "&str".into(), exc_value: "bad".into() }
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyOutcome {
    /// Success.
    Returned,
    /// `Err(SystemExit { .. })`: end silently.
    SystemExit(SystemExit),
    /// A failure to report: its type name and message.
    Failed {
        /// `std::any::type_name` of the error type.
        exc_type: String,
        /// The error's `Display`.
        exc_value: String,
    },
}

/// What a thread's function may return: `()` or `Result<(), E>` where
/// `E: Display + Debug + Send + 'static` (so `Box<dyn Error + Send + Sync>` and `anyhow::Error`
/// work). An `Err(e)` is reported with `exc_type` = `std::any::type_name::<E>()` and
/// `exc_value` = `e.to_string()`; an `Err(SystemExit { .. })` ends the thread silently.
///
/// ```
/// use thread_hooks::{BodyOutcome, SystemExit, ThreadResult};
///
/// let quiet: Result<(), SystemExit> = Err(SystemExit { code: Some(2) });
/// assert_eq!(quiet.into_outcome(), BodyOutcome::SystemExit(SystemExit { code: Some(2) }));
/// ```
pub trait ThreadResult {
    /// Classifies the value.
    fn into_outcome(self) -> BodyOutcome;
}

impl ThreadResult for () {
    fn into_outcome(self) -> BodyOutcome {
        BodyOutcome::Returned
    }
}

impl<E> ThreadResult for Result<(), E>
where
    E: Display + Debug + Send + 'static,
{
    fn into_outcome(self) -> BodyOutcome {
        match self {
            Ok(()) => BodyOutcome::Returned,
            Err(error) => match (&error as &dyn Any).downcast_ref::<SystemExit>() {
                Some(exit) => BodyOutcome::SystemExit(*exit),
                None => BodyOutcome::Failed {
                    exc_type: type_name::<E>().to_owned(),
                    exc_value: error.to_string(),
                },
            },
        }
    }
}

/// Runs `body` under `catch_unwind` on the current thread and classifies how it ended; a
/// failure is reported through the process-wide [`write_unraisable`](crate::write_unraisable)
/// with `err_msg` `"Exception ignored in thread started by"` and `object` = `object` (for
/// example `"<function worker>"`). Never panics itself.
///
/// While `body` runs, the thread is marked as started by pythread, so the process-wide panic
/// hook (installed once, by the first call) records a panic's message and location instead of
/// printing Rust's message: each failure is reported once (HOOK-1, HOOK-3). A `SystemExit`
/// payload — `resume_unwind(Box::new(SystemExit { .. }))` or `panic_any(SystemExit { .. })` —
/// or an `Err(SystemExit { .. })` ends silently (EXIT-2). Every other failure is reported,
/// a `KeyboardInterrupt` on a thread that is not the main one included (EXIT-3).
///
/// ```
/// use thread_hooks::{ThreadExit, run_thread_body};
///
/// let ended = std::thread::spawn(|| {
///     // Prints "Exception ignored in thread started by: <function parse>\n&str: bad input\n".
///     run_thread_body("<function parse>", || Err::<(), _>("bad input"))
/// })
/// .join()
/// .unwrap();
/// assert_eq!(ended, ThreadExit::Reported);
/// ```
pub fn run_thread_body<F, R>(object: &str, body: F) -> ThreadExit
where
    F: FnOnce() -> R,
    R: ThreadResult,
{
    run_thread_body_in(UnraisableHooks::global(), object, body)
}

/// [`run_thread_body`], reporting through `hooks` instead of the process-wide registry.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use thread_hooks::{ThreadExit, UnraisableHookArgs, UnraisableHooks, run_thread_body_in};
///
/// let hooks = UnraisableHooks::new();
/// let seen = Arc::new(Mutex::new(None));
/// let s = seen.clone();
/// hooks.set(move |args: &UnraisableHookArgs| *s.lock().unwrap() = Some(args.clone()));
/// let ended = run_thread_body_in(&hooks, "<function f>", || -> () { panic!("boom") });
/// assert_eq!(ended, ThreadExit::Reported);
/// let args = seen.lock().unwrap().take().unwrap();
/// assert_eq!((args.exc_type.as_str(), args.exc_value.as_str()), ("PanicException", "boom"));
/// assert_eq!(args.object.as_deref(), Some("<function f>"));
/// ```
pub fn run_thread_body_in<F, R>(hooks: &UnraisableHooks, object: &str, body: F) -> ThreadExit
where
    F: FnOnce() -> R,
    R: ThreadResult,
{
    // `into_outcome` runs inside the catch too: a `Display` that panics is a panic like any other.
    let failure = match catch_captured(|| body().into_outcome()) {
        Ok(BodyOutcome::Returned) => return ThreadExit::Returned,
        Ok(BodyOutcome::SystemExit(exit)) => return ThreadExit::SystemExit(exit),
        Ok(BodyOutcome::Failed {
            exc_type,
            exc_value,
        }) => UnraisableHookArgs::new(exc_type, exc_value),
        Err(panic) => match panic.system_exit() {
            Some(exit) => {
                crate::capture::drop_quietly(panic);
                return ThreadExit::SystemExit(exit);
            }
            None => panic.into_args(),
        },
    };
    hooks.write(failure.with_err_msg(THREAD_ERR_MSG).with_object(object));
    ThreadExit::Reported
}
