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

/// A capability a sub-interpreter may lack (CPython's `Py_RTFLAGS_THREADS`,
/// `Py_RTFLAGS_DAEMON_THREADS`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Feature {
    Threads,
    DaemonThreads,
}

/// How the calling interpreter's capabilities are read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FeatureQuery {
    /// 3.11: every interpreter may start threads.
    Always,
    /// 3.12: `_PyInterpreterState_HasFeature(interp, flag)`, exported.
    HasFeature(unsafe extern "C" fn(*mut ffi::PyInterpreterState, std::ffi::c_ulong) -> c_int),
    /// 3.13: the function is inline only; `_interpreters.get_config(id)` tells.
    InterpretersConfig,
}

/// How a new thread gets its Python thread state: made by the parent (with the GIL), so that
/// the interpreter knows it before the thread runs, and bound to the thread by the thread — as
/// each version's own `thread_run` does. (A thread state made by the child itself can meet an
/// interpreter that is being finalized: a fatal error.)
#[derive(Debug, Clone, Copy)]
pub(crate) enum ThreadStates {
    /// 3.11: `_PyThreadState_Prealloc(interp)`; the child writes its ids and calls
    /// `_PyThreadState_SetCurrent` (the gilstate binding).
    Prealloc311 {
        prealloc: unsafe extern "C" fn(*mut ffi::PyInterpreterState) -> *mut ffi::PyThreadState,
        set_current: unsafe extern "C" fn(*mut ffi::PyThreadState),
    },
    /// 3.12: `_PyThreadState_Prealloc(interp)`; the child calls `_PyThreadState_Bind`.
    Prealloc312 {
        prealloc: unsafe extern "C" fn(*mut ffi::PyInterpreterState) -> *mut ffi::PyThreadState,
        bind: unsafe extern "C" fn(*mut ffi::PyThreadState),
    },
    /// 3.13: `_PyThreadState_New(interp, _PyThreadState_WHENCE_THREADING)`; the child writes
    /// its ids (`_PyThreadState_Bind` is not exported) and attaching binds the gilstate.
    New313 {
        new: unsafe extern "C" fn(*mut ffi::PyInterpreterState, c_int) -> *mut ffi::PyThreadState,
    },
    /// Another version: `PyThreadState_New` in the child.
    InChild,
}

/// Where `PyThreadState.thread_id` and `native_thread_id` are on 3.11 and 3.13 (LP64, release
/// builds), from the versions' public `Include/cpython/pystate.h`; checked at import by
/// [`check_layouts`].
const THREAD_ID_OFFSETS: (usize, usize) = (152, 160);

/// Where 3.12's `PyInterpreterState` (Include/internal/pycore_interp.h, LP64, release builds)
/// keeps the fields read here: `id` (an `int64_t` after `next`), `_initialized` and `finalizing`
/// (two `int`s after `id_refcount`, `requires_idref` and `id_mutex`). 3.12 exports nothing that
/// reads `finalizing`, the flag its `start_new_thread` checks; `id` and `_initialized` are read
/// only to check the layout at import.
struct InterpreterOffsets {
    id: usize,
    initialized: usize,
    finalizing: usize,
}

const INTERPRETER_OFFSETS: InterpreterOffsets = InterpreterOffsets {
    id: 8,
    initialized: 40,
    finalizing: 44,
};

/// Refuses a build whose layouts this module cannot trust: a debug (`d`) or free-threaded (`t`)
/// build (`sys.abiflags`), or a platform whose pointers are not 64 bits. `Err` is the text of
/// the `ImportError`.
pub(crate) fn check_build(abiflags: &str) -> Result<(), String> {
    if cfg!(not(target_pointer_width = "64")) {
        return Err("pythread supports 64-bit platforms only".to_owned());
    }
    if abiflags.contains('d') {
        return Err(format!(
            "pythread does not support debug builds of CPython (sys.abiflags {abiflags:?})"
        ));
    }
    if abiflags.contains('t') {
        return Err(format!(
            "pythread does not support free-threaded builds of CPython (sys.abiflags {abiflags:?})"
        ));
    }
    Ok(())
}

