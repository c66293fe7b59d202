//! Ported from CPython's `Lib/test/test_thread.py` (3.13), the parts about thread-core.
//!
//! Changes from the original: Python locks used as signals become std channels, `Mutex`es and
//! `Condvar`s (thread-core cannot use thread-lock, which stands on it); arguments are captured by
//! closures; `threading_helper.wait_threads_exit()` becomes waiting for `count()` to return to
//! where it was. Left out, because Rust's types rule them out: `test_join_unstarted`,
//! `test_set_done_unstarted`, `test_start_duplicate_handle`, `test_start_with_none_handle` (there
//! is no unstarted `_ThreadHandle` to pass in). `LockTests` belongs to thread-lock.
//!
//! The tests touch process-wide state (`count()`, `stack_size`, the unraisable hook), so each
//! holds `SERIAL` while it runs.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::time::Duration;

use thread_core::{Builder, count, get_ident, stack_size, start_joinable_thread, start_new_thread};

const NUMTASKS: usize = 10;
const NUMTRIPS: usize = 3;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `threading_helper.wait_threads_exit()`: the threads a test started have all gone. Every test
/// ends with this, so the next one starts from a settled count.
fn wait_threads_exit(orig: usize) {
    while count() > orig {
        std::thread::yield_now();
    }
}

/// A tiny pseudo-random delay under 100 µs, as the original's `random.random() / 10000.0`.
fn small_delay(seed: usize) -> Duration {
    Duration::from_nanos(((seed as u64).wrapping_mul(2_654_435_761) % 100) * 1_000)
}

/// `ThreadRunningTests.newtask`/`task`: NUMTASKS threads, the last one out signals.
fn run_tasks() {
    let running = Arc::new((Mutex::new(0usize), Condvar::new()));
    for ident in 0..NUMTASKS {
        let running = Arc::clone(&running);
        *running.0.lock().unwrap() += 1;
        start_new_thread(move || {
            std::thread::sleep(small_delay(ident));
            let (n, cv) = &*running;
            *n.lock().unwrap() -= 1;
            cv.notify_all();
        })
        .unwrap();
    }
    let (n, cv) = &*running;
    drop(cv.wait_while(n.lock().unwrap(), |n| *n != 0).unwrap());
}

// ThreadRunningTests.test_starting_threads
/// proves: SPAWN-5
#[test]
fn test_starting_threads() {
    let _s = serial();
    let orig = count();
    run_tasks();
    wait_threads_exit(orig);
}

// ThreadRunningTests.test_stack_size
/// proves: STACK-1, X-STACK-1
#[test]
fn test_stack_size() {
    let _s = serial();
    assert_eq!(stack_size(None), Ok(0), "initial stack size is not 0");
    stack_size(Some(0)).unwrap();
    assert_eq!(stack_size(None), Ok(0), "stack_size not reset to default");
}

// ThreadRunningTests.test_nt_and_posix_stack_size
/// proves: STACK-4, STACK-5
#[test]
fn test_nt_and_posix_stack_size() {
    let _s = serial();
    assert_eq!(
        stack_size(Some(4096)).unwrap_err().python_type(),
        "ValueError"
    );
    for tss in [262144, 0x100000, 0] {
        stack_size(Some(tss)).unwrap();
        assert_eq!(
            stack_size(None),
            Ok(tss),
            "stack_size({tss}) failed - should succeed"
        );
    }
    for tss in [262144, 0x100000] {
        stack_size(Some(tss)).unwrap();
        let orig = count();
        run_tasks();
        wait_threads_exit(orig);
    }
    stack_size(Some(0)).unwrap();
}

// ThreadRunningTests.test__count
/// proves: CORE-7
#[test]
fn test_count() {
    let _s = serial();
    let orig = count();
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    start_new_thread(move || {
        started_tx.send(()).unwrap();
        let _ = go_rx.recv();
    })
    .unwrap();
    started_rx.recv().unwrap();
    assert_eq!(count(), orig + 1);
    // Allow the task to finish.
    drop(go_tx);
    wait_threads_exit(orig);
    assert_eq!(count(), orig);
}

