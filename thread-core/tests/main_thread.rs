//! Tests that need the process's main thread (`harness = false`): CORE-3 and CORE-9 on the main
//! thread, `interrupt_main` and `check_signals` (INTR-1, INTR-2), and the interrupt seam
//! (`signals::{notify, set_check, pending, run_pending, watch}`) used by X-INTR-3 and LOCK-13.
//!
//! The tests run one after another on the main thread, in the order listed in `main`; each leaves
//! no signal pending and restores the handlers it changed.

mod support;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use thread_core::{
    Interrupt, SignalHandler, ThreadError, WaitSlices, check_signals, get_ident, get_native_id,
    interrupt_main, is_main_thread, main_thread_ident, set_main_thread, set_signal_handler,
    signals,
};

/// proves: CORE-9
fn main_thread_is_recorded_at_load() {
    // Nothing named the main thread: the load-time constructor did (this is a debug build).
    assert_eq!(main_thread_ident(), get_ident());
    assert!(is_main_thread());
    let other = std::thread::spawn(|| (is_main_thread(), main_thread_ident()))
        .join()
        .unwrap();
    assert_eq!(other, (false, get_ident()));
}

/// proves: CORE-9
fn set_main_thread_refuses_a_second_call() {
    assert_eq!(set_main_thread(), Ok(()));
    assert_eq!(main_thread_ident(), get_ident());
    let err = set_main_thread().unwrap_err();
    assert_eq!(err, ThreadError::MainThreadAlreadySet);
    assert_eq!(err.python_type(), "RuntimeError");
    let from_other = std::thread::spawn(set_main_thread).join().unwrap();
    assert!(from_other.is_err());
    assert!(is_main_thread());
}

/// proves: CORE-3
fn main_thread_native_id_is_the_process_id() {
    // SAFETY: `getpid` has no preconditions.
    assert_eq!(get_native_id(), unsafe { libc::getpid() } as u64);
}

/// proves: INTR-1
fn interrupt_main_checks_the_signal_number() {
    for bad in [0, -1, 65, 1000, i32::MIN, i32::MAX] {
        let err = interrupt_main(bad).unwrap_err();
        assert_eq!(err, ThreadError::SignalOutOfRange);
        assert_eq!(err.python_type(), "ValueError");
        assert_eq!(err.to_string(), "signal number out of range");
        assert!(set_signal_handler(bad, SignalHandler::Ignore).is_err());
    }
    assert!(!signals::pending());
    // 64 is in range (NSIG is 65); its handler is default, so nothing is marked.
    assert_eq!(interrupt_main(64), Ok(()));
    assert!(!signals::pending());
    assert_eq!(check_signals(), Ok(()));
}

static OS_SIGINT: AtomicBool = AtomicBool::new(false);

extern "C" fn os_sigint(_: libc::c_int) {
    OS_SIGINT.store(true, Ordering::Relaxed);
}

/// proves: INTR-1, INTR-2
fn default_sigint_fails_with_keyboard_interrupt_and_sends_no_os_signal() {
    // SAFETY: installs an async-signal-safe handler (one atomic store) for SIGINT.
    let previous = unsafe {
        libc::signal(
            libc::SIGINT,
            os_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        )
    };
    assert_eq!(interrupt_main(libc::SIGINT), Ok(()));
    assert!(signals::pending());
    let err = check_signals().unwrap_err();
    assert_eq!(
        (err.signum(), err.python_type(), err.to_string().as_str()),
        (2, "KeyboardInterrupt", "")
    );
    assert!(!signals::pending());
    assert_eq!(check_signals(), Ok(()));
    assert!(
        !OS_SIGINT.load(Ordering::Relaxed),
        "interrupt_main sent an OS signal"
    );
    // SAFETY: restores the disposition that was there.
    unsafe { libc::signal(libc::SIGINT, previous) };
}

