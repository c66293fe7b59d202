//! Tests ported from CPython's `Lib/test/test_thread.py` and rewritten in Rust against
//! pythread's API: the tests that touch no process-wide setting. `stack_size`, `_count` and the
//! unraisable hook are process-wide, so their ports live in their own test binaries
//! (`test_thread_port_stack_size.rs`, `test_thread_port_count.rs`,
//! `test_thread_port_unraisable.rs`).
//!
//! Source:
//!   - CPython 3.11.7 and 3.13.0, `Lib/test/test_thread.py` (the copies pyenv installs; the
//!     joinable-handle tests are 3.13's)
//!   - <https://github.com/python/cpython/blob/v3.13.0/Lib/test/test_thread.py>
//!
//! Copyright & License:
//!   - Copyright (c) 2001-2024 Python Software Foundation
//!   - <https://docs.python.org/3/license.html> (PSF License Version 2)
//!
//! What changed, throughout: `threading_helper.wait_threads_exit()` (which waits for
//! `_count()` to fall back) is not used here, because other tests of this binary run threads at
//! the same time; each test waits for its own threads through its locks or handles instead.
//! `random.random() / 10000.0` sleeps become small sleeps derived from the task number.
//! Left out: `test_join_unstarted`, `test_set_done_unstarted`, `test_start_duplicate_handle`
//! and `test_start_with_none_handle` (a Rust `ThreadHandle` exists only for a started thread,
//! so there is no unstarted or reused handle to test); `LockTests` (CPython's
//! `lock_tests.LockTests`, which belongs to the port of `lock_tests.py`).
//!
//! Atomic orderings: Relaxed throughout, because every counter is read and written under one
//! of the test's Locks, or read after acquiring the Lock its last writer released; the Locks
//! order the accesses (which is part of what these tests prove).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thread_core::{Ident, ThreadHandle, get_ident, start_joinable_thread, start_new_thread};
use thread_lock::Lock;

const NUMTASKS: usize = 10;
const NUMTRIPS: usize = 3;

/// A short sleep, below 100 µs as in the original, different per task.
fn task_delay(task: usize, trip: usize) -> Duration {
    Duration::from_nanos(((task * 7919 + trip * 104_729) % 100) as u64 * 1000)
}

/// A Lock that starts held, as the original's `allocate_lock(); acquire()`.
fn held_lock() -> Arc<Lock> {
    let lock = Arc::new(Lock::new());
    assert!(lock.try_acquire());
    lock
}

/// `BasicThreadTest.setUp`'s state.
struct Basic {
    done_mutex: Arc<Lock>,
    running_mutex: Lock,
    created: AtomicUsize,
    running: AtomicUsize,
}

impl Basic {
    fn new() -> Arc<Basic> {
        Arc::new(Basic {
            done_mutex: held_lock(),
            running_mutex: Lock::new(),
            created: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
        })
    }

    /// `ThreadRunningTests.newtask`.
    fn newtask(self: &Arc<Self>, number: usize) {
        let _guard = self.running_mutex.lock();
        let me = Arc::clone(self);
        start_new_thread(move || me.task(number)).expect("start_new_thread");
        // Relaxed: these counters are read and written only under running_mutex.
        self.created.fetch_add(1, Relaxed);
        self.running.fetch_add(1, Relaxed);
    }

    /// `ThreadRunningTests.task`: the last task to finish releases `done_mutex`, which the
    /// main thread holds (a Lock is released by a thread that does not hold it).
    fn task(&self, number: usize) {
        std::thread::sleep(task_delay(number, 0));
        let _guard = self.running_mutex.lock();
        let running = self.running.fetch_sub(1, Relaxed) - 1;
        if self.created.load(Relaxed) == NUMTASKS && running == 0 {
            self.done_mutex.release().expect("done_mutex is held");
        }
    }
}

// ThreadRunningTests.test_starting_threads
/// proves: SPAWN-5, LOCK-8, LOCK-11, R-4
#[test]
fn test_starting_threads() {
    let basic = Basic::new();
    for number in 0..NUMTASKS {
        basic.newtask(number);
    }
    basic.done_mutex.acquire_blocking();
    assert_eq!(basic.running.load(Relaxed), 0);
}

/// The original's `Barrier`: two Locks, one of them released by whichever thread arrives last
/// and acquired by the others.
struct Barrier {
    num_threads: usize,
    waiting: AtomicUsize,
    checkin_mutex: Lock,
    checkout_mutex: Lock,
}

impl Barrier {
    fn new(num_threads: usize) -> Barrier {
        let barrier = Barrier {
            num_threads,
            waiting: AtomicUsize::new(0),
            checkin_mutex: Lock::new(),
            checkout_mutex: Lock::new(),
        };
        assert!(barrier.checkout_mutex.try_acquire());
        barrier
    }

