//! `interrupt`: the main thread's interruptible acquires (X-INTR-3, LOCK-13, RLOCK-6) against
//! handoffs from two holder threads, an `interrupt_main` storm and real signals (`SIGUSR1`, whose
//! handler calls `signals::notify` and interrupts the wait's system call with `EINTR`; the
//! embedder's check fails for every other signal). An acquire that returns an error must not
//! have taken the lock; one that returns `true` owns it alone; one that returns `false` waited its
//! whole timeout; the typed forms never give up early. Between them the main thread joins short
//! threads (HANDLE-2): an interrupted join returns the handler's error and leaves the handle
//! joinable (a later join reaps the thread), a timed join that returns before the thread is done
//! waited its whole timeout, and `join(None)` returns only when the thread is done. At the end
//! every lock is quiescent and every started thread joined.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Instant;

use thread_core::{Interrupt, ThreadError, ThreadHandle, interrupt_main, signals};
use thread_lock::{Lock, LockError, RLock};

use crate::support::{Phases, Rng, Run, Shadow, check_quiescent, describe_locks, seed, watchdog};

const OPS: [&str; 9] = [
    "idle",
    "acquire(true, -1)",
    "acquire(true, ~1ms)",
    "rlock.acquire(true, -1)",
    "rlock.acquire(true, ~1ms)",
    "acquire_for(~1ms) (typed)",
    "lock() guard (typed)",
    "holding",
    "join",
];
/// The main thread's slot in the phases; the holders follow it.
const MAIN: usize = 0;
const HOLDERS: usize = 2;

/// Real signals received by the handler (async-signal-safe: an atomic).
static SIGNALS_RECEIVED: AtomicU64 = AtomicU64::new(0);
/// Runs of the embedder's check (only on the main thread).
static CHECKS: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_sigusr1(_signum: libc::c_int) {
    SIGNALS_RECEIVED.fetch_add(1, SeqCst);
    signals::notify();
}

/// The embedder's check: every other run fails, as a Python signal handler that raises.
fn embedder_check() -> Result<(), Interrupt> {
    if CHECKS.fetch_add(1, SeqCst) % 2 == 1 {
        return Err(Interrupt::new(
            libc::SIGUSR1,
            "OSError",
            "signal handler raised",
        ));
    }
    Ok(())
}

struct World {
    lock: [Lock; 1],
    shadow: [Shadow; 1],
    rlock: RLock,
    rlock_shadow: Shadow,
    phases: Phases,
}

#[derive(Debug, Default)]
struct Tally {
    acquired: u64,
    timed_out: u64,
    keyboard_interrupts: u64,
    handler_errors: u64,
    joins: u64,
    joins_interrupted: u64,
    joins_timed_out: u64,
}

