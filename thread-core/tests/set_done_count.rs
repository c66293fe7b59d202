//! HANDLE-1 with CORE-7: after `set_done` the handle is done at once, but `count()` falls only
//! when the thread really ends. One test: the count is process-wide.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use thread_core::{Builder, count};

/// proves: HANDLE-1, CORE-7
#[test]
fn count_falls_only_at_the_real_end_after_set_done() {
    assert_eq!(count(), 0);
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let handle = Builder::new()
        .daemon(false)
        .spawn_joinable(move || {
            started_tx.send(()).unwrap();
            let _ = go_rx.recv();
        })
        .unwrap();
    started_rx.recv().unwrap();
    assert_eq!(count(), 1);

    handle.set_done();
    handle.join(None).unwrap();
    assert!(handle.is_done());
    // Done, yet still running and counted.
    assert_eq!(count(), 1);
    // And no longer something shutdown waits for.
    thread_core::shutdown().unwrap();
    assert_eq!(count(), 1);

    go_tx.send(()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while count() != 0 {
        assert!(Instant::now() < deadline, "the count never fell");
        std::thread::sleep(Duration::from_millis(1));
    }
}
