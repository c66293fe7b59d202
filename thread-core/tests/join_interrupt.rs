//! HANDLE-2 (and X-INTR-3 as amended): `ThreadHandle::join` on the main thread is interruptible
//! like a main-thread acquire — by `interrupt_main`, by a real signal whose handler calls
//! `signals::notify`, and by a signal's `EINTR` alone — and so is `shutdown()` (HANDLE-3); off
//! the main thread a join is not.
//!
//! `harness = false`: the tests need the process's main thread and change process-wide state
//! (signal handlers, the signal check, the non-daemon set), so they run one after another in this
//! binary of their own, printing libtest's `test NAME ... ok` lines. Each interrupting helper is
//! the thread being joined: it signals once the main thread sleeps in its wait (seen in
//! `/proc/self/task/<tid>/syscall`), then waits for the main thread's go-ahead (with a ceiling),
//! so a lost interrupt shows as a failed assertion, never as a hang.

mod support;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use thread_core::{
    Builder, Interrupt, SignalHandler, ThreadError, ThreadHandle, check_signals, get_ident,
    get_native_id, interrupt_main, main_thread_ident, set_signal_handler, shutdown,
    shutdown_timeout, signals, start_joinable_thread,
};

const CEILING: Duration = Duration::from_secs(10);

/// Whether the thread with kernel id `tid` is blocked in the kind of futex wait pythread's
/// waits make (`FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG`; the C library's own lock waits use
/// plain `FUTEX_WAIT`).
fn sleeps_in_futex(tid: u64) -> bool {
    let path = format!("/proc/self/task/{tid}/syscall");
    let op = format!("{:#x}", libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG);
    std::fs::read_to_string(path).is_ok_and(|s| {
        let mut fields = s.split_whitespace();
        fields.next() == Some(libc::SYS_futex.to_string().as_str())
            && fields.nth(1) == Some(op.as_str())
    })
}