pub(crate) fn main(run: &Arc<Run>) -> i32 {
    if !thread_core::is_main_thread() {
        run.anomaly("not started on the process's main thread".into());
        return run.finish("");
    }
    signals::set_check(embedder_check);
    // SAFETY: a zeroed `sigaction` is a valid "no flags, empty mask" value; the handler only
    // touches an atomic and calls `notify`, both async-signal-safe. No `SA_RESTART`: the wait's
    // `futex` returns `EINTR`.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigusr1 as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()) != 0 {
            run.anomaly("sigaction failed".into());
            return run.finish("");
        }
    }
    let world = Arc::new(World {
        lock: [Lock::new()],
        shadow: [Shadow::default()],
        rlock: RLock::new(),
        rlock_shadow: Shadow::default(),
        phases: Phases::new(1 + HOLDERS),
    });
    {
        let world = Arc::clone(&world);
        watchdog(
            run,
            Box::new(move || {
                format!(
                    "{}{}  rlock: {:?}, shadow owner {}\n  signals received {}, checks run {}\n",
                    world.phases.describe(&OPS),
                    describe_locks(&world.lock, &world.shadow),
                    world.rlock,
                    world.rlock_shadow.owner(),
                    SIGNALS_RECEIVED.load(SeqCst),
                    CHECKS.load(SeqCst)
                )
            }),
        );
    }
    // SAFETY: `pthread_self` has no preconditions.
    let main_thread = unsafe { libc::pthread_self() };
    let interrupts_sent = AtomicU64::new(0);
    let signals_sent = AtomicU64::new(0);
    let mut tally = Tally::default();
    std::thread::scope(|scope| {
        for h in 0..HOLDERS {
            let world = &world;
            scope.spawn(move || holder(run, world, 1 + h));
        }
        scope.spawn(|| {
            let mut rng = Rng::new(seed(101));
            while !run.should_stop() {
                if interrupt_main(libc::SIGINT).is_err() {
                    run.anomaly("interrupt_main(SIGINT) failed".into());
                }
                interrupts_sent.fetch_add(1, SeqCst);
                std::thread::sleep(rng.micros(1, 400));
            }
        });
        scope.spawn(|| {
            let mut rng = Rng::new(seed(102));
            while !run.should_stop() {
                // SAFETY: the main thread outlives this scope; SIGUSR1 has our handler.
                unsafe { libc::pthread_kill(main_thread, libc::SIGUSR1) };
                signals_sent.fetch_add(1, SeqCst);
                std::thread::sleep(rng.micros(20, 800));
            }
        });
        main_loop(run, &world, &mut tally);
    });
    // Consume what the storm left pending, then check that nothing was taken by mistake.
    while signals::run_pending().is_err() {}
    check_quiescent(run, &world.lock, &world.shadow);
    if world.rlock.locked() || world.rlock.__state() != 0 || world.rlock.__waiters() != 0 {
        run.anomaly(format!("rlock not quiescent: {:?}", world.rlock));
    }
    let details = format!(
        "main-thread acquires: {} got the lock, {} timed out, {} KeyboardInterrupt, {} handler \
         errors; joins: {} reaped, {} interrupted, {} timed out; {} interrupt_main calls, {} \
         SIGUSR1 sent, {} received, {} checks run",
        tally.acquired,
        tally.timed_out,
        tally.keyboard_interrupts,
        tally.handler_errors,
        tally.joins,
        tally.joins_interrupted,
        tally.joins_timed_out,
        interrupts_sent.load(SeqCst),
        signals_sent.load(SeqCst),
        SIGNALS_RECEIVED.load(SeqCst),
        CHECKS.load(SeqCst)
    );
    run.finish(&details)
}

fn main_loop(run: &Run, world: &World, tally: &mut Tally) {
    let me = MAIN as u64 + 1;
    let mut rng = Rng::new(seed(100));
    let mut unjoined: Vec<ThreadHandle> = Vec::new();
    while !run.should_stop() {
        let op = 1 + rng.below(7);
        if op == 7 {
            world.phases.set(MAIN, 8, 0);
            join_once(run, &mut rng, &mut unjoined, tally);
            world.phases.set(MAIN, 0, 0);
            run.tick(1);
            continue;
        }
        world.phases.set(MAIN, op, 0);
        let timeout = rng.micros(500, 3000);
        let started = Instant::now();
        let rlock = op == 3 || op == 4;
        let result: Result<bool, LockError> = match op {
            1 => world.lock[0].acquire(true, -1.0),
            2 => world.lock[0].acquire(true, timeout.as_secs_f64()),
            3 => world.rlock.acquire(true, -1.0),
            4 => world.rlock.acquire(true, timeout.as_secs_f64()),
            5 => Ok(world.lock[0].acquire_for(timeout)),
            _ => {
                let guard = world.lock[0].lock();
                world.shadow[0].enter(run, me, OPS[6]);
                world.shadow[0].leave(run, me, OPS[6]);
                drop(guard);
                tally.acquired += 1;
                world.phases.set(MAIN, 0, 0);
                run.tick(1);
                continue;
            }
        };
        let waited = started.elapsed();
        let timed = op == 2 || op == 4 || op == 5;
        match result {
            Ok(true) => {
                tally.acquired += 1;
                let shadow = if rlock {
                    &world.rlock_shadow
                } else {
                    &world.shadow[0]
                };
                shadow.enter(run, me, OPS[op as usize]);
                shadow.leave(run, me, OPS[op as usize]);
                let released = if rlock {
                    world.rlock.release()
                } else {
                    world.lock[0].release()
                };
                if released.is_err() {
                    run.anomaly(format!(
                        "{}: release after Ok(true) failed",
                        OPS[op as usize]
                    ));
                }
            }
            Ok(false) => {
                tally.timed_out += 1;
                if !timed {
                    run.anomaly(format!("{} returned false", OPS[op as usize]));
                } else if waited < timeout {
                    run.anomaly(format!(
                        "{} gave up after {waited:?}, before {timeout:?}",
                        OPS[op as usize]
                    ));
                }
            }
            Err(e) => {
                match e.python_type() {
                    "KeyboardInterrupt" => tally.keyboard_interrupts += 1,
                    "OSError" => tally.handler_errors += 1,
                    other => run.anomaly(format!("{}: unexpected {other}: {e}", OPS[op as usize])),
                }
                if rlock && world.rlock.is_owned() {
                    run.anomaly("an interrupted rlock.acquire kept the lock".into());
                }
            }
        }
        world.phases.set(MAIN, 0, 0);
        run.tick(1);
    }
    // Every thread is reaped in the end; interrupts may still cut joins short meanwhile.
    world.phases.set(MAIN, 8, 0);
    for handle in unjoined {
        while let Err(e) = handle.join(None) {
            check_join_error(run, &e, tally);
        }
        if !handle.is_done() {
            run.anomaly("join(None) returned Ok before the thread was done".into());
        }
    }
}