/// proves: INTR-2
fn ignore_and_default_handlers_make_interrupt_main_do_nothing() {
    let old = set_signal_handler(libc::SIGINT, SignalHandler::Ignore).unwrap();
    assert!(matches!(old, SignalHandler::Handler(_)));
    assert_eq!(interrupt_main(libc::SIGINT), Ok(()));
    assert!(!signals::pending());
    assert_eq!(check_signals(), Ok(()));
    assert!(matches!(
        set_signal_handler(libc::SIGINT, SignalHandler::Default),
        Ok(SignalHandler::Ignore)
    ));
    assert_eq!(interrupt_main(libc::SIGINT), Ok(()));
    assert!(!signals::pending());
    // Put the original back: it still raises KeyboardInterrupt.
    assert!(matches!(
        set_signal_handler(libc::SIGINT, old),
        Ok(SignalHandler::Default)
    ));
    interrupt_main(libc::SIGINT).unwrap();
    assert_eq!(
        check_signals().unwrap_err().python_type(),
        "KeyboardInterrupt"
    );
    // Every other signal starts at default.
    assert!(matches!(
        set_signal_handler(libc::SIGTERM, SignalHandler::Default),
        Ok(SignalHandler::Default)
    ));
}

fn counting(counter: &'static AtomicUsize, fail: bool) -> SignalHandler {
    SignalHandler::Handler(Arc::new(move |signum| {
        counter.fetch_add(1, Ordering::SeqCst);
        if fail {
            Err(Interrupt::new(
                signum,
                "RuntimeError",
                format!("signal {signum}"),
            ))
        } else {
            Ok(())
        }
    }))
}

/// proves: INTR-2
fn marks_coalesce() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    set_signal_handler(libc::SIGUSR1, counting(&RUNS, false)).unwrap();
    for _ in 0..5 {
        interrupt_main(libc::SIGUSR1).unwrap();
    }
    // From other threads too.
    std::thread::spawn(|| interrupt_main(libc::SIGUSR1).unwrap())
        .join()
        .unwrap();
    assert_eq!(check_signals(), Ok(()));
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(check_signals(), Ok(()));
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    set_signal_handler(libc::SIGUSR1, SignalHandler::Default).unwrap();
}

/// proves: INTR-2
fn check_runs_in_increasing_order_and_stops_at_first_failure() {
    static LOW: AtomicUsize = AtomicUsize::new(0);
    static MID: AtomicUsize = AtomicUsize::new(0);
    static HIGH: AtomicUsize = AtomicUsize::new(0);
    set_signal_handler(5, counting(&LOW, false)).unwrap();
    set_signal_handler(10, counting(&MID, true)).unwrap();
    set_signal_handler(12, counting(&HIGH, false)).unwrap();
    for s in [12, 10, 5] {
        interrupt_main(s).unwrap();
    }
    let err = check_signals().unwrap_err();
    assert_eq!(
        (err.signum(), err.python_type(), err.to_string().as_str()),
        (10, "RuntimeError", "signal 10")
    );
    assert_eq!(
        (
            LOW.load(Ordering::SeqCst),
            MID.load(Ordering::SeqCst),
            HIGH.load(Ordering::SeqCst)
        ),
        (1, 1, 0)
    );
    assert!(signals::pending(), "12 stays pending");
    assert_eq!(check_signals(), Ok(()));
    assert_eq!(HIGH.load(Ordering::SeqCst), 1);
    assert!(!signals::pending());
    for s in [5, 10, 12] {
        set_signal_handler(s, SignalHandler::Default).unwrap();
    }
}

/// proves: INTR-2
fn check_signals_does_nothing_off_the_main_thread() {
    interrupt_main(libc::SIGINT).unwrap();
    std::thread::spawn(|| {
        assert_eq!(check_signals(), Ok(()));
        assert_eq!(signals::run_pending(), Ok(()));
    })
    .join()
    .unwrap();
    assert!(signals::pending());
    assert_eq!(
        check_signals().unwrap_err().python_type(),
        "KeyboardInterrupt"
    );
}

static CHECKS: AtomicUsize = AtomicUsize::new(0);
/// What the embedder's own signal handler records (CPython's "tripped" flags).
static RECORDED: AtomicBool = AtomicBool::new(false);

fn embedder_check() -> Result<(), Interrupt> {
    CHECKS.fetch_add(1, Ordering::SeqCst);
    if RECORDED.swap(false, Ordering::SeqCst) {
        return Err(Interrupt::new(libc::SIGTERM, "SystemExit", "terminated"));
    }
    Ok(())
}

