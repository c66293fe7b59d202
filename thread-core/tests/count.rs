//! `count()` (CORE-7). One test: the count is process-wide.

use std::sync::mpsc;

use thread_core::{Builder, count, start_joinable_thread, start_new_thread};

/// proves: CORE-7
#[test]
fn count_rises_in_the_thread_before_the_function_and_falls_before_join_returns() {
    assert_eq!(count(), 0);
    // Rises in the new thread before the function runs.
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let h = start_joinable_thread(move || {
        tx.send(count()).unwrap();
        go_rx.recv().unwrap();
    })
    .unwrap();
    assert_eq!(rx.recv().unwrap(), 1);
    assert_eq!(count(), 1);
    go_tx.send(()).unwrap();
    // Falls before join returns and before is_done reports it.
    h.join(None).unwrap();
    assert_eq!(count(), 0);

    // Many at once, detached and joinable, through the builder too.
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = std::sync::Arc::new(std::sync::Mutex::new(go_rx));
    let mut handles = Vec::new();
    for i in 0..6 {
        let (tx, go_rx) = (tx.clone(), go_rx.clone());
        let body = move || {
            tx.send(()).unwrap();
            let _ = go_rx.lock().unwrap().recv();
        };
        if i % 2 == 0 {
            handles.push(Builder::new().spawn_joinable(body).unwrap());
        } else {
            start_new_thread(body).unwrap();
        }
    }
    for _ in 0..6 {
        rx.recv().unwrap();
    }
    assert_eq!(count(), 6);
    drop(go_tx);
    for h in &handles {
        h.join(None).unwrap();
        assert!(h.is_done());
    }
    // The detached ones end on their own; each is gone from the count when it has finished.
    while count() != 0 {
        std::thread::yield_now();
    }

    // Falls only after the failure report: the hook, in the dying thread, still sees it counted.
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    thread_hooks::set_unraisable_hook(move |_| tx.lock().unwrap().send(count()).unwrap());
    let h = Builder::new()
        .describe("failing")
        .spawn_joinable(|| Err::<(), _>("failed"))
        .unwrap();
    h.join(None).unwrap();
    assert_eq!(rx.recv().unwrap(), 1);
    assert_eq!(count(), 0);
    thread_hooks::reset_unraisable_hook();

    // Polling is_done: once it says done, the thread is no longer counted.
    for _ in 0..50 {
        let h = start_joinable_thread(|| ()).unwrap();
        while !h.is_done() {
            std::hint::spin_loop();
        }
        assert_eq!(count(), 0);
    }
}
