//! The stack size for new threads (STACK-1, STACK-4, STACK-5, X-STACK-1).
//!
//! One process-wide atomic: a set is a single swap, so concurrent calls each get back the value
//! they replaced, and every spawn reads the value current at its start.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::ThreadError;

/// CPython's `THREAD_STACK_MIN`: smaller sizes are refused even where pthread would take them.
const STACK_MIN: usize = 0x8000;

/// The size new threads get; 0 = pthread's default attribute.
static STACK_SIZE: AtomicUsize = AtomicUsize::new(0);

/// CPython's `_thread.stack_size([size])`.
///
/// `Some(size)` sets the stack size of threads started afterwards and returns the previous
/// setting. `0` means pthread's default (glibc: the `RLIMIT_STACK` soft limit), not Rust's 2 MiB.
/// Any other size must be at least 32768 bytes and one pthread accepts, else
/// `ValueError|size not valid: {size} bytes` and the setting is unchanged; sizes are not rounded,
/// and huge sizes are accepted here and fail at spawn. `None` only reads the setting
/// (X-STACK-1; a binding maps Python's argument-less call, which resets, to `Some(0)`).
///
/// ```
/// use thread_core::stack_size;
/// assert_eq!(stack_size(None).unwrap(), 0);
/// assert_eq!(stack_size(Some(1 << 20)).unwrap(), 0);
/// assert_eq!(stack_size(Some(0)).unwrap(), 1 << 20);
/// assert_eq!(stack_size(Some(100)).unwrap_err().to_string(), "size not valid: 100 bytes");
/// ```
pub fn stack_size(size: Option<usize>) -> Result<usize, ThreadError> {
    // Relaxed: the setting is a plain value that publishes nothing else.
    let Some(size) = size else {
        return Ok(STACK_SIZE.load(Ordering::Relaxed));
    };
    if size != 0 && (size < STACK_MIN || !pthread_accepts(size)) {
        return Err(ThreadError::StackSizeInvalid { size });
    }
    Ok(STACK_SIZE.swap(size, Ordering::Relaxed))
}

/// `size` if `stack_size` would accept it, else its error (STACK-4).
pub(crate) fn validate(size: usize) -> Result<usize, ThreadError> {
    if size != 0 && (size < STACK_MIN || !pthread_accepts(size)) {
        return Err(ThreadError::StackSizeInvalid { size });
    }
    Ok(size)
}

/// The setting a spawn starting now uses.
pub(crate) fn current() -> usize {
    // Relaxed: see `stack_size`.
    STACK_SIZE.load(Ordering::Relaxed)
}

/// Whether `pthread_attr_setstacksize` takes `size` (it refuses sizes below `PTHREAD_STACK_MIN`).
fn pthread_accepts(size: usize) -> bool {
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: `pthread_attr_init` initialises the attribute it is given.
    if unsafe { libc::pthread_attr_init(attr.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: the attribute was initialised above.
    let ok = unsafe { libc::pthread_attr_setstacksize(attr.as_mut_ptr(), size) } == 0;
    // SAFETY: initialised above and destroyed once.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    ok
}
