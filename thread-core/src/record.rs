//! Spawn accounting: the running count (CORE-7), each thread's record, whose done flag handles
//! wait on (SPAWN-7, HANDLE-1, FORK-3, HANDLE-4), and the set of non-daemon threads that
//! [`shutdown`](crate::shutdown) waits for (HANDLE-3).
//!
//! # Order at a thread's end
//!
//! The thread first lowers the count, then sets the done flag (Release), then wakes joiners (if
//! one may be asleep), then leaves the non-daemon set (Release). A joiner that sees the flag
//! (Acquire) therefore happens-after the decrement, so any count it reads afterwards no longer
//! includes the thread: the count falls before `is_done()` or `join` report the end. That is all
//! the count's own operations need to give, so they are Relaxed: the count is a statistic that
//! publishes no other data. `set_done` (HANDLE-1) sets the flag early, and is the one exception.
//!
//! # The OS thread
//!
//! A joinable thread is created joinable at the pthread level too, so that its stack goes back to
//! the C library's cache when it is joined (as `std::thread` does; a detached thread frees its
//! stack only after it has gone, so a quick spawn-join-spawn would map a fresh stack each time).
//! The first `join` that sees the thread done claims the `pthread_join`; `set_done` claims it to
//! detach the thread; if no one ever does, the last owner of the record detaches the thread. In
//! a forked child the parent's threads do not exist, and neither is done.
//!
//! # Which thread a record is (HANDLE-4)
//!
//! A record of a thread pythread started is that thread's own: the thread holds it in a
//! thread-local ([`crate::spawn`]), and "is this the calling thread" is a pointer comparison with
//! it, never an ident comparison (glibc hands a dead thread's `pthread_t` to the next thread).
//! Each record carries the fork generation in which its thread exists; the fork's child handler
//! moves the forking thread's own record to the child's generation, so in a child every other
//! record is done (FORK-3). A record made by `for_thread` knows only an ident and follows CPython:
//! it survives a fork when the forking thread had its ident ([`crate::ident::survives_forks`]).
//!
//! # The non-daemon set
//!
//! The set is a count, not a list: a non-daemon record is counted from before its thread is
//! created until it is done (its end, or `set_done`), and the record's `member` flag makes sure
//! exactly one of those leaves it (a swap). [`shutdown`](crate::shutdown) waits until the count
//! holds no thread but, maybe, its caller's own. So the set needs no memory per thread and no
//! lock (which a fork could leave held); a thread started while `shutdown` waits raises the count
//! before its spawn returns, and is waited for too. The count lives in bits 2.. of a futex word
//! whose bit 0 is the wake bit of an interruptible `shutdown` on the main thread and bit 1 says
//! that a `shutdown` may sleep on it (until then a thread leaving the set makes no system call).
//!
//! # Model
//!
//! `Accounting`, `Record` and `NonDaemons` take their atomics from the loom facade;
//! `loom_models` check the orders above with loom
//! (`RUSTFLAGS="--cfg loom" cargo test -p thread-core --release --lib`).

use crate::futex;
use crate::ident::{self, Ident, fork_generation};
use crate::loom::{AtomicU32, AtomicUsize};
use crate::wait::{self, Nanos, Woken};
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
        // Relaxed: the done flag's Release, sequenced after this, publishes it.
        self.running.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> usize {
        // Relaxed: a snapshot; see the module docs.
        self.running.load(Ordering::Relaxed)
    }
}

/// The non-daemon threads not done yet (HANDLE-3): a count in bits 2.., bit 0 the wake bit of an
/// interruptible wait on the word, bit 1 set once a waiter may sleep on it.
#[derive(Debug)]
pub(crate) struct NonDaemons {
    word: AtomicU32,
}

/// One thread in [`NonDaemons`]' word.
const MEMBER_UNIT: u32 = 4;
/// The wake bit of [`NonDaemons`]' word.
const SHUTDOWN_WAKE: u32 = 1;
/// Set in [`NonDaemons`]' word once a waiter may sleep on it, so a leaving thread must wake it
/// (as `SLEEPER` in a record).
const SHUTDOWN_SLEEPER: u32 = 2;