/// proves: INTR-2
fn run_pending_runs_the_registered_check_then_the_marks() {
    signals::set_check(embedder_check);
    // A wait woken by EINTR from a handler that never called notify still runs the check.
    assert_eq!(signals::run_pending(), Ok(()));
    assert_eq!(CHECKS.load(Ordering::SeqCst), 1);
    RECORDED.store(true, Ordering::SeqCst);
    signals::notify();
    signals::notify();
    assert!(signals::pending());
    interrupt_main(libc::SIGINT).unwrap();
    let err = signals::run_pending().unwrap_err();
    assert_eq!(
        (err.python_type(), err.to_string().as_str()),
        ("SystemExit", "terminated")
    );
    assert_eq!(CHECKS.load(Ordering::SeqCst), 2);
    // The check's failure left the interrupt_main mark pending; the notifies were consumed.
    assert!(signals::pending());
    assert_eq!(
        signals::run_pending().unwrap_err().python_type(),
        "KeyboardInterrupt"
    );
    assert_eq!(CHECKS.load(Ordering::SeqCst), 3);
    assert!(!signals::pending());
    fn no_check() -> Result<(), Interrupt> {
        Ok(())
    }
    signals::set_check(no_check);
}

fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as _,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    // SAFETY: the word is alive for the call; the timespec is valid.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
        );
    }
}

/// Registers, checks `pending()`, sleeps on the word; a notifier on another thread must wake it.
fn sleep_until_woken(wake: fn()) {
    let word = AtomicU32::new(0);
    let notifier = std::thread::spawn(wake);
    {
        // SAFETY: the guard is dropped at the end of this block, before `word`.
        let _guard = unsafe { signals::watch(&word, 0b100) };
        assert!(_guard.is_active());
        // The documented protocol: register, check pending(), then sleep.
        while !signals::pending() {
            // A generous safety net; the wake-up does not depend on it.
            futex_wait(&word, 0, Duration::from_secs(20));
            if word.load(Ordering::Acquire) & 0b100 != 0 {
                break;
            }
        }
        assert!(signals::pending());
    }
    notifier.join().unwrap();
}

/// proves: INTR-2
fn watch_wakes_the_main_thread_for_notify_and_interrupt_main() {
    sleep_until_woken(signals::notify);
    signals::run_pending().unwrap();
    sleep_until_woken(|| interrupt_main(libc::SIGINT).unwrap());
    assert_eq!(
        signals::run_pending().unwrap_err().python_type(),
        "KeyboardInterrupt"
    );
    // After the guard dropped, the word is no longer touched.
    let word = AtomicU32::new(0);
    // SAFETY: dropped at once, before `word`.
    drop(unsafe { signals::watch(&word, 1) });
    signals::notify();
    assert_eq!(word.load(Ordering::SeqCst), 0);
    // A watch off the main thread registers nothing.
    std::thread::spawn(|| {
        let word = AtomicU32::new(0);
        // SAFETY: the guard is dropped at the end of this closure, before `word`.
        let guard = unsafe { signals::watch(&word, 1) };
        assert!(!guard.is_active());
        signals::notify();
        assert_eq!(word.load(Ordering::SeqCst), 0);
    })
    .join()
    .unwrap();
    signals::run_pending().unwrap();
    assert!(!signals::pending());
}

/// proves: INTR-2
fn a_second_watch_replaces_the_first_and_either_drop_unregisters() {
    let outer = AtomicU32::new(0);
    let inner = AtomicU32::new(0);
    // SAFETY: both guards are dropped below, before the words (declared first, dropped last).
    let g1 = unsafe { signals::watch(&outer, 1) };
    {
        // SAFETY: as above.
        let _g2 = unsafe { signals::watch(&inner, 2) };
        signals::notify();
        assert_eq!(
            (outer.load(Ordering::SeqCst), inner.load(Ordering::SeqCst)),
            (0, 2)
        );
    }
    // The inner drop left nothing registered; the outer guard's drop has nothing to undo.
    signals::notify();
    assert_eq!(
        (outer.load(Ordering::SeqCst), inner.load(Ordering::SeqCst)),
        (0, 2)
    );
    drop(g1);
    signals::run_pending().unwrap();
}

