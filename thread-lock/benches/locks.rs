//! Criterion benches of `Lock` against `std::sync::Mutex`, `parking_lot::Mutex` and
//! `parking_lot::RawMutex`, each group with all of them in the same run.
//!
//! Groups: uncontended pair, try pair, timed pair on a free lock, the `RLock` pair against
//! `parking_lot::ReentrantMutex`, contended 2/4/8 threads (throughput, beside the same threads
//! doing the same work with no lock: what is left is the lock's share; fairness = slowest thread
//! / mean is printed after the groups, beside the scheduler's own share), two-thread handoff
//! ping-pong through two locks used as binary semaphores, and the 1 ms timed wait (its oversleep
//! is the time above 1 ms).
//!
//! `cargo bench -p thread-lock --bench locks -- --warm-up-time 1 --measurement-time 2`

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use parking_lot::lock_api::{RawMutex as _, RawMutexTimed as _};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use thread_lock::{Lock, RLock};

type PlRaw = parking_lot::RawMutex;
type PlGuard = <PlRaw as parking_lot::lock_api::RawMutex>::Guard;

fn pl_raw() -> PlRaw {
    <PlRaw as parking_lot::lock_api::RawMutex>::INIT
}

/// Releases a parking_lot raw mutex that this (or another) thread locked.
fn pl_unlock(m: &PlRaw) {
    // SAFETY: every caller holds the lock (taken on this thread or, as a binary semaphore, on
    // another); the guard marker is stateless.
    unsafe { m.unlock(PlGuard::default()) };
}

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("uncontended_pair");
    let lock = Lock::new();
    g.bench_function("thread_lock", |b| {
        b.iter(|| {
            lock.acquire_blocking();
            lock.release().unwrap();
        })
    });
    g.bench_function("thread_lock_result", |b| {
        b.iter(|| {
            black_box(lock.acquire(true, -1.0).unwrap());
            lock.release().unwrap();
        })
    });
    let m = std::sync::Mutex::new(());
    g.bench_function("std_mutex", |b| {
        b.iter(|| drop(black_box(m.lock().unwrap())))
    });
    let m = parking_lot::Mutex::new(());
    g.bench_function("pl_mutex", |b| b.iter(|| drop(black_box(m.lock()))));
    let m = pl_raw();
    g.bench_function("pl_raw", |b| {
        b.iter(|| {
            black_box(m.lock());
            pl_unlock(&m);
        })
    });
    g.finish();
}

fn try_pair(c: &mut Criterion) {
    let mut g = c.benchmark_group("try_pair");
    let lock = Lock::new();
    g.bench_function("thread_lock", |b| {
        b.iter(|| {
            assert!(lock.try_acquire());
            lock.release().unwrap();
        })
    });
    let m = std::sync::Mutex::new(());
    g.bench_function("std_mutex", |b| {
        b.iter(|| drop(black_box(m.try_lock().unwrap())))
    });
    let m = parking_lot::Mutex::new(());
    g.bench_function("pl_mutex", |b| {
        b.iter(|| drop(black_box(m.try_lock().unwrap())))
    });
    let m = pl_raw();
    g.bench_function("pl_raw", |b| {
        b.iter(|| {
            black_box(m.try_lock().unwrap());
            pl_unlock(&m);
        })
    });
    g.finish();
}

fn timed_pair(c: &mut Criterion) {
    let mut g = c.benchmark_group("timed_pair_free");
    let lock = Lock::new();
    g.bench_function("thread_lock", |b| {
        b.iter(|| {
            assert!(lock.acquire(true, black_box(1.0)).unwrap());
            lock.release().unwrap();
        })
    });
    g.bench_function("thread_lock_acquire_for", |b| {
        b.iter(|| {
            assert!(lock.acquire_for(black_box(Duration::from_secs(1))));
            lock.release().unwrap();
        })
    });
    // std has no timed mutex: its plain pair is the peer.
    let m = std::sync::Mutex::new(());
    g.bench_function("std_mutex", |b| {
        b.iter(|| drop(black_box(m.lock().unwrap())))
    });
    let m = parking_lot::Mutex::new(());
    g.bench_function("pl_mutex", |b| {
        b.iter(|| drop(black_box(m.try_lock_for(Duration::from_secs(1)).unwrap())))
    });
    let m = pl_raw();
    g.bench_function("pl_raw", |b| {
        b.iter(|| {
            black_box(m.try_lock_for(Duration::from_secs(1)).unwrap());
            pl_unlock(&m);
        })
    });
    g.finish();
}

