//! What every stress program shares: the run's bounds (time and count), anomaly reports, the
//! watchdog that turns a stall into a report and an exit instead of a hang, and a small PRNG.
//!
//! Atomic orderings: the run's counters and flags are the harness's own bookkeeping, read by the
//! watchdog and the workers; they are `SeqCst` so that they never depend on the orderings of
//! the code under test (nothing here is a hot path worth weakening).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long the iteration counter may stand still before the watchdog reports a stall.
pub(crate) const STALL: Duration = Duration::from_secs(15);
/// At most this many anomaly messages are kept (the count goes on).
const KEPT_MESSAGES: usize = 20;
/// The exit status of a stall (an anomaly is 1).
pub(crate) const STALL_EXIT: i32 = 3;

/// One program's run: its bounds, its progress and its anomalies.
pub(crate) struct Run {
    pub(crate) name: &'static str,
    started: Instant,
    deadline: Instant,
    max_iterations: u64,
    iterations: AtomicU64,
    anomalies: AtomicU64,
    messages: Mutex<Vec<String>>,
    stop: AtomicBool,
    finished: AtomicBool,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("name", &self.name)
            .field("iterations", &self.iterations())
            .field("anomalies", &self.anomalies())
            .finish_non_exhaustive()
    }
}

impl Run {
    pub(crate) fn new(name: &'static str, seconds: f64, max_iterations: u64) -> Arc<Run> {
        let started = Instant::now();
        Arc::new(Run {
            name,
            started,
            deadline: started + Duration::from_secs_f64(seconds),
            max_iterations,
            iterations: AtomicU64::new(0),
            anomalies: AtomicU64::new(0),
            messages: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            finished: AtomicBool::new(false),
        })
    }

    /// Whether the workers should stop: time or count is up, or an anomaly was found.
    pub(crate) fn should_stop(&self) -> bool {
        self.stop.load(SeqCst)
            || self.iterations.load(SeqCst) >= self.max_iterations
            || Instant::now() >= self.deadline
    }

    /// Time left before the deadline (zero once it passed).
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Counts `n` iterations (progress, as the watchdog sees it).
    pub(crate) fn tick(&self, n: u64) {
        self.iterations.fetch_add(n, SeqCst);
    }

    pub(crate) fn iterations(&self) -> u64 {
        self.iterations.load(SeqCst)
    }

    pub(crate) fn anomalies(&self) -> u64 {
        self.anomalies.load(SeqCst)
    }

    /// Records an anomaly and asks every worker to stop.
    pub(crate) fn anomaly(&self, message: String) {
        eprintln!("stress {}: ANOMALY: {message}", self.name);
        self.anomalies.fetch_add(1, SeqCst);
        let mut kept = self.messages.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < KEPT_MESSAGES {
            kept.push(message);
        }
        self.stop.store(true, SeqCst);
    }

    /// Prints the summary line and returns the process's exit status.
    pub(crate) fn finish(&self, details: &str) -> i32 {
        self.finished.store(true, SeqCst);
        let seconds = self.started.elapsed().as_secs_f64();
        let anomalies = self.anomalies();
        let verdict = if anomalies == 0 { "ok" } else { "FAILED" };
        println!(
            "stress {}: {verdict}, {} iterations in {seconds:.1}s, {anomalies} anomalies; {details}",
            self.name,
            self.iterations()
        );
        i32::from(anomalies != 0)
    }
}

/// What a watchdog prints about the program's state when it reports a stall. It must only read
/// atomics: the stall may be a lock that is held forever.
pub(crate) type Dump = Box<dyn Fn() -> String + Send + Sync>;

/// Starts the watchdog: if the iteration count stands still for [`STALL`] or the run goes on
/// [`STALL`] past its deadline, it prints what `dump` knows and ends the process with
/// [`STALL_EXIT`], so a hang becomes a report.
pub(crate) fn watchdog(run: &Arc<Run>, dump: Dump) {
    let run = Arc::clone(run);
    std::thread::Builder::new()
        .name("stress-watchdog".into())
        .spawn(move || {
            let mut last = run.iterations();
            let mut last_change = Instant::now();
            while !run.finished.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
                let now = run.iterations();
                if now != last {
                    last = now;
                    last_change = Instant::now();
                }
                let stalled = last_change.elapsed() >= STALL;
                let overran = Instant::now() >= run.deadline + STALL;
                if (stalled || overran) && !run.finished.load(SeqCst) {
                    let why = if stalled {
                        format!("no progress for {STALL:?}")
                    } else {
                        format!("still running {STALL:?} after its deadline")
                    };
                    eprintln!(
                        "stress {}: STALL: {why}, after {now} iterations\n{}",
                        run.name,
                        dump()
                    );
                    // SAFETY: ends the process at once; the stalled threads are never resumed.
                    unsafe { libc::_exit(STALL_EXIT) };
                }
            }
        })
        .expect("start the watchdog");
}

