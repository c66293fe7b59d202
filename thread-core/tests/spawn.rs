//! Starting threads: SPAWN-5, SPAWN-6, SPAWN-7, SPAWN-8 (through the `Builder`), CORE-2 (the
//! spawn's ident is the thread's), and that std's thread-locals and `thread::current()` work on
//! pythread's threads. No test here reads `count()` (see `count.rs`).

mod support;

use std::cell::Cell;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use thread_core::{
    Builder, ThreadError, get_ident, get_native_id, start_joinable_thread, start_new_thread,
};

/// proves: SPAWN-5, CORE-2
#[test]
fn start_new_thread_returns_the_threads_ident_and_runs_the_function() {
    let (tx, rx) = mpsc::channel();
    let ident = start_new_thread(move || tx.send(get_ident()).unwrap()).unwrap();
    assert_eq!(rx.recv().unwrap(), ident);
    assert_ne!(ident, get_ident());
}

/// proves: SPAWN-5
#[test]
fn start_new_thread_returns_before_the_thread_runs() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel();
    // The thread cannot finish before we let it: the spawn returned first.
    let ident = start_new_thread(move || {
        go_rx.recv().unwrap();
        done_tx.send(get_ident()).unwrap();
    })
    .unwrap();
    go_tx.send(()).unwrap();
    assert_eq!(done_rx.recv().unwrap(), ident);
}

/// proves: SPAWN-7, CORE-2
#[test]
fn joinable_handle_ident_is_done_and_join() {
    let (id_tx, id_rx) = mpsc::channel();
    let handle = start_joinable_thread(move || id_tx.send(get_ident()).unwrap()).unwrap();
    assert_eq!(id_rx.recv().unwrap(), handle.ident());
    handle.join(None).unwrap();
    assert!(handle.is_done());
    // Joining twice (and from a clone) is fine.
    handle.join(None).unwrap();
    handle.clone().join(Some(Duration::from_millis(5))).unwrap();
}

/// Timed joins wait their whole timeout and leave the thread running: the first and every later
/// one, down to a zero timeout.
/// proves: SPAWN-7
#[test]
fn join_with_timeout_returns_with_the_thread_still_running() {
    let (handle, go_tx, _) = support::held_thread();
    for timeout in [30_000, 300, 100, 0, 700].map(Duration::from_micros) {
        let start = Instant::now();
        handle.join(Some(timeout)).unwrap();
        let waited = start.elapsed();
        assert!(
            waited >= timeout,
            "returned early: {waited:?} < {timeout:?}"
        );
        assert!(waited < Duration::from_secs(20));
        assert!(!handle.is_done());
    }
    go_tx.send(()).unwrap();
    handle.join(None).unwrap();
    assert!(handle.is_done());
}

/// Threads that end at once, soon, or later: `join(None)` returns only after the thread's end,
/// with its effects visible.
/// proves: SPAWN-7
#[test]
fn join_returns_after_the_end_of_short_and_long_threads() {
    for run_for in [
        Duration::ZERO,
        Duration::from_millis(5),
        Duration::from_millis(30),
    ] {
        let (ended_tx, ended_rx) = mpsc::channel::<()>();
        let handle = start_joinable_thread(move || {
            std::thread::sleep(run_for);
            ended_tx.send(()).unwrap();
        })
        .unwrap();
        let start = Instant::now();
        handle.join(None).unwrap();
        assert!(start.elapsed() < Duration::from_secs(20));
        assert!(handle.is_done());
        assert!(
            ended_rx.try_recv().is_ok(),
            "joined before the end ({run_for:?})"
        );
    }
}

