//! proptest state machine, 1–3 threads: each thread runs a random program of critical sections
//! on two shared Locks and two shared RLocks, entered by `acquire` with random (valid and
//! invalid) arguments, by the guard, re-entered and `release_save`d / `acquire_restore`d on
//! RLocks. The results are checked against invariants, not against a sequential model (the
//! interleaving is not known):
//!
//! * mutual exclusion: a shared occupancy counter per lock is 0 on entry and 1 on exit;
//! * no lost wake-up: every blocking acquire completes, and every program finishes (a watchdog
//!   fails the case after 20 s);
//! * counts: RLock recursion counts inside sections, successful entries equal completed
//!   sections, every lock free at the end; invalid arguments give the model's error whatever
//!   the lock's state; a timed acquire that fails has waited its timeout.
//!
//! A few hundred cases by default (`PROPTEST_CASES` raises it); failures persist to
//! `conformance/proptest-regressions/state_machine_concurrent.txt`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use conformance::model::{Wait, parse_timeout};
use conformance::ops::{LOCKS, Outcome};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use thread_lock::{Lock, LockError, RLock};

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/state_machine_concurrent.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// One step of a thread's program.
#[derive(Debug, Clone)]
enum Step {
    /// `Lock.acquire(blocking, timeout)`; when it got the lock: a section, then `release()`.
    Lock {
        lock: usize,
        blocking: bool,
        timeout: f64,
        spins: u8,
    },
    /// `with lock:` — the guard (LOCK-11).
    Guard { lock: usize, spins: u8 },
    /// Acquire, a section, then the release done by a fresh thread that never acquired it
    /// (LOCK-8), while others may be waiting.
    Baton { lock: usize, spins: u8 },
    /// `RLock.acquire(blocking, timeout)`, re-entered to `depth`, optionally
    /// `release_save`d and `acquire_restore`d in the middle, released `depth` times.
    RLock {
        lock: usize,
        blocking: bool,
        timeout: f64,
        depth: usize,
        save_restore: bool,
        spins: u8,
    },
}

/// Timeouts for contended acquires: forever, the rounding edge, one try, short waits (≤ 50 ms,
/// mostly ≤ 5 ms), and invalid ones of every class.
fn timeout() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => prop::sample::select(vec![
            -1.0,
            -0.999_999_999_9,
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            -1e100,
            9_223_372_036.854_776,
            -2.0,
            -1e-10,
            -1.000_000_000_1,
        ]),
        3 => 0.0f64..0.005,
        1 => 0.005f64..0.05,
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..LOCKS, any::<bool>(), timeout(), 0u8..8).prop_map(|(lock, blocking, timeout, spins)| {
            Step::Lock { lock, blocking, timeout, spins }
        }),
        1 => (0..LOCKS, 0u8..8).prop_map(|(lock, spins)| Step::Guard { lock, spins }),
        1 => (0..LOCKS, 0u8..8).prop_map(|(lock, spins)| Step::Baton { lock, spins }),
        4 => (0..LOCKS, any::<bool>(), timeout(), 1usize..4, any::<bool>(), 0u8..8).prop_map(
            |(lock, blocking, timeout, depth, save_restore, spins)| Step::RLock {
                lock, blocking, timeout, depth, save_restore, spins
            }
        ),
    ]
}

fn programs() -> impl Strategy<Value = Vec<Vec<Step>>> {
    prop::collection::vec(prop::collection::vec(step(), 1..8), 1..=3)
}

/// What every thread shares.
#[derive(Debug, Default)]
struct Shared {
    locks: [Lock; LOCKS],
    rlocks: [RLock; LOCKS],
    /// Threads inside a section of Lock `i` (`[0][i]`) or RLock `i` (`[1][i]`).
    inside: [[AtomicUsize; LOCKS]; 2],
    /// Sections entered and completed, per lock.
    entered: [[AtomicUsize; LOCKS]; 2],
    completed: [[AtomicUsize; LOCKS]; 2],
}

macro_rules! check {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+));
        }
    };
}

fn as_outcome(error: &LockError) -> Outcome {
    Outcome::error(error.python_type(), error.to_string())
}

impl Shared {
    fn section(&self, kind: usize, lock: usize, spins: u8) -> Result<(), String> {
        self.enter(kind, lock)?;
        for _ in 0..spins {
            std::thread::yield_now();
        }
        self.leave(kind, lock)
    }

    fn enter(&self, kind: usize, lock: usize) -> Result<(), String> {
        // SeqCst: the counter is the test's own witness of exclusion; the strongest order keeps
        // it from depending on the lock's own orderings being right.
        let before = self.inside[kind][lock].fetch_add(1, SeqCst);
        check!(
            before == 0,
            "mutual exclusion broken: {before} already inside lock {kind}/{lock}"
        );
        self.entered[kind][lock].fetch_add(1, SeqCst);
        Ok(())
    }

    fn leave(&self, kind: usize, lock: usize) -> Result<(), String> {
        let before = self.inside[kind][lock].fetch_sub(1, SeqCst);
        check!(
            before == 1,
            "mutual exclusion broken: {before} inside lock {kind}/{lock} on leaving"
        );
        self.completed[kind][lock].fetch_add(1, SeqCst);
        Ok(())
    }

