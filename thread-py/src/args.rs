//! Arguments taken as CPython takes them (PY-3): timeouts in seconds, a float or anything with
//! `__index__`, and their `OverflowError` texts by type and version.
//!
//! The argument lists themselves go through CPython's own parsers (`PyArg_ParseTuple`,
//! `PyArg_ParseTupleAndKeywords`, `PyArg_UnpackTuple`) with the format strings of the version's
//! `_thread`, so that counts, keywords, conversions and their messages are the version's.
//!
//! # Unwinding
//!
//! Converting an integer may run `__index__`, Python code that a finalizing interpreter can end
//! with `pthread_exit` (PY-9): the conversions hold nothing with a destructor.

use std::ffi::c_char;
use std::time::Duration;

use pyo3::ffi::{self, PyObject};

use crate::capi;
use crate::errors::raise;
use crate::interpreter::profile;

/// `acquire`'s keywords.
pub(crate) struct Keywords<const N: usize>(pub(crate) [*const c_char; N]);

// SAFETY: the pointers are to static, immutable C strings.
unsafe impl<const N: usize> Sync for Keywords<N> {}

impl<const N: usize> Keywords<N> {
    /// The keyword list as `PyArg_ParseTupleAndKeywords` takes it (it never writes to it).
    pub(crate) fn as_ptr(&'static self) -> *mut *mut c_char {
        self.0.as_ptr().cast_mut().cast()
    }
}

/// A timeout argument after its type's conversion, before the checks of its use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Seconds {
    /// A float (also a subclass), unchanged.
    Float(f64),
    /// An integer (or `__index__`) number of seconds, whose nanoseconds fit an `i64`.
    Int(i64),
}

/// 2^63 as f64.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

impl Seconds {
    /// Converts `object` as `_PyTime_FromSecondsObject` does: a float as it is, anything else
    /// through `__index__`; an integer whose nanoseconds overflow `i64` is the version's
    /// "timestamp too large" `OverflowError`. `None` when an exception is set.
    ///
    /// # Safety
    ///
    /// The caller holds the GIL; `object` is a live object.
    pub(crate) unsafe fn from_object(object: *mut PyObject) -> Option<Seconds> {
        // SAFETY: `object` is live and we hold the GIL (contract).
        unsafe {
            if ffi::PyFloat_Check(object) != 0 {
                return Some(Seconds::Float(ffi::PyFloat_AsDouble(object)));
            }
            let seconds = capi::PyLong_AsLongLong(object);
            if seconds == -1 && !ffi::PyErr_Occurred().is_null() {
                if ffi::PyErr_ExceptionMatches(ffi::PyExc_OverflowError) != 0 {
                    ffi::PyErr_Clear();
                    raise(ffi::PyExc_OverflowError, profile().int_timeout_overflow);
                }
                return None;
            }
            if seconds.checked_mul(1_000_000_000).is_none() {
                raise(ffi::PyExc_OverflowError, profile().int_timeout_overflow);
                return None;
            }
            Some(Seconds::Int(seconds))
        }
    }

    /// As an f64 of seconds, for `thread_lock::parse_timeout` (exact: an `Int` is below 2^34).
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Seconds::Float(value) => value,
            Seconds::Int(value) => value as f64,
        }
    }

    /// A join's timeout (3.13's `_ThreadHandle.join`): nanoseconds rounded away from zero, NaN
    /// and out-of-range floats refused as `_PyTime_FromSecondsObject` refuses them; a negative
    /// value waits forever (`None`). `Err(())` when an exception is set.
    ///
    /// # Safety
    ///
    /// The caller holds the GIL.
    pub(crate) unsafe fn join_timeout(self) -> Result<Option<Duration>, ()> {
        let nanos: i64 = match self {
            Seconds::Int(seconds) => seconds.saturating_mul(1_000_000_000),
            Seconds::Float(value) => {
                if value.is_nan() {
                    // SAFETY: the caller holds the GIL.
                    unsafe { raise(ffi::PyExc_ValueError, c"Invalid value NaN (not a number)") };
                    return Err(());
                }
                let d = value * 1e9;
                if !(-TWO_POW_63..TWO_POW_63).contains(&d) {
                    // SAFETY: the caller holds the GIL.
                    unsafe {
                        raise(
                            ffi::PyExc_OverflowError,
                            c"timestamp out of range for platform time_t",
                        )
                    };
                    return Err(());
                }
                // Away from zero, as _PyTime_ROUND_TIMEOUT: `as` truncates toward zero.
                let truncated = d as i64;
                if truncated as f64 == d {
                    truncated
                } else if d > 0.0 {
                    truncated + 1
                } else {
                    truncated - 1
                }
            }
        };
        Ok(u64::try_from(nanos).ok().map(Duration::from_nanos))
    }
}
