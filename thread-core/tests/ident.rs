//! Identifiers and errors: CORE-1, CORE-2, CORE-3, CORE-8 (on harness threads; the main-thread
//! parts are in `main_thread.rs`).

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use thread_core::{Ident, ThreadError, daemon_threads_allowed, get_ident, get_native_id};

/// proves: CORE-1
#[test]
fn thread_errors_without_another_type_are_runtime_errors() {
    assert_eq!(ThreadError::CantStart.python_type(), "RuntimeError");
    assert_eq!(ThreadError::CantStart.to_string(), "can't start new thread");
    assert_eq!(ThreadError::JoinCurrent.python_type(), "RuntimeError");
    assert_eq!(
        ThreadError::JoinCurrent.to_string(),
        "Cannot join current thread"
    );
    assert_eq!(
        ThreadError::MainThreadAlreadySet.python_type(),
        "RuntimeError"
    );
    assert_eq!(ThreadError::SignalOutOfRange.python_type(), "ValueError");
    assert_eq!(
        ThreadError::StackSizeInvalid { size: 1 }.python_type(),
        "ValueError"
    );
}

/// proves: CORE-2
#[test]
fn ident_is_non_zero_stable_and_pthread_self() {
    let a = get_ident();
    assert_ne!(a.as_u64(), 0);
    assert_eq!(a, get_ident());
    // SAFETY: `pthread_self` has no preconditions.
    assert_eq!(a.as_u64(), unsafe { libc::pthread_self() } as u64);
    assert_eq!(Ident::from_u64(a.as_u64()), Some(a));
    assert_eq!(format!("{a}"), a.as_u64().to_string());
}

/// proves: CORE-2
#[test]
fn idents_are_unique_among_live_threads_including_foreign_ones() {
    const N: usize = 8;
    let barrier = Arc::new(Barrier::new(N));
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            // std::thread: a thread pythread did not start.
            std::thread::spawn(move || {
                let id = get_ident();
                // All alive at once, so the idents must differ.
                barrier.wait();
                // SAFETY: `pthread_self` has no preconditions.
                assert_eq!(id.as_u64(), unsafe { libc::pthread_self() } as u64);
                assert_eq!(id, get_ident());
                id
            })
        })
        .collect();
    let ids: HashSet<Ident> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(ids.len(), N);
}

/// proves: CORE-3
#[test]
fn native_id_is_gettid_and_cached() {
    let here = get_native_id();
    // SAFETY: `gettid` has no preconditions.
    assert_eq!(here, unsafe { libc::gettid() } as u64);
    assert_eq!(here, get_native_id());
    let other = std::thread::spawn(|| {
        // SAFETY: `gettid` has no preconditions.
        (get_native_id(), unsafe { libc::gettid() } as u64)
    })
    .join()
    .unwrap();
    assert_eq!(other.0, other.1);
    assert_ne!(other.0, here);
}

/// proves: CORE-8
#[test]
fn daemon_threads_are_allowed() {
    assert!(daemon_threads_allowed());
}

/// proves: R-3
#[test]
fn handles_errors_and_idents_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<thread_core::ThreadHandle>();
    send_sync::<ThreadError>();
    send_sync::<thread_core::Interrupt>();
    send_sync::<Ident>();
    send_sync::<thread_core::SignalHandler>();
    send_sync::<thread_core::FunctionDescription>();
}