impl NonDaemons {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        NonDaemons {
            word: AtomicU32::new(0),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        NonDaemons {
            word: AtomicU32::new(0),
        }
    }

    fn enter(&self) {
        // Relaxed: a rise only makes a waiter's condition false; its value change alone makes a
        // concurrent futex wait on the old value return and look again.
        self.word.fetch_add(MEMBER_UNIT, Ordering::Relaxed);
    }

    fn leave(&self) {
        // Release: a waiter that sees the fall (Acquire) sees the thread's done flag and all it
        // did, and the cleared `member` flag of the record.
        let before = self.word.fetch_sub(MEMBER_UNIT, Ordering::Release);
        // No wake is lost, as in `Record::mark_done`: a waiter sets SHUTDOWN_SLEEPER with a
        // read-modify-write before it sleeps.
        if before & SHUTDOWN_SLEEPER != 0 {
            futex::wake_all(&self.word);
        }
    }

    /// How many threads are in the set.
    #[cfg(all(test, loom))]
    fn len(&self) -> u32 {
        self.word.load(Ordering::Acquire) / MEMBER_UNIT
    }

    /// Sleeps until the set holds no thread but `own` (the caller's record, if it has one), until
    /// `deadline` passes, or until interrupted (`interruptible` on the main thread). `own`'s
    /// membership is read after the count, so a count that includes it is never compared
    /// against a stale "not a member".
    pub(crate) fn wait_empty(
        &self,
        own: Option<&Record>,
        deadline: Option<Nanos>,
        interruptible: bool,
    ) -> Woken {
        // Relaxed: as in `Record::wait`.
        self.word.fetch_or(SHUTDOWN_SLEEPER, Ordering::Relaxed);
        wait::wait_word(&self.word, SHUTDOWN_WAKE, deadline, interruptible, |v| {
            let others_allowed = u32::from(own.is_some_and(Record::is_member));
            v / MEMBER_UNIT <= others_allowed
        })
    }

    /// In a forked child: only the forking thread exists, counted if it is a member.
    fn reset(&self, members: u32) {
        // Relaxed: the child has one thread.
        self.word.store(members * MEMBER_UNIT, Ordering::Relaxed);
    }
}

#[cfg(not(loom))]
static GLOBAL: Accounting = Accounting::new();
#[cfg(not(loom))]
static NON_DAEMONS: NonDaemons = NonDaemons::new();

#[cfg(loom)]
loom::lazy_static! {
    static ref GLOBAL: Accounting = Accounting::new();
    static ref NON_DAEMONS: NonDaemons = NonDaemons::new();
}

/// The process-wide accounting every spawn uses.
pub(crate) fn global() -> &'static Accounting {
    &GLOBAL
}

/// The process-wide non-daemon set that [`shutdown`](crate::shutdown) waits for.
pub(crate) fn non_daemons() -> &'static NonDaemons {
    &NON_DAEMONS
}

/// `state`: the thread has finished, or its handle was marked done.
const DONE: u32 = 1;
/// `state`: the wake bit of an interruptible join on the main thread.
const JOIN_WAKE: u32 = 2;
/// `state`: some joiner may be asleep on the word, so marking the record done must wake it.
/// Never cleared: a record is marked done once.
const SLEEPER: u32 = 4;

/// `os`: a detached thread, or one not created; nothing to do at the OS level.
const OS_NONE: u8 = 0;
/// `os`: a joinable pthread nobody has joined or detached yet.
const OS_JOINABLE: u8 = 1;
/// `os`: the `pthread_join` or `pthread_detach` has been claimed.
const OS_CLAIMED: u8 = 2;

/// What a thread and its handles share.
#[derive(Debug)]
pub(crate) struct Record {
    /// `DONE` once done; `JOIN_WAKE` for interrupts; `SLEEPER` once a joiner may sleep. The
    /// futex word joiners sleep on.
    state: AtomicU32,
    /// The fork generation in which the thread exists (see the module docs).
    generation: AtomicU64,
    /// For a `for_thread` record: the ident, the only thing it knows of its thread.
    adopted: Option<Ident>,
    /// The `pthread_t` of a joinable thread (0 until created).
    os_thread: AtomicU64,
    /// `OS_NONE`, `OS_JOINABLE` or `OS_CLAIMED`.
    os: AtomicU8,
    /// 1 while the record is counted in [`NonDaemons`].
    member: AtomicU32,
}