/// Checks, at import, that the fields this module reads at fixed offsets are where it expects
/// them in the running interpreter: on 3.11 and 3.13 the calling thread's `PyThreadState` holds
/// its own `get_ident()` and `get_native_id()` at [`THREAD_ID_OFFSETS`]; on 3.12 the current
/// interpreter holds its `PyInterpreterState_GetID()`, 1 and 0 (not finalizing) at
/// [`INTERPRETER_OFFSETS`]. `Err` is the text of the `ImportError`.
///
/// # Safety
///
/// The caller holds the GIL.
pub(crate) unsafe fn check_layouts(profile: &Profile) -> Result<(), String> {
    if matches!(
        profile.thread_states,
        ThreadStates::Prealloc311 { .. } | ThreadStates::New313 { .. }
    ) {
        // SAFETY: we hold the GIL (contract), so the calling thread has a thread state, at
        // least 168 bytes long in every release build of 3.11 and 3.13; `unsigned long` is a
        // u64 on the 64-bit platforms `check_build` lets through.
        let (thread_id, native_thread_id) = unsafe {
            let base = ffi::PyThreadState_Get().cast::<u8>();
            (
                base.add(THREAD_ID_OFFSETS.0)
                    .cast::<std::ffi::c_ulong>()
                    .read(),
                base.add(THREAD_ID_OFFSETS.1)
                    .cast::<std::ffi::c_ulong>()
                    .read(),
            )
        };
        let expected = (
            thread_core::get_ident().as_u64(),
            thread_core::get_native_id(),
        );
        if (thread_id, native_thread_id) != (expected.0, expected.1 as u64) {
            return Err(format!(
                "pythread: this interpreter's PyThreadState layout is not the one pythread was \
                 written for (thread ids at bytes {}, {}: found {thread_id}, {native_thread_id}, \
                 expected {}, {})",
                THREAD_ID_OFFSETS.0, THREAD_ID_OFFSETS.1, expected.0, expected.1
            ));
        }
    }
    if matches!(
        profile.finalizing_refusal,
        FinalizingRefusal::InterpreterFinalizing
    ) {
        // SAFETY: we hold the GIL, so there is a current interpreter, larger than 48 bytes.
        let (id, initialized, finalizing, expected_id) = unsafe {
            let interpreter = ffi::PyInterpreterState_Get();
            let base = interpreter.cast::<u8>();
            (
                base.add(INTERPRETER_OFFSETS.id).cast::<i64>().read(),
                base.add(INTERPRETER_OFFSETS.initialized)
                    .cast::<c_int>()
                    .read(),
                base.add(INTERPRETER_OFFSETS.finalizing)
                    .cast::<c_int>()
                    .read(),
                ffi::PyInterpreterState_GetID(interpreter),
            )
        };
        if (id, initialized, finalizing) != (expected_id, 1, 0) {
            return Err(format!(
                "pythread: this interpreter's PyInterpreterState layout is not the one pythread \
                 was written for (id, _initialized, finalizing at bytes {}, {}, {}: found {id}, \
                 {initialized}, {finalizing}, expected {expected_id}, 1, 0)",
                INTERPRETER_OFFSETS.id,
                INTERPRETER_OFFSETS.initialized,
                INTERPRETER_OFFSETS.finalizing
            ));
        }
    }
    Ok(())
}

impl ThreadStates {
    /// The parent's part: a thread state for a thread about to start (null with an exception
    /// set on failure, or for [`ThreadStates::InChild`]).
    ///
    /// # Safety
    ///
    /// The caller holds the GIL of `interpreter`.
    pub(crate) unsafe fn prepare(
        &self,
        interpreter: *mut ffi::PyInterpreterState,
    ) -> *mut ffi::PyThreadState {
        // SAFETY: forwarded from the contract; the signatures are the versions'.
        unsafe {
            match *self {
                ThreadStates::Prealloc311 { prealloc, .. }
                | ThreadStates::Prealloc312 { prealloc, .. } => prealloc(interpreter),
                ThreadStates::New313 { new } => new(interpreter, 3),
                ThreadStates::InChild => std::ptr::null_mut(),
            }
        }
    }

