//! The two futex system calls the parker and the bucket lock sleep and wake with.
//!
//! Process-private futexes (`FUTEX_PRIVATE_FLAG`), as std's own locks use; timeouts are absolute
//! `CLOCK_MONOTONIC` times (`FUTEX_WAIT_BITSET`), so a wait that wakes spuriously goes back to
//! sleep against the same deadline without reading the clock.

use crate::clock::Nanos;
use std::sync::atomic::AtomicU32;

/// How a `FUTEX_WAIT` ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    /// Woken, or the word no longer held the expected value (`EAGAIN`), or spuriously.
    Woken,
    /// The absolute deadline passed.
    TimedOut,
    /// A signal handler ran (`EINTR`).
    Interrupted,
}

/// Sleeps while `*word == expected`, until an absolute `CLOCK_MONOTONIC` deadline (`None`: none).
pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Nanos>) -> Waited {
    let ts = deadline.map(|d| libc::timespec {
        // At most u64::MAX / 1e9 ≈ 1.8e10 seconds: fits an i64.
        tv_sec: (d / 1_000_000_000) as libc::time_t,
        tv_nsec: (d % 1_000_000_000) as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a valid, aligned 32-bit atomic for the whole call; `ts_ptr` is null or
    // points at a timespec that lives until the call returns. FUTEX_WAIT_BITSET takes an
    // absolute CLOCK_MONOTONIC time; the kernel only reads the word and the timespec.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ts_ptr,
            std::ptr::null::<u32>(),
            u32::MAX, // FUTEX_BITSET_MATCH_ANY
        )
    };
    if r == 0 {
        return Waited::Woken;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ETIMEDOUT) => Waited::TimedOut,
        Some(libc::EINTR) => Waited::Interrupted,
        _ => Waited::Woken,
    }
}

/// Wakes one thread sleeping on `word`, if any.
pub(crate) fn wake(word: &AtomicU32) {
    // SAFETY: `word` is a valid, aligned 32-bit atomic (kept alive by the caller); FUTEX_WAKE
    // only uses its address as a key and touches no memory.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        )
    };
}