/// Waits (bounded) until the thread `tid` sleeps in a futex wait.
fn wait_asleep(tid: u64) {
    let start = Instant::now();
    while !sleeps_in_futex(tid) {
        assert!(
            start.elapsed() < CEILING,
            "thread {tid} never went to sleep"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The main thread's kernel id: the process id.
fn main_tid() -> u64 {
    // SAFETY: `getpid` has no preconditions.
    unsafe { libc::getpid() as u64 }
}

/// Sends `signum` to the main thread.
fn signal_main(signum: libc::c_int) {
    // SAFETY: the main thread is alive (it runs the test) and its ident is its `pthread_t`.
    let rc = unsafe { libc::pthread_kill(main_thread_ident().as_u64() as libc::pthread_t, signum) };
    assert_eq!(rc, 0);
}

/// Starts the thread the main thread will join: once the main thread sleeps, it calls
/// `interrupt`, then runs until `go` says so (or the ceiling passes).
fn interrupter(interrupt: impl FnOnce() + Send + 'static) -> (ThreadHandle, mpsc::Sender<()>) {
    interrupter_with(Builder::new(), interrupt)
}

fn interrupter_with(
    builder: Builder,
    interrupt: impl FnOnce() + Send + 'static,
) -> (ThreadHandle, mpsc::Sender<()>) {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let handle = builder
        .spawn_joinable(move || {
            wait_asleep(main_tid());
            interrupt();
            let _ = go_rx.recv_timeout(CEILING);
        })
        .unwrap();
    (handle, go_tx)
}

/// `interrupt_main` wakes the main thread's join, with and without a timeout: the default SIGINT
/// handler's KeyboardInterrupt is returned, the interrupt is consumed, the thread runs on and a
/// later join waits for it.
/// proves: HANDLE-2, X-INTR-3
fn interrupt_main_interrupts_a_join() {
    for timeout in [None, Some(Duration::from_secs(30))] {
        let (handle, go) = interrupter(|| interrupt_main(libc::SIGINT).unwrap());
        let start = Instant::now();
        let err = handle.join(timeout).unwrap_err();
        assert!(start.elapsed() < CEILING, "woken by the interrupt");
        assert!(matches!(err, ThreadError::Interrupted(ref i) if i.signum() == libc::SIGINT));
        assert_eq!(
            (err.python_type(), err.to_string().as_str()),
            ("KeyboardInterrupt", "")
        );
        assert!(!handle.is_done(), "the thread runs on");
        assert!(check_signals().is_ok(), "the interrupt was consumed");
        go.send(()).unwrap();
        handle.join(None).unwrap();
        assert!(handle.is_done());
    }
}

/// A handler that succeeds: the join waits on, to its original deadline (never returning before
/// it), or until the thread ends.
/// proves: HANDLE-2, X-INTR-3
fn succeeding_handler_resumes_the_join() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let old = set_signal_handler(
        libc::SIGUSR1,
        SignalHandler::Handler(Arc::new(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })),
    )
    .unwrap();

    let (handle, go) = interrupter(|| interrupt_main(libc::SIGUSR1).unwrap());
    let start = Instant::now();
    handle.join(Some(Duration::from_millis(300))).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(!handle.is_done());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    go.send(()).unwrap();
    handle.join(None).unwrap();

    // Resumes, then the thread ends: join(None) returns Ok.
    let c = Arc::clone(&calls);
    let handle = start_joinable_thread(move || {
        wait_asleep(main_tid());
        interrupt_main(libc::SIGUSR1).unwrap();
        let start = Instant::now();
        while c.load(Ordering::SeqCst) != 2 {
            assert!(start.elapsed() < CEILING);
            std::thread::sleep(Duration::from_micros(200));
        }
    })
    .unwrap();
    handle.join(None).unwrap();
    assert!(handle.is_done());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    set_signal_handler(libc::SIGUSR1, old).unwrap();
}

static CHECK_FAILS: AtomicBool = AtomicBool::new(false);
static CHECK_CALLS: AtomicUsize = AtomicUsize::new(0);
static EINTR_SIGNALS: AtomicU32 = AtomicU32::new(0);
/// A real signal arrived and its work is pending (what CPython's C handler records).
static RECORDED: AtomicBool = AtomicBool::new(false);

/// The embedder's check for real signals: runs the recorded work, which fails while
/// `CHECK_FAILS` is set. With nothing recorded it does nothing.
fn check() -> Result<(), Interrupt> {
    if !RECORDED.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    CHECK_CALLS.fetch_add(1, Ordering::SeqCst);
    if CHECK_FAILS.load(Ordering::SeqCst) {
        Err(Interrupt::new(
            libc::SIGUSR2,
            "ZeroDivisionError",
            "division by zero",
        ))
    } else {
        Ok(())
    }
}

extern "C" fn record_and_notify(_: libc::c_int) {
    RECORDED.store(true, Ordering::SeqCst);
    signals::notify();
}

extern "C" fn record_only(_: libc::c_int) {
    RECORDED.store(true, Ordering::SeqCst);
}

extern "C" fn count_only(_: libc::c_int) {
    EINTR_SIGNALS.fetch_add(1, Ordering::SeqCst);
}

fn install(signum: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: a zeroed sigaction is valid; the handlers only touch atomics (and notify, which is
    // async-signal-safe). No SA_RESTART: an interrupted futex wait returns EINTR.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(signum, &sa, std::ptr::null_mut()), 0);
    }
}

/// A real signal (`pthread_kill`) whose handler records it and calls `signals::notify`: the join
/// wakes and runs the registered check; its error is returned and the thread stays joinable; a
/// check that succeeds lets the join go on to its deadline.
/// proves: HANDLE-2
fn real_signal_with_notify_interrupts_a_join() {
    install(libc::SIGUSR2, record_and_notify);
    signals::set_check(check);

    CHECK_FAILS.store(true, Ordering::SeqCst);
    let (handle, go) = interrupter(|| signal_main(libc::SIGUSR2));
    let err = handle.join(None).unwrap_err();
    assert_eq!(
        (err.python_type(), err.to_string().as_str()),
        ("ZeroDivisionError", "division by zero")
    );
    assert!(!handle.is_done());
    assert_eq!(CHECK_CALLS.load(Ordering::SeqCst), 1);
    go.send(()).unwrap();
    handle.join(None).unwrap();

    CHECK_FAILS.store(false, Ordering::SeqCst);
    let (handle, go) = interrupter(|| signal_main(libc::SIGUSR2));
    let start = Instant::now();
    handle.join(Some(Duration::from_millis(300))).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(!handle.is_done());
    assert_eq!(CHECK_CALLS.load(Ordering::SeqCst), 2);
    go.send(()).unwrap();
    handle.join(None).unwrap();
}

/// A signal whose handler neither records nor notifies still interrupts the futex wait (EINTR):
/// the join runs the (empty) pending work and waits on to its original deadline.
/// proves: HANDLE-2
fn eintr_alone_resumes_the_join_against_its_deadline() {
    install(libc::SIGURG, count_only);
    let (handle, go) = interrupter(|| signal_main(libc::SIGURG));
    let start = Instant::now();
    handle.join(Some(Duration::from_millis(200))).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(!handle.is_done());
    assert_eq!(EINTR_SIGNALS.load(Ordering::SeqCst), 1);
    go.send(()).unwrap();
    handle.join(None).unwrap();
}

/// An embedder whose signal handler only records the signal (as CPython's C handler does): the
/// EINTR of the main thread's join is enough for the join to run the registered check, whose
/// error it returns.
/// proves: HANDLE-2
fn eintr_runs_the_check_without_a_notify() {
    install(libc::SIGUSR1, record_only);
    signals::set_check(check);
    CHECK_FAILS.store(true, Ordering::SeqCst);
    let calls = CHECK_CALLS.load(Ordering::SeqCst);
    let (handle, go) = interrupter(|| signal_main(libc::SIGUSR1));
    let err = handle.join(None).unwrap_err();
    assert_eq!(err.python_type(), "ZeroDivisionError");
    assert!(!handle.is_done());
    assert_eq!(CHECK_CALLS.load(Ordering::SeqCst), calls + 1);
    CHECK_FAILS.store(false, Ordering::SeqCst);
    go.send(()).unwrap();
    handle.join(None).unwrap();
}

/// A `for_thread` handle's join on the main thread is interruptible too.
/// proves: HANDLE-2, HANDLE-1
fn for_thread_join_is_interruptible() {
    let (ident_tx, ident_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        ident_tx.send(get_ident()).unwrap();
        wait_asleep(main_tid());
        interrupt_main(libc::SIGINT).unwrap();
        let _ = go_rx.recv_timeout(CEILING);
    });
    let handle = ThreadHandle::for_thread(ident_rx.recv().unwrap());
    let err = handle.join(None).unwrap_err();
    assert_eq!(err.python_type(), "KeyboardInterrupt");
    assert!(!handle.is_done());
    go_tx.send(()).unwrap();
    other.join().unwrap();
    handle.set_done();
    handle.join(None).unwrap();
}

