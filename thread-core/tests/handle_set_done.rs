//! HANDLE-1: `ThreadHandle::set_done` on threads pythread started (running, finished, joined),
//! and `ThreadHandle::for_thread` handles on threads it did not start. Nothing process-wide is
//! asserted here (`count()` after `set_done` has its own file), so the tests may run in parallel.

use std::mem::MaybeUninit;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use thread_core::{Ident, ThreadError, ThreadHandle, get_ident, start_joinable_thread};

const CEILING: Duration = Duration::from_secs(10);

// Not bound by the libc crate; glibc exports it.
unsafe extern "C" {
    fn pthread_attr_getdetachstate(
        attr: *const libc::pthread_attr_t,
        state: *mut libc::c_int,
    ) -> libc::c_int;
}

/// `PTHREAD_CREATE_JOINABLE` or `PTHREAD_CREATE_DETACHED` of a live thread.
fn detach_state(thread: Ident) -> libc::c_int {
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: `thread` is the `pthread_t` of a thread the caller keeps alive for the call;
    // `pthread_getattr_np` initialises `attr`, which is destroyed once after use.
    unsafe {
        assert_eq!(
            libc::pthread_getattr_np(thread.as_u64() as libc::pthread_t, attr.as_mut_ptr()),
            0
        );
        let mut state = 0;
        assert_eq!(pthread_attr_getdetachstate(attr.as_ptr(), &mut state), 0);
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        state
    }
}

/// `set_done` on a running thread: the handle is done at once, a join returns at once (even
/// `join(None)`, which would otherwise wait for the thread), the OS thread is detached, and the
/// thread itself runs on to its end.
/// proves: HANDLE-1
#[test]
fn set_done_on_a_running_thread_detaches_it_and_joins_return_at_once() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (ended_tx, ended_rx) = mpsc::channel::<()>();
    let handle = start_joinable_thread(move || {
        let _ = go_rx.recv();
        ended_tx.send(()).unwrap();
    })
    .unwrap();
    // The thread waits on `go_rx`, so it is alive for the pthread calls below.
    assert_eq!(detach_state(handle.ident()), libc::PTHREAD_CREATE_JOINABLE);
    assert!(!handle.is_done());

    let clone = handle.clone();
    handle.set_done();
    assert!(handle.is_done());
    assert!(clone.is_done(), "clones share the thread");
    assert_eq!(detach_state(handle.ident()), libc::PTHREAD_CREATE_DETACHED);
    let start = Instant::now();
    handle.join(None).unwrap();
    clone.join(Some(Duration::from_secs(30))).unwrap();
    assert!(start.elapsed() < CEILING, "the joins returned at once");
    // Calling it again does nothing.
    handle.set_done();

    // The thread was not ended by any of this.
    assert!(ended_rx.try_recv().is_err());
    go_tx.send(()).unwrap();
    ended_rx.recv_timeout(CEILING).unwrap();
    handle.join(None).unwrap();
}

/// `set_done` on a thread that has finished but was never joined, and on one already joined:
/// both stay done and join at once.
/// proves: HANDLE-1
#[test]
fn set_done_on_a_finished_thread_keeps_it_done() {
    let finished = start_joinable_thread(|| ()).unwrap();
    let deadline = Instant::now() + CEILING;
    while !finished.is_done() {
        assert!(Instant::now() < deadline, "the thread did not end");
        std::thread::sleep(Duration::from_millis(1));
    }
    finished.set_done();
    assert!(finished.is_done());
    finished.join(None).unwrap();

    let joined = start_joinable_thread(|| ()).unwrap();
    joined.join(None).unwrap();
    joined.set_done();
    assert!(joined.is_done());
    joined.join(None).unwrap();
}

/// A `set_done` from another thread wakes a `join(None)` that is waiting on a running thread.
/// proves: HANDLE-1
#[test]
fn set_done_wakes_a_waiting_join() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let handle = start_joinable_thread(move || {
        let _ = go_rx.recv();
    })
    .unwrap();
    let joiner = {
        let handle = handle.clone();
        std::thread::spawn(move || handle.join(None))
    };
    // Whether the joiner is already asleep or not, set_done ends its wait.
    std::thread::sleep(Duration::from_millis(20));
    handle.set_done();
    joiner.join().unwrap().unwrap();
    go_tx.send(()).unwrap();
}

/// A `for_thread` handle on a thread pythread did not start: running until `set_done`, whatever
/// its thread does; a timed join times out (no earlier than its timeout); joining from its own
/// thread is refused until it is done; `set_done` from any thread wakes a waiting join.
/// proves: HANDLE-1
#[test]
fn for_thread_handles_run_until_set_done() {
    let (ident_tx, ident_rx) = mpsc::channel::<Ident>();
    let (handle_tx, handle_rx) = mpsc::channel::<ThreadHandle>();
    let (result_tx, result_rx) = mpsc::channel::<(Result<(), ThreadError>, bool)>();
    // A std thread: pythread did not start it.
    let foreign = std::thread::spawn(move || {
        ident_tx.send(get_ident()).unwrap();
        let own: ThreadHandle = handle_rx.recv().unwrap();
        result_tx.send((own.join(None), own.is_done())).unwrap();
        // Wait until the test has marked it done, then join it from here too.
        let own: ThreadHandle = handle_rx.recv().unwrap();
        result_tx.send((own.join(None), own.is_done())).unwrap();
    });
    let ident = ident_rx.recv().unwrap();
    let handle = ThreadHandle::for_thread(ident);
    assert_eq!(handle.ident(), ident);
    assert!(!handle.is_done());

    // Its own thread may not join it while it runs.
    handle_tx.send(handle.clone()).unwrap();
    let (r, done) = result_rx.recv().unwrap();
    assert_eq!(r, Err(ThreadError::JoinCurrent));
    assert_eq!(r.unwrap_err().to_string(), "Cannot join current thread");
    assert!(!done);

    // A timed join waits its whole timeout and reports it still running.
    let start = Instant::now();
    handle.join(Some(Duration::from_millis(30))).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert!(!handle.is_done());

    // A join(None) on another thread waits until set_done.
    let waiter = {
        let handle = handle.clone();
        std::thread::spawn(move || {
            handle.join(None).unwrap();
            handle.is_done()
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    handle.set_done();
    assert!(waiter.join().unwrap());
    assert!(handle.is_done());
    let start = Instant::now();
    handle.join(None).unwrap();
    assert!(start.elapsed() < CEILING);

    // Now its own thread joins it at once.
    handle_tx.send(handle.clone()).unwrap();
    assert_eq!(result_rx.recv().unwrap(), (Ok(()), true));
    foreign.join().unwrap();
}

/// A `for_thread` handle of the calling thread, which pythread did not start either, and the
/// handle of a thread that ended: it still runs until `set_done` (the handle knows only the
/// ident; its thread's end is not seen).
/// proves: HANDLE-1
#[test]
fn for_thread_ignores_its_threads_end() {
    let ident = std::thread::spawn(get_ident).join().unwrap();
    let handle = ThreadHandle::for_thread(ident);
    handle.join(Some(Duration::from_millis(5))).unwrap();
    assert!(!handle.is_done());
    handle.set_done();
    handle.join(None).unwrap();
    assert!(handle.is_done());

    let me = ThreadHandle::for_thread(get_ident());
    assert_eq!(me.join(None), Err(ThreadError::JoinCurrent));
    me.set_done();
    assert_eq!(me.join(None), Ok(()));
}