    /// The child's part, before it takes the GIL: binds `tstate` (from [`prepare`](Self::prepare))
    /// to the calling thread, or makes one in `interpreter`.
    ///
    /// # Safety
    ///
    /// `tstate` was made by `prepare` for this thread and is not bound yet; the calling thread
    /// has no thread state.
    pub(crate) unsafe fn adopt(
        &self,
        tstate: *mut ffi::PyThreadState,
        interpreter: *mut ffi::PyInterpreterState,
    ) -> *mut ffi::PyThreadState {
        let write_ids = |tstate: *mut ffi::PyThreadState| {
            let base = tstate.cast::<u8>();
            // SAFETY: the fields of the version's public layout (THREAD_ID_OFFSETS); the thread
            // state is not in use by any other thread yet.
            unsafe {
                base.add(THREAD_ID_OFFSETS.0)
                    .cast::<std::ffi::c_ulong>()
                    .write(thread_core::get_ident().as_u64() as std::ffi::c_ulong);
                base.add(THREAD_ID_OFFSETS.1)
                    .cast::<std::ffi::c_ulong>()
                    .write(thread_core::get_native_id_uncached() as std::ffi::c_ulong);
            }
        };
        // SAFETY: forwarded from the contract; the signatures are the versions'.
        unsafe {
            match *self {
                ThreadStates::Prealloc311 { set_current, .. } => {
                    write_ids(tstate);
                    set_current(tstate);
                    tstate
                }
                ThreadStates::Prealloc312 { bind, .. } => {
                    bind(tstate);
                    tstate
                }
                ThreadStates::New313 { .. } => {
                    write_ids(tstate);
                    tstate
                }
                ThreadStates::InChild => ffi::PyThreadState_New(interpreter),
            }
        }
    }
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
    /// 3.11/3.12: `lock.locked()` and `release()` read the flag `acquire` sets with the GIL
    /// held, not the OS lock (see `crate::lock::LockState`).
    pub(crate) locked_is_flag: bool,
    /// 3.11/3.12: `RLock`'s `repr` shows its owner as a signed long (`%ld`); 3.13 unsigned.
    pub(crate) rlock_owner_signed: bool,
    /// Whether `start_new_thread` raises the `_thread.start_new_thread` audit event (3.12+).
    pub(crate) audits_start_new_thread: bool,
    pub(crate) unraisable: Unraisable,
    pub(crate) finalizing_refusal: FinalizingRefusal,
    /// `_Py_IsFinalizing` (3.11, 3.12) or `Py_IsFinalizing` (3.13): the runtime finalizes.
    runtime_finalizing: Option<extern "C" fn() -> c_int>,
    pub(crate) thread_states: ThreadStates,
    /// How a sub-interpreter's capabilities are read (PY-1: `daemon_threads_allowed`).
    pub(crate) feature_query: FeatureQuery,
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
            locked_is_flag: !at_least(13),
            rlock_owner_signed: !at_least(13),
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
            feature_query: match (version.1, capi::symbol(c"_PyInterpreterState_HasFeature")) {
                (..=11, _) => FeatureQuery::Always,
                (12, found) if !found.is_null() => {
                    // SAFETY: 3.12's `int _PyInterpreterState_HasFeature(PyInterpreterState *,
                    // unsigned long)`.
                    FeatureQuery::HasFeature(unsafe {
                        std::mem::transmute::<
                            *mut std::ffi::c_void,
                            unsafe extern "C" fn(
                                *mut ffi::PyInterpreterState,
                                std::ffi::c_ulong,
                            ) -> c_int,
                        >(found)
                    })
                }
                (12, _) => FeatureQuery::Always,
                _ => FeatureQuery::InterpretersConfig,
            },
            runtime_finalizing: [c"Py_IsFinalizing", c"_Py_IsFinalizing"]
                .into_iter()
                .map(capi::symbol)
                .find(|found| !found.is_null())
                // SAFETY: both are `int (void)`, callable at any time without the GIL.
                .map(|found| unsafe {
                    std::mem::transmute::<*mut std::ffi::c_void, extern "C" fn() -> c_int>(found)
                }),
            thread_states: thread_states(version),
            has_set_sentinel: !at_least(13),
            has_interpreter_queries: at_least(12),
            has_thread_handles: at_least(13),
            has_names: at_least(14),
        }
    }

    /// Whether the runtime is finalizing (callable without the GIL).
    pub(crate) fn runtime_finalizing(&self) -> bool {
        self.runtime_finalizing
            .is_some_and(|finalizing| finalizing() != 0)
    }

    /// Whether starting a thread must be refused now (PY-2), for the calling thread's
    /// interpreter. Needs the GIL.
    pub(crate) fn refuses_new_threads(&self) -> bool {
        match self.finalizing_refusal {
            FinalizingRefusal::Never => false,
            FinalizingRefusal::InterpreterFinalizing => {
                // SAFETY: we hold the GIL, so there is a current interpreter; on 3.12 (the only
                // version this branch serves) `check_layouts` found its layout at import.
                unsafe {
                    let interpreter = ffi::PyInterpreterState_Get().cast::<u8>();
                    interpreter
                        .add(INTERPRETER_OFFSETS.finalizing)
                        .cast::<c_int>()
                        .read_volatile()
                        != 0
                }
            }
            FinalizingRefusal::RuntimeFinalizing(is_finalizing) => is_finalizing() != 0,
        }
    }
}

