//! The futex operations thread-core and thread-lock sleep and wake with: sleep while a word holds
//! a value (until an absolute `CLOCK_MONOTONIC` deadline), and wake one or every sleeper. Raw
//! `syscall`s: async-signal-safe, no allocation.
//!
//! Process-private futexes (`FUTEX_PRIVATE_FLAG`), as std's own locks use; timeouts are absolute
//! `CLOCK_MONOTONIC` times (`FUTEX_WAIT_BITSET`), so a wait that wakes spuriously goes back to
//! sleep against the same deadline without reading the clock.
//!
//! Public only for thread-lock (its parker and bucket lock), hence `#[doc(hidden)]`: not API.
//!
//! Under loom there is no kernel: `wait_until` yields to the model scheduler and `wake_all` does
//! nothing, so waiters are written as loops that re-check the word.

use crate::loom::AtomicU32;
use crate::wait::Nanos;

/// How a `FUTEX_WAIT` ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Waited {
    /// Woken, or the word no longer held the expected value (`EAGAIN`), or spuriously.
    Woken,
    /// The absolute deadline passed.
    TimedOut,
    /// A signal handler ran (`EINTR`).
    #[cfg_attr(loom, allow(dead_code))] // no signals under loom
    Interrupted,
}

/// Sleeps while `word` holds `expected`, until the absolute `CLOCK_MONOTONIC` `deadline`
/// (forever when `None`); may return early (spuriously, on a signal, or because the word
/// changed). Callers re-check.
#[cfg(not(loom))]
pub fn wait_until(word: &AtomicU32, expected: u32, deadline: Option<Nanos>) -> Waited {
    let ts = deadline.map(|d| libc::timespec {
        // At most u64::MAX / 1e9 ≈ 1.8e10 seconds: fits a 64-bit time_t.
        tv_sec: (d / 1_000_000_000) as libc::time_t,
        tv_nsec: (d % 1_000_000_000) as libc::c_long,
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), std::ptr::from_ref);
    // SAFETY: the word is alive for the call and `ts_ptr` is null or points at a valid timespec
    // that outlives the call. FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time and
    // returns at once when the word no longer holds `expected`.
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

/// Wakes every thread sleeping on `word`.
#[cfg(not(loom))]
pub fn wake_all(word: &AtomicU32) {
    wake(word, i32::MAX);
}

/// Wakes one thread sleeping on `word`, if any.
#[cfg(not(loom))]
pub fn wake_one(word: &AtomicU32) {
    wake(word, 1);
}

/// Wakes up to `count` threads sleeping on `word`.
#[cfg(not(loom))]
fn wake(word: &AtomicU32, count: i32) {
    // SAFETY: FUTEX_WAKE only uses the address to find sleepers and touches no memory; the word
    // is alive.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            count,
        );
    }
}

/// The loom form of [`wait_until`]: a yield to the model scheduler.
#[cfg(loom)]
pub fn wait_until(_word: &AtomicU32, _expected: u32, deadline: Option<Nanos>) -> Waited {
    // Time does not pass under loom: a timed wait times out nondeterministically, by returning
    // at once; the caller re-checks the word first.
    if deadline.is_some() {
        return Waited::TimedOut;
    }
    loom::thread::yield_now();
    Waited::Woken
}

/// The loom form of [`wake_all`]: nothing sleeps in the kernel under loom.
#[cfg(loom)]
pub fn wake_all(_word: &AtomicU32) {}

/// The loom form of [`wake_one`]: nothing sleeps in the kernel under loom.
#[cfg(loom)]
pub fn wake_one(_word: &AtomicU32) {}