// ThreadRunningTests.test_unraisable_exception
/// proves: HOOK-1, HOOK-2
#[test]
fn test_unraisable_exception() {
    let _s = serial();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    thread_hooks::set_unraisable_hook(move |args| tx.lock().unwrap().send(args.clone()).unwrap());
    let orig = count();
    start_new_thread(|| -> () { panic!("task failed") }).unwrap();
    let unraisable = rx.recv().unwrap();
    wait_threads_exit(orig);
    thread_hooks::reset_unraisable_hook();
    assert_eq!(unraisable.exc_value, "task failed");
    assert!(
        unraisable
            .object
            .unwrap()
            .starts_with("<function ported_test_thread::")
    );
    assert_eq!(
        unraisable.err_msg.as_deref(),
        Some("Exception ignored in thread started by")
    );
    assert!(unraisable.exc_traceback.is_some());
}

// ThreadRunningTests.test_join_thread
/// proves: SPAWN-7
#[test]
fn test_join_thread() {
    let _s = serial();
    let finished = Arc::new(Mutex::new(Vec::new()));
    let f = Arc::clone(&finished);
    let handle = start_joinable_thread(move || {
        std::thread::sleep(Duration::from_millis(50));
        f.lock().unwrap().push(get_ident());
    })
    .unwrap();
    handle.join(None).unwrap();
    let finished = finished.lock().unwrap();
    assert_eq!(finished.len(), 1);
    assert_eq!(handle.ident(), finished[0]);
}

