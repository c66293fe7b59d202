//! Interruptible waits on the main thread (X-INTR-3, LOCK-13, RLOCK-6), with `interrupt_main`
//! and with real signals. `harness = false`: these tests need the process's main thread, and they
//! change process-wide state (signal handlers, the signal check), so they run one after another
//! in this binary of their own, printing libtest's `test NAME ... ok` lines.

/// Under `--cfg loom` there is nothing to run here (interrupts are not modelled).
#[cfg(loom)]
fn main() {}

#[cfg(not(loom))]
fn main() {
    real::main();
}

#[cfg(not(loom))]
mod real {

    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
    use std::thread;
    use std::time::{Duration, Instant};
    use thread_core::{
        Interrupt, SignalHandler, check_signals, interrupt_main, set_signal_handler, signals,
    };
    use thread_lock::{Lock, LockError, RLock};

    const CEILING: Duration = Duration::from_secs(10);

    fn wait_until(what: &str, cond: impl Fn() -> bool) {
        let start = Instant::now();
        while !cond() {
            assert!(start.elapsed() < CEILING, "timed out waiting until {what}");
            thread::sleep(Duration::from_micros(200));
        }
    }

    fn wait_parked(lock: &Lock) {
        wait_until("a thread parks", || lock.__waiters() >= 1);
    }

    /// `interrupt_main` wakes the main thread's `Result`-form acquire; the default SIGINT handler
    /// fails with KeyboardInterrupt, which the acquire returns without the lock, consuming the mark.
    /// proves: X-INTR-3, LOCK-13, R-2
    fn interrupt_main_wakes_a_blocked_acquire() {
        let lock = Lock::new();
        lock.acquire_blocking();
        for timeout in [-1.0, 30.0] {
            thread::scope(|s| {
                s.spawn(|| {
                    wait_parked(&lock);
                    interrupt_main(libc::SIGINT).unwrap();
                });
                let start = Instant::now();
                let err = lock.acquire(true, timeout).unwrap_err();
                assert!(start.elapsed() < CEILING);
                assert_eq!(err.python_type(), "KeyboardInterrupt");
                assert!(matches!(err, LockError::Interrupted(ref i) if i.signum() == libc::SIGINT));
            });
            assert!(
                lock.locked(),
                "still held by us, not taken by the interrupted acquire"
            );
            assert_eq!(lock.__waiters(), 0);
            assert!(check_signals().is_ok(), "the interrupt was consumed");
        }
        lock.release().unwrap();
    }

