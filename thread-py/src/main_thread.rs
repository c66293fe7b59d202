//! Which thread is the main thread: CPython's, whichever thread imports pythread first.
//!
//! thread-core records the thread that loaded the library (CORE-9). The python executable
//! imports pythread on its main thread (a `.pth` file, or the program's first lines), but a
//! program may import it first on another thread; then thread-core would take that thread for
//! the main thread, and the real main thread's waits would not wake for Ctrl-C, 3.13's
//! `_get_main_thread_ident()` and `threading.main_thread()` would name the other thread, and the
//! interpreter would not wait at exit for the threads it should.
//!
//! CPython runs a pending call (`Py_AddPendingCall`) on its main thread, in the main
//! interpreter, at the next point where that thread checks for signals: the first import asks
//! for one, and the call names its thread thread-core's main thread ([`set_main_thread`], the
//! embedder's way to name it, CORE-9). Until it runs, the importing thread stands in, which is
//! already right when the import was on the main thread. A main thread that never runs Python
//! code again never names itself, and has no Python-level wait to interrupt either.
//!
//! [`set_main_thread`]: thread_core::set_main_thread

use std::ffi::{c_int, c_void};
use std::ptr::null_mut;
use std::sync::Once;

use pyo3::ffi;

/// Asks CPython's main thread to name itself thread-core's main thread, once per process (the
/// first import; a sub-interpreter's import changes nothing).
///
/// # Safety
///
/// The caller holds the GIL.
pub(crate) unsafe fn follow_interpreter() {
    static ASKED: Once = Once::new();
    ASKED.call_once(|| {
        // SAFETY: we hold the GIL (contract); the call takes no argument. A full queue (-1, no
        // exception set) leaves the importing thread as the main thread, as before.
        let _ = unsafe { ffi::Py_AddPendingCall(Some(name_main_thread), null_mut()) };
    });
}

/// The pending call: runs on CPython's main thread, with the GIL.
extern "C" fn name_main_thread(_: *mut c_void) -> c_int {
    // Refused only if it was named already (an embedder of the process did, before us): theirs
    // stands.
    let _ = thread_core::set_main_thread();
    0
}