// ThreadRunningTests.test_join_thread_already_exited
/// proves: SPAWN-7
#[test]
fn test_join_thread_already_exited() {
    let _s = serial();
    let handle = start_joinable_thread(|| ()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    handle.join(None).unwrap();
}

// ThreadRunningTests.test_join_several_times
/// proves: SPAWN-7
#[test]
fn test_join_several_times() {
    let _s = serial();
    let handle = start_joinable_thread(|| ()).unwrap();
    handle.join(None).unwrap();
    // Subsequent join() calls should succeed
    handle.join(None).unwrap();
}

// ThreadRunningTests.test_joinable_not_joined
/// proves: SPAWN-7
#[test]
fn test_joinable_not_joined() {
    let _s = serial();
    let orig = count();
    let (destroyed_tx, destroyed_rx) = mpsc::channel::<()>();
    let handle = start_joinable_thread(move || {
        let _ = destroyed_rx.recv();
    })
    .unwrap();
    drop(handle);
    drop(destroyed_tx);
    wait_threads_exit(orig);
}

// ThreadRunningTests.test_join_from_self
/// proves: SPAWN-7
#[test]
fn test_join_from_self() {
    let _s = serial();
    let (handle_tx, handle_rx) = mpsc::channel::<thread_core::ThreadHandle>();
    let (tried_tx, tried_rx) = mpsc::channel();
    let handle = start_joinable_thread(move || {
        let me = handle_rx.recv().unwrap();
        tried_tx.send(me.join(None)).unwrap();
    })
    .unwrap();
    handle_tx.send(handle.clone()).unwrap();
    // Can still join after joining failed in other thread
    let error = tried_rx.recv().unwrap().unwrap_err();
    handle.join(None).unwrap();
    assert_eq!(
        (error.python_type(), error.to_string().as_str()),
        ("RuntimeError", "Cannot join current thread")
    );
}

// ThreadRunningTests.test_join_then_self_join
/// proves: SPAWN-7
#[test]
fn test_join_then_self_join() {
    let _s = serial();
    let (started_tx, started_rx) = mpsc::channel();
    let (barrier_tx, barrier_rx) = mpsc::channel::<()>();
    let (handle_tx, handle_rx) = mpsc::channel::<thread_core::ThreadHandle>();
    let (error_tx, error_rx) = mpsc::channel();
    let self_joiner = start_joinable_thread(move || {
        let me = handle_rx.recv().unwrap();
        started_tx.send(()).unwrap();
        barrier_rx.recv().unwrap();
        error_tx.send(me.join(None)).unwrap();
    })
    .unwrap();
    handle_tx.send(self_joiner.clone()).unwrap();
    // Wait for the self-joining thread to start
    started_rx.recv().unwrap();
    // Start the thread that joins the self-joiner
    let (joiner_started_tx, joiner_started_rx) = mpsc::channel();
    let target = self_joiner.clone();
    let joiner = start_joinable_thread(move || {
        joiner_started_tx.send(()).unwrap();
        target.join(None).unwrap();
    })
    .unwrap();
    joiner_started_rx.recv().unwrap();
    // As in the original: no deterministic way to know the joiner is inside join.
    std::thread::sleep(Duration::from_millis(100));
    // Unblock the self-joiner
    barrier_tx.send(()).unwrap();
    self_joiner.join(None).unwrap();
    joiner.join(None).unwrap();
    let error = error_rx.recv().unwrap().unwrap_err();
    assert_eq!(error.to_string(), "Cannot join current thread");
}

// ThreadRunningTests.test_join_with_timeout
/// proves: SPAWN-7
#[test]
fn test_join_with_timeout() {
    let _s = serial();
    let (tx, rx) = mpsc::channel::<()>();
    let handle = start_joinable_thread(move || {
        let _ = rx.recv();
    })
    .unwrap();
    handle.join(Some(Duration::from_millis(100))).unwrap();
    assert!(!handle.is_done());
    tx.send(()).unwrap();
    handle.join(None).unwrap();
    assert!(handle.is_done());
}

/// CPython's test `Barrier`, built on a `Mutex` and a `Condvar` instead of two locks.
struct TripBarrier {
    state: Mutex<(usize, usize)>, // (waiting, generation)
    cv: Condvar,
    num_threads: usize,
}

impl TripBarrier {
    fn enter(&self) {
        let mut s = self.state.lock().unwrap();
        s.0 += 1;
        if s.0 == self.num_threads {
            *s = (0, s.1 + 1);
            self.cv.notify_all();
            return;
        }
        let generation = s.1;
        drop(self.cv.wait_while(s, |s| s.1 == generation).unwrap());
    }
}

// BarrierTest.test_barrier
/// proves: SPAWN-5
#[test]
fn test_barrier() {
    let _s = serial();
    let orig = count();
    let bar = Arc::new(TripBarrier {
        state: Mutex::new((0, 0)),
        cv: Condvar::new(),
        num_threads: NUMTASKS,
    });
    let (done_tx, done_rx) = mpsc::channel();
    for ident in 0..NUMTASKS {
        let (bar, done_tx) = (Arc::clone(&bar), done_tx.clone());
        start_new_thread(move || {
            for i in 0..NUMTRIPS {
                if ident != 0 {
                    std::thread::sleep(small_delay(ident * NUMTRIPS + i));
                }
                bar.enter();
            }
            done_tx.send(()).unwrap();
        })
        .unwrap();
    }
    for _ in 0..NUMTASKS {
        done_rx.recv().unwrap();
    }
    wait_threads_exit(orig);
}

// TestForkInThread.test_forkinthread
/// proves: SPAWN-5
#[test]
fn test_forkinthread() {
    let _s = serial();
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let [read_fd, write_fd] = fds;
    let (pid_tx, pid_rx) = mpsc::channel();
    let h = Builder::new()
        .describe("fork_thread")
        .spawn_joinable(move || {
            // fork in a thread
            // SAFETY: the child only closes, writes and `_exit`s.
            let pid = unsafe { libc::fork() };
            if pid != 0 {
                // parent process
                pid_tx.send(pid).unwrap();
                return;
            }
            // child process
            // SAFETY: plain descriptor calls, then `_exit`.
            unsafe {
                libc::close(read_fd);
                libc::write(write_fd, b"OK".as_ptr().cast(), 2);
                libc::_exit(0)
            }
        })
        .unwrap();
    let mut buf = [0u8; 2];
    // SAFETY: `buf` has room for two bytes.
    let n = unsafe { libc::read(read_fd, buf.as_mut_ptr().cast(), 2) };
    assert_eq!(n, 2);
    assert_eq!(&buf, b"OK");
    h.join(None).unwrap();
    let pid = pid_rx.recv().unwrap();
    assert!(pid > 0);
    let mut status = 0;
    // SAFETY: our child; `status` is writable.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    // SAFETY: our descriptors, closed once.
    unsafe {
        libc::close(read_fd);
        libc::close(write_fd);
    }
}