impl Record {
    /// The record of a thread pythread is about to start.
    pub(crate) fn new() -> Self {
        Record::with(None)
    }

    /// The record behind [`ThreadHandle::for_thread`](crate::ThreadHandle::for_thread).
    pub(crate) fn adopted(ident: Ident) -> Self {
        Record::with(Some(ident))
    }

    fn with(adopted: Option<Ident>) -> Self {
        Record {
            state: AtomicU32::new(0),
            generation: AtomicU64::new(fork_generation()),
            adopted,
            os_thread: AtomicU64::new(0),
            os: AtomicU8::new(OS_NONE),
            member: AtomicU32::new(0),
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

    /// Whether the thread exists in this process: always, unless this is a forked child and the
    /// thread was not the forking one (FORK-3, HANDLE-4).
    fn exists_here(&self) -> bool {
        // Relaxed: only the child handler changes it, while the child has one thread.
        let generation = self.generation.load(Ordering::Relaxed);
        generation == fork_generation()
            || self
                .adopted
                .is_some_and(|ident| ident::survives_forks(generation, ident))
    }

    /// In a forked child, on the forking thread: its own record goes on existing.
    pub(crate) fn survive_fork(&self) {
        // Relaxed: the child has one thread.
        self.generation.store(fork_generation(), Ordering::Relaxed);
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
        (claimed && self.exists_here())
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

    /// The thread's end: count down, then mark done, then wake joiners, then leave the
    /// non-daemon set.
    pub(crate) fn finish(&self, accounting: &Accounting) {
        accounting.fall();
        self.mark_done();
        self.leave_non_daemons();
    }

    /// HANDLE-1's `set_done`: detach the thread if nobody joined it, mark the record done at
    /// once and take it out of the non-daemon set. The count is not touched: it falls at the
    /// thread's real end.
    pub(crate) fn set_done(&self) {
        if let Some(thread) = self.claim_os() {
            // SAFETY: a joinable thread of this process, claimed once, so nobody else joins or
            // detaches it; detaching a running thread lets the OS reclaim it when it ends.
            unsafe { libc::pthread_detach(thread) };
        }
        self.mark_done();
        self.leave_non_daemons();
    }

    fn mark_done(&self) {
        // Release: a joiner that sees DONE (Acquire) sees everything the thread did before, the
        // count's decrement included.
        let before = self.state.fetch_or(DONE, Ordering::Release);
        // A thread that ends before anyone waits for it (the common case when its joiner is
        // busy, or has none) makes no system call here. No wake is lost: a joiner sets SLEEPER
        // with a read-modify-write before it sleeps, so of the two, either the joiner's comes
        // first and this one sees SLEEPER, or this one comes first and the joiner, whose
        // read-modify-write then reads DONE, does not sleep.
        if before & SLEEPER != 0 {
            futex::wake_all(&self.state);
        }
    }

    /// Whether the thread has finished (or its handle was marked done), or is gone because this
    /// process is a forked child and it was not the forking thread (FORK-3, HANDLE-4).
    pub(crate) fn is_done(&self) -> bool {
        // Acquire: pairs with `mark_done`; afterwards the caller sees the thread's effects.
        self.state.load(Ordering::Acquire) & DONE != 0 || !self.exists_here()
    }

    /// Whether the calling thread is this record's thread: by identity of the record for a
    /// thread pythread started, by ident for a `for_thread` record (as CPython).
    pub(crate) fn is_calling_thread(&self) -> bool {
        match self.adopted {
            Some(ident) => ident == ident::get_ident(),
            None => crate::spawn::is_current_record(self),
        }
    }

    /// Waits until the record is done, `deadline` passes, or (`interruptible`, on the main
    /// thread) an interrupt comes. A record that is done only because its thread is gone with a
    /// fork never changes: the caller checks [`is_done`](Self::is_done) first.
    pub(crate) fn wait(&self, deadline: Option<Nanos>, interruptible: bool) -> Woken {
        // Relaxed: only its place among the read-modify-writes of `state` matters (see
        // `mark_done`); wait_word's loads, which come after it, decide with Acquire.
        self.state.fetch_or(SLEEPER, Ordering::Relaxed);
        wait::wait_word(&self.state, JOIN_WAKE, deadline, interruptible, |v| {
            v & DONE != 0
        })
    }

    /// Counts the record in the non-daemon set (before its thread is created).
    pub(crate) fn join_non_daemons(&self) {
        // Relaxed: published to the thread and handles with the record itself.
        self.member.store(1, Ordering::Relaxed);
        non_daemons().enter();
    }

    /// Takes the record out of the non-daemon set, if it is in it; exactly once.
    pub(crate) fn leave_non_daemons(&self) {
        // Relaxed: the swap only decides who leaves; `leave`'s Release publishes the rest.
        // A record of a thread that is gone with a fork is not counted in the child.
        if self.member.swap(0, Ordering::Relaxed) == 1 && self.exists_here() {
            non_daemons().leave();
        }
    }

    /// Whether the record is counted in the non-daemon set.
    fn is_member(&self) -> bool {
        // Relaxed: read after the count's Acquire load; see `NonDaemons::wait_empty`.
        self.member.load(Ordering::Relaxed) == 1
    }
}

/// In a forked child, on the forking thread (from the fork handler): only `own`, the forking
/// thread's record if pythread started it, exists; it alone stays in the non-daemon set.
pub(crate) fn after_fork_in_child(own: Option<&Record>) {
    if let Some(record) = own {
        record.survive_fork();
    }
    non_daemons().reset(u32::from(own.is_some_and(Record::is_member)));
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
            assert_eq!(rec.wait(None, false), Woken::Ready);
            assert!(rec.is_done());
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
                r.wait(None, false);
                assert_eq!(a.get(), 0);
            });
            if rec.is_done() {
                assert_eq!(acc.get(), 0);
            }
            rec.finish(&acc);
            rec.wait(None, false);
            t.join().unwrap();
        });
    }

    /// `set_done` racing the thread's end: the record leaves the non-daemon set exactly once, a
    /// waiter for the set returns, and it is done when the waiter returns.
    #[test]
    fn loom_set_done_and_finish_leave_the_set_once() {
        loom::model(|| {
            let acc = Arc::new(Accounting::new());
            let rec = Arc::new(Record::new());
            rec.join_non_daemons();
            acc.rise();
            let (a, r) = (Arc::clone(&acc), Arc::clone(&rec));
            let ending = loom::thread::spawn(move || r.finish(&a));
            let r = Arc::clone(&rec);
            let marking = loom::thread::spawn(move || r.set_done());
            assert_eq!(non_daemons().wait_empty(None, None, false), Woken::Ready);
            assert!(rec.is_done());
            ending.join().unwrap();
            marking.join().unwrap();
            assert_eq!(non_daemons().len(), 0);
            assert_eq!(acc.get(), 0);
        });
    }

    /// A waiter that owns a member record waits only for the others; a record that enters while
    /// it waits is waited for too.
    #[test]
    fn loom_shutdown_waits_for_others_and_late_starters() {
        loom::model(|| {
            let acc = Arc::new(Accounting::new());
            let own = Arc::new(Record::new());
            own.join_non_daemons();
            let first = Arc::new(Record::new());
            first.join_non_daemons();
            let (a, f) = (Arc::clone(&acc), Arc::clone(&first));
            let t = loom::thread::spawn(move || {
                // Starts another non-daemon thread before it ends (as a spawn would: counted
                // before the spawn returns), then ends; the late one ends on its own.
                let late = Arc::new(Record::new());
                late.join_non_daemons();
                let (a2, l) = (Arc::clone(&a), Arc::clone(&late));
                let t2 = loom::thread::spawn(move || {
                    a2.rise();
                    l.finish(&a2);
                });
                a.rise();
                f.finish(&a);
                t2.join().unwrap();
                late
            });
            assert_eq!(
                non_daemons().wait_empty(Some(&own), None, false),
                Woken::Ready
            );
            assert!(first.is_done());
            let late = t.join().unwrap();
            assert!(late.is_done());
            assert_eq!(non_daemons().len(), 1);
            own.leave_non_daemons();
        });
    }
}
