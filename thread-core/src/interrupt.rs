//! `interrupt_main` and the per-signal handlers it triggers (INTR-1, INTR-2).
//!
//! No OS signal is ever sent. Each signal number has a handler — default, ignore, or a function —
//! and a pending mark. [`interrupt_main`] sets the mark when the handler is a function and wakes
//! the main thread if it sleeps in a watched wait ([`signals::watch`](crate::signals::watch));
//! [`check_signals`], on the main thread, runs the marked handlers in increasing signal number.
//!
//! The marks are one bit each in one `AtomicU64` (signals 1..=64), so marking is a single atomic
//! operation: many calls before a check coalesce into one handler run. Handler kinds are mirrored
//! in atomics so that marking never takes a lock; the functions themselves live behind a mutex
//! that is never held while a handler runs (a handler may replace handlers).

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use thiserror::Error;

use crate::{ThreadError, is_main_thread, signals};

/// libc's `NSIG` on x86-64 and aarch64 Linux: valid signal numbers are `1..NSIG`.
///
/// ```
/// assert!(thread_core::interrupt_main(thread_core::NSIG).is_err());
/// assert!(thread_core::interrupt_main(thread_core::NSIG - 1).is_ok());
/// ```
pub const NSIG: i32 = 65;

/// `SIGINT`, whose handler starts as [`default_int_handler`].
const SIGINT: i32 = libc::SIGINT;

/// What a signal handler fails with: the Python exception it raises.
///
/// `Display` is the message (empty for a bare `KeyboardInterrupt`, as CPython's).
///
/// ```
/// let e = thread_core::Interrupt::new(2, "KeyboardInterrupt", "");
/// assert_eq!((e.signum(), e.python_type(), e.to_string().as_str()), (2, "KeyboardInterrupt", ""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct Interrupt {
    signum: i32,
    python_type: Cow<'static, str>,
    message: String,
}

impl Interrupt {
    /// An interrupt for `signum` that raises `python_type` with `message`.
    ///
    /// ```
    /// let e = thread_core::Interrupt::new(10, "RuntimeError", "usr1");
    /// assert_eq!(e.to_string(), "usr1");
    /// ```
    pub fn new(
        signum: i32,
        python_type: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Interrupt {
            signum,
            python_type: python_type.into(),
            message: message.into(),
        }
    }

    /// The signal whose handler failed.
    ///
    /// ```
    /// assert_eq!(thread_core::Interrupt::new(15, "SystemExit", "").signum(), 15);
    /// ```
    pub fn signum(&self) -> i32 {
        self.signum
    }

    /// The Python exception the handler raised ("KeyboardInterrupt" for the default SIGINT one).
    ///
    /// ```
    /// let e = thread_core::default_int_handler(2).unwrap_err();
    /// assert_eq!(e.python_type(), "KeyboardInterrupt");
    /// ```
    pub fn python_type(&self) -> &str {
        &self.python_type
    }
}

/// A handler function: called on the main thread with the signal number.
///
/// ```
/// use std::sync::Arc;
/// let f: thread_core::HandlerFn = Arc::new(|signum| {
///     Err(thread_core::Interrupt::new(signum, "RuntimeError", "stop"))
/// });
/// assert_eq!(f(10).unwrap_err().to_string(), "stop");
/// ```
pub type HandlerFn = Arc<dyn Fn(i32) -> Result<(), Interrupt> + Send + Sync>;

/// What a signal does when [`interrupt_main`] names it.
///
/// ```
/// use std::sync::Arc;
/// use thread_core::SignalHandler;
/// let h = SignalHandler::Handler(Arc::new(|_signum| Ok(())));
/// assert_eq!(format!("{h:?}"), "Handler(..)");
/// ```
#[derive(Clone)]
pub enum SignalHandler {
    /// `SIG_DFL`: `interrupt_main` does nothing.
    Default,
    /// `SIG_IGN`: `interrupt_main` does nothing.
    Ignore,
    /// A function, run by [`check_signals`] on the main thread.
    Handler(HandlerFn),
}

impl fmt::Debug for SignalHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalHandler::Default => f.write_str("Default"),
            SignalHandler::Ignore => f.write_str("Ignore"),
            SignalHandler::Handler(_) => f.write_str("Handler(..)"),
        }
    }
}

/// Python's `signal.default_int_handler`: fails with `KeyboardInterrupt`. SIGINT's handler
/// starts as this function.
///
/// ```
/// let e = thread_core::default_int_handler(2).unwrap_err();
/// assert_eq!((e.python_type(), e.to_string().as_str()), ("KeyboardInterrupt", ""));
/// ```
pub fn default_int_handler(signum: i32) -> Result<(), Interrupt> {
    Err(Interrupt::new(signum, "KeyboardInterrupt", ""))
}

/// A handler as stored: `const`-constructible, so the table can be a static.
enum Slot {
    Default,
    Ignore,
    /// SIGINT's initial handler, without allocating an `Arc` at load time.
    DefaultInt,
    Handler(HandlerFn),
}

const KIND_DEFAULT: u8 = 0;
const KIND_IGNORE: u8 = 1;
const KIND_FUNCTION: u8 = 2;

const fn initial_slots() -> [Slot; NSIG as usize] {
    let mut slots = [const { Slot::Default }; NSIG as usize];
    let old = std::mem::replace(&mut slots[SIGINT as usize], Slot::DefaultInt);
    // `Slot::Default` owns nothing; forgetting it is what a drop would do.
    std::mem::forget(old);
    slots
}

const fn initial_kinds() -> [AtomicU8; NSIG as usize] {
    let mut kinds = [const { AtomicU8::new(KIND_DEFAULT) }; NSIG as usize];
    kinds[SIGINT as usize] = AtomicU8::new(KIND_FUNCTION);
    kinds
}

