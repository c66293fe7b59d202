//! FORK-2: no automatic reinit. A lock held when the process forks stays held in the child,
//! for a Lock and for an RLock (held by the forking thread and by another thread).
//!
//! The child does only async-signal-safe work (atomic loads and compare-and-swaps through the
//! locks' non-blocking calls, `write`, `_exit`), as a forked child of a multi-threaded process
//! must.

use thread_lock::{Lock, RLock};

/// Forks; the child runs `probe` and reports its byte through a pipe, then `_exit`s.
fn in_child(probe: impl FnOnce() -> u8) -> u8 {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe(2) to fill.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fork(2) has no preconditions; the child only probes atomics, writes and exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let byte = probe();
        // SAFETY: writing one byte from a valid buffer to our pipe, then ending the child
        // without running the parent's destructors.
        unsafe {
            libc::write(fds[1], (&byte as *const u8).cast(), 1);
            libc::_exit(0);
        }
    }
    let mut byte = 0u8;
    // SAFETY: reading one byte into a valid buffer; waiting for our own child; closing our
    // own descriptors once.
    unsafe {
        assert_eq!(libc::read(fds[0], (&mut byte as *mut u8).cast(), 1), 1);
        let mut status = 0;
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    byte
}

/// proves: FORK-2
#[test]
fn a_lock_held_at_fork_stays_held_in_the_child() {
    let lock = Lock::new();
    lock.acquire_blocking();
    let seen = in_child(|| u8::from(lock.locked()) | u8::from(!lock.try_acquire()) << 1);
    assert_eq!(
        seen, 0b11,
        "in the child: locked() and a failing try_acquire"
    );
    lock.release().unwrap();

    let free = Lock::new();
    let seen = in_child(|| u8::from(free.locked()) | u8::from(free.try_acquire()) << 1);
    assert_eq!(seen, 0b10, "a free lock stays free");
}

/// proves: FORK-2
#[test]
fn an_rlock_held_at_fork_stays_held_in_the_child() {
    // Held by the forking thread: still owned there, count kept.
    let rlock = RLock::new();
    assert_eq!(rlock.acquire(true, -1.0), Ok(true));
    assert_eq!(rlock.acquire(true, -1.0), Ok(true));
    let seen = in_child(|| {
        u8::from(rlock.locked())
            | u8::from(rlock.is_owned()) << 1
            | u8::from(rlock.recursion_count() == 2) << 2
    });
    assert_eq!(seen, 0b111);
    rlock.release().unwrap();
    rlock.release().unwrap();

    // Held by another thread: the forking thread does not own it and cannot take it.
    let rlock = std::sync::Arc::new(RLock::new());
    let holder = std::sync::Arc::clone(&rlock);
    let (taken_tx, taken_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        assert_eq!(holder.acquire(true, -1.0), Ok(true));
        taken_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        holder.release().unwrap();
    });
    taken_rx.recv().unwrap();
    let seen = in_child(|| {
        u8::from(rlock.locked())
            | u8::from(!rlock.is_owned()) << 1
            | u8::from(rlock.acquire(false, -1.0) == Ok(false)) << 2
    });
    done_tx.send(()).unwrap();
    thread.join().unwrap();
    assert_eq!(seen, 0b111);
}
