//! Spawn accounting: the running count (CORE-7) and each thread's record, whose done flag
//! handles wait on (SPAWN-7, FORK-3).
//!
//! # Order at a thread's end
//!
//! The thread first lowers the count, then stores the done flag (Release), then wakes joiners.
//! A joiner that sees the flag (Acquire) therefore happens-after the decrement, so any count it
//! reads afterwards no longer includes the thread: the count falls before `is_done()` or `join`
//! report the end. That is all the count's own operations need to give, so they are Relaxed: the
//! count is a statistic that publishes no other data.
//!
//! # The OS thread
//!
//! A joinable thread is created joinable at the pthread level too, so that its stack goes back to
//! the C library's cache when it is joined (as `std::thread` does; a detached thread frees its
//! stack only after it has gone, so a quick spawn-join-spawn would map a fresh stack each time).
//! The first `join` that sees the thread done claims the `pthread_join`; if no one ever does,
//! the last owner of the record detaches the thread. In a forked child the parent's threads do
//! not exist, and neither is done.
//!
//! # Model
//!
//! `Accounting` and `Record` take their atomics from the loom facade; `tests::loom_*` check the
//! order above with loom (`RUSTFLAGS="--cfg loom" cargo test -p thread-core --release --lib`).

use std::time::{Duration, Instant};

use crate::futex;
use crate::ident::{Ident, fork_generation, get_ident};
use crate::loom::{AtomicU32, AtomicUsize};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// The number of running threads started through pythread.
#[derive(Debug)]
pub(crate) struct Accounting {
    running: AtomicUsize,
}

impl Accounting {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Accounting {
            running: AtomicUsize::new(0),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Accounting {
            running: AtomicUsize::new(0),
        }
    }

    /// In the new thread, before its function runs.
    pub(crate) fn rise(&self) {
        // Relaxed: see the module docs.
        self.running.fetch_add(1, Ordering::Relaxed);
    }

    /// In the ending thread, after its function and any report, before its done flag.
    pub(crate) fn fall(&self) {
        // Relaxed: the done flag's Release store, sequenced after this, publishes it.
        self.running.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> usize {
        // Relaxed: a snapshot; see the module docs.
        self.running.load(Ordering::Relaxed)
    }
}

#[cfg(not(loom))]
static GLOBAL: Accounting = Accounting::new();

#[cfg(loom)]
loom::lazy_static! {
    static ref GLOBAL: Accounting = Accounting::new();
}

/// The process-wide accounting every spawn uses.
pub(crate) fn global() -> &'static Accounting {
    &GLOBAL
}

const RUNNING: u32 = 0;
const DONE: u32 = 1;

/// `os`: a detached thread, or one not created; nothing to do at the OS level.
const OS_NONE: u8 = 0;
/// `os`: a joinable pthread nobody has joined or detached yet.
const OS_JOINABLE: u8 = 1;
/// `os`: the `pthread_join` or `pthread_detach` has been claimed.
const OS_CLAIMED: u8 = 2;

/// What a thread and its handle share.
#[derive(Debug)]
pub(crate) struct Record {
    /// `RUNNING`, then `DONE`; the futex word joiners sleep on.
    state: AtomicU32,
    /// The fork generation the thread was started in; in a later one the thread is gone.
    generation: u64,
    /// The `pthread_t` of a joinable thread (0 until created).
    os_thread: AtomicU64,
    /// `OS_NONE`, `OS_JOINABLE` or `OS_CLAIMED`.
    os: AtomicU8,
}

impl Record {
    pub(crate) fn new() -> Self {
        Record {
            state: AtomicU32::new(RUNNING),
            generation: fork_generation(),
            os_thread: AtomicU64::new(0),
            os: AtomicU8::new(OS_NONE),
        }
    }

    /// Records that `thread` was created joinable: someone must join or detach it.
    pub(crate) fn set_joinable(&self, thread: libc::pthread_t) {
        // Relaxed: the record reaches handles and the last owner's drop only through the
        // spawner's return (or an Arc's release/acquire), which orders these stores before them.
        #[allow(clippy::unnecessary_cast)] // `pthread_t` is not u64 everywhere
        self.os_thread.store(thread as u64, Ordering::Relaxed);
        self.os.store(OS_JOINABLE, Ordering::Relaxed);
    }

