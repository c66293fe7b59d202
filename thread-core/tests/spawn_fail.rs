//! SPAWN-4: the OS refuses the thread. Own process: it reads `count()` and sets `stack_size`.

use std::sync::atomic::{AtomicBool, Ordering};

use thread_core::{
    Builder, ThreadError, count, stack_size, start_joinable_thread, start_new_thread,
};

/// proves: SPAWN-4, STACK-4
#[test]
fn an_impossible_stack_size_is_cant_start_new_thread_and_changes_nothing() {
    static RAN: AtomicBool = AtomicBool::new(false);
    let huge = usize::MAX / 2;
    // Through the builder.
    for joinable in [false, true] {
        let b = Builder::new().stack_size(huge);
        let err = if joinable {
            b.spawn_joinable(|| RAN.store(true, Ordering::SeqCst))
                .unwrap_err()
        } else {
            b.spawn(|| RAN.store(true, Ordering::SeqCst)).unwrap_err()
        };
        assert_eq!(err, ThreadError::CantStart);
        assert_eq!(
            (err.python_type(), err.to_string().as_str()),
            ("RuntimeError", "can't start new thread")
        );
    }
    // Through the process-wide setting (accepted there, refused at spawn: STACK-4).
    assert_eq!(stack_size(Some(huge)), Ok(0));
    assert_eq!(
        start_new_thread(|| RAN.store(true, Ordering::SeqCst)).unwrap_err(),
        ThreadError::CantStart
    );
    assert_eq!(
        start_joinable_thread(|| RAN.store(true, Ordering::SeqCst)).unwrap_err(),
        ThreadError::CantStart
    );
    // Nothing changed: no thread ran, the count, the setting.
    assert_eq!(stack_size(None), Ok(huge));
    assert_eq!(count(), 0);
    assert!(!RAN.load(Ordering::SeqCst));
    // And spawning works again afterwards.
    assert_eq!(stack_size(Some(0)), Ok(huge));
    start_joinable_thread(|| RAN.store(true, Ordering::SeqCst))
        .unwrap()
        .join(None)
        .unwrap();
    assert!(RAN.load(Ordering::SeqCst));
    assert_eq!(count(), 0);
}
