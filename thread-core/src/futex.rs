//! The two futex operations thread-core needs: sleep while a word holds a value, and wake every
//! sleeper. Raw `syscall`s: async-signal-safe, no allocation.
//!
//! Under loom there is no kernel: `wait` yields to the model scheduler and `wake_all` does
//! nothing, so waiters are written as loops that re-check the word.

use std::time::Duration;

use crate::loom::AtomicU32;

/// Sleeps while `word` holds `expected`, at most about `timeout` (forever when `None`); may
/// return early (spuriously, on a signal, or because the word changed). Callers re-check.
#[cfg(not(loom))]
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| libc::timespec {
        // A deadline beyond what time_t holds is as good as forever.
        tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(t.subsec_nanos() as i32),
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), std::ptr::from_ref);
    // SAFETY: the word is alive for the call and `ts_ptr` is null or points at a valid timespec.
    // FUTEX_WAIT returns at once when the word no longer holds `expected`.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ts_ptr,
        );
    }
}

/// Wakes every thread sleeping on `word`.
#[cfg(not(loom))]
pub(crate) fn wake_all(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address to find sleepers; the word is alive.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        );
    }
}

#[cfg(loom)]
pub(crate) fn wait(_word: &AtomicU32, _expected: u32, _timeout: Option<Duration>) {
    loom::thread::yield_now();
}

#[cfg(loom)]
pub(crate) fn wake_all(_word: &AtomicU32) {}
