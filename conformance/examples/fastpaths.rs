//! The uncontended fast paths, run a fixed number of times on one thread, for
//! `cargo xtask bench --quick` to count instructions under callgrind.
//!
//! `fastpaths CASE ITERATIONS` runs one case. Counting a run of `ITERATIONS` and a run of 0 and
//! dividing the difference gives instructions per operation, free of start-up costs; the
//! iteration count is fixed (unlike criterion's), so the count is exactly repeatable.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Duration;

use thread_lock::{Lock, RLock};

fn run(case: &str, iterations: u64) -> bool {
    let lock = Lock::new();
    let rlock = RLock::new();
    let std_mutex = std::sync::Mutex::new(());
    let raw = <parking_lot::RawMutex as parking_lot::lock_api::RawMutex>::INIT;
    // Touch the thread-local state (idents, parkers) once, outside the counted difference.
    black_box(thread_core::get_ident());
    match case {
        "lock_pair" => {
            for _ in 0..iterations {
                black_box(&lock).acquire_blocking();
                let _ = black_box(&lock).release();
            }
        }
        "lock_try_pair" => {
            for _ in 0..iterations {
                black_box(black_box(&lock).try_acquire());
                let _ = black_box(&lock).release();
            }
        }
        "lock_timed_pair" => {
            for _ in 0..iterations {
                black_box(black_box(&lock).acquire_for(Duration::from_millis(10)));
                let _ = black_box(&lock).release();
            }
        }
        "lock_result_timed_pair" => {
            for _ in 0..iterations {
                // The outcome as a caller tests it (`if !lock.acquire(..)? { .. }`); the whole
                // `Result` through `black_box` would copy sixteen bytes through memory, the
                // harness's cost rather than the lock's.
                if !matches!(black_box(&lock).acquire(true, black_box(1.0)), Ok(true)) {
                    return false;
                }
                let _ = black_box(&lock).release();
            }
        }
        "lock_guard" => {
            for _ in 0..iterations {
                drop(black_box(black_box(&lock).lock()));
            }
        }
        "rlock_pair" => {
            for _ in 0..iterations {
                if !matches!(black_box(&rlock).acquire(true, -1.0), Ok(true))
                    || black_box(&rlock).release().is_err()
                {
                    return false;
                }
            }
        }
        "get_ident" => {
            for _ in 0..iterations {
                black_box(thread_core::get_ident());
            }
        }
        "audit_no_hooks" => {
            // As callers raise events: a constant name, then `?` on the outcome. (Passing the
            // name and the whole `Result` through `black_box` would add eight instructions of
            // the harness's own; the atomic load cannot be hoisted out of the loop anyway.)
            for _ in 0..iterations {
                if let Err(refusal) = thread_audit::audit("bench.event", &[]) {
                    eprintln!("fastpaths: refused: {refusal}");
                    return false;
                }
            }
        }
        "std_mutex_pair" => {
            for _ in 0..iterations {
                drop(black_box(black_box(&std_mutex).lock()));
            }
        }
        "parking_lot_reentrant_mutex_pair" => {
            let reentrant = parking_lot::ReentrantMutex::new(());
            for _ in 0..iterations {
                drop(black_box(black_box(&reentrant).lock()));
            }
        }
        "parking_lot_raw_mutex_pair" => {
            use parking_lot::lock_api::RawMutex as _;
            for _ in 0..iterations {
                let guard = black_box(&raw).lock();
                // SAFETY: `guard` is the state of the acquisition made on the line above.
                unsafe { black_box(&raw).unlock(guard) };
            }
        }
        _ => return false,
    }
    true
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(case), Some(Ok(iterations))) = (args.first(), args.get(1).map(|n| n.parse())) else {
        eprintln!("usage: fastpaths CASE ITERATIONS");
        return ExitCode::FAILURE;
    };
    if run(case, iterations) {
        ExitCode::SUCCESS
    } else {
        eprintln!("fastpaths: unknown case {case}");
        ExitCode::FAILURE
    }
}