/// Starts a short thread, or picks one an earlier join left, and joins it on the main thread.
fn join_once(run: &Run, rng: &mut Rng, unjoined: &mut Vec<ThreadHandle>, tally: &mut Tally) {
    let handle = if unjoined.len() < 8 || rng.below(2) == 0 {
        let lifetime = rng.micros(100, 3000);
        match thread_core::start_joinable_thread(move || std::thread::sleep(lifetime)) {
            Ok(handle) => handle,
            Err(e) => {
                run.anomaly(format!("start_joinable_thread failed: {e}"));
                return;
            }
        }
    } else {
        unjoined.swap_remove(rng.below(unjoined.len() as u64) as usize)
    };
    let timeout = if rng.below(2) == 0 {
        None
    } else {
        Some(rng.micros(100, 2000))
    };
    let started = Instant::now();
    let joined = handle.join(timeout);
    let waited = started.elapsed();
    match joined {
        Ok(()) if handle.is_done() => tally.joins += 1,
        Ok(()) => {
            tally.joins_timed_out += 1;
            match timeout {
                None => run.anomaly("join(None) returned Ok before the thread was done".into()),
                Some(t) if waited < t => run.anomaly(format!(
                    "join({t:?}) gave up after {waited:?}, before its timeout"
                )),
                Some(_) => {}
            }
            unjoined.push(handle);
        }
        Err(e) => {
            check_join_error(run, &e, tally);
            // HANDLE-2: the thread keeps running and the handle stays joinable.
            unjoined.push(handle);
        }
    }
}

fn check_join_error(run: &Run, error: &ThreadError, tally: &mut Tally) {
    match error {
        ThreadError::Interrupted(i)
            if i.python_type() == "KeyboardInterrupt" || i.python_type() == "OSError" =>
        {
            tally.joins_interrupted += 1;
        }
        other => run.anomaly(format!("join failed otherwise: {other}")),
    }
}

/// Takes the lock or the RLock and keeps it up to 2 ms, so that the main thread waits and is
/// sometimes handed the lock.
fn holder(run: &Run, world: &World, slot: usize) {
    let me = slot as u64 + 1;
    let mut rng = Rng::new(seed(me));
    while !run.should_stop() {
        world.phases.set(slot, 7, 0);
        if rng.below(2) == 0 {
            world.lock[0].acquire_blocking();
            world.shadow[0].enter(run, me, "holder");
            std::thread::sleep(rng.micros(1, 2000));
            world.shadow[0].leave(run, me, "holder");
            if world.lock[0].release().is_err() {
                run.anomaly("holder: release failed".into());
            }
        } else {
            let level = world.rlock.lock();
            world.rlock_shadow.enter(run, me, "rlock holder");
            std::thread::sleep(rng.micros(1, 2000));
            world.rlock_shadow.leave(run, me, "rlock holder");
            drop(level);
        }
        world.phases.set(slot, 0, 0);
        std::thread::sleep(rng.micros(1, 500));
        run.tick(1);
    }
}