    /// A handler that succeeds: the acquire goes on waiting, until the original deadline or until
    /// it gets the lock.
    /// proves: X-INTR-3, LOCK-13
    fn succeeding_handler_resumes_the_wait() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let old = set_signal_handler(
            libc::SIGUSR1,
            SignalHandler::Handler(Arc::new(move |_| {
                c.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })),
        )
        .unwrap();
        let lock = Lock::new();
        lock.acquire_blocking();
        // Resumes until the deadline: never returns before it.
        thread::scope(|s| {
            s.spawn(|| {
                wait_parked(&lock);
                interrupt_main(libc::SIGUSR1).unwrap();
            });
            let start = Instant::now();
            assert_eq!(lock.acquire(true, 0.3), Ok(false));
            assert!(start.elapsed() >= Duration::from_millis(300));
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Resumes and then gets the lock.
        thread::scope(|s| {
            s.spawn(|| {
                wait_parked(&lock);
                interrupt_main(libc::SIGUSR1).unwrap();
                wait_until("the handler ran", || calls.load(Ordering::SeqCst) == 2);
                wait_parked(&lock);
                lock.release().unwrap();
            });
            assert_eq!(lock.acquire(true, -1.0), Ok(true));
        });
        lock.release().unwrap();
        set_signal_handler(libc::SIGUSR1, old).unwrap();
    }

    /// The typed forms and `lock()` are not interrupted: they sleep on, and the interrupt stays
    /// pending for the next check.
    /// proves: X-INTR-3
    fn typed_forms_leave_the_interrupt_pending() {
        let lock = Lock::new();
        lock.acquire_blocking();
        thread::scope(|s| {
            s.spawn(|| {
                wait_parked(&lock);
                interrupt_main(libc::SIGINT).unwrap();
            });
            let start = Instant::now();
            assert!(!lock.acquire_for(Duration::from_millis(100)));
            assert!(start.elapsed() >= Duration::from_millis(100));
        });
        assert_eq!(
            check_signals().unwrap_err().python_type(),
            "KeyboardInterrupt"
        );
        thread::scope(|s| {
            s.spawn(|| {
                wait_parked(&lock);
                interrupt_main(libc::SIGINT).unwrap();
                lock.release().unwrap();
            });
            let guard = lock.lock();
            drop(guard);
        });
        assert_eq!(
            check_signals().unwrap_err().python_type(),
            "KeyboardInterrupt"
        );
        assert!(!lock.locked());
    }

    /// RLock's acquire is interruptible like Lock's.
    /// proves: RLOCK-6, X-INTR-3
    fn rlock_acquire_is_interruptible() {
        let rlock = RLock::new();
        thread::scope(|s| {
            let (held_tx, held_rx) = std::sync::mpsc::channel();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let rlock = &rlock;
            s.spawn(move || {
                rlock.acquire(true, -1.0).unwrap();
                held_tx.send(()).unwrap();
                wait_until("main parks", || rlock.__waiters() >= 1);
                interrupt_main(libc::SIGINT).unwrap();
                done_rx.recv().unwrap();
                rlock.release().unwrap();
            });
            held_rx.recv().unwrap();
            assert!(rlock.locked());
            let err = rlock.acquire(true, -1.0).unwrap_err();
            assert_eq!(err.python_type(), "KeyboardInterrupt");
            assert!(!rlock.is_owned());
            done_tx.send(()).unwrap();
        });
        assert!(!rlock.locked());
        assert!(check_signals().is_ok());
    }

    /// A handoff that happened before the wait saw the interrupt wins: `Ok(true)`, and the
    /// interrupt stays pending.
    /// proves: X-INTR-3, LOCK-15
    fn handoff_before_interrupt_wins() {
        let lock = Lock::new();
        lock.acquire_blocking();
        thread::scope(|s| {
            s.spawn(|| {
                wait_parked(&lock);
                // Lower bound only: the waiter has waited over 1 ms, so the release hands over.
                thread::sleep(Duration::from_millis(2));
                lock.release().unwrap();
                interrupt_main(libc::SIGINT).unwrap();
            });
            assert_eq!(lock.acquire(true, -1.0), Ok(true));
        });
        assert_eq!(
            check_signals().unwrap_err().python_type(),
            "KeyboardInterrupt"
        );
        lock.release().unwrap();
    }

    static CHECK_MODE: AtomicU32 = AtomicU32::new(0);
    static CHECK_CALLS: AtomicUsize = AtomicUsize::new(0);
    static EINTR_SIGNALS: AtomicUsize = AtomicUsize::new(0);
    /// SIGUSR2 arrived and its work is pending (what CPython's C handler records).
    static SIGUSR2_RECORDED: AtomicBool = AtomicBool::new(false);

    /// The embedder's check for real signals: runs the recorded signal's work, which fails in mode
    /// 1 and succeeds otherwise. With nothing recorded (a wake by another signal) it does nothing.
    fn check() -> Result<(), Interrupt> {
        if !SIGUSR2_RECORDED.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        CHECK_CALLS.fetch_add(1, Ordering::SeqCst);
        if CHECK_MODE.load(Ordering::SeqCst) == 1 {
            Err(Interrupt::new(
                libc::SIGUSR2,
                "ZeroDivisionError",
                "division by zero",
            ))
        } else {
            Ok(())
        }
    }

    extern "C" fn on_sigusr2(_: libc::c_int) {
        SIGUSR2_RECORDED.store(true, Ordering::SeqCst);
        signals::notify();
    }

    extern "C" fn on_sigurg(_: libc::c_int) {
        EINTR_SIGNALS.fetch_add(1, Ordering::SeqCst);
    }

    fn install(signum: libc::c_int, handler: extern "C" fn(libc::c_int)) {
        // SAFETY: a zeroed sigaction is valid; the handler only touches atomics (and notify, which
        // is async-signal-safe). No SA_RESTART: an interrupted futex wait returns EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(signum, &sa, std::ptr::null_mut()), 0);
        }
    }

    /// The calling thread, to be signalled later by [`signal_once_parked`].
    fn this_thread() -> usize {
        // SAFETY: pthread_self has no preconditions.
        unsafe { libc::pthread_self() as usize }
    }

    /// Waits until a thread is parked on `lock`, then sends `signum` to `target`, the main
    /// thread that parked there (from [`this_thread`]).
    fn signal_once_parked(lock: &Lock, target: usize, signum: libc::c_int) {
        wait_parked(lock);
        // SAFETY: `target` is the live main thread, blocked in an acquire of `lock`.
        let rc = unsafe { libc::pthread_kill(target as libc::pthread_t, signum) };
        assert_eq!(rc, 0);
    }