/// The handler functions, indexed by signal number.
static HANDLERS: Mutex<[Slot; NSIG as usize]> = Mutex::new(initial_slots());
/// The kind of each handler, readable without the mutex (`interrupt_main` never locks).
static KINDS: [AtomicU8; NSIG as usize] = initial_kinds();
/// Bit `signum - 1` set: `signum` is pending for the main thread.
static PENDING: AtomicU64 = AtomicU64::new(0);

fn check_range(signum: i32) -> Result<usize, ThreadError> {
    if (1..NSIG).contains(&signum) {
        Ok(signum as usize)
    } else {
        Err(ThreadError::SignalOutOfRange)
    }
}

fn bit(signum: usize) -> u64 {
    1 << (signum - 1)
}

/// Replaces the handler of `signum` and returns the old one (Python's `signal.signal`, without
/// touching the OS's disposition). `signum` outside `1..NSIG`: `ValueError|signal number out of
/// range`, nothing changed.
///
/// ```
/// use thread_core::{set_signal_handler, SignalHandler};
/// let old = set_signal_handler(10, SignalHandler::Ignore).unwrap();
/// assert!(matches!(old, SignalHandler::Default));
/// assert!(set_signal_handler(65, SignalHandler::Ignore).is_err());
/// ```
pub fn set_signal_handler(
    signum: i32,
    handler: SignalHandler,
) -> Result<SignalHandler, ThreadError> {
    let index = check_range(signum)?;
    let (slot, kind) = match handler {
        SignalHandler::Default => (Slot::Default, KIND_DEFAULT),
        SignalHandler::Ignore => (Slot::Ignore, KIND_IGNORE),
        SignalHandler::Handler(f) => (Slot::Handler(f), KIND_FUNCTION),
    };
    // A handler never runs under this mutex, so it cannot be poisoned mid-update; take it anyway.
    let mut slots = HANDLERS.lock().unwrap_or_else(PoisonError::into_inner);
    let old = std::mem::replace(&mut slots[index], slot);
    // Relaxed: the kind is a hint for `interrupt_main`; the slot itself is read under the mutex.
    KINDS[index].store(kind, Ordering::Relaxed);
    drop(slots);
    Ok(match old {
        Slot::Default => SignalHandler::Default,
        Slot::Ignore => SignalHandler::Ignore,
        Slot::DefaultInt => SignalHandler::Handler(Arc::new(default_int_handler)),
        Slot::Handler(f) => SignalHandler::Handler(f),
    })
}

/// Simulates the arrival of `signum` for the main thread, as CPython's
/// `_thread.interrupt_main(signum=SIGINT)` (INTR-1, INTR-2): no OS signal is sent.
///
/// `signum` outside `1..NSIG` is `ValueError|signal number out of range`. When the signal's
/// handler is a function, the signal is marked pending (marks coalesce) and a main thread asleep
/// in a watched wait is woken; the handler runs at the main thread's next [`check_signals`].
/// With a default or ignore handler nothing happens. Async-signal-safe (atomics and a futex
/// wake only), so an embedder's OS signal handler may call it.
///
/// ```no_run
/// thread_core::interrupt_main(libc::SIGINT).unwrap();
/// // on the main thread:
/// let err = thread_core::check_signals().unwrap_err();
/// assert_eq!(err.python_type(), "KeyboardInterrupt");
/// ```
pub fn interrupt_main(signum: i32) -> Result<(), ThreadError> {
    let index = check_range(signum)?;
    // Relaxed: a handler changed concurrently may or may not see this call, as in CPython.
    if KINDS[index].load(Ordering::Relaxed) != KIND_FUNCTION {
        return Ok(());
    }
    // SeqCst: the mark must precede, in the single total order, the read of the watch
    // registration in `wake_main`, so a main thread that registers and then checks `pending()`
    // either sees this mark or is registered in time to be woken (see `signals::watch`).
    PENDING.fetch_or(bit(index), Ordering::SeqCst);
    signals::wake_main();
    Ok(())
}

/// Whether any `interrupt_main` mark waits for the main thread.
pub(crate) fn marks_pending() -> bool {
    // SeqCst: pairs with the mark in `interrupt_main` (see `signals::watch`).
    PENDING.load(Ordering::SeqCst) != 0
}

/// Runs the handlers of pending signals on the main thread, in increasing signal number
/// (INTR-2). The first handler to fail stops the run: its error is returned and the signals after
/// it stay pending. On any other thread it does nothing and returns `Ok(())`.
///
/// ```
/// // On a thread that is not the main thread nothing runs.
/// std::thread::spawn(|| assert!(thread_core::check_signals().is_ok())).join().unwrap();
/// ```
pub fn check_signals() -> Result<(), Interrupt> {
    if !is_main_thread() || !marks_pending() {
        return Ok(());
    }
    for signum in 1..NSIG as usize {
        // Acquire: the handler runs after whatever the marking thread did before marking.
        let was = PENDING.fetch_and(!bit(signum), Ordering::Acquire);
        if was & bit(signum) == 0 {
            continue;
        }
        let handler = {
            let slots = HANDLERS.lock().unwrap_or_else(PoisonError::into_inner);
            match &slots[signum] {
                Slot::Handler(f) => Some(Arc::clone(f)),
                Slot::DefaultInt => None,
                // The handler was reset after the mark: the mark is dropped.
                Slot::Default | Slot::Ignore => continue,
            }
        };
        let result = match handler {
            Some(f) => f(signum as i32),
            None => default_int_handler(signum as i32),
        };
        result?;
    }
    Ok(())
}
