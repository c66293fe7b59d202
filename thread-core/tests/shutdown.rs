//! HANDLE-3: `shutdown()` waits for the non-daemon threads (`Builder::daemon(false)`), those
//! started while it waits included, never for daemon or detached threads, `set_done` handles,
//! `for_thread` handles or the caller's own thread; a thread leaves the set by itself.
//!
//! `harness = false`: the set is process-wide, so the tests run one after another in this binary
//! of their own (each leaves no non-daemon thread running), printing libtest's lines.

mod support;

use std::ffi::c_void;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use thread_core::{
    Builder, ThreadError, ThreadHandle, count, get_ident, shutdown, shutdown_timeout,
};

const CEILING: Duration = Duration::from_secs(10);

#[global_allocator]
static GLOBAL: support::Counting = support::Counting;

fn non_daemon() -> Builder {
    Builder::new().daemon(false)
}

/// Waits (bounded) until no thread pythread started is running.
fn settle() {
    let deadline = Instant::now() + CEILING;
    while count() != 0 {
        assert!(Instant::now() < deadline, "threads did not end");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Shutdown waits for every non-daemon thread, one started by another while shutdown waits
/// included; daemon joinable threads and detached threads (here blocked until after shutdown
/// returned) are not waited for.
/// proves: HANDLE-3
fn waits_for_non_daemon_threads_and_those_started_while_it_waits() {
    let late_done = Arc::new(AtomicBool::new(false));
    let (late_tx, late_rx) = mpsc::channel::<ThreadHandle>();
    let first = {
        let late_done = Arc::clone(&late_done);
        non_daemon()
            .spawn_joinable(move || {
                // Whenever shutdown begins, this thread is in the set until it has started the
                // late one, which is counted before its spawn returns.
                std::thread::sleep(Duration::from_millis(30));
                let late = non_daemon()
                    .spawn_joinable(move || {
                        std::thread::sleep(Duration::from_millis(30));
                        late_done.store(true, Ordering::SeqCst);
                    })
                    .unwrap();
                late_tx.send(late).unwrap();
            })
            .unwrap()
    };
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
    let daemon = {
        let rx = Arc::clone(&release_rx);
        Builder::new()
            .spawn_joinable(move || {
                let _ = rx.lock().unwrap().recv();
            })
            .unwrap()
    };
    let rx = Arc::clone(&release_rx);
    thread_core::start_new_thread(move || {
        let _ = rx.lock().unwrap().recv();
    })
    .unwrap();

    shutdown().unwrap();
    assert!(first.is_done());
    assert!(
        late_done.load(Ordering::SeqCst),
        "the late thread was waited for"
    );
    assert!(late_rx.recv().unwrap().is_done());
    assert!(!daemon.is_done(), "a daemon thread is not waited for");

    drop(release_tx);
    daemon.join(None).unwrap();
    settle();
}

/// A non-daemon thread that calls shutdown waits for the others, not for itself.
/// proves: HANDLE-3
fn skips_the_callers_own_thread() {
    let other_done = Arc::new(AtomicBool::new(false));
    let other = {
        let other_done = Arc::clone(&other_done);
        non_daemon()
            .spawn_joinable(move || {
                std::thread::sleep(Duration::from_millis(20));
                other_done.store(true, Ordering::SeqCst);
            })
            .unwrap()
    };
    let (result_tx, result_rx) = mpsc::channel();
    let caller = {
        let other_done = Arc::clone(&other_done);
        non_daemon()
            .spawn_joinable(move || {
                let r = shutdown();
                result_tx
                    .send((r, other_done.load(Ordering::SeqCst)))
                    .unwrap();
            })
            .unwrap()
    };
    assert_eq!(result_rx.recv_timeout(CEILING).unwrap(), (Ok(()), true));
    caller.join(None).unwrap();
    assert!(other.is_done());
    settle();
}

/// A non-daemon thread whose handle was marked done, and `for_thread` handles (of this thread and
/// of a running std thread), are never waited for.
/// proves: HANDLE-3, HANDLE-1
fn skips_set_done_threads_and_for_thread_handles() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocked = non_daemon()
        .spawn_joinable(move || {
            let _ = release_rx.recv();
        })
        .unwrap();
    blocked.set_done();
    let mine = ThreadHandle::for_thread(get_ident());
    let (std_release_tx, std_release_rx) = mpsc::channel::<()>();
    let std_thread = std::thread::spawn(move || {
        let _ = std_release_rx.recv();
    });
    let (ident_tx, ident_rx) = mpsc::channel();
    std::thread::spawn(move || ident_tx.send(get_ident()).unwrap());
    let foreign = ThreadHandle::for_thread(ident_rx.recv().unwrap());

    let start = Instant::now();
    shutdown().unwrap();
    assert!(start.elapsed() < CEILING);
    assert!(!mine.is_done() && !foreign.is_done());

    drop(release_tx);
    drop(std_release_tx);
    std_thread.join().unwrap();
    settle();
}

static FOREIGN_DONE: AtomicBool = AtomicBool::new(false);

extern "C-unwind" fn slow_foreign_body(_: *mut c_void) {
    std::thread::sleep(Duration::from_millis(20));
    FOREIGN_DONE.store(true, Ordering::SeqCst);
}

/// `spawn_foreign(.., joinable = true)` honours `daemon(false)`: shutdown waits for the body.
/// proves: HANDLE-3, SPAWN-9
fn waits_for_a_non_daemon_foreign_thread() {
    // SAFETY: the body ignores its argument and does not unwind.
    let (_, handle) =
        unsafe { non_daemon().spawn_foreign(slow_foreign_body, std::ptr::null_mut(), true) }
            .unwrap();
    shutdown().unwrap();
    assert!(FOREIGN_DONE.load(Ordering::SeqCst));
    assert!(handle.unwrap().is_done());
    settle();
}

/// A non-daemon spawn the OS refuses leaves nothing in the set (SPAWN-4): shutdown returns.
/// proves: HANDLE-3, SPAWN-4
fn a_refused_spawn_leaves_nothing_to_wait_for() {
    let err = non_daemon()
        .stack_size(1 << 60)
        .spawn_joinable(|| ())
        .unwrap_err();
    assert_eq!(err, ThreadError::CantStart);
    let start = Instant::now();
    shutdown().unwrap();
    assert!(start.elapsed() < CEILING);
}

/// Thousands of non-daemon threads whose handles are dropped unjoined each leave the set at their
/// end: shutdown has nothing to wait for afterwards, and memory is flat.
/// proves: HANDLE-3, R-5
fn threads_leave_the_set_by_themselves() {
    // Warm up (lazy statics, the panic hook).
    for _ in 0..10 {
        non_daemon()
            .spawn_joinable(|| ())
            .unwrap()
            .join(None)
            .unwrap();
    }
    settle();
    let before = support::live();
    for i in 0..4_000 {
        let handle = non_daemon().spawn_joinable(|| ()).unwrap();
        if i % 2 == 0 {
            drop(handle);
        } else {
            handle.join(None).unwrap();
        }
        if i % 100 == 99 {
            settle();
        }
    }
    settle();
    shutdown().unwrap();
    // Records are freed by their threads just after the count falls: let the last ones go.
    let deadline = Instant::now() + CEILING;
    loop {
        let grew = support::live() - before;
        if grew < 16 * 1024 {
            break;
        }
        assert!(Instant::now() < deadline, "grew by {grew} bytes");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `shutdown_timeout` waits at most its timeout: it says `false` (never before the time has
/// passed) while a non-daemon thread runs, and the thread runs on; it says `true` once the thread
/// has finished, with a zero timeout too when nothing is left to wait for.
/// proves: HANDLE-3
fn shutdown_timeout_waits_at_most_its_timeout() {
    let (finish_tx, finish_rx) = mpsc::channel::<()>();
    let blocked = non_daemon()
        .spawn_joinable(move || {
            let _ = finish_rx.recv_timeout(CEILING);
        })
        .unwrap();
    let timeout = Duration::from_millis(30);
    let start = Instant::now();
    assert!(!shutdown_timeout(Some(timeout)).unwrap());
    assert!(start.elapsed() >= timeout, "returned before its timeout");
    assert!(!shutdown_timeout(Some(Duration::ZERO)).unwrap());
    assert!(!blocked.is_done(), "the thread runs on");

    drop(finish_tx);
    let start = Instant::now();
    assert!(shutdown_timeout(Some(CEILING * 3)).unwrap());
    assert!(start.elapsed() < CEILING);
    assert!(blocked.is_done());
    assert!(shutdown_timeout(Some(Duration::ZERO)).unwrap());
    assert!(shutdown_timeout(None).unwrap());
    settle();
}

fn main() -> ExitCode {
    let tests: &[(&str, fn())] = &[
        (
            "waits_for_non_daemon_threads_and_those_started_while_it_waits",
            waits_for_non_daemon_threads_and_those_started_while_it_waits,
        ),
        ("skips_the_callers_own_thread", skips_the_callers_own_thread),
        (
            "skips_set_done_threads_and_for_thread_handles",
            skips_set_done_threads_and_for_thread_handles,
        ),
        (
            "waits_for_a_non_daemon_foreign_thread",
            waits_for_a_non_daemon_foreign_thread,
        ),
        (
            "a_refused_spawn_leaves_nothing_to_wait_for",
            a_refused_spawn_leaves_nothing_to_wait_for,
        ),
        (
            "threads_leave_the_set_by_themselves",
            threads_leave_the_set_by_themselves,
        ),
        (
            "shutdown_timeout_waits_at_most_its_timeout",
            shutdown_timeout_waits_at_most_its_timeout,
        ),
    ];
    support::run_tests(tests)
}
