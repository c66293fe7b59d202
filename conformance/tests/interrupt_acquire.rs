//! X-INTR-3 and LOCK-13 through the public API: an `interrupt_main` or a real signal wakes the
//! main thread blocked in `Lock::acquire` / `RLock::acquire`. `harness = false`: the waits must
//! run on the process's main thread, and signal handlers and pending interrupts are
//! process-wide. Prints libtest-style lines for `cargo xtask verify`.
//!
//! Each scenario's helper thread sleeps a little before it interrupts, so that the main thread
//! is most likely asleep in the wait by then; the outcome asserted is the same if it is not yet
//! (a pending interrupt is seen before the wait sleeps). A watchdog fails the run if a wait is
//! never woken.
//!
//! Atomic orderings: every flag and counter here is SeqCst, the test's own observation (and
//! the signal handler's flag must be seen by the check after `notify`), kept independent of the
//! orderings of the code under test.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use thread_core::{
    Interrupt, SignalHandler, check_signals, interrupt_main, set_signal_handler,
    start_joinable_thread,
};
use thread_lock::{Lock, LockError, RLock};

const SETTLE: Duration = Duration::from_millis(30);

macro_rules! check {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

fn interrupt_type(result: &Result<bool, LockError>) -> Option<String> {
    result.as_ref().err().map(|e| e.python_type().to_owned())
}

/// A helper thread that takes `lock` (through `take`), signals, waits `SETTLE`, runs `act`,
/// and holds the lock until `done` is set; then releases it through `release`.
fn holder(
    take: impl FnOnce() + Send + 'static,
    act: impl FnOnce() + Send + 'static,
    release: impl FnOnce() + Send + 'static,
    done: Arc<AtomicBool>,
) -> (thread_core::ThreadHandle, Arc<AtomicBool>) {
    let taken = Arc::new(AtomicBool::new(false));
    let signal = Arc::clone(&taken);
    let handle = start_joinable_thread(move || {
        take();
        // SeqCst: the test's own flags, kept simple.
        signal.store(true, Ordering::SeqCst);
        std::thread::sleep(SETTLE);
        act();
        while !done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        release();
    })
    .expect("spawn");
    while !taken.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    (handle, taken)
}

/// proves: X-INTR-3, LOCK-13
fn interrupt_main_wakes_a_blocked_lock_acquire() -> Result<(), String> {
    let lock = Arc::new(Lock::new());
    let done = Arc::new(AtomicBool::new(false));
    let (l1, l2) = (Arc::clone(&lock), Arc::clone(&lock));
    let (handle, _) = holder(
        move || l1.acquire_blocking(),
        || interrupt_main(libc::SIGINT).expect("interrupt_main"),
        move || l2.release().expect("release"),
        Arc::clone(&done),
    );
    let got = lock.acquire(true, -1.0);
    let held_by_helper = lock.locked();
    let consumed = check_signals().is_ok();
    done.store(true, Ordering::SeqCst);
    handle.join(None).unwrap();
    check!(
        interrupt_type(&got).as_deref() == Some("KeyboardInterrupt"),
        "acquire gave {got:?}"
    );
    check!(held_by_helper, "the lock changed hands");
    check!(consumed, "the interrupt was left pending");
    check!(!lock.locked(), "the interrupted acquire took the lock");
    Ok(())
}

/// proves: X-INTR-3, RLOCK-6
fn interrupt_main_wakes_a_blocked_rlock_acquire() -> Result<(), String> {
    let rlock = Arc::new(RLock::new());
    let done = Arc::new(AtomicBool::new(false));
    let (r1, r2) = (Arc::clone(&rlock), Arc::clone(&rlock));
    let (handle, _) = holder(
        move || {
            r1.acquire(true, -1.0).expect("acquire");
        },
        || interrupt_main(libc::SIGINT).expect("interrupt_main"),
        move || r2.release().expect("release"),
        Arc::clone(&done),
    );
    let got = rlock.acquire(true, -1.0);
    let owned = rlock.is_owned();
    let consumed = check_signals().is_ok();
    done.store(true, Ordering::SeqCst);
    handle.join(None).unwrap();
    check!(
        interrupt_type(&got).as_deref() == Some("KeyboardInterrupt"),
        "acquire gave {got:?}"
    );
    check!(!owned, "the interrupted acquire owns the RLock");
    check!(consumed, "the interrupt was left pending");
    Ok(())
}

/// A handler for SIGUSR1 that counts its calls and succeeds.
fn counting_handler() -> Arc<AtomicUsize> {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    set_signal_handler(
        libc::SIGUSR1,
        SignalHandler::Handler(Arc::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })),
    )
    .expect("set_signal_handler");
    calls
}

