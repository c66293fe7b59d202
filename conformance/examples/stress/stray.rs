//! `stray`: releases by threads that hold nothing, racing holders, parked waiters and handoffs.
//! A `Lock` has no owner, so any thread may release it; one that is free makes the release fail
//! and changes nothing (LOCK-9). Workers take two locks in every acquire form and release what
//! they took, some holds long enough (about 1 ms) for waiters to park and be handed the lock
//! (LOCK-15); hecklers release the same locks at random moments. Every hold is ended by exactly
//! one successful release, whoever makes it: per lock, successful releases equal acquisitions.
//! A release that loses while waiters are queued behind a free lock must leave them reachable:
//! a stranded waiter is a stall, and at the end every state byte is 0 with nobody queued.
//!
//! A third lock makes that case happen on purpose, round after round: three waiters park behind
//! its holder, whose release wakes the first and leaves the lock free with the other two queued,
//! and whose second release, at once, while the woken waiter is still waking, finds it so.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use thread_lock::Lock;

use crate::support::{Phases, Rng, Run, Shadow, check_quiescent, describe_locks, seed, watchdog};

/// The workers' and hecklers' locks, and the bursts' own.
const SHARED_LOCKS: usize = 2;
const BURST_LOCK: usize = SHARED_LOCKS;
const LOCKS: usize = SHARED_LOCKS + 1;
const WORKERS: usize = 6;
const HECKLERS: usize = 2;
/// The thread that runs the bursts (its waiters are not in the phase table).
const BURSTER: usize = WORKERS + HECKLERS;
const BURST_WAITERS: usize = 3;
const OPS: [&str; 7] = [
    "idle",
    "acquiring",
    "holding",
    "releasing",
    "heckling",
    "waiting for the burst's waiters to park",
    "joining the burst's waiters",
];

struct World {
    locks: [Lock; LOCKS],
    /// Never entered (a stray release ends holds, so ownership cannot be tracked); only for the
    /// quiescence check's signature.
    no_shadows: [Shadow; LOCKS],
    acquisitions: [AtomicU64; LOCKS],
    releases: [AtomicU64; LOCKS],
    stray_wins: AtomicU64,
    stray_losses: AtomicU64,
    burst_rounds: AtomicU64,
    /// Bursts whose second release found the lock free (before the woken waiter took it).
    burst_losses: AtomicU64,
    phases: Phases,
}

pub(crate) fn main(run: &Arc<Run>) -> i32 {
    let world = Arc::new(World {
        locks: std::array::from_fn(|_| Lock::new()),
        no_shadows: std::array::from_fn(|_| Shadow::default()),
        acquisitions: std::array::from_fn(|_| AtomicU64::new(0)),
        releases: std::array::from_fn(|_| AtomicU64::new(0)),
        stray_wins: AtomicU64::new(0),
        stray_losses: AtomicU64::new(0),
        burst_rounds: AtomicU64::new(0),
        burst_losses: AtomicU64::new(0),
        phases: Phases::new(WORKERS + HECKLERS + 1),
    });
    {
        let world = Arc::clone(&world);
        watchdog(
            run,
            Box::new(move || {
                let mut out = world.phases.describe(&OPS);
                out.push_str(&describe_locks(&world.locks, &world.no_shadows));
                for (i, lock) in world.locks.iter().enumerate() {
                    out.push_str(&format!("  lock {i}: {} waiters\n", lock.__waiters()));
                }
                out
            }),
        );
    }
    std::thread::scope(|scope| {
        for slot in 0..WORKERS {
            let world = &world;
            scope.spawn(move || worker(run, world, slot));
        }
        for slot in WORKERS..WORKERS + HECKLERS {
            let world = &world;
            scope.spawn(move || heckler(run, world, slot));
        }
        scope.spawn(|| bursts(run, &world));
    });
    for i in 0..LOCKS {
        let (acquired, released) = (
            world.acquisitions[i].load(Relaxed),
            world.releases[i].load(Relaxed),
        );
        if acquired != released {
            run.anomaly(format!(
                "lock {i}: {acquired} acquisitions but {released} successful releases"
            ));
        }
    }
    check_quiescent(run, &world.locks, &world.no_shadows);
    let acquired: u64 = world.acquisitions.iter().map(|a| a.load(Relaxed)).sum();
    let details = format!(
        "{acquired} holds; stray releases: {} ended a hold, {} found the lock free; {} bursts, \
         in {} of them the second release found the lock free",
        world.stray_wins.load(Relaxed),
        world.stray_losses.load(Relaxed),
        world.burst_rounds.load(Relaxed),
        world.burst_losses.load(Relaxed)
    );
    run.finish(&details)
}

