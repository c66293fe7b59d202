//! Identifiers in a forked child: CORE-3 (no stale kernel id) and CORE-9 (the forking thread
//! becomes the main thread). Forks from a test thread, which is not the main thread.

mod support;

use support::in_child;
use thread_core::{get_ident, get_native_id, is_main_thread, main_thread_ident};

/// proves: CORE-3, CORE-9
#[test]
fn forked_child_gets_fresh_native_id_and_forking_thread_is_main() {
    let before = get_native_id();
    let ident_before = get_ident();
    assert!(!is_main_thread(), "test threads are not the main thread");
    assert_ne!(main_thread_ident(), ident_before);
    // The child only reads thread-locals and atomics: it neither allocates nor locks.
    assert!(in_child(|| {
        // SAFETY: `getpid` has no preconditions.
        let pid = unsafe { libc::getpid() } as u64;
        // The forking thread is the child's only (so main) thread: its tid is the child's pid.
        get_native_id() == pid && is_main_thread() && main_thread_ident() == get_ident()
    }));
    assert_eq!(get_native_id(), before);
    assert!(!is_main_thread());
}
