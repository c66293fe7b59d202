//! FORK-3 at the process's first park: the parking lot's fork handler must be in place before any
//! thread can queue, or a fork reaches the child with the parent's queue entries, and a release
//! there hands the lock to a waiter that does not exist.
//!
//! Its own test binary with one test: it needs a process in which nothing has parked yet, and it
//! registers a `pthread_atfork` handler of its own.
//!
//! The window is held open deterministically, not by chance: glibc holds its atfork lock from
//! the prepare handlers to the end of `fork`, and `pthread_atfork` takes the same lock. Our
//! prepare handler keeps the fork inside that lock while one thread makes the first park of the
//! process and others follow it: a parking lot that registers its handler lazily, at the first
//! park, has that first thread blocked in `pthread_atfork` while the others queue, and the fork
//! then goes ahead without the handler.
#![cfg(not(loom))] // the API tests run on the real build; loom_*.rs are the models

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use thread_lock::Lock;

static L: Lock = Lock::new();
/// Our prepare handler does something only for the fork this test makes.
static ARMED: AtomicBool = AtomicBool::new(false);
/// The fork is inside our prepare handler (so it holds glibc's atfork lock).
static IN_PREPARE: AtomicBool = AtomicBool::new(false);
/// The prepare handler may return and the fork go ahead.
static GO: AtomicBool = AtomicBool::new(false);

/// How many threads queue behind the first one.
const FOLLOWERS: usize = 4;
/// Ceiling for every wait on another thread (never reached when things work).
const PATIENCE: Duration = Duration::from_secs(20);

extern "C" fn prepare() {
    // SeqCst throughout: plain flags between threads; the cost does not matter here.
    if !ARMED.load(Ordering::SeqCst) {
        return;
    }
    IN_PREPARE.store(true, Ordering::SeqCst);
    let start = Instant::now();
    while !GO.load(Ordering::SeqCst) && start.elapsed() < PATIENCE {
        thread::sleep(Duration::from_micros(100));
    }
}

/// What the forked child checks; the number of the first failed check, 0 if all passed.
fn child_checks() -> i32 {
    // FORK-2: held at the fork, held in the child.
    if !L.locked() {
        return 1;
    }
    // FORK-3: no parent waiter survives...
    if L.__waiters() != 0 {
        return 2;
    }
    // ...so the release frees the lock (a handoff to a waiter of the parent would keep it held).
    if L.release().is_err() || L.locked() {
        return 3;
    }
    if !L.try_acquire() {
        return 4;
    }
    // Parking works in the child: the bucket locks are free.
    if L.acquire_for(Duration::from_millis(1)) {
        return 5;
    }
    if L.release().is_err() {
        return 6;
    }
    0
}

/// Whether the thread with kernel id `tid` (of this process) is asleep in the kernel.
fn sleeping(tid: u64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name, which may itself contain ')'.
    stat.rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('S'))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > PATIENCE {
            // Let a fork stuck in our prepare handler finish before failing.
            GO.store(true, Ordering::SeqCst);
            panic!("gave up waiting until {what}");
        }
        thread::sleep(Duration::from_micros(200));
    }
}

/// proves: FORK-3
#[test]
fn fork_during_the_first_parks_leaves_no_parent_waiter_in_the_child() {
    // SAFETY: `prepare` is an `extern "C" fn` valid for the life of the process.
    let registered = unsafe { libc::pthread_atfork(Some(prepare), None, None) };
    assert_eq!(registered, 0);
    assert!(L.try_acquire());
    ARMED.store(true, Ordering::SeqCst);

    let forker = thread::spawn(|| {
        // SAFETY: the child runs only `child_checks` (atomics, futexes, its own thread-locals) and
        // then `_exit`s, never returning into the test harness.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = child_checks();
            // SAFETY: ends the child at once, without the parent's atexit handlers.
            unsafe { libc::_exit(code) };
        }
        pid
    });
    wait_until("the fork is in its prepare handler", || {
        IN_PREPARE.load(Ordering::SeqCst)
    });

    // The first park of the process: blocked until the lock is released.
    let first_tid = std::sync::Arc::new(AtomicU64::new(0));
    let first = {
        let first_tid = first_tid.clone();
        thread::spawn(move || {
            first_tid.store(thread_core::get_native_id(), Ordering::SeqCst);
            L.acquire_blocking();
            L.release().unwrap();
        })
    };
    // Asleep: queued on the lock, or (with a lazily registered handler) inside
    // `pthread_atfork`, behind the fork.
    wait_until("the first parker sleeps", || {
        let tid = first_tid.load(Ordering::SeqCst);
        tid != 0 && sleeping(tid)
    });
    let followers: Vec<_> = (0..FOLLOWERS)
        .map(|_| {
            thread::spawn(|| {
                L.acquire_blocking();
                L.release().unwrap();
            })
        })
        .collect();
    wait_until("the followers are queued", || L.__waiters() >= FOLLOWERS);
    // Lower bound only: every waiter has now waited over 1 ms, so a release would hand over.
    thread::sleep(Duration::from_millis(2));
    GO.store(true, Ordering::SeqCst);

    let pid = forker.join().unwrap();
    assert!(pid > 0, "fork failed");
    let mut status = 0;
    let start = Instant::now();
    loop {
        // SAFETY: `pid` is our child; `status` is a valid out-pointer.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            break;
        }
        assert_eq!(reaped, 0, "waitpid failed");
        if start.elapsed() > PATIENCE {
            // SAFETY: `pid` is our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung (a parent waiter kept its lock)");
        }
        thread::sleep(Duration::from_millis(1));
    }
    assert!(libc::WIFEXITED(status), "child crashed: {status}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "child check failed");

    // The parent is untouched: every waiter still gets the lock.
    L.release().unwrap();
    first.join().unwrap();
    for follower in followers {
        follower.join().unwrap();
    }
    assert!(!L.locked());
    assert_eq!(L.__waiters(), 0);
}
