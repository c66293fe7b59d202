//! R-3, checked by the compiler: which public types cross threads.

use thread_core::{Ident, Interrupt, ThreadError, ThreadHandle};
use thread_lock::{Lock, LockError, LockGuard, RLock, RLockState};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

/// proves: R-3
#[test]
fn locks_handles_and_errors_are_send_and_sync() {
    send_sync::<Lock>();
    send_sync::<RLock>();
    send_sync::<RLockState>();
    send_sync::<ThreadHandle>();
    send_sync::<Ident>();
    send_sync::<LockError>();
    send_sync::<ThreadError>();
    send_sync::<Interrupt>();
    send::<LockGuard<'static>>();
}

/// proves: R-3, LOCK-11
#[test]
fn a_lock_guard_is_dropped_on_another_thread() {
    let lock = Lock::new();
    let guard = lock.lock();
    std::thread::scope(|scope| {
        scope.spawn(move || drop(guard));
    });
    assert!(!lock.locked());
}