    fn enter(&self) {
        // Relaxed: `waiting` is only touched while one of the two locks is held, and the locks
        // order those accesses.
        self.checkin_mutex.acquire_blocking();
        let waiting = self.waiting.fetch_add(1, Relaxed) + 1;
        if waiting == self.num_threads {
            self.waiting.store(self.num_threads - 1, Relaxed);
            self.checkout_mutex
                .release()
                .expect("checkout_mutex is held");
            return;
        }
        self.checkin_mutex.release().expect("checkin_mutex is held");

        self.checkout_mutex.acquire_blocking();
        let waiting = self.waiting.fetch_sub(1, Relaxed) - 1;
        if waiting == 0 {
            self.checkin_mutex.release().expect("checkin_mutex is held");
            return;
        }
        self.checkout_mutex
            .release()
            .expect("checkout_mutex is held");
    }
}

// BarrierTest.test_barrier
/// proves: LOCK-8, SPAWN-5, R-4
#[test]
fn test_barrier() {
    let basic = Basic::new();
    let barrier = Arc::new(Barrier::new(NUMTASKS));
    basic.running.store(NUMTASKS, Relaxed);
    let passed = Arc::new(AtomicUsize::new(0));
    for number in 0..NUMTASKS {
        let (basic, barrier, passed) = (
            Arc::clone(&basic),
            Arc::clone(&barrier),
            Arc::clone(&passed),
        );
        start_new_thread(move || {
            for trip in 0..NUMTRIPS {
                // Task 0 does not sleep: it gets a good chance to enter the next barrier
                // before the others are all out of the current one.
                if number != 0 {
                    std::thread::sleep(task_delay(number, trip));
                }
                barrier.enter();
                passed.fetch_add(1, Relaxed);
            }
            let finished = {
                let _guard = basic.running_mutex.lock();
                basic.running.fetch_sub(1, Relaxed) == 1
            };
            if finished {
                basic.done_mutex.release().expect("done_mutex is held");
            }
        })
        .expect("start_new_thread");
    }
    basic.done_mutex.acquire_blocking();
    assert_eq!(passed.load(Relaxed), NUMTASKS * NUMTRIPS);
}

// ThreadRunningTests.test_join_thread (3.13)
/// proves: SPAWN-7, CORE-2
#[test]
fn test_join_thread() {
    let finished: Arc<Mutex<Vec<Ident>>> = Arc::default();
    let record = Arc::clone(&finished);
    let handle = start_joinable_thread(move || {
        std::thread::sleep(Duration::from_millis(50));
        record.lock().unwrap().push(get_ident());
    })
    .unwrap();
    handle.join(None).unwrap();
    let finished = finished.lock().unwrap();
    assert_eq!(finished.len(), 1);
    assert_eq!(handle.ident(), finished[0]);
}

// ThreadRunningTests.test_join_thread_already_exited (3.13)
// Changed: the original sleeps 50 ms so that the thread has probably ended; here a lock the
// thread releases as its last act, then the join, which must not fail on an ended thread.
/// proves: SPAWN-7
#[test]
fn test_join_thread_already_exited() {
    let ended = held_lock();
    let signal = Arc::clone(&ended);
    let handle = start_joinable_thread(move || {
        signal.release().unwrap();
    })
    .unwrap();
    ended.acquire_blocking();
    std::thread::sleep(Duration::from_millis(5));
    handle.join(None).unwrap();
    assert!(handle.is_done());
}

// ThreadRunningTests.test_join_several_times (3.13)
/// proves: SPAWN-7
#[test]
fn test_join_several_times() {
    let handle = start_joinable_thread(|| ()).unwrap();
    handle.join(None).unwrap();
    // Subsequent joins succeed.
    handle.join(None).unwrap();
    handle.join(Some(Duration::ZERO)).unwrap();
    assert!(handle.is_done());
}

// ThreadRunningTests.test_joinable_not_joined (3.13)
// Changed: the original's `del handle` is Rust's drop; the thread must still run to its end.
/// proves: SPAWN-7
#[test]
fn test_joinable_not_joined() {
    let handle_destroyed = held_lock();
    let ran = held_lock();
    let (destroyed, done) = (Arc::clone(&handle_destroyed), Arc::clone(&ran));
    let handle = start_joinable_thread(move || {
        destroyed.acquire_blocking();
        done.release().unwrap();
    })
    .unwrap();
    drop(handle);
    handle_destroyed.release().unwrap();
    ran.acquire_blocking();
}