impl Profile {
    /// Whether the calling interpreter has `feature`: always in the main interpreter. `None`
    /// with an exception set when the query failed.
    ///
    /// # Safety
    ///
    /// The caller holds the GIL.
    pub(crate) unsafe fn allows(&self, feature: Feature) -> Option<bool> {
        // SAFETY: we hold the GIL (contract), so there is a current interpreter.
        let interpreter = unsafe { ffi::PyInterpreterState_Get() };
        // SAFETY: as above.
        if interpreter == unsafe { ffi::PyInterpreterState_Main() } {
            return Some(true);
        }
        match self.feature_query {
            FeatureQuery::Always => Some(true),
            FeatureQuery::HasFeature(has_feature) => {
                let flag: std::ffi::c_ulong = match feature {
                    Feature::Threads => 1 << 10,
                    Feature::DaemonThreads => 1 << 11,
                };
                // SAFETY: the current interpreter, with the GIL.
                Some(unsafe { has_feature(interpreter, flag) } != 0)
            }
            // SAFETY: forwarded from the contract.
            FeatureQuery::InterpretersConfig => unsafe { config_allows(feature) },
        }
    }
}

/// `getattr(_interpreters.get_config(_interpreters.get_current()[0]), "allow_threads")` (or
/// `allow_daemon_threads`), with raw references (each dropped by hand: see [`crate::capi`]).
///
/// # Safety
///
/// The caller holds the GIL.
unsafe fn config_allows(feature: Feature) -> Option<bool> {
    let attribute = match feature {
        Feature::Threads => c"allow_threads",
        Feature::DaemonThreads => c"allow_daemon_threads",
    };
    // SAFETY: we hold the GIL; every new reference is dropped once, null results checked.
    unsafe {
        let module = ffi::PyImport_ImportModule(c"_interpreters".as_ptr());
        if module.is_null() {
            return None;
        }
        let current = ffi::PyObject_CallMethod(module, c"get_current".as_ptr(), std::ptr::null());
        let id = if current.is_null() {
            std::ptr::null_mut()
        } else {
            ffi::PySequence_GetItem(current, 0)
        };
        let config = if id.is_null() {
            std::ptr::null_mut()
        } else {
            ffi::PyObject_CallMethod(module, c"get_config".as_ptr(), c"O".as_ptr(), id)
        };
        let value = if config.is_null() {
            std::ptr::null_mut()
        } else {
            ffi::PyObject_GetAttrString(config, attribute.as_ptr())
        };
        let truth = if value.is_null() {
            -1
        } else {
            capi::PyObject_IsTrue(value)
        };
        for object in [value, config, id, current, module] {
            if !object.is_null() {
                capi::Py_DecRef(object);
            }
        }
        (truth >= 0).then_some(truth == 1)
    }
}

/// The versions' thread-state calls, looked up by name.
fn thread_states(version: (u8, u8)) -> ThreadStates {
    let prealloc = capi::symbol(c"_PyThreadState_Prealloc");
    let set_current = capi::symbol(c"_PyThreadState_SetCurrent");
    let bind = capi::symbol(c"_PyThreadState_Bind");
    let new = capi::symbol(c"_PyThreadState_New");
    let present = |pointers: &[*mut std::ffi::c_void]| pointers.iter().all(|p| !p.is_null());
    type Pointer = *mut std::ffi::c_void;
    type Prealloc = unsafe extern "C" fn(*mut ffi::PyInterpreterState) -> *mut ffi::PyThreadState;
    type OnState = unsafe extern "C" fn(*mut ffi::PyThreadState);
    type New = unsafe extern "C" fn(*mut ffi::PyInterpreterState, c_int) -> *mut ffi::PyThreadState;
    // SAFETY: each transmute gives an exported function its signature on that version (see the
    // variants' docs and the versions' headers).
    unsafe {
        match version.1 {
            11 if present(&[prealloc, set_current]) => ThreadStates::Prealloc311 {
                prealloc: std::mem::transmute::<Pointer, Prealloc>(prealloc),
                set_current: std::mem::transmute::<Pointer, OnState>(set_current),
            },
            12 if present(&[prealloc, bind]) => ThreadStates::Prealloc312 {
                prealloc: std::mem::transmute::<Pointer, Prealloc>(prealloc),
                bind: std::mem::transmute::<Pointer, OnState>(bind),
            },
            13 if present(&[new]) && cfg!(target_pointer_width = "64") => ThreadStates::New313 {
                new: std::mem::transmute::<Pointer, New>(new),
            },
            _ => ThreadStates::InChild,
        }
    }
}