/// proves: X-INTR-3, LOCK-13
fn a_handler_that_succeeds_lets_the_acquire_go_on() -> Result<(), String> {
    let calls = counting_handler();
    let lock = Arc::new(Lock::new());
    let done = Arc::new(AtomicBool::new(false));
    let (l1, l2) = (Arc::clone(&lock), Arc::clone(&lock));
    // The helper releases right after interrupting (done is already set).
    done.store(true, Ordering::SeqCst);
    let (handle, _) = holder(
        move || l1.acquire_blocking(),
        || {
            interrupt_main(libc::SIGUSR1).expect("interrupt_main");
            std::thread::sleep(SETTLE);
        },
        move || l2.release().expect("release"),
        done,
    );
    let got = lock.acquire(true, -1.0);
    handle.join(None).unwrap();
    // Had this thread been too slow to be waiting when the interrupt came, the mark is still
    // pending: this check runs it, so the handler runs exactly once either way.
    let late = check_signals();
    set_signal_handler(libc::SIGUSR1, SignalHandler::Default).expect("reset");
    check!(late.is_ok(), "the check gave {late:?}");
    check!(got == Ok(true), "acquire gave {got:?}");
    check!(
        calls.load(Ordering::SeqCst) == 1,
        "the handler ran {} times",
        calls.load(Ordering::SeqCst)
    );
    lock.release().map_err(|e| e.to_string())?;
    Ok(())
}

/// proves: X-INTR-3, LOCK-13, LOCK-7
fn a_timed_acquire_keeps_its_deadline_across_an_interrupt() -> Result<(), String> {
    let calls = counting_handler();
    let lock = Arc::new(Lock::new());
    let done = Arc::new(AtomicBool::new(false));
    let (l1, l2) = (Arc::clone(&lock), Arc::clone(&lock));
    let (handle, _) = holder(
        move || l1.acquire_blocking(),
        || interrupt_main(libc::SIGUSR1).expect("interrupt_main"),
        move || l2.release().expect("release"),
        Arc::clone(&done),
    );
    let started = Instant::now();
    let got = lock.acquire(true, 0.1);
    let took = started.elapsed();
    done.store(true, Ordering::SeqCst);
    handle.join(None).unwrap();
    // Had this thread been too slow to be waiting when the interrupt came, the mark is still
    // pending: this check runs it, so the handler runs exactly once either way.
    let late = check_signals();
    set_signal_handler(libc::SIGUSR1, SignalHandler::Default).expect("reset");
    check!(late.is_ok(), "the check gave {late:?}");
    check!(got == Ok(false), "acquire gave {got:?}");
    check!(took >= Duration::from_millis(100), "gave up after {took:?}");
    check!(took < Duration::from_secs(5), "nothing insane: {took:?}");
    check!(
        calls.load(Ordering::SeqCst) == 1,
        "the handler ran {} times",
        calls.load(Ordering::SeqCst)
    );
    Ok(())
}

/// proves: X-INTR-3
fn typed_forms_wait_on_and_leave_the_interrupt_pending() -> Result<(), String> {
    let lock = Arc::new(Lock::new());
    let done = Arc::new(AtomicBool::new(true));
    let (l1, l2) = (Arc::clone(&lock), Arc::clone(&lock));
    let (handle, _) = holder(
        move || l1.acquire_blocking(),
        || {
            interrupt_main(libc::SIGINT).expect("interrupt_main");
            std::thread::sleep(SETTLE);
        },
        move || l2.release().expect("release"),
        done,
    );
    lock.acquire_blocking();
    // Checked before the join: a main-thread join is interruptible (HANDLE-2) and would run the
    // pending handler itself.
    let pending = check_signals();
    handle.join(None).map_err(|e| e.to_string())?;
    lock.release().map_err(|e| e.to_string())?;
    check!(
        pending.as_ref().err().map(Interrupt::python_type) == Some("KeyboardInterrupt"),
        "the interrupt was not left pending: {pending:?}"
    );
    check!(check_signals().is_ok(), "the check did not consume it");
    Ok(())
}