// ThreadRunningTests.test_join_from_self (3.13)
/// proves: SPAWN-7, CORE-1
#[test]
fn test_join_from_self() {
    let handles: Arc<Mutex<Vec<ThreadHandle>>> = Arc::default();
    let errors: Arc<Mutex<Vec<thread_core::ThreadError>>> = Arc::default();
    let returned = held_lock();
    let tried = held_lock();
    let (h, e, r, t) = (
        Arc::clone(&handles),
        Arc::clone(&errors),
        Arc::clone(&returned),
        Arc::clone(&tried),
    );
    let handle = start_joinable_thread(move || {
        r.acquire_blocking();
        let own = h.lock().unwrap()[0].clone();
        if let Err(error) = own.join(None) {
            e.lock().unwrap().push(error);
        }
        t.release().unwrap();
    })
    .unwrap();
    handles.lock().unwrap().push(handle.clone());
    returned.release().unwrap();
    // Can still join after joining failed in the other thread.
    tried.acquire_blocking();
    handle.join(None).unwrap();
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].python_type(), "RuntimeError");
    assert_eq!(errors[0].to_string(), "Cannot join current thread");
}

// ThreadRunningTests.test_join_then_self_join (3.13)
// t0 joins t1 while t1 joins itself: no deadlock, and t1's self-join fails.
/// proves: SPAWN-7
#[test]
fn test_join_then_self_join() {
    let self_joiner_started = held_lock();
    let self_joiner_barrier = held_lock();
    let joiner_started = held_lock();
    let slot: Arc<Mutex<Option<ThreadHandle>>> = Arc::default();
    let error: Arc<Mutex<Option<thread_core::ThreadError>>> = Arc::default();

    let (started, barrier, own, err) = (
        Arc::clone(&self_joiner_started),
        Arc::clone(&self_joiner_barrier),
        Arc::clone(&slot),
        Arc::clone(&error),
    );
    let self_joiner = start_joinable_thread(move || {
        started.release().unwrap();
        barrier.acquire_blocking();
        let handle = own.lock().unwrap().clone().unwrap();
        if let Err(e) = handle.join(None) {
            *err.lock().unwrap() = Some(e);
        }
    })
    .unwrap();
    *slot.lock().unwrap() = Some(self_joiner.clone());
    self_joiner_started.acquire_blocking();

    let (started, target) = (Arc::clone(&joiner_started), self_joiner.clone());
    let joiner = start_joinable_thread(move || {
        started.release().unwrap();
        target.join(None).unwrap();
    })
    .unwrap();
    joiner_started.acquire_blocking();
    // As the original: no deterministic way to know the joiner is inside join; give it time.
    std::thread::sleep(Duration::from_millis(100));
    self_joiner_barrier.release().unwrap();

    self_joiner.join(None).unwrap();
    joiner.join(None).unwrap();
    let error = error
        .lock()
        .unwrap()
        .take()
        .expect("the self-join must fail");
    assert_eq!(error.to_string(), "Cannot join current thread");
}

// ThreadRunningTests.test_join_with_timeout (3.13)
/// proves: SPAWN-7
#[test]
fn test_join_with_timeout() {
    let lock = held_lock();
    let held = Arc::clone(&lock);
    let handle = start_joinable_thread(move || {
        held.acquire_blocking();
    })
    .unwrap();
    handle.join(Some(Duration::from_millis(100))).unwrap();
    assert!(!handle.is_done());
    lock.release().unwrap();
    handle.join(None).unwrap();
    assert!(handle.is_done());
}

// TestForkInThread.test_forkinthread
// Changed: the child does only async-signal-safe work (write, _exit), as a forked child of a
// multi-threaded process must; the parent reaps it with waitpid instead of
// support.wait_process.
/// proves: SPAWN-5
#[test]
fn test_forkinthread() {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe(2) to fill.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_fd, write_fd) = (fds[0], fds[1]);
    let pid = Arc::new(Mutex::new(None));
    let forked = held_lock();
    let (slot, done) = (Arc::clone(&pid), Arc::clone(&forked));
    start_new_thread(move || {
        // SAFETY: fork(2) has no preconditions; in the child only async-signal-safe calls
        // follow (close, write, _exit).
        let child = unsafe { libc::fork() };
        if child == 0 {
            // SAFETY: the descriptors are this process's own; "OK" is a valid 2-byte buffer;
            // _exit ends the child without running the parent's destructors or atexit hooks.
            unsafe {
                libc::close(read_fd);
                libc::write(write_fd, b"OK".as_ptr().cast(), 2);
                libc::_exit(0);
            }
        }
        *slot.lock().unwrap() = Some(child);
        done.release().unwrap();
    })
    .unwrap();
    let mut buffer = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        // SAFETY: reading into the unfilled rest of `buffer`, a valid writable region.
        let n = unsafe { libc::read(read_fd, buffer[got..].as_mut_ptr().cast(), 2 - got) };
        assert!(n > 0, "read from the child's pipe failed");
        got += n as usize;
    }
    assert_eq!(&buffer, b"OK");
    forked.acquire_blocking();
    let child = pid.lock().unwrap().expect("the thread forked");
    assert!(child > 0, "fork failed");
    let mut status = 0;
    // SAFETY: waiting for our own child with a valid status pointer.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    // SAFETY: closing our own descriptors once.
    unsafe {
        libc::close(read_fd);
        libc::close(write_fd);
    }
}