/// Off the main thread a join is not interruptible: neither `interrupt_main` (which stays
/// pending for the main thread) nor a signal's EINTR ends it; it returns when the thread ends.
/// proves: HANDLE-2
fn join_off_the_main_thread_is_not_interrupted() {
    install(libc::SIGURG, count_only);
    let before = EINTR_SIGNALS.load(Ordering::SeqCst);
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let target = start_joinable_thread(move || {
        let _ = go_rx.recv_timeout(CEILING);
    })
    .unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    let joiner = {
        let target = target.clone();
        std::thread::spawn(move || {
            // SAFETY: `pthread_self` has no preconditions.
            tid_tx
                .send((get_native_id(), unsafe { libc::pthread_self() }))
                .unwrap();
            (target.join(None), target.is_done())
        })
    };
    let (tid, pthread) = tid_rx.recv().unwrap();
    wait_asleep(tid);
    interrupt_main(libc::SIGINT).unwrap();
    // SAFETY: the joiner is alive: it waits for `target`, which waits for `go_tx`.
    assert_eq!(unsafe { libc::pthread_kill(pthread, libc::SIGURG) }, 0);
    let start = Instant::now();
    while EINTR_SIGNALS.load(Ordering::SeqCst) == before {
        assert!(start.elapsed() < CEILING);
        std::thread::sleep(Duration::from_micros(200));
    }
    // Back asleep in the join after the signal, still waiting.
    wait_asleep(tid);
    assert!(!joiner.is_finished());
    go_tx.send(()).unwrap();
    assert_eq!(joiner.join().unwrap(), (Ok(()), true));
    assert_eq!(
        check_signals().unwrap_err().python_type(),
        "KeyboardInterrupt",
        "the interrupt stayed pending for the main thread"
    );
}

