//! The process-wide panic hook and the capture it does for pythread's threads (the rules are
//! documented on [`install_panic_hook`]).

use std::any::Any;
use std::backtrace::Backtrace;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

use crate::{SystemExit, UnraisableHookArgs};

thread_local! {
    /// Whether a panic on this thread is to be captured instead of printed.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    /// What the panic hook recorded for the last captured panic on this thread.
    static CAPTURED: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// What the panic hook records for a captured panic.
#[derive(Debug)]
struct Captured {
    message: String,
    traceback: String,
}

/// A panic caught by [`catch_captured`], with what the panic hook recorded about it.
#[derive(Debug)]
pub(crate) struct CaughtPanic {
    payload: Box<dyn Any + Send>,
    captured: Option<Captured>,
}

impl CaughtPanic {
    /// The `SystemExit` this panic carries, if it does.
    pub(crate) fn system_exit(&self) -> Option<SystemExit> {
        self.payload.downcast_ref::<SystemExit>().copied()
    }

    /// The unraisable-hook arguments for this panic (no `err_msg` or `object` yet). Drops the
    /// payload, never letting a panicking destructor escape.
    pub(crate) fn into_args(self) -> UnraisableHookArgs {
        let message = payload_message(&*self.payload);
        drop_quietly(self.payload);
        let mut args = UnraisableHookArgs::new("PanicException", message);
        // What was recorded belongs to this panic only if the messages agree: a payload
        // re-thrown with `resume_unwind` runs no hook and must not borrow an older location.
        if let Some(captured) = self.captured
            && captured.message == args.exc_value
        {
            args.exc_traceback = Some(captured.traceback);
        }
        args
    }
}

/// Installs pythread's panic hook, once per process, chained to the hook that was there.
///
/// [`run_thread_body`](crate::run_thread_body) calls this itself; an embedder may call it
/// earlier, for example before installing its own hook that chains to this one. Called on a
/// thread that is panicking (where the standard library forbids changing the hook), it does
/// nothing and a later call installs the hook.
///
/// On a thread that is inside [`run_thread_body`](crate::run_thread_body) (or inside a call of
/// an unraisable hook by [`UnraisableHooks::write`](crate::UnraisableHooks::write)), the hook
/// records the panic's message, location and — when `RUST_BACKTRACE` asks (`1`: the short
/// backtrace, `full`: every frame) — a backtrace, and prints nothing: the failure is then
/// reported once, through the unraisable hook. A `SystemExit` payload there is recorded as
/// nothing at all. On every other thread the previous hook runs, so Rust's usual message is
/// printed. A panic that a body catches itself (`catch_unwind`) inside such a thread is never
/// printed, as a Python exception that is caught is never printed.
///
/// # If the application installs its own panic hook later
///
/// `std::panic::set_hook` replaces the whole hook. If the application's hook chains to the one
/// it replaced (calls what `std::panic::take_hook` returned), nothing changes. If it does not,
/// pythread's capture is gone: a panic in a pythread thread runs the application's hook (which
/// typically prints Rust's `thread '…' panicked at` message) and is still reported through the
/// unraisable hook, but without its location or backtrace (`exc_traceback` is `None`), because
/// nothing recorded them; a `panic_any(SystemExit { .. })` then goes through the application's
/// hook too (the thread still ends without a report). pythread does not install its hook again.
///
/// ```
/// thread_hooks::install_panic_hook();
/// thread_hooks::install_panic_hook(); // the second call does nothing
/// ```
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    if std::thread::panicking() {
        return;
    }
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !capture(info) {
                previous(info);
            }
        }));
    });
}

