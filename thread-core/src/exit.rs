//! [`exit`] (EXIT-1): ends the calling thread with `SystemExit`, silently.

use crate::SystemExit;

/// CPython's `_thread.exit()`: raises `SystemExit` with no code (EXIT-1). It unwinds with a
/// [`SystemExit`] payload through `std::panic::resume_unwind`, which runs no panic hook and
/// prints nothing; a thread started by pythread then ends silently (EXIT-2). Elsewhere it unwinds
/// to the nearest `catch_unwind` (on the main thread the process exits with status 101). Needs
/// `panic = "unwind"`.
///
/// ```
/// let h = thread_core::start_joinable_thread(|| -> () { thread_core::exit() }).unwrap();
/// h.join(None).unwrap();
/// ```
pub fn exit() -> ! {
    std::panic::resume_unwind(Box::new(SystemExit { code: None }))
}
