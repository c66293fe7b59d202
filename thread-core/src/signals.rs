//! The interrupt seam: how a main-thread wait elsewhere (thread-lock's acquire) is woken by
//! [`interrupt_main`](crate::interrupt_main) (X-INTR-3) and by real signals (LOCK-13), without
//! thread-core knowing what waits.
//!
//! * An embedder's OS signal handler calls [`notify`] (async-signal-safe) and registers, once,
//!   the [`set_check`] function that turns its recorded signals into an [`Interrupt`].
//! * A waiter on the main thread registers the futex word it is about to sleep on with
//!   [`watch`], then checks [`pending`], then sleeps; when woken by the word's bit or by a
//!   signal's `EINTR` it calls [`run_pending`].
//!
//! [`run_pending`] runs the registered check whether or not [`notify`] was called: a signal
//! handler that interrupted the wait's system call (`EINTR`) may be one that knows nothing of
//! pythread — CPython's own C handler only records the signal — and its pending work must still
//! run (LOCK-13). `notify` is what wakes a wait that the signal did not interrupt (the handler ran
//! on another thread) and what a wait about to sleep sees through [`pending`].
//!
//! # Why no wake-up is lost
//!
//! A notifier marks pending (SeqCst), then reads the registration (SeqCst). A waiter stores the
//! registration (SeqCst), then reads pending (SeqCst). In the single total order of SeqCst
//! operations one of the two reads comes after the other side's write: either the waiter sees the
//! mark and does not sleep, or the notifier sees the registration and sets `wake_bit` in the word
//! before its `FUTEX_WAKE` — and a futex wait on a word that no longer holds the expected value
//! returns at once.
//!
//! # Why the word only needs to outlive the guard
//!
//! A notifier counts itself in `USERS` (SeqCst) before it reads the registration and leaves when
//! it no longer touches the word. Dropping the guard clears the registration (SeqCst) and then
//! waits until `USERS` reads 0 (SeqCst; spinning, then yielding, then sleeping, so that a notifier
//! preempted while counted gets the processor back): a notifier not yet counted then can only read
//! the cleared registration. A notifier never waits, so a signal handler that interrupts the
//! waiting thread itself finishes and the wait ends.
//!
//! Only the main thread registers; [`watch`] on another thread returns an inactive guard. There
//! is one registration at a time: a wait's check runs after its guard is gone, so a check that
//! itself waits registers afresh.

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32 as StdAtomicU32, AtomicUsize, Ordering};

use crate::loom::AtomicU32;
use crate::{Interrupt, check_signals, futex, interrupt, is_main_thread};

/// The registered futex word of the main thread's current wait; null when none.
static WORD: AtomicPtr<AtomicU32> = AtomicPtr::new(ptr::null_mut());
/// The bit a notifier sets in `WORD`; only changed while `WORD` is null and `USERS` is 0.
static WAKE_BIT: StdAtomicU32 = StdAtomicU32::new(0);
/// Notifiers that may be using the registration right now.
static USERS: AtomicUsize = AtomicUsize::new(0);
/// Set by [`notify`], consumed by [`run_pending`].
static NOTIFIED: AtomicBool = AtomicBool::new(false);
/// The embedder's check, as a pointer to a `fn() -> Result<(), Interrupt>`; null when none.
static CHECK: AtomicPtr<()> = AtomicPtr::new(ptr::null_mut());

/// Tells the main thread that a real signal arrived: marks it pending and wakes a watched wait.
/// Async-signal-safe: atomics and a raw `futex` system call only, no lock, no allocation.
///
/// ```
/// thread_core::signals::notify();
/// assert!(thread_core::signals::pending());
/// ```
pub fn notify() {
    // SeqCst: the mark precedes the registration read in `wake_main` (see the module docs).
    NOTIFIED.store(true, Ordering::SeqCst);
    wake_main();
}

/// Registers what a woken main-thread wait runs for real signals (for an embedded CPython: run
/// the pending Python signal handlers). Replaces any earlier check.
///
/// ```
/// fn check() -> Result<(), thread_core::Interrupt> { Ok(()) }
/// thread_core::signals::set_check(check);
/// ```
pub fn set_check(check: fn() -> Result<(), Interrupt>) {
    // Release: a `run_pending` that loads the pointer (Acquire) sees what the embedder set up
    // before registering it.
    CHECK.store(check as *mut (), Ordering::Release);
}

/// Whether something waits for the main thread: an `interrupt_main` mark, or a [`notify`] that
/// [`run_pending`] has not consumed yet.
///
/// ```
/// thread_core::signals::notify();
/// assert!(thread_core::signals::pending());
/// ```
pub fn pending() -> bool {
    // SeqCst: the read after registering in `watch` (see the module docs).
    NOTIFIED.load(Ordering::SeqCst) || interrupt::marks_pending()
}

