//! `locks`: many threads on one lock, on a few, and on thousands (so that many share a bucket
//! of the parking lot), mixing every acquire form — including 1 ns and ~1 ms timeouts — and
//! releases by another thread. Each round ends in quiescence, where every lock must be free
//! with its state byte 0 and no waiter queued; double ownership and lost updates inside the
//! critical sections are anomalies, and so is a timed acquire that gives up early (LOCK-7).

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use thread_lock::{Lock, Timeout};

use crate::support::{Phases, Rng, Run, Shadow, check_quiescent, describe_locks, seed, watchdog};

const WORKERS: usize = 8;
/// The three shapes: one lock, a few, and thousands (256 buckets: many collide).
const SHAPES: [(&str, usize); 3] = [("one", 1), ("few", 4), ("thousands", 4096)];
const ROUND: Duration = Duration::from_millis(300);

const OPS: [&str; 13] = [
    "idle",
    "try_acquire",
    "acquire_for(1ns)",
    "acquire_for(~1ms)",
    "acquire_blocking",
    "acquire(true, -1)",
    "acquire(true, ~1ms)",
    "acquire(false, -1)",
    "lock() guard",
    "acquire_with(Within(1us))",
    "acquire(true, 1e-9)",
    "release",
    "hand to releaser",
];

struct World {
    locks: Vec<Lock>,
    shadows: Vec<Shadow>,
    phases: Phases,
}

/// Where each shape's locks start in `World::locks`.
fn shape_range(shape: usize) -> std::ops::Range<usize> {
    let start: usize = SHAPES[..shape].iter().map(|(_, n)| n).sum();
    start..start + SHAPES[shape].1
}

pub(crate) fn main(run: &Arc<Run>) -> i32 {
    let total: usize = SHAPES.iter().map(|(_, n)| n).sum();
    let world = Arc::new(World {
        locks: (0..total).map(|_| Lock::new()).collect(),
        shadows: (0..total).map(|_| Shadow::default()).collect(),
        phases: Phases::new(WORKERS + 1),
    });
    {
        let world = Arc::clone(&world);
        watchdog(
            run,
            Box::new(move || {
                format!(
                    "{}{}",
                    world.phases.describe(&OPS),
                    describe_locks(&world.locks, &world.shadows)
                )
            }),
        );
    }
    let mut rounds = [0u64; 3];
    let mut outcomes = Outcomes::default();
    let mut round = 0usize;
    while !run.should_stop() {
        let shape = round % SHAPES.len();
        let range = shape_range(shape);
        outcomes.add(&one_round(run, &world, range.clone(), round as u64));
        check_quiescent(
            run,
            &world.locks[range.clone()],
            &world.shadows[range.clone()],
        );
        rounds[shape] += 1;
        round += 1;
    }
    check_quiescent(run, &world.locks, &world.shadows);
    let details = format!(
        "rounds: one {} / few {} / thousands {}; acquired {}, timed out {}, busy {}, released by \
         another thread {}",
        rounds[0],
        rounds[1],
        rounds[2],
        outcomes.acquired,
        outcomes.timed_out,
        outcomes.busy,
        outcomes.handed
    );
    run.finish(&details)
}

#[derive(Debug, Default, Clone)]
struct Outcomes {
    acquired: u64,
    timed_out: u64,
    busy: u64,
    handed: u64,
}

impl Outcomes {
    fn add(&mut self, other: &Outcomes) {
        self.acquired += other.acquired;
        self.timed_out += other.timed_out;
        self.busy += other.busy;
        self.handed += other.handed;
    }
}