/// Several threads join one thread at once (only one of them can join it at the OS level): all
/// of them return once it has ended.
/// proves: SPAWN-7
#[test]
fn concurrent_joins_all_return_after_the_end() {
    let (handle, go_tx, ended_rx) = support::held_thread();
    let joiners: Vec<_> = (0..4)
        .map(|_| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                handle.join(None).unwrap();
                handle.is_done()
            })
        })
        .collect();
    // Whether the joiners are asleep already or not yet joining, all return.
    std::thread::sleep(Duration::from_millis(2));
    go_tx.send(()).unwrap();
    for joiner in joiners {
        assert!(joiner.join().unwrap());
    }
    assert!(ended_rx.try_recv().is_ok());
    handle.join(None).unwrap();
}

/// proves: SPAWN-7
#[test]
fn joining_the_current_thread_is_a_runtime_error() {
    let (tx, rx) = mpsc::channel::<thread_core::ThreadHandle>();
    let (res_tx, res_rx) = mpsc::channel();
    let handle = start_joinable_thread(move || {
        let me = rx.recv().unwrap();
        res_tx
            .send((me.join(None), me.join(Some(Duration::ZERO)), me.is_done()))
            .unwrap();
    })
    .unwrap();
    tx.send(handle.clone()).unwrap();
    let (a, b, done) = res_rx.recv().unwrap();
    for r in [a, b] {
        let err = r.unwrap_err();
        assert_eq!(err, ThreadError::JoinCurrent);
        assert_eq!(
            (err.python_type(), err.to_string().as_str()),
            ("RuntimeError", "Cannot join current thread")
        );
    }
    assert!(!done);
    handle.join(None).unwrap();
}

/// proves: SPAWN-8
#[test]
fn builder_names_the_new_thread() {
    let (tx, rx) = mpsc::channel();
    let h = Builder::new()
        .name("pythread-worker-long\0ignored")
        .spawn_joinable(move || {
            let tid = get_native_id();
            tx.send(std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).unwrap())
                .unwrap();
        })
        .unwrap();
    h.join(None).unwrap();
    assert_eq!(rx.recv().unwrap(), "pythread-worker\n");
}

/// proves: SPAWN-8
#[test]
fn set_name_names_the_calling_pythread_thread() {
    let (tx, rx) = mpsc::channel();
    let h = start_joinable_thread(move || {
        thread_core::set_name("héllo wörld, long").unwrap();
        let tid = get_native_id();
        tx.send(std::fs::read(format!("/proc/self/task/{tid}/comm")).unwrap())
            .unwrap();
    })
    .unwrap();
    h.join(None).unwrap();
    let mut expected = "héllo wörld, long".as_bytes()[..15].to_vec();
    expected.push(b'\n');
    assert_eq!(rx.recv().unwrap(), expected);
}

#[test]
fn std_thread_locals_and_current_work_on_pythread_threads() {
    thread_local! {
        static LOCAL: Cell<u32> = const { Cell::new(0) };
    }
    let (tx, rx) = mpsc::channel();
    let h = start_joinable_thread(move || {
        LOCAL.set(7);
        let current = std::thread::current();
        tx.send((
            LOCAL.get(),
            current.id() == std::thread::current().id(),
            current.name().map(str::to_owned),
        ))
        .unwrap();
    })
    .unwrap();
    h.join(None).unwrap();
    let (local, same, _name) = rx.recv().unwrap();
    assert_eq!(local, 7);
    assert!(same);
    assert_eq!(LOCAL.get(), 0);
}

/// proves: SPAWN-6
#[test]
fn process_exit_does_not_wait_for_detached_threads() {
    if std::env::var_os("PYTHREAD_SPAWN6_CHILD").is_some() {
        // In the child: a detached thread that would sleep for an hour.
        start_new_thread(|| std::thread::sleep(Duration::from_secs(3600))).unwrap();
        return;
    }
    let start = Instant::now();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "process_exit_does_not_wait_for_detached_threads",
            "--test-threads=1",
        ])
        .env("PYTHREAD_SPAWN6_CHILD", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The child exited although its thread sleeps for an hour.
    assert!(start.elapsed() < Duration::from_secs(600));
}