/// On the main thread: consumes the notify flag, runs the registered check (see the module docs
/// for why it runs even without a [`notify`]), then runs [`check_signals`]. The first error is
/// returned (what is left stays pending). Elsewhere it does nothing and returns `Ok(())`.
///
/// ```
/// // Not the main thread (doc tests run on a harness thread): nothing runs.
/// assert!(thread_core::signals::run_pending().is_ok());
/// ```
pub fn run_pending() -> Result<(), Interrupt> {
    if !is_main_thread() {
        return Ok(());
    }
    // Acquire: the check sees what the signal handler recorded before `notify`.
    NOTIFIED.swap(false, Ordering::Acquire);
    // Acquire: pairs with `set_check`'s Release.
    let check = CHECK.load(Ordering::Acquire);
    if !check.is_null() {
        // SAFETY: `CHECK` only ever holds null or a `fn() -> Result<(), Interrupt>` stored by
        // `set_check`; function pointers and data pointers have the same size here.
        let check: fn() -> Result<(), Interrupt> = unsafe { std::mem::transmute(check) };
        check()?;
    }
    check_signals()
}

/// Sets the registered word's wake bit and wakes its sleepers. Async-signal-safe.
pub(crate) fn wake_main() {
    // SeqCst: counted before the registration is read (see the module docs).
    USERS.fetch_add(1, Ordering::SeqCst);
    let word = WORD.load(Ordering::SeqCst);
    if !word.is_null() {
        // Relaxed: written before `WORD` was published, and our SeqCst load of `WORD` acquired it.
        let wake_bit = WAKE_BIT.load(Ordering::Relaxed);
        // SAFETY: the word is registered, and the guard that registered it waits for `USERS` to
        // drop to 0 before it lets the word go, so it is alive until our `fetch_sub` below.
        let word = unsafe { &*word };
        // Release: the sleeper that sees the bit (Acquire) sees the pending mark.
        word.fetch_or(wake_bit, Ordering::Release);
        // Wake all: other threads may sleep on the same word, and the main thread must be
        // among the woken.
        futex::wake_all(word);
    }
    // Release: our last use of the word happens before a guard's drop that reads 0.
    USERS.fetch_sub(1, Ordering::Release);
}

/// The registration of a futex word for the duration of a main-thread wait; see [`watch`].
///
/// Neither `Send` nor `Sync`: it is dropped on the main thread that made it.
#[derive(Debug)]
#[must_use = "the word is watched only while the guard lives"]
pub struct WatchGuard<'a> {
    /// The registered word; null for an inactive guard (made off the main thread).
    word: *mut AtomicU32,
    _word: PhantomData<&'a AtomicU32>,
}

impl WatchGuard<'_> {
    /// Whether the guard registered its word: made on the main thread. A waiter checks
    /// [`pending`] only under an active guard; off the main thread nothing would consume it.
    ///
    /// ```
    /// use std::sync::atomic::AtomicU32;
    /// let active = std::thread::spawn(|| {
    ///     let word = AtomicU32::new(0);
    ///     // SAFETY: the guard is dropped at the end of this closure, before `word`.
    ///     let guard = unsafe { thread_core::signals::watch(&word, 1) };
    ///     guard.is_active()
    /// });
    /// // A thread it spawns is never the main thread.
    /// assert!(!active.join().unwrap());
    /// ```
    pub fn is_active(&self) -> bool {
        !self.word.is_null()
    }
}

/// Registers `word`, the futex word the calling main thread is about to sleep on, until the
/// guard drops: [`notify`] and [`interrupt_main`](crate::interrupt_main) then
/// `fetch_or(wake_bit, Release)` it and `FUTEX_WAKE` its sleepers. Register, then check
/// [`pending`], then sleep: no notify is missed (see the module docs). On a thread other than the
/// main one the guard is inactive. One registration at a time: a second `watch` replaces the
/// first, and either guard's drop leaves no word registered.
///
/// # Safety
///
/// The guard must be dropped, not leaked (`mem::forget`), before `word` is freed: a notifier on
/// any thread, or in a signal handler, writes to the registered word until the guard's drop
/// unregisters it.
///
/// ```
/// use std::sync::atomic::AtomicU32;
/// let word = AtomicU32::new(0);
/// {
///     // SAFETY: the guard is dropped at the end of this block, before `word`.
///     let _guard = unsafe { thread_core::signals::watch(&word, 0b10) };
///     // ... check `pending()`, then sleep on `word` ...
/// } // unregistered here; `word` may go
/// ```
pub unsafe fn watch(word: &AtomicU32, wake_bit: u32) -> WatchGuard<'_> {
    if !is_main_thread() {
        return WatchGuard {
            word: ptr::null_mut(),
            _word: PhantomData,
        };
    }
    let word = ptr::from_ref(word).cast_mut();
    // SeqCst: see the module docs.
    WORD.store(ptr::null_mut(), Ordering::SeqCst);
    drain_notifiers();
    // Relaxed: published by the SeqCst store of `WORD` below, while `WORD` is null and no
    // notifier is counted.
    WAKE_BIT.store(wake_bit, Ordering::Relaxed);
    WORD.store(word, Ordering::SeqCst);
    WatchGuard {
        word,
        _word: PhantomData,
    }
}

