//! What thread-core's integration tests share: the runner of the `harness = false` binaries, the
//! counting allocator of the memory tests, a fork that reports how the child ended, and a thread
//! that runs until it is let go.

#![allow(dead_code)] // each test file uses its own part of this

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::mpsc;

use thread_core::{ThreadHandle, start_joinable_thread};

/// A joinable thread that runs until the returned sender sends (or is dropped), then reports its
/// end on the returned receiver.
pub(crate) fn held_thread() -> (ThreadHandle, mpsc::Sender<()>, mpsc::Receiver<()>) {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (ended_tx, ended_rx) = mpsc::channel::<()>();
    let handle = start_joinable_thread(move || {
        let _ = go_rx.recv();
        let _ = ended_tx.send(());
    })
    .unwrap();
    (handle, go_tx, ended_rx)
}

/// Runs `tests` one after another on the calling thread (the process's main thread, in a
/// `harness = false` binary), printing libtest's lines. Arguments that do not start with `-` are
/// filters: a test runs when its name contains one of them.
pub(crate) fn run_tests(tests: &[(&str, fn())]) -> ExitCode {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    println!("\nrunning {} tests", tests.len());
    let (mut ran, mut failed) = (0, 0);
    for &(name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        let ok = std::panic::catch_unwind(test).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        failed += usize::from(!ok);
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed\n",
        if failed == 0 { "ok" } else { "FAILED" },
        ran - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The system allocator, counting the bytes live in [`live`]. A test file installs it with
/// `#[global_allocator] static GLOBAL: support::Counting = support::Counting;`.
#[derive(Debug)]
pub(crate) struct Counting;

/// Bytes allocated and not yet freed through [`Counting`].
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// The bytes live through [`Counting`] now.
pub(crate) fn live() -> isize {
    // Relaxed: a snapshot; the tests read it once the threads that allocate have settled.
    LIVE.load(Ordering::Relaxed)
}

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Relaxed: a counter; see `live`.
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Relaxed: as above.
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Forks; the child runs `child` and exits 0 if it returned true (`_exit`, without the parent's
/// atexit handlers). Returns whether it did. The caller keeps `child` to what a forked child of
/// this test process may do (each caller says what that is).
pub(crate) fn in_child(child: impl FnOnce() -> bool) -> bool {
    // SAFETY: the child runs only `child`, which the caller keeps sound after a fork (above),
    // then `_exit`s.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed"),
        0 => {
            let ok = child();
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        pid => {
            let mut status = 0;
            // SAFETY: `pid` is our child; `status` is writable.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
        }
    }
}
