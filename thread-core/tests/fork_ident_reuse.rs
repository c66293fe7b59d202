//! HANDLE-4 with FORK-3: in a forked child, glibc hands the stacks (and so the `pthread_t`s) of
//! the parent's other threads to the child's new threads. A child thread that gets a parent
//! thread's ident must still see that thread's handle as done, join it at once, and be refused
//! only when it joins its own handle. Own process: one test that forks.

use std::sync::mpsc;
use std::time::Duration;

use thread_core::{ThreadError, ThreadHandle, get_ident, start_joinable_thread};

/// What the child's thread with the parent thread's ident saw.
#[derive(Debug, PartialEq)]
struct Seen {
    parent_done: bool,
    parent_join: Result<(), ThreadError>,
    parent_timed_join: Result<(), ThreadError>,
    own_join: Result<(), ThreadError>,
    own_done: bool,
}

/// In the child: starts threads, keeping each alive so the next takes another cached stack,
/// until one has `parent`'s ident; returns what that one saw (`None` if none did).
fn find_reused_ident(parent: &ThreadHandle) -> Option<Seen> {
    let target = parent.ident();
    let mut alive = Vec::new();
    let mut seen = None;
    for _ in 0..64 {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (own_tx, own_rx) = mpsc::channel::<ThreadHandle>();
        let (seen_tx, seen_rx) = mpsc::channel::<Option<Seen>>();
        let parent = parent.clone();
        let handle = start_joinable_thread(move || {
            let own = own_rx.recv().unwrap();
            let report = (get_ident() == target).then(|| Seen {
                parent_done: parent.is_done(),
                parent_join: parent.join(None),
                parent_timed_join: parent.join(Some(Duration::from_millis(1))),
                own_join: own.join(None),
                own_done: own.is_done(),
            });
            seen_tx.send(report).unwrap();
            let _ = release_rx.recv();
        })
        .unwrap();
        own_tx.send(handle.clone()).unwrap();
        let report = seen_rx.recv().unwrap();
        alive.push((handle, release_tx));
        if report.is_some() {
            seen = report;
            break;
        }
    }
    for (handle, release) in alive {
        drop(release);
        handle.join(None).unwrap();
    }
    seen
}

/// proves: HANDLE-4, FORK-3
#[test]
fn a_child_thread_that_reuses_a_parent_threads_ident_sees_its_handle_done() {
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let parent = start_joinable_thread(move || {
        ready_tx.send(()).unwrap();
        let _ = go_rx.recv();
    })
    .unwrap();
    ready_rx.recv().unwrap();

    // SAFETY: the child starts threads and uses channels (glibc's fork leaves malloc and
    // pthread_create usable in the child), then `_exit`s.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed"),
        0 => {
            let code = match find_reused_ident(&parent) {
                None => 2,
                Some(seen) => {
                    let expected = Seen {
                        parent_done: true,
                        parent_join: Ok(()),
                        parent_timed_join: Ok(()),
                        own_join: Err(ThreadError::JoinCurrent),
                        own_done: false,
                    };
                    if seen == expected {
                        0
                    } else {
                        eprintln!("child saw {seen:?}");
                        1
                    }
                }
            };
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        pid => {
            let mut status = 0;
            // SAFETY: `pid` is our child; `status` is writable.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            assert!(libc::WIFEXITED(status), "child did not exit");
            match libc::WEXITSTATUS(status) {
                0 => {}
                2 => panic!("no child thread got the parent thread's ident"),
                _ => panic!("the child thread with the reused ident saw the parent's as its own"),
            }
        }
    }
    // In the parent nothing changed.
    assert!(!parent.is_done());
    go_tx.send(()).unwrap();
    parent.join(None).unwrap();
}