    /// A real signal, delivered with `pthread_kill` to the main thread while it waits on a held lock
    /// with a long timeout: the handler's notify wakes the wait, the registered check runs; its
    /// error is returned without the lock, or (when it succeeds) the wait resumes to its deadline.
    /// proves: LOCK-13, X-INTR-3
    fn real_signal_interrupts_a_wait() {
        install(libc::SIGUSR2, on_sigusr2);
        signals::set_check(check);
        let main = this_thread();
        let lock = Lock::new();
        lock.acquire_blocking();

        CHECK_MODE.store(1, Ordering::SeqCst);
        thread::scope(|s| {
            s.spawn(|| signal_once_parked(&lock, main, libc::SIGUSR2));
            let start = Instant::now();
            let err = lock.acquire(true, 30.0).unwrap_err();
            assert!(
                start.elapsed() < CEILING,
                "woken by the signal, not the timeout"
            );
            assert_eq!(
                (err.python_type(), err.to_string().as_str()),
                ("ZeroDivisionError", "division by zero")
            );
        });
        assert!(lock.locked());
        assert_eq!(CHECK_CALLS.load(Ordering::SeqCst), 1);

        CHECK_MODE.store(0, Ordering::SeqCst);
        thread::scope(|s| {
            s.spawn(|| signal_once_parked(&lock, main, libc::SIGUSR2));
            let start = Instant::now();
            assert_eq!(lock.acquire(true, 0.3), Ok(false));
            assert!(start.elapsed() >= Duration::from_millis(300));
        });
        assert_eq!(CHECK_CALLS.load(Ordering::SeqCst), 2);
        lock.release().unwrap();
    }

    /// A signal whose handler does not notify still interrupts the futex wait (EINTR): the wait
    /// runs the (empty) pending work and resumes against its original deadline.
    /// proves: LOCK-13
    fn eintr_resumes_against_the_deadline() {
        install(libc::SIGURG, on_sigurg);
        let main = this_thread();
        let lock = Lock::new();
        lock.acquire_blocking();
        thread::scope(|s| {
            s.spawn(|| signal_once_parked(&lock, main, libc::SIGURG));
            let start = Instant::now();
            assert_eq!(lock.acquire(true, 0.2), Ok(false));
            assert!(start.elapsed() >= Duration::from_millis(200));
        });
        assert_eq!(EINTR_SIGNALS.load(Ordering::SeqCst), 1);
        lock.release().unwrap();
    }

    extern "C" fn record_only(_: libc::c_int) {
        SIGUSR2_RECORDED.store(true, Ordering::SeqCst);
    }

    /// An embedder whose signal handler only records the signal, as CPython's C handler does, and
    /// never calls notify: the EINTR of the main thread's wait is enough for the wait to run the
    /// registered check, whose error the acquire returns without the lock.
    /// proves: LOCK-13
    fn eintr_runs_the_check_without_a_notify() {
        install(libc::SIGUSR1, record_only);
        signals::set_check(check);
        CHECK_MODE.store(1, Ordering::SeqCst);
        let calls_before = CHECK_CALLS.load(Ordering::SeqCst);
        let main = this_thread();
        let lock = Lock::new();
        lock.acquire_blocking();
        thread::scope(|s| {
            s.spawn(|| signal_once_parked(&lock, main, libc::SIGUSR1));
            let start = Instant::now();
            let err = lock.acquire(true, 30.0).unwrap_err();
            assert!(start.elapsed() < CEILING, "woken by the signal");
            assert_eq!(err.python_type(), "ZeroDivisionError");
        });
        assert!(
            lock.locked(),
            "the interrupted acquire did not take the lock"
        );
        assert_eq!(CHECK_CALLS.load(Ordering::SeqCst), calls_before + 1);
        CHECK_MODE.store(0, Ordering::SeqCst);
        lock.release().unwrap();
    }

    pub(crate) fn main() {
        assert!(
            thread_core::is_main_thread(),
            "must run on the process's main thread"
        );
        let tests: [(&str, fn()); 8] = [
            (
                "interrupt_main_wakes_a_blocked_acquire",
                interrupt_main_wakes_a_blocked_acquire,
            ),
            (
                "succeeding_handler_resumes_the_wait",
                succeeding_handler_resumes_the_wait,
            ),
            (
                "typed_forms_leave_the_interrupt_pending",
                typed_forms_leave_the_interrupt_pending,
            ),
            (
                "rlock_acquire_is_interruptible",
                rlock_acquire_is_interruptible,
            ),
            (
                "handoff_before_interrupt_wins",
                handoff_before_interrupt_wins,
            ),
            (
                "real_signal_interrupts_a_wait",
                real_signal_interrupts_a_wait,
            ),
            (
                "eintr_resumes_against_the_deadline",
                eintr_resumes_against_the_deadline,
            ),
            (
                "eintr_runs_the_check_without_a_notify",
                eintr_runs_the_check_without_a_notify,
            ),
        ];
        let filter: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        let mut failed = 0;
        let mut ran = 0;
        for (name, test) in tests {
            if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
                continue;
            }
            ran += 1;
            match std::panic::catch_unwind(test) {
                Ok(()) => println!("test {name} ... ok"),
                Err(_) => {
                    println!("test {name} ... FAILED");
                    failed += 1;
                }
            }
        }
        println!();
        if failed == 0 {
            println!("test result: ok. {ran} passed; 0 failed");
        } else {
            println!(
                "test result: FAILED. {} passed; {failed} failed",
                ran - failed
            );
            std::process::exit(1);
        }
    }
}