/// `shutdown()` on the main thread is interruptible: the handler's error is returned at once, the
/// non-daemon thread runs on, and a later `shutdown()` waits for it.
/// proves: HANDLE-3, HANDLE-2
fn interrupted_shutdown_returns_the_error_at_once() {
    let (handle, go) = interrupter_with(Builder::new().daemon(false), || {
        interrupt_main(libc::SIGINT).unwrap()
    });
    let start = Instant::now();
    let err = shutdown().unwrap_err();
    assert!(start.elapsed() < CEILING);
    assert_eq!(err.python_type(), "KeyboardInterrupt");
    assert!(!handle.is_done(), "the thread runs on");
    go.send(()).unwrap();
    shutdown().unwrap();
    assert!(handle.is_done());
}

/// `shutdown_timeout` on the main thread is interruptible as `shutdown()` is: with a deadline far
/// off, the handler's error is returned at once and the non-daemon thread runs on.
/// proves: HANDLE-3, HANDLE-2
fn interrupted_shutdown_timeout_returns_the_error_at_once() {
    let (handle, go) = interrupter_with(Builder::new().daemon(false), || {
        interrupt_main(libc::SIGINT).unwrap()
    });
    let start = Instant::now();
    let err = shutdown_timeout(Some(CEILING * 3)).unwrap_err();
    assert!(start.elapsed() < CEILING);
    assert_eq!(err.python_type(), "KeyboardInterrupt");
    assert!(!handle.is_done(), "the thread runs on");
    go.send(()).unwrap();
    assert!(shutdown_timeout(Some(CEILING * 3)).unwrap());
    assert!(handle.is_done());
}

fn main() -> ExitCode {
    assert!(
        thread_core::is_main_thread(),
        "must run on the process's main thread"
    );
    let tests: &[(&str, fn())] = &[
        (
            "interrupt_main_interrupts_a_join",
            interrupt_main_interrupts_a_join,
        ),
        (
            "succeeding_handler_resumes_the_join",
            succeeding_handler_resumes_the_join,
        ),
        (
            "real_signal_with_notify_interrupts_a_join",
            real_signal_with_notify_interrupts_a_join,
        ),
        (
            "eintr_alone_resumes_the_join_against_its_deadline",
            eintr_alone_resumes_the_join_against_its_deadline,
        ),
        (
            "eintr_runs_the_check_without_a_notify",
            eintr_runs_the_check_without_a_notify,
        ),
        (
            "for_thread_join_is_interruptible",
            for_thread_join_is_interruptible,
        ),
        (
            "join_off_the_main_thread_is_not_interrupted",
            join_off_the_main_thread_is_not_interrupted,
        ),
        (
            "interrupted_shutdown_returns_the_error_at_once",
            interrupted_shutdown_returns_the_error_at_once,
        ),
        (
            "interrupted_shutdown_timeout_returns_the_error_at_once",
            interrupted_shutdown_timeout_returns_the_error_at_once,
        ),
    ];
    support::run_tests(tests)
}