    /// Claims the OS-level join or detach; the thread's `pthread_t` if ours to do.
    fn claim_os(&self) -> Option<libc::pthread_t> {
        // Relaxed: the claim itself is all that is decided; the pthread call synchronises.
        let claimed = self
            .os
            .compare_exchange(
                OS_JOINABLE,
                OS_CLAIMED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok();
        // In a forked child the thread does not exist: leave it.
        (claimed && self.generation == fork_generation())
            .then(|| self.os_thread.load(Ordering::Relaxed) as libc::pthread_t)
    }

    /// After the done flag: lets the OS reclaim the finished thread now, stack included. With
    /// `blocking` false it only takes a thread that has already gone (a timed join must not wait
    /// for the thread's thread-local destructors); otherwise the claim is given back.
    pub(crate) fn reap(&self, blocking: bool) {
        let Some(thread) = self.claim_os() else {
            return;
        };
        if blocking {
            // SAFETY: a joinable thread of this process that nobody else joins or detaches (the
            // claim is won once); it has finished its function, so this returns soon.
            unsafe { libc::pthread_join(thread, std::ptr::null_mut()) };
        } else {
            // SAFETY: as above; `pthread_tryjoin_np` does not wait.
            let rc = unsafe { libc::pthread_tryjoin_np(thread, std::ptr::null_mut()) };
            if rc != 0 {
                // Still exiting: give the claim back for a later join or the last owner's detach.
                // Relaxed: as in `claim_os`.
                self.os.store(OS_JOINABLE, Ordering::Relaxed);
            }
        }
    }

    /// The thread's end: count down, then mark done, then wake joiners.
    pub(crate) fn finish(&self, accounting: &Accounting) {
        accounting.fall();
        // Release: a joiner that sees DONE sees the decrement and all the thread did.
        self.state.store(DONE, Ordering::Release);
        futex::wake_all(&self.state);
    }

    /// Whether the thread (`ident`) has finished, or is gone because this process is a forked
    /// child and it is not the forking thread (FORK-3).
    pub(crate) fn is_done(&self, ident: Ident) -> bool {
        // Acquire: pairs with `finish`; afterwards the caller sees the thread's effects.
        self.state.load(Ordering::Acquire) == DONE
            || (self.generation != fork_generation() && ident != get_ident())
    }

    /// Waits until the thread is done or `deadline` passes (`None`: forever).
    pub(crate) fn wait(&self, ident: Ident, deadline: Option<Instant>) {
        while !self.is_done(ident) {
            let timeout = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if left > Duration::ZERO => Some(left),
                    _ => return,
                },
            };
            futex::wait(&self.state, RUNNING, timeout);
        }
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        if let Some(thread) = self.claim_os() {
            // SAFETY: a joinable thread nobody joined, claimed once; detaching it (possibly from
            // itself, when its own reference is the last) lets the OS reclaim it when it ends.
            unsafe { libc::pthread_detach(thread) };
        }
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;

    fn ident() -> Ident {
        get_ident()
    }

    /// The count falls before a joiner returns.
    #[test]
    fn loom_count_falls_before_join_returns() {
        loom::model(|| {
            let acc = Arc::new(Accounting::new());
            let rec = Arc::new(Record::new());
            let (a, r) = (Arc::clone(&acc), Arc::clone(&rec));
            let t = loom::thread::spawn(move || {
                a.rise();
                r.finish(&a);
            });
            let me = ident();
            rec.wait(me, None);
            assert!(rec.is_done(me));
            assert_eq!(acc.get(), 0);
            t.join().unwrap();
        });
    }

    /// Two joiners both return, each after the count fell; `is_done` never runs ahead of it.
    #[test]
    fn loom_two_joiners_and_is_done() {
        loom::model(|| {
            let acc = Arc::new(Accounting::new());
            let rec = Arc::new(Record::new());
            acc.rise();
            let (a, r) = (Arc::clone(&acc), Arc::clone(&rec));
            let t = loom::thread::spawn(move || {
                let me = ident();
                r.wait(me, None);
                assert_eq!(a.get(), 0);
            });
            let me = ident();
            if rec.is_done(me) {
                assert_eq!(acc.get(), 0);
            }
            rec.finish(&acc);
            rec.wait(me, None);
            t.join().unwrap();
        });
    }
}
