//! The default unraisable hook: CPython's text, written to stderr in one write.

use std::io::Write;

use crate::UnraisableHookArgs;

/// The text [`default_unraisable_hook`] writes for `args`, as CPython 3.11–3.13's C printer
/// lays it out (SPEC HOOK-3):
///
/// * a header: `{err_msg}: {object}` with both, `Exception ignored in: {object}` with only the
///   object, `{err_msg}:` with only the message, nothing with neither;
/// * when there is a traceback, `Traceback (most recent call last):` and its lines;
/// * last, `{exc_type}: {exc_value}` — with `": "` even when the message is empty.
///
/// Every line ends with `\n`.
///
/// ```
/// use thread_hooks::{UnraisableHookArgs, format_unraisable};
///
/// let args = UnraisableHookArgs::new("PanicException", "boom")
///     .with_err_msg("Exception ignored in thread started by")
///     .with_object("<function worker>")
///     .with_traceback("  File \"src/main.rs\", line 7");
/// assert_eq!(
///     format_unraisable(&args),
///     "Exception ignored in thread started by: <function worker>\n\
///      Traceback (most recent call last):\n  File \"src/main.rs\", line 7\n\
///      PanicException: boom\n"
/// );
/// assert_eq!(format_unraisable(&UnraisableHookArgs::new("ValueError", "")), "ValueError: \n");
/// ```
pub fn format_unraisable(args: &UnraisableHookArgs) -> String {
    let mut text = String::new();
    match (&args.err_msg, &args.object) {
        (Some(err_msg), Some(object)) => {
            text.push_str(err_msg);
            text.push_str(": ");
            text.push_str(object);
            text.push('\n');
        }
        (None, Some(object)) => {
            text.push_str("Exception ignored in: ");
            text.push_str(object);
            text.push('\n');
        }
        (Some(err_msg), None) => {
            text.push_str(err_msg);
            text.push_str(":\n");
        }
        (None, None) => {}
    }
    if let Some(traceback) = &args.exc_traceback {
        text.push_str("Traceback (most recent call last):\n");
        text.push_str(traceback);
        if !traceback.is_empty() && !traceback.ends_with('\n') {
            text.push('\n');
        }
    }
    text.push_str(&args.exc_type);
    text.push_str(": ");
    text.push_str(&args.exc_value);
    text.push('\n');
    text
}

/// The default unraisable hook (`sys.__unraisablehook__`): writes
/// [`format_unraisable`]`(args)` to stderr in one write, then flushes.
///
/// If stderr cannot be written (closed, a broken pipe, a full disk), nothing is printed and
/// nothing fails (HOOK-4). The Rust runtime ignores `SIGPIPE` in executables; an embedder whose
/// host leaves `SIGPIPE` at its default should ignore it too, as CPython does.
///
/// ```
/// use thread_hooks::{UnraisableHookArgs, default_unraisable_hook};
///
/// // Prints "Exception ignored in: <my object>\nOSError: cannot close\n" to stderr.
/// default_unraisable_hook(
///     &UnraisableHookArgs::new("OSError", "cannot close").with_object("<my object>"),
/// );
/// ```
pub fn default_unraisable_hook(args: &UnraisableHookArgs) {
    let text = format_unraisable(args);
    let mut stderr = std::io::stderr().lock();
    // Errors are ignored on purpose (HOOK-4): there is nowhere left to report them.
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}
