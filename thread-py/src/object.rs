//! Building the module's types and functions from raw `PyMethodDef`s and `PyType_Spec`s, so that
//! every entry point is one of this crate's `extern "C-unwind"` functions, called by CPython with
//! no PyO3 trampoline (and its `catch_unwind` and panic trap) in between (PY-9).
//!
//! The tables are built once at import and leaked: types and functions live as long as the
//! process's interpreters.

use std::ffi::{CStr, c_int, c_void};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::ffi::{self, PyMemberDef, PyMethodDef, PyMethodDefPointer, PyObject, PyTypeObject};

use crate::docs;

/// A method taking `(self, args, kwargs)` (`METH_VARARGS | METH_KEYWORDS`).
pub(crate) type WithKeywords =
    unsafe extern "C-unwind" fn(*mut PyObject, *mut PyObject, *mut PyObject) -> *mut PyObject;
/// A method taking `(self, arg)`: the argument tuple (`METH_VARARGS`), nothing (`METH_NOARGS`,
/// always null) or the one argument (`METH_O`).
pub(crate) type Plain = unsafe extern "C-unwind" fn(*mut PyObject, *mut PyObject) -> *mut PyObject;

/// How a [`Plain`] method takes its arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Takes {
    Tuple,
    Nothing,
    One,
}

/// A `METH_VARARGS | METH_KEYWORDS` method.
pub(crate) fn with_keywords(
    name: &'static CStr,
    function: WithKeywords,
    doc: &'static CStr,
) -> PyMethodDef {
    PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: PyMethodDefPointer {
            // SAFETY: same arguments and calling convention ("C-unwind" is "C" that may
            // unwind); CPython calls it as the C function type it declares.
            PyCFunctionWithKeywords: unsafe {
                std::mem::transmute::<WithKeywords, ffi::PyCFunctionWithKeywords>(function)
            },
        },
        ml_flags: ffi::METH_VARARGS | ffi::METH_KEYWORDS,
        ml_doc: doc.as_ptr(),
    }
}

/// A method with one of the plain calling conventions.
pub(crate) fn plain(
    name: &'static CStr,
    function: Plain,
    takes: Takes,
    doc: &'static CStr,
) -> PyMethodDef {
    PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: PyMethodDefPointer {
            // SAFETY: as in `with_keywords`.
            PyCFunction: unsafe { std::mem::transmute::<Plain, ffi::PyCFunction>(function) },
        },
        ml_flags: match takes {
            Takes::Tuple => ffi::METH_VARARGS,
            Takes::Nothing => ffi::METH_NOARGS,
            Takes::One => ffi::METH_O,
        },
        ml_doc: doc.as_ptr(),
    }
}

/// The `__weaklistoffset__` member that gives a type weak references at `offset`.
pub(crate) fn weaklist_member(offset: usize) -> PyMemberDef {
    PyMemberDef {
        name: c"__weaklistoffset__".as_ptr(),
        type_code: ffi::Py_T_PYSSIZET,
        offset: offset as ffi::Py_ssize_t,
        flags: ffi::Py_READONLY,
        doc: null_mut(),
    }
}

/// A type slot.
pub(crate) fn slot(slot: c_int, function: *mut c_void) -> ffi::PyType_Slot {
    ffi::PyType_Slot {
        slot,
        pfunc: function,
    }
}

/// Makes a heap type `name` (`"_thread.lock"`) of `basicsize` bytes from its slots, methods and
/// members (each list is closed with its sentinel here). Null with an exception set on failure.
///
/// The type takes part in the cycle collector, as the built-in's types do on every version
/// (`gc.is_tracked(lock)` is true, `gc.get_objects()` lists the instances): its instances hold
/// no Python object but their heap type, which [`traverse`] visits. Each `tp_dealloc` begins
/// with [`untrack`].
///
/// `twin` is the built-in `_thread`'s type of the same name, or null: the type's and the
/// methods' docstrings and text signatures are copied from it where it has them
/// ([`docs::twin_doc`]); the ones given here stand for the others.
///
/// # Safety
///
/// The caller holds the GIL; the slots' functions match the slots; `twin` is null or live.
pub(crate) unsafe fn make_type(
    name: &'static CStr,
    basicsize: usize,
    flags: u64,
    twin: *mut PyObject,
    mut slots: Vec<ffi::PyType_Slot>,
    mut methods: Vec<PyMethodDef>,
    mut members: Vec<PyMemberDef>,
) -> *mut PyTypeObject {
    for method in &mut methods {
        // SAFETY: `ml_name` is a static C string; we hold the GIL (contract).
        if let Some(doc) = unsafe { docs::twin_doc(twin, CStr::from_ptr(method.ml_name)) } {
            method.ml_doc = doc.as_ptr();
        }
    }
    let short_name = name.to_bytes().rsplit(|&byte| byte == b'.').next();
    if let Some(doc) = short_name
        .and_then(|short| std::ffi::CString::new(short).ok())
        // SAFETY: as above.
        .and_then(|short| unsafe { docs::twin_type_doc(twin, &short) })
    {
        slots.retain(|slot| slot.slot != ffi::Py_tp_doc);
        slots.push(slot(ffi::Py_tp_doc, doc.as_ptr() as *mut c_void));
    }
    slots.push(slot(ffi::Py_tp_traverse, traverse as *mut c_void));
    methods.push(PyMethodDef::zeroed());
    members.push(PyMemberDef::default());
    slots.push(slot(ffi::Py_tp_methods, methods.leak().as_mut_ptr().cast()));
    slots.push(slot(ffi::Py_tp_members, members.leak().as_mut_ptr().cast()));
    slots.push(slot(0, null_mut()));
    let spec = Box::leak(Box::new(ffi::PyType_Spec {
        name: name.as_ptr(),
        basicsize: basicsize as c_int,
        itemsize: 0,
        flags: (flags | ffi::Py_TPFLAGS_HAVE_GC) as std::ffi::c_uint,
        slots: slots.leak().as_mut_ptr(),
    }));
    // SAFETY: the spec and its tables are leaked, so they outlive the type (contract: GIL).
    unsafe { ffi::PyType_FromSpec(spec).cast() }
}