/// Takes a lock in one of the acquire forms, keeps it a moment (now and then about 1 ms, so
/// that waiters park and come due for a handoff), and releases it, which fails when a heckler
/// ended the hold first.
fn worker(run: &Run, world: &World, slot: usize) {
    let mut rng = Rng::new(seed(slot as u64 + 1));
    while !run.should_stop() {
        let i = rng.below(SHARED_LOCKS as u64) as usize;
        let lock = &world.locks[i];
        world.phases.set(slot, 1, i as u64);
        let got = match rng.below(4) {
            0 => lock.try_acquire(),
            1 => lock.acquire_for(rng.micros(200, 1500)),
            2 => {
                let timeout = rng.micros(200, 1500);
                let started = Instant::now();
                let got = lock
                    .acquire(true, timeout.as_secs_f64())
                    .unwrap_or_else(|e| {
                        run.anomaly(format!("a timed acquire off the main thread failed: {e}"));
                        false
                    });
                if !got && started.elapsed() < timeout {
                    run.anomaly(format!(
                        "gave up after {:?}, before {timeout:?}",
                        started.elapsed()
                    ));
                }
                got
            }
            _ => {
                lock.acquire_blocking();
                true
            }
        };
        if got {
            world.acquisitions[i].fetch_add(1, Relaxed);
            world.phases.set(slot, 2, i as u64);
            if rng.below(16) == 0 {
                std::thread::sleep(Duration::from_millis(1));
            } else {
                for _ in 0..rng.below(200) {
                    std::hint::spin_loop();
                }
            }
            world.phases.set(slot, 3, i as u64);
            if lock.release().is_ok() {
                world.releases[i].fetch_add(1, Relaxed);
            }
        }
        world.phases.set(slot, 0, 0);
        run.tick(1);
    }
}

/// Releases a lock it never took, at random moments: it ends whichever hold is current, or
/// loses when the lock is free (perhaps with waiters queued behind it).
fn heckler(run: &Run, world: &World, slot: usize) {
    let mut rng = Rng::new(seed(slot as u64 + 1));
    while !run.should_stop() {
        let i = rng.below(SHARED_LOCKS as u64) as usize;
        world.phases.set(slot, 4, i as u64);
        if world.locks[i].release().is_ok() {
            world.releases[i].fetch_add(1, Relaxed);
            world.stray_wins.fetch_add(1, Relaxed);
        } else {
            world.stray_losses.fetch_add(1, Relaxed);
        }
        world.phases.set(slot, 0, 0);
        if rng.below(2) == 0 {
            std::thread::sleep(rng.micros(1, 200));
        } else {
            for _ in 0..rng.below(2000) {
                std::hint::spin_loop();
            }
        }
        run.tick(1);
    }
}

/// Round after round on [`BURST_LOCK`]: hold it, let [`BURST_WAITERS`] threads park behind it,
/// release it without a handoff (the first waiter is woken, the others stay queued behind a
/// free lock) and release it again at once. That second release ends the woken waiter's hold if
/// it already took the lock, and otherwise loses: then it must leave the two still queued
/// reachable, or the round never ends.
fn bursts(run: &Run, world: &World) {
    let lock = &world.locks[BURST_LOCK];
    let count_release = |released: Result<(), thread_lock::LockError>| {
        if released.is_ok() {
            world.releases[BURST_LOCK].fetch_add(1, Relaxed);
        }
        released.is_ok()
    };
    while !run.should_stop() {
        lock.acquire_blocking();
        world.acquisitions[BURST_LOCK].fetch_add(1, Relaxed);
        std::thread::scope(|scope| {
            for _ in 0..BURST_WAITERS {
                scope.spawn(|| {
                    lock.acquire_blocking();
                    world.acquisitions[BURST_LOCK].fetch_add(1, Relaxed);
                    count_release(lock.release());
                });
            }
            world.phases.set(BURSTER, 5, BURST_LOCK as u64);
            while lock.__waiters() < BURST_WAITERS {
                std::thread::yield_now();
            }
            world.phases.set(BURSTER, 3, BURST_LOCK as u64);
            if !count_release(lock.release_without_handoff()) {
                run.anomaly("bursts: the release of the held lock failed".into());
            }
            if !count_release(lock.release()) {
                world.burst_losses.fetch_add(1, Relaxed);
            }
            world.phases.set(BURSTER, 6, BURST_LOCK as u64);
        });
        world.phases.set(BURSTER, 0, 0);
        world.burst_rounds.fetch_add(1, Relaxed);
        run.tick(1);
    }
}