/// xorshift64*: fast, good enough to pick operations, and seeded per thread.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..hi` microseconds.
    pub(crate) fn micros(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_micros(lo + self.below(hi - lo))
    }
}

/// A seed that differs between runs and threads.
pub(crate) fn seed(salt: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ u64::from(std::process::id())
}

/// A lock's shadow owner: who the program believes holds it. Taking it while someone else
/// holds it is double ownership.
#[derive(Debug, Default)]
pub(crate) struct Shadow {
    owner: AtomicU64,
    /// Incremented with a plain load and store inside the critical section: a lost update means
    /// two holders at once, or a release/acquire pair that did not order memory.
    pub(crate) count: AtomicU64,
}

impl Shadow {
    /// Called right after acquiring: claims the lock for `me` (non-zero) and bumps the count.
    pub(crate) fn enter(&self, run: &Run, me: u64, what: &str) {
        let before = self.owner.swap(me, SeqCst);
        if before != 0 {
            run.anomaly(format!(
                "double ownership: {me} got the lock ({what}) while {before} held it"
            ));
        }
        let count = self.count.load(std::sync::atomic::Ordering::Relaxed);
        self.count
            .store(count + 1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Called right before releasing (by the holder or by whoever it passed the lock to).
    pub(crate) fn leave(&self, run: &Run, me: u64, what: &str) {
        let before = self.owner.swap(0, SeqCst);
        if before != me {
            run.anomaly(format!(
                "ownership lost: {what} releases for {me} but the shadow owner was {before}"
            ));
        }
    }

    pub(crate) fn owner(&self) -> u64 {
        self.owner.load(SeqCst)
    }
}

/// The quiescence check: every lock free with state byte 0, no waiter queued, no shadow owner.
pub(crate) fn check_quiescent(run: &Run, locks: &[thread_lock::Lock], shadows: &[Shadow]) {
    for (i, (lock, shadow)) in locks.iter().zip(shadows).enumerate() {
        let (state, waiters, owner) = (lock.__state(), lock.__waiters(), shadow.owner());
        if state != 0 || waiters != 0 || owner != 0 {
            run.anomaly(format!(
                "not quiescent: lock {i} state byte {state:#04b}, {waiters} waiters, shadow owner \
                 {owner}"
            ));
            return;
        }
    }
}

/// A short description of the locks that are not quiescent (atomics only, for a dump).
pub(crate) fn describe_locks(locks: &[thread_lock::Lock], shadows: &[Shadow]) -> String {
    let mut out = String::new();
    let mut shown = 0;
    for (i, (lock, shadow)) in locks.iter().zip(shadows).enumerate() {
        let (state, owner) = (lock.__state(), shadow.owner());
        if state != 0 || owner != 0 {
            out.push_str(&format!(
                "  lock {i}: state byte {state:#04b}, shadow owner {owner}\n"
            ));
            shown += 1;
            if shown == 20 {
                out.push_str("  ...\n");
                break;
            }
        }
    }
    if out.is_empty() {
        out.push_str("  every lock's state byte is 0\n");
    }
    out
}

/// What each worker is doing, for a dump: an operation code and a lock index per worker.
#[derive(Debug)]
pub(crate) struct Phases(Vec<AtomicU64>);

impl Phases {
    pub(crate) fn new(workers: usize) -> Phases {
        Phases((0..workers).map(|_| AtomicU64::new(0)).collect())
    }

    /// Records that `worker` is in operation `op` (0: none) on lock `index`.
    pub(crate) fn set(&self, worker: usize, op: u64, index: u64) {
        self.0[worker].store(op << 32 | index, SeqCst);
    }

    pub(crate) fn describe(&self, names: &[&str]) -> String {
        let mut out = String::new();
        for (worker, phase) in self.0.iter().enumerate() {
            let v = phase.load(SeqCst);
            let (op, index) = ((v >> 32) as usize, v & 0xFFFF_FFFF);
            let name = names.get(op).copied().unwrap_or("?");
            out.push_str(&format!("  worker {worker}: {name} on lock {index}\n"));
        }
        out
    }
}