    /// Checks an acquire's result against the model; `Ok(true)` when it holds the lock.
    fn judge(
        &self,
        blocking: bool,
        timeout: f64,
        got: Result<bool, LockError>,
        took: Duration,
    ) -> Result<bool, String> {
        match (parse_timeout(blocking, timeout), got) {
            (Err(expected), Err(error)) => {
                check!(
                    as_outcome(&error) == expected,
                    "({blocking}, {timeout:?}): {error} where the model says {expected}"
                );
                Ok(false)
            }
            (Err(expected), Ok(got)) => Err(format!(
                "({blocking}, {timeout:?}) returned {got}, the model says {expected}"
            )),
            (Ok(_), Err(error)) => Err(format!("({blocking}, {timeout:?}) refused: {error}")),
            (Ok(Wait::Forever), Ok(got)) => {
                check!(got, "a blocking acquire without timeout returned false");
                Ok(true)
            }
            (Ok(Wait::Nanos(nanos)), Ok(false)) => {
                let bound = Duration::from_nanos(nanos as u64);
                check!(
                    took >= bound,
                    "({blocking}, {timeout:?}) gave up after {took:?}"
                );
                Ok(false)
            }
            (Ok(_), Ok(got)) => Ok(got),
        }
    }

    fn run(&self, step: &Step) -> Result<(), String> {
        match *step {
            Step::Lock {
                lock,
                blocking,
                timeout,
                spins,
            } => {
                let started = Instant::now();
                let got = self.locks[lock].acquire(blocking, timeout);
                if self.judge(blocking, timeout, got, started.elapsed())? {
                    self.section(0, lock, spins)?;
                    self.locks[lock]
                        .release()
                        .map_err(|e| format!("releasing a held Lock: {e}"))?;
                }
            }
            Step::Guard { lock, spins } => {
                let guard = self.locks[lock].lock();
                self.section(0, lock, spins)?;
                drop(guard);
            }
            Step::Baton { lock, spins } => {
                self.locks[lock].acquire_blocking();
                self.section(0, lock, spins)?;
                let released =
                    std::thread::scope(|scope| scope.spawn(|| self.locks[lock].release()).join());
                check!(
                    matches!(released, Ok(Ok(()))),
                    "a release by another thread gave {released:?}"
                );
            }
            Step::RLock {
                lock,
                blocking,
                timeout,
                depth,
                save_restore,
                spins,
            } => {
                let rlock = &self.rlocks[lock];
                let started = Instant::now();
                let got = rlock.acquire(blocking, timeout);
                if !self.judge(blocking, timeout, got, started.elapsed())? {
                    check!(!rlock.is_owned(), "owning an RLock it did not get");
                    return Ok(());
                }
                for _ in 1..depth {
                    let again = rlock.acquire(false, -1.0);
                    check!(
                        matches!(again, Ok(true)),
                        "the owner's re-acquire gave {again:?}"
                    );
                }
                check!(rlock.is_owned(), "is_owned() false inside");
                check!(
                    rlock.recursion_count() == depth,
                    "recursion_count {} for depth {depth}",
                    rlock.recursion_count()
                );
                self.section(1, lock, spins)?;
                if save_restore {
                    let state = rlock
                        .release_save()
                        .map_err(|e| format!("release_save by the owner: {e}"))?;
                    let (count, owner) = state.into_parts();
                    check!(
                        count == depth && owner == thread_core::get_ident(),
                        "release_save gave ({count}, {owner})"
                    );
                    check!(
                        !rlock.is_owned() && rlock.recursion_count() == 0,
                        "still owned after release_save"
                    );
                    rlock.acquire_restore(state);
                    check!(
                        rlock.recursion_count() == depth,
                        "acquire_restore gave count {}",
                        rlock.recursion_count()
                    );
                    self.section(1, lock, spins)?;
                }
                for left in (0..depth).rev() {
                    rlock
                        .release()
                        .map_err(|e| format!("the owner's release: {e}"))?;
                    check!(
                        rlock.recursion_count() == left,
                        "count {} after a release, expected {left}",
                        rlock.recursion_count()
                    );
                }
                check!(!rlock.is_owned(), "owned after the last release");
                let extra = rlock.release();
                check!(
                    extra.as_ref().map_err(as_outcome)
                        == Err(Outcome::error(
                            "RuntimeError",
                            "cannot release un-acquired lock"
                        )),
                    "a release past the count gave {extra:?}"
                );
            }
        }
        Ok(())
    }
}

fn run_programs(programs: Vec<Vec<Step>>) -> Result<(), String> {
    let shared = Arc::new(Shared::default());
    let (done, finished) = mpsc::channel();
    let threads = programs.len();
    for program in programs {
        let shared = Arc::clone(&shared);
        let done = done.clone();
        std::thread::spawn(move || {
            let result = program.iter().try_for_each(|step| shared.run(step));
            let _ = done.send(result);
        });
    }
    for _ in 0..threads {
        match finished.recv_timeout(Duration::from_secs(20)) {
            Ok(result) => result?,
            Err(_) => {
                return Err(
                    "a thread did not finish within 20 s: a lost wake-up or a deadlock".into(),
                );
            }
        }
    }
    for kind in 0..2 {
        for lock in 0..LOCKS {
            let entered = shared.entered[kind][lock].load(SeqCst);
            let completed = shared.completed[kind][lock].load(SeqCst);
            check!(
                entered == completed,
                "lock {kind}/{lock}: {entered} sections entered, {completed} completed"
            );
        }
    }
    for lock in 0..LOCKS {
        check!(
            !shared.locks[lock].locked(),
            "Lock {lock} still locked at the end"
        );
        check!(
            !shared.rlocks[lock].locked(),
            "RLock {lock} still locked at the end"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// proves: LOCK-4, LOCK-5, LOCK-7, LOCK-8, LOCK-9, LOCK-11, RLOCK-2, RLOCK-3, RLOCK-5, RLOCK-6
/// proves: R-4
    #[test]
    fn concurrent_programs_keep_the_invariants(programs in programs()) {
        if let Err(why) = run_programs(programs) {
            return Err(TestCaseError::fail(why));
        }
    }
}
