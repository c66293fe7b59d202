//! FORK-3 and HANDLE-4: "the forking thread" is the thread that called `fork`, recorded at the
//! fork — not whichever thread asks later. In the child, a thread started there sees the forking
//! thread's handle running and every other parent thread's handle done; `for_thread` handles
//! follow CPython (alive when the forking thread had their ident), also across a second fork.
//! Own process: one test that forks twice.

mod support;

use std::sync::mpsc;
use std::time::Duration;
use support::in_child;

use thread_core::{ThreadError, ThreadHandle, get_ident, start_joinable_thread};

/// Runs `f` on a new thread started by pythread and returns its result.
fn on_new_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    start_joinable_thread(move || tx.send(f()).unwrap())
        .unwrap()
        .join(None)
        .unwrap();
    rx.recv().unwrap()
}

/// Whether `handle` runs: not done, and a short timed join leaves it so.
fn runs(handle: &ThreadHandle) -> bool {
    !handle.is_done() && handle.join(Some(Duration::from_millis(1))).is_ok() && !handle.is_done()
}

/// Whether `handle` is the calling thread's own and runs: joining it is refused.
fn runs_as_own(handle: &ThreadHandle) -> bool {
    !handle.is_done() && handle.join(None) == Err(ThreadError::JoinCurrent)
}

/// Whether `handle` is done and joins at once.
fn done(handle: &ThreadHandle) -> bool {
    handle.is_done() && handle.join(None).is_ok()
}

/// proves: FORK-3, HANDLE-4, HANDLE-1
#[test]
fn the_forking_thread_is_recorded_at_the_fork() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let other = start_joinable_thread(move || {
        let _ = go_rx.recv();
    })
    .unwrap();
    let adopted_here = ThreadHandle::for_thread(get_ident());

    let (handle_tx, handle_rx) = mpsc::channel::<ThreadHandle>();
    let (ok_tx, ok_rx) = mpsc::channel::<bool>();
    let forker = start_joinable_thread(move || {
        let me = handle_rx.recv().unwrap();
        let adopted_me = ThreadHandle::for_thread(get_ident());
        let other = other.clone();
        let adopted_here = adopted_here.clone();
        // The children start threads and use channels: glibc's fork leaves malloc and
        // pthread_create usable in the child.
        let ok = in_child(move || {
            // On the forking thread itself.
            let here =
                runs_as_own(&me) && done(&other) && runs_as_own(&adopted_me) && done(&adopted_here);
            // Asked from a thread started in the child: the same answers.
            let (me2, other2, adopted_me2, adopted_here2) = (
                me.clone(),
                other.clone(),
                adopted_me.clone(),
                adopted_here.clone(),
            );
            let there = on_new_thread(move || {
                runs(&me2) && done(&other2) && runs(&adopted_me2) && done(&adopted_here2)
            });
            // A second fork, by a thread started in the child: the first forking thread is gone
            // in the grandchild; the second one's handles run there.
            let (own_tx, own_rx) = mpsc::channel::<ThreadHandle>();
            let (result_tx, result_rx) = mpsc::channel::<bool>();
            let (me3, adopted_me3) = (me.clone(), adopted_me.clone());
            let second_forker = start_joinable_thread(move || {
                let own = own_rx.recv().unwrap();
                let adopted_own = ThreadHandle::for_thread(get_ident());
                let ok = in_child(move || {
                    done(&me3)
                        && done(&adopted_me3)
                        && runs_as_own(&own)
                        && runs_as_own(&adopted_own)
                });
                result_tx.send(ok).unwrap();
            })
            .unwrap();
            own_tx.send(second_forker.clone()).unwrap();
            let second = result_rx.recv().unwrap();
            second_forker.join(None).unwrap();
            // Back in the child, the first forking thread still runs.
            here && there && second && runs_as_own(&me) && runs_as_own(&adopted_me)
        });
        ok_tx.send(ok).unwrap();
    })
    .unwrap();
    handle_tx.send(forker.clone()).unwrap();
    forker.join(None).unwrap();
    assert!(
        ok_rx.recv().unwrap(),
        "a child or grandchild saw a wrong handle state"
    );
    assert!(forker.is_done());
    go_tx.send(()).unwrap();
}