static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigusr2(_: libc::c_int) {
    // Async-signal-safe: an atomic store and thread-core's notify (atomics and a futex wake).
    SIGNALLED.store(true, Ordering::SeqCst);
    thread_core::signals::notify();
}

fn embedder_check() -> Result<(), Interrupt> {
    if SIGNALLED.swap(false, Ordering::SeqCst) {
        Err(Interrupt::new(libc::SIGUSR2, "OSError", "signal arrived"))
    } else {
        Ok(())
    }
}

/// proves: LOCK-13
fn a_real_signal_wakes_the_wait_and_runs_the_check() -> Result<(), String> {
    thread_core::signals::set_check(embedder_check);
    // SAFETY: installs a handler that only does async-signal-safe work; `action` is fully
    // initialised (zeroed, then the handler and an empty mask).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigusr2 as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        check!(
            libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()) == 0,
            "sigaction failed"
        );
    }
    let main = thread_core::get_ident().as_u64() as libc::pthread_t;
    let lock = Arc::new(Lock::new());
    let done = Arc::new(AtomicBool::new(false));
    let (l1, l2) = (Arc::clone(&lock), Arc::clone(&lock));
    let (handle, _) = holder(
        move || l1.acquire_blocking(),
        move || {
            // SAFETY: `main` is the live main thread's pthread_t (CORE-2: ident = pthread_self).
            unsafe { libc::pthread_kill(main, libc::SIGUSR2) };
        },
        move || l2.release().expect("release"),
        Arc::clone(&done),
    );
    let got = lock.acquire(true, -1.0);
    done.store(true, Ordering::SeqCst);
    handle.join(None).unwrap();
    let error = got
        .as_ref()
        .err()
        .map(|e| (e.python_type().to_owned(), e.to_string()));
    check!(
        error == Some(("OSError".to_owned(), "signal arrived".to_owned())),
        "acquire gave {got:?}"
    );
    check!(!lock.locked(), "the woken acquire took the lock");
    Ok(())
}

/// A scenario of this harness: its name and what runs it.
type Test = (&'static str, fn() -> Result<(), String>);

fn main() -> ExitCode {
    // A wait that is never woken must fail the run, not hang it.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        println!("interrupt_acquire: a wait was never woken (60 s watchdog)");
        std::process::exit(1);
    });
    let tests: [Test; 6] = [
        (
            "interrupt_main_wakes_a_blocked_lock_acquire",
            interrupt_main_wakes_a_blocked_lock_acquire,
        ),
        (
            "interrupt_main_wakes_a_blocked_rlock_acquire",
            interrupt_main_wakes_a_blocked_rlock_acquire,
        ),
        (
            "a_handler_that_succeeds_lets_the_acquire_go_on",
            a_handler_that_succeeds_lets_the_acquire_go_on,
        ),
        (
            "a_timed_acquire_keeps_its_deadline_across_an_interrupt",
            a_timed_acquire_keeps_its_deadline_across_an_interrupt,
        ),
        (
            "typed_forms_wait_on_and_leave_the_interrupt_pending",
            typed_forms_wait_on_and_leave_the_interrupt_pending,
        ),
        (
            "a_real_signal_wakes_the_wait_and_runs_the_check",
            a_real_signal_wakes_the_wait_and_runs_the_check,
        ),
    ];
    println!("\nrunning {} tests", tests.len());
    let mut failed = Vec::new();
    for (name, test) in tests {
        match test() {
            Ok(()) => println!("test {name} ... ok"),
            Err(why) => {
                println!("test {name} ... FAILED");
                failed.push((name, why));
            }
        }
    }
    for (name, why) in &failed {
        println!("\n---- {name} ----\n{why}");
    }
    let passed = tests.len() - failed.len();
    if failed.is_empty() {
        println!("\ntest result: ok. {passed} passed; 0 failed");
        ExitCode::SUCCESS
    } else {
        println!(
            "\ntest result: FAILED. {passed} passed; {} failed",
            failed.len()
        );
        ExitCode::FAILURE
    }
}
