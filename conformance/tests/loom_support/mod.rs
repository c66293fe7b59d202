//! What the loom models of the public API share: how a model runs (with which fairness
//! outcome, within which preemption bound) and the plain cell that a lock's exclusion protects.

#![allow(dead_code)] // each model file uses its own part of this

use loom::cell::UnsafeCell;

/// thread-lock's loom build has one process-wide fairness switch: one model at a time.
static SWITCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` under loom with every release that wakes a waiter handing it the lock (`handoff`),
/// or never doing so. The preemption bound is `LOOM_MAX_PREEMPTIONS`, else 2.
pub(crate) fn model_with(handoff: bool, f: impl Fn() + Sync + Send + 'static) {
    let _one = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    thread_lock::__loom::set_handoff(handoff);
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(f);
}

/// Runs `f` with releases that never hand over: the waiter that was woken competes.
pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
    model_with(false, f);
}

/// Runs `f` under both of LOCK-15's outcomes: releases never hand over, then always do.
pub(crate) fn both_fairness_outcomes(f: impl Fn() + Sync + Send + 'static) {
    let f = std::sync::Arc::new(f);
    for handoff in [false, true] {
        let f = std::sync::Arc::clone(&f);
        model_with(handoff, move || f());
    }
}

/// Adds one to `cell`, which the caller guards with the lock under test: loom reports an
/// access that overlaps another thread's.
pub(crate) fn bump(cell: &UnsafeCell<u32>) {
    cell.with_mut(|p| {
        // SAFETY: the caller holds the lock that guards the cell; loom checks that it does.
        unsafe { *p += 1 }
    });
}

/// The cell's value, once every thread that wrote it has been joined.
pub(crate) fn read(cell: &UnsafeCell<u32>) -> u32 {
    cell.with(|p| {
        // SAFETY: every writer has been joined (loom checks).
        unsafe { *p }
    })
}

/// Starts `n` threads that each take `lock` blocking, bump `data` under it and release it.
pub(crate) fn spawn_bumpers(
    lock: &loom::sync::Arc<thread_lock::Lock>,
    data: &loom::sync::Arc<UnsafeCell<u32>>,
    n: usize,
) -> Vec<loom::thread::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let (lock, data) = (lock.clone(), data.clone());
            loom::thread::spawn(move || {
                lock.acquire_blocking();
                bump(&data);
                lock.release().unwrap();
            })
        })
        .collect()
}
