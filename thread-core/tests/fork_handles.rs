//! FORK-3 for handles: in a forked child, the handle of any thread other than the forking one
//! reports done and joins at once; `count()` stays as it was; the forking thread's own handle
//! does not. Own process: it forks and reads `count()`.

use std::sync::mpsc;

use thread_core::{ThreadHandle, count, start_joinable_thread};

/// proves: FORK-3, SPAWN-7
#[test]
fn in_a_forked_child_other_threads_handles_are_done() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let blocked = start_joinable_thread(move || {
        ready_tx.send(()).unwrap();
        let _ = go_rx.recv();
    })
    .unwrap();
    ready_rx.recv().unwrap();
    assert!(!blocked.is_done());

    // The forking thread is itself a pythread thread with a handle.
    let (handle_tx, handle_rx) = mpsc::channel::<ThreadHandle>();
    let forker = start_joinable_thread(move || {
        let me = handle_rx.recv().unwrap();
        let other = blocked;
        // SAFETY: the child only reads atomics and thread-locals, then `_exit`s.
        match unsafe { libc::fork() } {
            0 => {
                let ok = other.is_done()
                    && other.join(None).is_ok()
                    && !me.is_done()
                    && me.join(None).is_err()
                    && count() == 2;
                // SAFETY: ends the child at once.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            pid => {
                assert!(pid > 0);
                let mut status = 0;
                // SAFETY: our child; `status` is writable.
                assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
                assert!(
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                    "child failed"
                );
                // In the parent nothing changed.
                assert!(!other.is_done());
                go_tx.send(()).unwrap();
                other.join(None).unwrap();
            }
        }
    })
    .unwrap();
    handle_tx.send(forker.clone()).unwrap();
    forker.join(None).unwrap();
    assert_eq!(count(), 0);
}