/// `interrupt_main` wakes a join on the main thread (X-INTR-3 as amended, HANDLE-2): the default
/// SIGINT handler's KeyboardInterrupt is returned, the interrupt is consumed, and the thread runs
/// on and stays joinable.
/// proves: X-INTR-3, HANDLE-2
fn join_on_the_main_thread_is_interrupted_by_interrupt_main() {
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let handle = thread_core::start_joinable_thread(move || {
        // The interrupt arrives while the main thread is in join (or before it: either way the
        // join sees it pending); the thread then runs until told to end.
        interrupt_main(libc::SIGINT).unwrap();
        let _ = go_rx.recv();
    })
    .unwrap();
    let err = handle.join(None).unwrap_err();
    assert!(matches!(err, ThreadError::Interrupted(ref i) if i.signum() == libc::SIGINT));
    assert_eq!(err.python_type(), "KeyboardInterrupt");
    assert!(!handle.is_done(), "the thread runs on");
    assert!(!signals::pending(), "join consumed the interrupt");
    go_tx.send(()).unwrap();
    handle.join(None).unwrap();
    assert!(handle.is_done());
}

/// On the main thread a wait is cut into slices of at most the slice's length, and the slice
/// that reaches the deadline is the last; on another thread the wait is one slice.
/// proves: X-INTR-3
fn wait_slices_cut_main_thread_waits() {
    let ms = Duration::from_millis;
    let mut slices = WaitSlices::new(Some(ms(120)), ms(50));
    assert_eq!(slices.limit(), Some(ms(50)));
    assert!(!slices.is_last(slices.limit()));
    std::thread::sleep(ms(50));
    slices.advance();
    let left = slices.limit().unwrap();
    assert!(left <= ms(50));
    std::thread::sleep(ms(80));
    slices.advance();
    // The deadline has passed: a last slice of nothing.
    assert_eq!(slices.limit(), Some(Duration::ZERO));
    assert!(slices.is_last(slices.limit()));
    let forever = WaitSlices::new(None, ms(50));
    assert_eq!(forever.limit(), Some(ms(50)));
    assert!(!forever.is_last(forever.limit()));
    let elsewhere = std::thread::spawn(move || {
        let slices = WaitSlices::new(Some(ms(120)), ms(50));
        (slices.limit(), WaitSlices::new(None, ms(50)).limit())
    })
    .join()
    .unwrap();
    assert_eq!(elsewhere, (Some(ms(120)), None));
}

fn main() -> ExitCode {
    let tests: &[(&str, fn())] = &[
        (
            "main_thread_is_recorded_at_load",
            main_thread_is_recorded_at_load,
        ),
        (
            "main_thread_native_id_is_the_process_id",
            main_thread_native_id_is_the_process_id,
        ),
        (
            "set_main_thread_refuses_a_second_call",
            set_main_thread_refuses_a_second_call,
        ),
        (
            "interrupt_main_checks_the_signal_number",
            interrupt_main_checks_the_signal_number,
        ),
        (
            "default_sigint_fails_with_keyboard_interrupt_and_sends_no_os_signal",
            default_sigint_fails_with_keyboard_interrupt_and_sends_no_os_signal,
        ),
        (
            "ignore_and_default_handlers_make_interrupt_main_do_nothing",
            ignore_and_default_handlers_make_interrupt_main_do_nothing,
        ),
        ("marks_coalesce", marks_coalesce),
        (
            "wait_slices_cut_main_thread_waits",
            wait_slices_cut_main_thread_waits,
        ),
        (
            "check_runs_in_increasing_order_and_stops_at_first_failure",
            check_runs_in_increasing_order_and_stops_at_first_failure,
        ),
        (
            "check_signals_does_nothing_off_the_main_thread",
            check_signals_does_nothing_off_the_main_thread,
        ),
        (
            "run_pending_runs_the_registered_check_then_the_marks",
            run_pending_runs_the_registered_check_then_the_marks,
        ),
        (
            "watch_wakes_the_main_thread_for_notify_and_interrupt_main",
            watch_wakes_the_main_thread_for_notify_and_interrupt_main,
        ),
        (
            "a_second_watch_replaces_the_first_and_either_drop_unregisters",
            a_second_watch_replaces_the_first_and_either_drop_unregisters,
        ),
        (
            "join_on_the_main_thread_is_interrupted_by_interrupt_main",
            join_on_the_main_thread_is_interrupted_by_interrupt_main,
        ),
    ];
    support::run_tests(tests)
}
