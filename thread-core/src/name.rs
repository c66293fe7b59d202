//! Thread names (SPAWN-8): what the OS shows for a thread (`/proc/self/task/*/comm`, `top -H`).

use crate::ThreadError;

/// Linux keeps 16 bytes for a thread name, the terminating NUL included.
const NAME_MAX: usize = 15;

/// The bytes the OS gets for `name`, as CPython 3.14 makes them on Linux: the UTF-8 bytes up to
/// the first NUL, cut at 15 bytes even inside a character; then a NUL.
pub(crate) fn os_name(name: &str) -> [u8; NAME_MAX + 1] {
    let bytes = name.as_bytes();
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(bytes.len())
        .min(NAME_MAX);
    let mut out = [0u8; NAME_MAX + 1];
    out[..end].copy_from_slice(&bytes[..end]);
    out
}

/// Names `thread` with the NUL-terminated `raw`; an `OSError` if `pthread_setname_np` refuses.
pub(crate) fn set_raw(thread: libc::pthread_t, raw: &[u8]) -> Result<(), ThreadError> {
    if raw.last() != Some(&0) {
        return Err(ThreadError::os(libc::EINVAL));
    }
    // SAFETY: `raw` is NUL-terminated and lives across the call; `thread` is a live thread (the
    // callers pass the calling thread).
    match unsafe { libc::pthread_setname_np(thread, raw.as_ptr().cast()) } {
        0 => Ok(()),
        errno => Err(ThreadError::os(errno)),
    }
}

/// Names the calling thread (CPython 3.14's `_thread.set_name`): on Linux the OS gets the name's
/// UTF-8 bytes, stopped at the first NUL and cut at 15 bytes even inside a character. A failure of
/// `pthread_setname_np` is `OSError`.
///
/// ```
/// std::thread::spawn(|| {
///     thread_core::set_name("worker-with-a-long-name").unwrap();
///     let tid = thread_core::get_native_id();
///     let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).unwrap();
///     assert_eq!(comm, "worker-with-a-l\n");
/// })
/// .join()
/// .unwrap();
/// ```
pub fn set_name(name: &str) -> Result<(), ThreadError> {
    // SAFETY: `pthread_self` has no preconditions.
    let me = unsafe { libc::pthread_self() };
    set_raw(me, &os_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// proves: SPAWN-8
    #[test]
    fn name_is_cut_at_15_bytes_even_inside_a_character_and_stops_at_nul() {
        assert_eq!(&os_name("short")[..6], b"short\0");
        assert_eq!(&os_name("0123456789abcdefgh")[..], b"0123456789abcde\0");
        // "é" is two bytes; the cut falls between them.
        let name = "abcdefghijklmné";
        assert_eq!(&os_name(name)[..15], &name.as_bytes()[..15]);
        assert_eq!(os_name(name)[14], 0xC3);
        assert_eq!(&os_name("ab\0cd")[..3], b"ab\0");
        assert_eq!(os_name("")[0], 0);
    }

    /// proves: SPAWN-8
    #[test]
    fn a_refused_name_is_an_os_error() {
        // 20 bytes without the cut: the kernel keeps 16, pthread_setname_np says ERANGE.
        // SAFETY: `pthread_self` has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let err = set_raw(me, b"01234567890123456789\0").unwrap_err();
        assert_eq!(err.python_type(), "OSError");
        assert_eq!(err.to_string(), "[Errno 34] Numerical result out of range");
    }
}