/// The type `cache` holds, made by `make` at the first call; a new reference, or null with an
/// exception set when `make` fails.
///
/// One type per process: an interpreter that imports the module again (a legacy
/// sub-interpreter, which shares the GIL) gets the same type, so objects made in one interpreter
/// stay instances of it in the others. The cache keeps a reference of its own: the type lives
/// forever.
///
/// # Safety
///
/// The caller holds the GIL; `make` returns a new type or null with an exception set.
pub(crate) unsafe fn type_once(
    cache: &AtomicPtr<PyTypeObject>,
    make: impl FnOnce() -> *mut PyTypeObject,
) -> *mut PyTypeObject {
    // Acquire: pairs with the Release store below.
    let made = cache.load(Ordering::Acquire);
    if !made.is_null() {
        // SAFETY: the type lives forever (the cache's reference); we hold the GIL (contract).
        unsafe { ffi::Py_IncRef(made.cast()) };
        return made;
    }
    let type_ = make();
    if !type_.is_null() {
        // The cache's reference.
        // SAFETY: a new type; we hold the GIL.
        unsafe { ffi::Py_IncRef(type_.cast()) };
    }
    // Release: publishes the initialised type to the constructors that read the cache on any
    // thread.
    cache.store(type_, Ordering::Release);
    type_
}

/// A new `str` holding `text` (a `repr`'s result); null with an exception set on failure.
///
/// # Safety
///
/// The caller holds the GIL.
pub(crate) unsafe fn new_str(text: &str) -> *mut PyObject {
    // SAFETY: `text` is valid UTF-8 of that length, read before the call returns (contract: GIL).
    unsafe { ffi::PyUnicode_FromStringAndSize(text.as_ptr().cast(), text.len() as ffi::Py_ssize_t) }
}

/// Allocates an instance of `type_` (zeroed by `PyType_GenericAlloc`); null with an exception
/// set on failure.
///
/// # Safety
///
/// The caller holds the GIL; `type_` is one of this module's types (or a subclass).
pub(crate) unsafe fn alloc(type_: *mut PyTypeObject) -> *mut PyObject {
    // SAFETY: forwarded from the contract.
    unsafe { ffi::PyType_GenericAlloc(type_, 0) }
}

/// The `tp_traverse` of every type of this module: an instance references only its heap type
/// (which the collector must see from 3.9 on: a heap type's instances own a reference to it).
unsafe extern "C" fn traverse(
    object: *mut PyObject,
    visit: ffi::visitproc,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: CPython calls us on a live instance, whose type is set from its allocation on.
    unsafe { visit(ffi::Py_TYPE(object).cast(), arg) }
}

/// The start of a `tp_dealloc`: takes the instance off the collector's lists before its fields
/// go (a collection run by a destructor must not traverse it half-torn-down). A subclass's
/// deallocator tracks the instance again before calling ours, so this is not redundant there.
///
/// # Safety
///
/// The caller holds the GIL; `object` is an instance of one of this module's types.
pub(crate) unsafe fn untrack(object: *mut PyObject) {
    // SAFETY: forwarded from the contract; untracking an untracked object does nothing.
    unsafe { ffi::PyObject_GC_UnTrack(object.cast()) }
}

/// The end of a `tp_dealloc` once the instance's own fields are dropped: frees the memory with
/// the type's `tp_free` and drops the instance's reference to its heap type.
///
/// # Safety
///
/// The caller holds the GIL; `object` is being deallocated and is not used afterwards.
pub(crate) unsafe fn free(object: *mut PyObject) {
    // SAFETY: forwarded from the contract; every heap type has `tp_free`.
    unsafe {
        let type_ = ffi::Py_TYPE(object);
        let tp_free = ffi::PyType_GetSlot(type_, ffi::Py_tp_free);
        let tp_free: ffi::freefunc = std::mem::transmute::<*mut c_void, ffi::freefunc>(tp_free);
        tp_free(object.cast());
        ffi::Py_DecRef(type_.cast());
    }
}

/// A new reference to `True` or `False`.
pub(crate) fn py_bool(value: bool) -> *mut PyObject {
    // SAFETY: `PyBool_FromLong` cannot fail and needs only the GIL, which every caller holds.
    unsafe { ffi::PyBool_FromLong(value as std::ffi::c_long) }
}

/// A new reference to `None`.
pub(crate) fn none() -> *mut PyObject {
    // SAFETY: `Py_None` is the interpreter's static singleton.
    unsafe {
        let none = ffi::Py_None();
        ffi::Py_IncRef(none);
        none
    }
}
