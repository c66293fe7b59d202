//! Docstrings and text signatures copied from the built-in `_thread` of the running interpreter,
//! so that `help()`, `__doc__` and `inspect.signature` show what they show for the built-in,
//! version by version (3.13's functions have text signatures that 3.11's lack, for one).
//!
//! CPython keeps a C function's signature in the first lines of its docstring
//! (`name(signature)\n--\n\n`) and splits it into `__text_signature__` and `__doc__` when asked;
//! [`twin_doc`] puts the built-in's two halves back together for this module's tables.

use std::ffi::{CStr, CString};

use pyo3::ffi::{self, PyObject};

/// The docstring the built-in gives `owner.name` (`owner`: the built-in module or one of its
/// types), joined with its text signature, in the form CPython reads from a `PyMethodDef`'s
/// `ml_doc` or a type's `tp_doc`; leaked, since those tables live forever. `None` when the
/// built-in has no such attribute or neither half (or `owner` is null).
///
/// # Safety
///
/// The caller holds the GIL; `owner` is null or a live object.
pub(crate) unsafe fn twin_doc(owner: *mut PyObject, name: &CStr) -> Option<&'static CStr> {
    if owner.is_null() {
        return None;
    }
    // SAFETY: we hold the GIL (contract); the new reference is released below.
    unsafe {
        let twin = ffi::PyObject_GetAttrString(owner, name.as_ptr());
        if twin.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        let doc = twin_type_doc(twin, name);
        ffi::Py_DecRef(twin);
        doc
    }
}

/// The docstring of the built-in object `twin` (a type, or one of `twin_doc`'s attributes),
/// named `short_name` (a type's name after the module's), with its text signature, as a
/// `tp_doc` or `ml_doc`.
///
/// # Safety
///
/// As [`twin_doc`], with `twin` the object itself.
pub(crate) unsafe fn twin_type_doc(
    twin: *mut PyObject,
    short_name: &CStr,
) -> Option<&'static CStr> {
    if twin.is_null() {
        return None;
    }
    // SAFETY: forwarded from the contract.
    unsafe {
        let signature = str_attribute(twin, c"__text_signature__");
        let doc = str_attribute(twin, c"__doc__");
        joined(short_name, signature.as_deref(), doc.as_deref())
    }
}

/// `name(signature)\n--\n\ndoc`, or the parts there are.
fn joined(name: &CStr, signature: Option<&str>, doc: Option<&str>) -> Option<&'static CStr> {
    let text = match (signature, doc) {
        (None, None) => return None,
        (None, Some(doc)) => doc.to_owned(),
        (Some(signature), doc) => format!(
            "{}{signature}\n--\n\n{}",
            name.to_string_lossy(),
            doc.unwrap_or("")
        ),
    };
    // A docstring with a NUL in it cannot be a C string: keep this module's own.
    CString::new(text)
        .ok()
        .map(|text| &*Box::leak(text.into_boxed_c_str()))
}

/// `object.name` if it is a `str` (`None` also for `None`, or on any error, which is cleared).
///
/// # Safety
///
/// The caller holds the GIL; `object` is live.
unsafe fn str_attribute(object: *mut PyObject, name: &CStr) -> Option<String> {
    // SAFETY: forwarded from the contract; the new reference is released below.
    unsafe {
        let value = ffi::PyObject_GetAttrString(object, name.as_ptr());
        if value.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        let text = if ffi::PyUnicode_Check(value) != 0 {
            let mut size: ffi::Py_ssize_t = 0;
            let utf8 = ffi::PyUnicode_AsUTF8AndSize(value, &mut size);
            if utf8.is_null() {
                ffi::PyErr_Clear();
                None
            } else {
                let bytes = std::slice::from_raw_parts(utf8.cast::<u8>(), size as usize);
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
        } else {
            None
        };
        ffi::Py_DecRef(value);
        text
    }
}