/// Waits until no notifier that may have read an earlier registration is still using it.
///
/// A notifier's use is a few atomics and one `futex` call, so the wait is nearly always over
/// after a few spins. But a notifier on another thread can be preempted while it is counted; a
/// drain that only spun would then burn the main thread's time slice (or, on the same CPU, keep
/// the notifier from running at all) until the scheduler stepped in. So it backs off: a few spins,
/// then yields, then sleeps of growing length, up to 1 ms.
fn drain_notifiers() {
    let mut round = 0u32;
    // SeqCst: after the registration was cleared, a notifier not yet counted reads null.
    while USERS.load(Ordering::SeqCst) != 0 {
        drain_backoff(round);
        round = round.saturating_add(1);
    }
}

/// One pause of [`drain_notifiers`]'s wait; `round` counts the pauses so far.
#[cfg(not(loom))]
fn drain_backoff(round: u32) {
    /// Spins before the drain starts yielding.
    const DRAIN_SPINS: u32 = 16;
    /// Yields before it starts sleeping.
    const DRAIN_YIELDS: u32 = 8;
    /// The longest sleep between two looks at the notifier count.
    const MAX_DRAIN_SLEEP: std::time::Duration = std::time::Duration::from_millis(1);
    if round < DRAIN_SPINS {
        crate::loom::spin_hint();
    } else if round < DRAIN_SPINS + DRAIN_YIELDS {
        std::thread::yield_now();
    } else {
        let doublings = (round - DRAIN_SPINS - DRAIN_YIELDS).min(10);
        let sleep = std::time::Duration::from_micros(1 << doublings).min(MAX_DRAIN_SLEEP);
        std::thread::sleep(sleep);
    }
}

/// Under loom, every pause lets the model's scheduler run another thread.
#[cfg(loom)]
fn drain_backoff(_round: u32) {
    crate::loom::spin_hint();
}

impl Drop for WatchGuard<'_> {
    fn drop(&mut self) {
        if self.word.is_null() {
            return;
        }
        // Unregister only our own word: if another registration replaced it (a second `watch`,
        // or a new main thread's), that registration already drained the notifiers of ours.
        // SeqCst: see the module docs.
        let ours = WORD
            .compare_exchange(
                self.word,
                ptr::null_mut(),
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok();
        if ours {
            drain_notifiers();
        }
    }
}

/// The child side of `fork`: only the forking thread exists. A notifier that was counted in
/// `USERS` at the fork will never leave, and the registered word belonged to a wait that does
/// not exist in the child.
pub(crate) fn after_fork_in_child() {
    // Relaxed: the child has one thread; there is no one to synchronise with.
    WORD.store(ptr::null_mut(), Ordering::Relaxed);
    USERS.store(0, Ordering::Relaxed);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// CPU time the calling thread has used.
    fn thread_cpu_time() -> Duration {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid out-pointer; the clock id is a constant Linux supports.
        let done = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        assert_eq!(done, 0);
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    }

    /// A notifier that is counted but not running (preempted) does not make the drain burn the
    /// CPU: while it waits for the notifier, the draining thread gives the processor away, so its
    /// CPU time stays far below the time it waited. (A drain that only spun uses the CPU for as
    /// long as the scheduler lets it; the bound below leaves the sleeping drain ample room.)
    #[test]
    fn drain_gives_the_processor_away_while_a_notifier_is_preempted() {
        const HELD: Duration = Duration::from_millis(100);
        // SeqCst, as the notifiers count themselves; a stand-in for a preempted notifier.
        USERS.fetch_add(1, Ordering::SeqCst);
        let counted_at = Instant::now();
        let notifier = std::thread::spawn(move || {
            std::thread::sleep(HELD);
            USERS.fetch_sub(1, Ordering::SeqCst);
        });
        let cpu_before = thread_cpu_time();
        drain_notifiers();
        let cpu = thread_cpu_time() - cpu_before;
        let waited = counted_at.elapsed();
        notifier.join().unwrap();
        // Lower bound: the drain cannot end before the notifier left.
        assert!(waited >= HELD, "drained after {waited:?}");
        assert!(
            cpu < HELD / 2,
            "the drain used {cpu:?} of CPU while it waited {waited:?}"
        );
    }
}