fn rlock_pair(c: &mut Criterion) {
    let mut g = c.benchmark_group("rlock_pair");
    let rlock = RLock::new();
    g.bench_function("thread_rlock", |b| {
        b.iter(|| {
            assert!(black_box(&rlock).acquire(true, -1.0).unwrap());
            black_box(&rlock).release().unwrap();
        })
    });
    g.bench_function("thread_rlock_guard", |b| {
        b.iter(|| drop(black_box(black_box(&rlock).lock())))
    });
    let m = parking_lot::ReentrantMutex::new(());
    g.bench_function("pl_reentrant_mutex", |b| {
        b.iter(|| drop(black_box(black_box(&m).lock())))
    });
    // A level on top of one already held: the owner's path alone.
    let _outer = rlock.lock();
    g.bench_function("thread_rlock_nested", |b| {
        b.iter(|| drop(black_box(black_box(&rlock).lock())))
    });
    let _outer_pl = m.lock();
    g.bench_function("pl_reentrant_mutex_nested", |b| {
        b.iter(|| drop(black_box(black_box(&m).lock())))
    });
    g.finish();
}

/// One of the compared locks, behind a common face for the multi-threaded groups.
trait Contended: Sync {
    fn with(&self, f: impl FnOnce());
}

impl Contended for Lock {
    fn with(&self, f: impl FnOnce()) {
        self.acquire_blocking();
        f();
        self.release().unwrap();
    }
}

impl Contended for std::sync::Mutex<()> {
    fn with(&self, f: impl FnOnce()) {
        let _g = self.lock().unwrap();
        f();
    }
}

impl Contended for parking_lot::Mutex<()> {
    fn with(&self, f: impl FnOnce()) {
        let _g = self.lock();
        f();
    }
}

/// No lock at all, the same work: how long the work alone takes (the contended rows' floor), and
/// how evenly the scheduler alone shares the processors among the threads (the ceiling of any
/// lock's fairness measured here).
struct NoLock;

impl Contended for NoLock {
    fn with(&self, f: impl FnOnce()) {
        f();
    }
}

impl Contended for PlRaw {
    fn with(&self, f: impl FnOnce()) {
        black_box(self.lock());
        f();
        pl_unlock(self);
    }
}

/// A small critical section and a little work outside it.
fn work(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

fn contended_run<L: Contended>(lock: &L, threads: usize, iters: u64) -> Duration {
    let counter = AtomicU64::new(0);
    let per = iters / threads as u64 + 1;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per {
                    lock.with(|| work(&counter));
                    for _ in 0..20 {
                        std::hint::spin_loop();
                    }
                }
            });
        }
    });
    start.elapsed()
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("contended");
    for threads in [2, 4, 8] {
        let lock = Lock::new();
        g.bench_with_input(
            BenchmarkId::new("thread_lock", threads),
            &threads,
            |b, &t| b.iter_custom(|iters| contended_run(&lock, t, iters)),
        );
        let m = std::sync::Mutex::new(());
        g.bench_with_input(BenchmarkId::new("std_mutex", threads), &threads, |b, &t| {
            b.iter_custom(|iters| contended_run(&m, t, iters))
        });
        let m = parking_lot::Mutex::new(());
        g.bench_with_input(BenchmarkId::new("pl_mutex", threads), &threads, |b, &t| {
            b.iter_custom(|iters| contended_run(&m, t, iters))
        });
        let m = pl_raw();
        g.bench_with_input(BenchmarkId::new("pl_raw", threads), &threads, |b, &t| {
            b.iter_custom(|iters| contended_run(&m, t, iters))
        });
        g.bench_with_input(BenchmarkId::new("no_lock", threads), &threads, |b, &t| {
            b.iter_custom(|iters| contended_run(&NoLock, t, iters))
        });
    }
    g.finish();
}

/// Runs `threads` threads on `lock` for `window`; returns (total acquisitions, slowest / mean).
fn fairness<L: Contended>(lock: &L, threads: usize, window: Duration) -> (u64, f64) {
    let stop = AtomicBool::new(false);
    let counter = AtomicU64::new(0);
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while !stop.load(Relaxed) {
                        lock.with(|| work(&counter));
                        n += 1;
                        for _ in 0..20 {
                            std::hint::spin_loop();
                        }
                    }
                    n
                })
            })
            .collect();
        std::thread::sleep(window);
        stop.store(true, Relaxed);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total: u64 = counts.iter().sum();
    let mean = total as f64 / threads as f64;
    let min = *counts.iter().min().unwrap() as f64;
    (total, min / mean)
}

