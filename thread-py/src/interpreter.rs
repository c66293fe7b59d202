//! What this interpreter is, and what it changes: every difference between CPython versions that
//! the module shows is decided here, once, at import (PY-1, PY-2, PY-3). The rest of the crate
//! asks [`profile()`] and never compares version numbers itself.

use std::ffi::{CStr, c_int};
use std::sync::OnceLock;

use pyo3::ffi;

use crate::capi::{self, FormatUnraisable, UnraisableMsg};

/// How a failing thread's exception reaches `sys.unraisablehook` (PY-2).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unraisable {
    /// 3.11, 3.12: `err_msg` "Exception ignored in thread started by", `object` the function.
    InThreadStartedBy(UnraisableMsg),
    /// 3.13: `err_msg` "Exception ignored in thread started by {function!r}", `object` None.
    FormattedWithFunction(FormatUnraisable),
    /// Neither function is exported: `PyErr_WriteUnraisable(function)`.
    Plain,
}

/// When starting a thread is refused because the interpreter is finalizing (PY-2).
#[derive(Debug, Clone, Copy)]
pub(crate) enum FinalizingRefusal {
    /// 3.11: never.
    Never,
    /// 3.12: once the interpreter is marked finalizing (before the `atexit` callbacks run):
    /// `RuntimeError`.
    InterpreterFinalizing,
    /// 3.13: once the runtime finalizes (after `atexit`): `PythonFinalizationError`. Holds
    /// `Py_IsFinalizing`, looked up at import (3.11/3.12 do not export it).
    RuntimeFinalizing(extern "C" fn() -> c_int),
}

/// The interpreter this module was imported into, and what its `_thread` looks like.
#[derive(Debug)]
pub(crate) struct Profile {
    /// `acquire`'s format for `PyArg_ParseTupleAndKeywords`: `blocking` is an `int` ("i") on
    /// 3.11, a truth value ("p") from 3.12 (PY-3). The parser's own messages then are the
    /// version's too.
    pub(crate) acquire_format: &'static CStr,
    /// LOCK-5's message for a negative timeout other than −1 (PY-2).
    pub(crate) negative_timeout: &'static CStr,
    /// The `OverflowError` of an integer timeout too large for nanoseconds (PY-3).
    pub(crate) int_timeout_overflow: &'static CStr,
    /// Whether `start_new_thread` raises the `_thread.start_new_thread` audit event (3.12+).
    pub(crate) audits_start_new_thread: bool,
    pub(crate) unraisable: Unraisable,
    pub(crate) finalizing_refusal: FinalizingRefusal,
    /// 3.11, 3.12: `_set_sentinel`.
    pub(crate) has_set_sentinel: bool,
    /// 3.12+: `daemon_threads_allowed`, `_is_main_interpreter`.
    pub(crate) has_interpreter_queries: bool,
    /// 3.13+: `start_joinable_thread`, `_ThreadHandle`, `_make_thread_handle`, `_shutdown`,
    /// `_get_main_thread_ident`, and `lock` as an instantiable type.
    pub(crate) has_thread_handles: bool,
    /// 3.14+: `set_name`, `_get_name`, `_NAME_MAXLEN`, `RLock.locked`.
    pub(crate) has_names: bool,
}

static PROFILE: OnceLock<Profile> = OnceLock::new();

/// The profile decided at import. Before the import it describes 3.11.
pub(crate) fn profile() -> &'static Profile {
    PROFILE.get_or_init(|| Profile::for_version((3, 11)))
}

/// Decides the profile from the running interpreter's version; called once, at import.
pub(crate) fn decide(version: (u8, u8)) -> &'static Profile {
    PROFILE.get_or_init(|| Profile::for_version(version))
}

impl Profile {
    fn for_version(version: (u8, u8)) -> Profile {
        let at_least = |minor: u8| version >= (3, minor);
        let unraisable = {
            let with_message = capi::symbol(c"_PyErr_WriteUnraisableMsg");
            let formatted = capi::symbol(c"PyErr_FormatUnraisable");
            if at_least(13) && !formatted.is_null() {
                // SAFETY: 3.13's `void PyErr_FormatUnraisable(const char *format, ...)`.
                Unraisable::FormattedWithFunction(unsafe {
                    std::mem::transmute::<*mut std::ffi::c_void, FormatUnraisable>(formatted)
                })
            } else if !with_message.is_null() {
                // SAFETY: 3.11/3.12's `void _PyErr_WriteUnraisableMsg(const char *, PyObject *)`.
                Unraisable::InThreadStartedBy(unsafe {
                    std::mem::transmute::<*mut std::ffi::c_void, UnraisableMsg>(with_message)
                })
            } else {
                Unraisable::Plain
            }
        };
        Profile {
            acquire_format: if at_least(12) {
                c"|pO:acquire"
            } else {
                c"|iO:acquire"
            },
            negative_timeout: if at_least(13) {
                c"timeout value must be a non-negative number"
            } else {
                c"timeout value must be positive"
            },
            int_timeout_overflow: if at_least(13) {
                c"timestamp too large to convert to C PyTime_t"
            } else {
                c"timestamp too large to convert to C _PyTime_t"
            },
            audits_start_new_thread: at_least(12),
            unraisable,
            finalizing_refusal: match (version.1, capi::symbol(c"Py_IsFinalizing")) {
                (..=11, _) => FinalizingRefusal::Never,
                (12, _) => FinalizingRefusal::InterpreterFinalizing,
                (_, found) if found.is_null() => FinalizingRefusal::Never,
                // SAFETY: 3.13's `int Py_IsFinalizing(void)`, callable at any time.
                (_, found) => FinalizingRefusal::RuntimeFinalizing(unsafe {
                    std::mem::transmute::<*mut std::ffi::c_void, extern "C" fn() -> c_int>(found)
                }),
            },
            has_set_sentinel: !at_least(13),
            has_interpreter_queries: at_least(12),
            has_thread_handles: at_least(13),
            has_names: at_least(14),
        }
    }

    /// Whether starting a thread must be refused now (PY-2), for the calling thread's
    /// interpreter. Needs the GIL.
    pub(crate) fn refuses_new_threads(&self) -> bool {
        match self.finalizing_refusal {
            FinalizingRefusal::Never => false,
            FinalizingRefusal::InterpreterFinalizing => {
                // 3.12 exports nothing that reads `PyInterpreterState.finalizing`, the flag its
                // `start_new_thread` checks; 3.12's layout (Include/internal/pycore_interp.h)
                // puts it after `next`, `id`, `id_refcount`, `requires_idref`, `id_mutex` and
                // `_initialized`: at byte 44 on a 64-bit platform.
                const FINALIZING_OFFSET: usize = 44;
                if cfg!(not(target_pointer_width = "64")) {
                    return false;
                }
                // SAFETY: we hold the GIL, so there is a current interpreter; on 3.12 (the only
                // version this branch serves) the `int` at this offset is its `finalizing`.
                unsafe {
                    let interpreter = ffi::PyInterpreterState_Get().cast::<u8>();
                    interpreter
                        .add(FINALIZING_OFFSET)
                        .cast::<c_int>()
                        .read_volatile()
                        != 0
                }
            }
            FinalizingRefusal::RuntimeFinalizing(is_finalizing) => is_finalizing() != 0,
        }
    }
}