/// One round on `range`: the workers and the releaser start, run for [`ROUND`], and are joined.
fn one_round(
    run: &Arc<Run>,
    world: &Arc<World>,
    range: std::ops::Range<usize>,
    round: u64,
) -> Outcomes {
    let round_end = Instant::now() + ROUND.min(run.remaining());
    let (to_releaser, releaser_inbox) = mpsc::channel::<(usize, u64)>();
    let mut per_lock_entries = vec![0u64; range.len()];
    let mut total = Outcomes::default();
    std::thread::scope(|scope| {
        let releaser = scope.spawn(|| {
            let me = WORKERS;
            for (index, holder) in releaser_inbox {
                world.phases.set(me, 11, index as u64);
                world.shadows[index].leave(run, holder, "the releaser thread");
                if world.locks[index].release().is_err() {
                    run.anomaly(format!("releaser: lock {index} was not locked"));
                }
                world.phases.set(me, 0, 0);
            }
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|worker| {
                let to_releaser = to_releaser.clone();
                let range = range.clone();
                scope.spawn(move || {
                    worker_loop(
                        run,
                        world,
                        range,
                        worker,
                        round_end,
                        &to_releaser,
                        seed(round << 8 | worker as u64),
                    )
                })
            })
            .collect();
        drop(to_releaser);
        for worker in workers {
            let (outcomes, entries) = worker.join().expect("worker panicked");
            total.add(&outcomes);
            for (sum, n) in per_lock_entries.iter_mut().zip(entries) {
                *sum += n;
            }
        }
        releaser.join().expect("releaser panicked");
    });
    // Every entry into a critical section was counted once by the shadow (a plain load and
    // store under the lock); fewer means two holders at once or a release that did not publish.
    for (offset, expected) in per_lock_entries.into_iter().enumerate() {
        let index = range.start + offset;
        let counted = world.shadows[index]
            .count
            .swap(0, std::sync::atomic::Ordering::SeqCst);
        if counted != expected {
            run.anomaly(format!(
                "lost update on lock {index}: {expected} entries, the critical sections counted \
                 {counted}"
            ));
        }
    }
    total
}

fn worker_loop(
    run: &Run,
    world: &World,
    range: std::ops::Range<usize>,
    worker: usize,
    round_end: Instant,
    to_releaser: &mpsc::Sender<(usize, u64)>,
    seed: u64,
) -> (Outcomes, Vec<u64>) {
    let me = worker as u64 + 1;
    let mut rng = Rng::new(seed);
    let mut outcomes = Outcomes::default();
    let mut entries = vec![0u64; range.len()];
    let mut batch = 0;
    while Instant::now() < round_end && !run.should_stop() {
        let offset = rng.below(range.len() as u64) as usize;
        let index = range.start + offset;
        let lock = &world.locks[index];
        let shadow = &world.shadows[index];
        let op = 1 + rng.below(10);
        world.phases.set(worker, op, index as u64);
        let started = Instant::now();
        let mut must_wait = Duration::ZERO;
        let got = match op {
            1 => lock.try_acquire(),
            2 => {
                must_wait = Duration::from_nanos(1);
                lock.acquire_for(must_wait)
            }
            3 => {
                must_wait = rng.micros(500, 1500);
                lock.acquire_for(must_wait)
            }
            4 => {
                lock.acquire_blocking();
                true
            }
            5 => expect_ok(run, lock.acquire(true, -1.0), OPS[5]),
            6 => {
                must_wait = rng.micros(500, 1500);
                expect_ok(run, lock.acquire(true, must_wait.as_secs_f64()), OPS[6])
            }
            7 => expect_ok(run, lock.acquire(false, -1.0), OPS[7]),
            8 => {
                let guard = lock.lock();
                shadow.enter(run, me, OPS[8]);
                entries[offset] += 1;
                hold(&mut rng);
                shadow.leave(run, me, OPS[8]);
                drop(guard);
                outcomes.acquired += 1;
                finish_op(run, world, worker, &mut batch);
                continue;
            }
            9 => {
                must_wait = Duration::from_micros(1);
                expect_ok(run, lock.acquire_with(Timeout::Within(must_wait)), OPS[9])
            }
            _ => {
                must_wait = Duration::from_nanos(1);
                expect_ok(run, lock.acquire(true, 1e-9), OPS[10])
            }
        };
        if got {
            shadow.enter(run, me, OPS[op as usize]);
            entries[offset] += 1;
            outcomes.acquired += 1;
            hold(&mut rng);
            if rng.below(4) == 0 {
                world.phases.set(worker, 12, index as u64);
                outcomes.handed += 1;
                if to_releaser.send((index, me)).is_err() {
                    run.anomaly("the releaser thread is gone".into());
                }
            } else {
                world.phases.set(worker, 11, index as u64);
                shadow.leave(run, me, OPS[11]);
                if lock.release().is_err() {
                    run.anomaly(format!(
                        "worker {worker}: release of held lock {index} failed"
                    ));
                }
            }
        } else if must_wait.is_zero() {
            outcomes.busy += 1;
        } else {
            outcomes.timed_out += 1;
            let waited = started.elapsed();
            if waited < must_wait {
                run.anomaly(format!(
                    "{} gave up after {waited:?}, before its timeout {must_wait:?}",
                    OPS[op as usize]
                ));
            }
        }
        finish_op(run, world, worker, &mut batch);
    }
    run.tick(batch);
    world.phases.set(worker, 0, 0);
    (outcomes, entries)
}

/// Counts an operation; the shared counter is bumped in batches to keep it off the hot path.
fn finish_op(run: &Run, world: &World, worker: usize, batch: &mut u64) {
    world.phases.set(worker, 0, 0);
    *batch += 1;
    if *batch == 64 {
        run.tick(*batch);
        *batch = 0;
    }
}

/// A `Result` form off the main thread: never interrupted, so any error is an anomaly.
fn expect_ok(run: &Run, result: Result<bool, thread_lock::LockError>, what: &str) -> bool {
    match result {
        Ok(got) => got,
        Err(e) => {
            run.anomaly(format!("{what} off the main thread failed: {e}"));
            false
        }
    }
}

/// Keeps the lock for a moment: usually not at all, sometimes a yield, rarely ~100 µs, so that
/// waiters park, time out and get handed the lock.
fn hold(rng: &mut Rng) {
    match rng.below(16) {
        0 => std::thread::yield_now(),
        1 => std::thread::sleep(rng.micros(20, 200)),
        _ => {}
    }
}
