//! `RLock`'s count at its edges, which the lock keeps as "levels beyond the first" (count − 1,
//! wrapping): a count of 0 restored by `acquire_restore`, the first and last levels, and a lock
//! taken again after it was freed by each way of freeing it.
#![cfg(not(loom))] // the API tests run on the real build; loom_*.rs are the models

use thread_core::get_ident;
use thread_lock::{LockError, RLock, RLockState};

/// A count of 0 with the caller as owner (only `acquire_restore` can make it): the lock is held,
/// not owned; `release` and `release_save` refuse, and a re-acquire adds the first level.
/// proves: RLOCK-3, RLOCK-5
#[test]
fn a_restored_count_of_zero_is_held_but_not_owned() {
    let rlock = RLock::new();
    let me = get_ident();
    rlock.acquire_restore(RLockState::from_parts(0, me));
    assert!(rlock.locked());
    assert!(!rlock.is_owned());
    assert_eq!(rlock.recursion_count(), 0);
    assert_eq!(
        format!("{rlock:?}"),
        format!("<locked _thread.RLock object owner={me} count=0>")
    );
    assert_eq!(rlock.release(), Err(LockError::ReleaseUnacquired));
    assert_eq!(rlock.release_save(), Err(LockError::ReleaseUnacquired));
    assert_eq!(rlock.recursion_count(), 0);
    // The owner's re-acquire: from 0 to 1 level, then released as any level.
    assert_eq!(rlock.acquire(true, -1.0), Ok(true));
    assert_eq!(rlock.recursion_count(), 1);
    assert!(rlock.is_owned());
    rlock.release().unwrap();
    assert!(!rlock.locked());
    assert_eq!(
        format!("{rlock:?}"),
        "<unlocked _thread.RLock object owner=0 count=0>"
    );
}

/// After each way of freeing the lock (the last release, `release_save`, the fork reinit), the
/// next owner starts at one level and a single release frees it again.
/// proves: RLOCK-2, RLOCK-5, FORK-1
#[test]
fn every_way_of_freeing_leaves_a_fresh_first_level() {
    let rlock = RLock::new();
    let free_ways: [&dyn Fn(&RLock); 3] = [
        &|r| {
            r.release().unwrap();
            r.release().unwrap();
            r.release().unwrap();
        },
        &|r| {
            let state = r.release_save().unwrap();
            assert_eq!(state.into_parts().0, 3);
        },
        // SAFETY: no other thread knows this lock.
        &|r| unsafe { r.reinit_after_fork() },
    ];
    for free in free_ways {
        for _ in 0..3 {
            rlock.acquire(true, -1.0).unwrap();
        }
        assert_eq!(rlock.recursion_count(), 3);
        free(&rlock);
        assert!(!rlock.locked());
        assert_eq!(rlock.recursion_count(), 0);
        std::thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(rlock.acquire(false, -1.0), Ok(true));
                assert_eq!(rlock.recursion_count(), 1);
                rlock.release().unwrap();
                assert!(!rlock.locked());
            });
        });
    }
}

/// A restored count is kept exactly, and released level by level.
/// proves: RLOCK-5
#[test]
fn a_restored_count_is_released_level_by_level() {
    let rlock = RLock::new();
    rlock.acquire_restore(RLockState::from_parts(3, get_ident()));
    for left in (0..3).rev() {
        rlock.release().unwrap();
        assert_eq!(rlock.recursion_count(), left);
    }
    assert!(!rlock.locked());
    assert_eq!(rlock.release(), Err(LockError::ReleaseUnacquired));
}