fn contended_fairness(_c: &mut Criterion) {
    // Long enough for the scheduler's time slices to even out: with 4 or 8 busy threads on 2
    // cores, a 300 ms window left the slowest thread at about 0.8 of the mean with no lock at
    // all, and a 1 to 3 s window at 0.90 to 0.98, so that the row measured the scheduler.
    let window = Duration::from_secs(2);
    println!("\ncontended fairness (slowest thread / mean) and throughput in a {window:?} window:");
    for threads in [2, 4, 8] {
        let (a, fa) = fairness(&Lock::new(), threads, window);
        let (b, fb) = fairness(&std::sync::Mutex::new(()), threads, window);
        let (c, fc) = fairness(&parking_lot::Mutex::new(()), threads, window);
        let (d, fd) = fairness(&pl_raw(), threads, window);
        let (e, fe) = fairness(&NoLock, threads, window);
        println!(
            "  {threads} threads: thread_lock {fa:.2} ({a} ops), std_mutex {fb:.2} ({b}), \
             pl_mutex {fc:.2} ({c}), pl_raw {fd:.2} ({d}), no_lock {fe:.2} ({e})"
        );
    }
}

/// A binary semaphore made of a lock that is released by the other thread.
trait Semaphore: Sync {
    fn down(&self);
    fn up(&self);
}

impl Semaphore for Lock {
    fn down(&self) {
        self.acquire_blocking();
    }
    fn up(&self) {
        self.release().unwrap();
    }
}

impl Semaphore for PlRaw {
    fn down(&self) {
        black_box(self.lock());
    }
    fn up(&self) {
        pl_unlock(self);
    }
}

/// The condvar peers: a flag under a mutex.
struct StdSem(std::sync::Mutex<bool>, std::sync::Condvar);

impl Semaphore for StdSem {
    fn down(&self) {
        let mut g = self.0.lock().unwrap();
        while !*g {
            g = self.1.wait(g).unwrap();
        }
        *g = false;
    }
    fn up(&self) {
        *self.0.lock().unwrap() = true;
        self.1.notify_one();
    }
}

struct PlSem(parking_lot::Mutex<bool>, parking_lot::Condvar);

impl Semaphore for PlSem {
    fn down(&self) {
        let mut g = self.0.lock();
        while !*g {
            self.1.wait(&mut g);
        }
        *g = false;
    }
    fn up(&self) {
        *self.0.lock() = true;
        self.1.notify_one();
    }
}

/// `a` and `b` start "taken"; each round trip passes control there and back.
fn ping_pong<S: Semaphore>(a: &S, b: &S, iters: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..iters {
                a.down();
                b.up();
            }
        });
        for _ in 0..iters {
            a.up();
            b.down();
        }
    });
    start.elapsed()
}

fn handoff(c: &mut Criterion) {
    let mut g = c.benchmark_group("handoff_pingpong");
    g.bench_function("thread_lock", |bch| {
        bch.iter_custom(|iters| {
            let (a, b) = (Lock::new(), Lock::new());
            a.acquire_blocking();
            b.acquire_blocking();
            ping_pong(&a, &b, iters)
        })
    });
    g.bench_function("std_mutex_condvar", |bch| {
        bch.iter_custom(|iters| {
            let new = || StdSem(std::sync::Mutex::new(false), std::sync::Condvar::new());
            ping_pong(&new(), &new(), iters)
        })
    });
    g.bench_function("pl_mutex_condvar", |bch| {
        bch.iter_custom(|iters| {
            let new = || PlSem(parking_lot::Mutex::new(false), parking_lot::Condvar::new());
            ping_pong(&new(), &new(), iters)
        })
    });
    g.bench_function("pl_raw", |bch| {
        bch.iter_custom(|iters| {
            let (a, b) = (pl_raw(), pl_raw());
            black_box(a.lock());
            black_box(b.lock());
            ping_pong(&a, &b, iters)
        })
    });
    g.finish();
}

fn timed_wait(c: &mut Criterion) {
    let mut g = c.benchmark_group("timed_wait_1ms");
    g.sample_size(20);
    let ms = Duration::from_millis(1);
    let lock = Lock::new();
    lock.acquire_blocking();
    g.bench_function("thread_lock", |b| b.iter(|| assert!(!lock.acquire_for(ms))));
    let m = std::sync::Mutex::new(());
    let cv = std::sync::Condvar::new();
    g.bench_function("std_condvar_wait_timeout", |b| {
        b.iter(|| {
            let guard = m.lock().unwrap();
            drop(cv.wait_timeout(guard, ms).unwrap());
        })
    });
    let m = parking_lot::Mutex::new(());
    let cv = parking_lot::Condvar::new();
    g.bench_function("pl_condvar_wait_for", |b| {
        b.iter(|| {
            let mut guard = m.lock();
            black_box(cv.wait_for(&mut guard, ms));
        })
    });
    let m = pl_raw();
    black_box(m.lock());
    g.bench_function("pl_raw", |b| {
        b.iter(|| assert!(m.try_lock_for(ms).is_none()))
    });
    g.finish();
}

criterion_group!(
    benches,
    uncontended,
    try_pair,
    timed_pair,
    rlock_pair,
    contended,
    handoff,
    timed_wait,
    contended_fairness
);
criterion_main!(benches);