/// The panic hook's work on a capturing thread; returns false when the thread is not capturing
/// (the previous hook then runs).
fn capture(info: &PanicHookInfo<'_>) -> bool {
    // `try_with`: a panic during thread-local destruction is simply not captured.
    if !CAPTURING.try_with(Cell::get).unwrap_or(false) {
        return false;
    }
    if info.payload().is::<SystemExit>() {
        return true;
    }
    let message = payload_message(info.payload());
    let mut traceback = match info.location() {
        Some(location) => format!("  File \"{}\", line {}", location.file(), location.line()),
        None => String::new(),
    };
    if let Some(full) = backtrace_wanted() {
        let backtrace = Backtrace::force_capture().to_string();
        let text = if full {
            backtrace
        } else {
            short_backtrace(&backtrace)
        };
        for line in text.lines() {
            if !traceback.is_empty() {
                traceback.push('\n');
            }
            traceback.push_str(line);
        }
    }
    let _ = CAPTURED.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(Captured { message, traceback });
        }
    });
    true
}

/// The frames of `full` (std's `Backtrace` text) that Rust's short panic backtrace shows: those
/// after the panic machinery (`__rust_end_short_backtrace`) and before the thread's start
/// (`__rust_begin_short_backtrace`), numbered again from 0. If the markers are not there (no
/// symbols), every frame is kept.
fn short_backtrace(full: &str) -> String {
    // A frame is a "   N: symbol" line and the "at file:line" lines under it.
    let mut frames: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in full.lines() {
        let trimmed = line.trim_start();
        match trimmed.split_once(": ") {
            Some((number, symbol))
                if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) =>
            {
                frames.push((symbol, Vec::new()));
            }
            _ => {
                if let Some((_, lines)) = frames.last_mut() {
                    lines.push(line);
                }
            }
        }
    }
    let start = frames
        .iter()
        .position(|(symbol, _)| symbol.contains("__rust_end_short_backtrace"))
        .map_or(0, |end| end + 1);
    let stop = frames
        .iter()
        .position(|(symbol, _)| symbol.contains("__rust_begin_short_backtrace"))
        .filter(|&stop| stop >= start)
        .unwrap_or(frames.len());
    let mut text = String::new();
    for (number, (symbol, lines)) in frames[start..stop].iter().enumerate() {
        text.push_str(&format!("{number:>4}: {symbol}\n"));
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// Whether `RUST_BACKTRACE` asks for a backtrace, and if so whether a full one.
fn backtrace_wanted() -> Option<bool> {
    match std::env::var_os("RUST_BACKTRACE") {
        None => None,
        Some(value) if value == "0" => None,
        Some(value) => Some(value == "full"),
    }
}

/// Runs `f` under `catch_unwind` with this thread capturing panics (see the module docs).
pub(crate) fn catch_captured<R>(f: impl FnOnce() -> R) -> Result<R, CaughtPanic> {
    install_panic_hook();
    // `CAPTURING` has no destructor, so it stays usable while the thread's other thread-locals
    // are destroyed; `CAPTURED` does not, hence `try_with` (this may run from a thread-local's
    // `Drop`, where an embedder reports a failure).
    let was_capturing = CAPTURING.replace(true);
    // A stale record from a panic the code caught itself must not be taken for a new one.
    let _ = CAPTURED.try_with(|slot| slot.borrow_mut().take());
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CAPTURING.set(was_capturing);
    result.map_err(|payload| CaughtPanic {
        payload,
        captured: CAPTURED
            .try_with(|slot| slot.borrow_mut().take())
            .ok()
            .flatten(),
    })
}

/// A panic payload's message, as PyO3's `PanicException` shows it.
fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("Box<dyn Any>")
    }
}

/// Drops a value whose destructor might panic, without letting the panic out (leaking the
/// second payload if even that one's destructor panics).
pub(crate) fn drop_quietly<T>(value: T) {
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(|| drop(value))) {
        std::mem::forget(again);
    }
}

#[cfg(test)]
mod tests {
    use super::short_backtrace;

    #[test]
    fn short_backtrace_keeps_the_frames_between_the_markers() {
        let full = "   0: hook\n             at a.rs:1:1\n   1: std::sys::backtrace::__rust_end_short_backtrace\n   2: user::f\n             at b.rs:2:3\n   3: std::sys::backtrace::__rust_begin_short_backtrace\n   4: start\n";
        assert_eq!(
            short_backtrace(full),
            "   0: user::f\n             at b.rs:2:3\n"
        );
        assert_eq!(short_backtrace("   0: a\n   1: b\n"), "   0: a\n   1: b\n");
    }
}
