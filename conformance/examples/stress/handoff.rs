//! `handoff`: a holder keeps the lock about 1 ms at a time while waiters time out after about
//! 1 ms — the release's handoff (LOCK-15: a waiter queued over 1 ms is handed the lock) races
//! the waiter's own timeout. Whatever wins, a waiter that returns `true` owns the lock alone, one
//! that returns `false` owns nothing and waited its full timeout (LOCK-7), no hold is lost and
//! no waiter stays queued. A Lock and an RLock, each with its own threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use thread_lock::{Lock, RLock};

use crate::support::{Phases, Rng, Run, Shadow, check_quiescent, describe_locks, seed, watchdog};

const WAITERS: usize = 4;
const OPS: [&str; 5] = ["idle", "holding", "waiting", "releasing", "rlock waiting"];

struct World {
    lock: [Lock; 1],
    shadow: [Shadow; 1],
    rlock: RLock,
    rlock_shadow: Shadow,
    phases: Phases,
    handed_in_time: AtomicU64,
    acquired: AtomicU64,
    timed_out: AtomicU64,
}

pub(crate) fn main(run: &Arc<Run>) -> i32 {
    let world = Arc::new(World {
        lock: [Lock::new()],
        shadow: [Shadow::default()],
        rlock: RLock::new(),
        rlock_shadow: Shadow::default(),
        phases: Phases::new(2 * (WAITERS + 1)),
        handed_in_time: AtomicU64::new(0),
        acquired: AtomicU64::new(0),
        timed_out: AtomicU64::new(0),
    });
    {
        let world = Arc::clone(&world);
        watchdog(
            run,
            Box::new(move || {
                format!(
                    "{}{}  rlock: {:?} (state byte {:#04b}), shadow owner {}\n",
                    world.phases.describe(&OPS),
                    describe_locks(&world.lock, &world.shadow),
                    world.rlock,
                    world.rlock.__state(),
                    world.rlock_shadow.owner()
                )
            }),
        );
    }
    std::thread::scope(|scope| {
        for (slot, rlock) in [(0usize, false), (WAITERS + 1, true)] {
            let world = &world;
            scope.spawn(move || holder(run, world, slot, rlock));
            for w in 1..=WAITERS {
                scope.spawn(move || waiter(run, world, slot + w, rlock));
            }
        }
    });
    check_quiescent(run, &world.lock, &world.shadow);
    if world.rlock.locked() || world.rlock.__state() != 0 || world.rlock.__waiters() != 0 {
        run.anomaly(format!("rlock not quiescent: {:?}", world.rlock));
    }
    let details = format!(
        "waits: acquired {} (of them {} after waiting over 1 ms), timed out {}",
        world.acquired.load(SeqCst),
        world.handed_in_time.load(SeqCst),
        world.timed_out.load(SeqCst)
    );
    run.finish(&details)
}

/// Takes the lock, keeps it about 1 ms, releases it; again and again.
fn holder(run: &Run, world: &World, slot: usize, rlock: bool) {
    let me = slot as u64 + 1;
    let mut rng = Rng::new(seed(me));
    while !run.should_stop() {
        world.phases.set(slot, 1, 0);
        if rlock {
            let _level = world.rlock.lock();
            world.rlock_shadow.enter(run, me, "rlock holder");
            std::thread::sleep(rng.micros(800, 1200));
            world.rlock_shadow.leave(run, me, "rlock holder");
        } else {
            world.lock[0].acquire_blocking();
            world.shadow[0].enter(run, me, "holder");
            std::thread::sleep(rng.micros(800, 1200));
            world.phases.set(slot, 3, 0);
            world.shadow[0].leave(run, me, "holder");
            if world.lock[0].release().is_err() {
                run.anomaly("holder: release of the held lock failed".into());
            }
        }
        world.phases.set(slot, 0, 0);
        // A short gap, sometimes none: barging newcomers and handed-over waiters both happen.
        if rng.below(2) == 0 {
            std::thread::sleep(rng.micros(1, 100));
        }
        run.tick(1);
    }
}

/// Waits about 1 ms for the lock; when it gets it, keeps it briefly.
fn waiter(run: &Run, world: &World, slot: usize, rlock: bool) {
    let me = slot as u64 + 1;
    let mut rng = Rng::new(seed(me));
    while !run.should_stop() {
        let timeout = rng.micros(700, 1300);
        world.phases.set(slot, if rlock { 4 } else { 2 }, 0);
        let started = Instant::now();
        let got = if rlock {
            world.rlock.acquire(true, timeout.as_secs_f64())
        } else {
            world.lock[0].acquire(true, timeout.as_secs_f64())
        };
        let waited = started.elapsed();
        match got {
            Ok(true) => {
                world.acquired.fetch_add(1, SeqCst);
                if waited > Duration::from_millis(1) {
                    world.handed_in_time.fetch_add(1, SeqCst);
                }
                let shadow = if rlock {
                    &world.rlock_shadow
                } else {
                    &world.shadow[0]
                };
                shadow.enter(run, me, "waiter");
                std::thread::sleep(rng.micros(1, 50));
                world.phases.set(slot, 3, 0);
                shadow.leave(run, me, "waiter");
                let released = if rlock {
                    world.rlock.release()
                } else {
                    world.lock[0].release()
                };
                if released.is_err() {
                    run.anomaly("waiter: release of the lock it got failed".into());
                }
            }
            Ok(false) => {
                world.timed_out.fetch_add(1, SeqCst);
                if waited < timeout {
                    run.anomaly(format!("gave up after {waited:?}, before {timeout:?}"));
                }
            }
            Err(e) => run.anomaly(format!("acquire off the main thread failed: {e}")),
        }
        world.phases.set(slot, 0, 0);
        run.tick(1);
    }
}
