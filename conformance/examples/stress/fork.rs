//! `fork`: forks, again and again, while other threads churn timed waits on many locks and
//! start threads. Every child reinitialises the locks that were held at the fork (FORK-1; FORK-2:
//! nothing did it for it, so a lock the parent's shadow says was held must still be held), then
//! must be able to take and release every lock, park on one, start threads that use every lock,
//! and end with every lock quiescent (FORK-3: no parent waiter is left in the queues). A child
//! that does not finish in time is killed and reported with the step it was in.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use thread_lock::Lock;

use crate::support::{Phases, Rng, Run, Shadow, check_quiescent, describe_locks, seed, watchdog};

const LOCKS: usize = 64;
const CHURNERS: usize = 4;
/// How long a child may take before it counts as hung.
const CHILD_PATIENCE: Duration = Duration::from_secs(10);
/// Set by `cargo xtask stress --asan`: the parent then starts no threads while it forks.
/// AddressSanitizer's runtime (compiler-rt, nightly of 2026-05) can leave its quarantine's lock
/// held in a child forked while a parent thread was exiting (an exiting thread drains its
/// allocator cache into the quarantine under that lock): the child's own threads then spin on
/// it forever when they exit. Observed as a child hung joining its threads, gdb showing every
/// child thread in `__asan::...::Quarantine::Drain` under `asan_thread.cpp`'s `Destroy`.
/// Without the spawner no thread ends in the parent, so the children are still checked in full.
const ASAN_ENV: &str = "PYTHREAD_STRESS_ASAN";
const OPS: [&str; 5] = ["idle", "timed wait", "holding", "spawning", "blocking wait"];

/// The child's steps, written to a page shared with the parent (for the report of a hang).
const STEPS: [&str; 7] = [
    "not started",
    "checking FORK-2 and reinitialising held locks",
    "taking and releasing every lock",
    "parking on a held lock",
    "starting threads that use every lock",
    "joining them",
    "checking quiescence",
];

struct World {
    locks: Vec<Lock>,
    shadows: Vec<Shadow>,
    phases: Phases,
    /// One word in a `MAP_SHARED` page: the step the current child is in.
    child_step: &'static AtomicU32,
    spawned: AtomicU64,
    churned: AtomicU64,
    /// Set by a thread the child started when a release of a lock it held failed.
    child_thread_failed: AtomicBool,
}

pub(crate) fn main(run: &Arc<Run>) -> i32 {
    // SAFETY: a fresh anonymous shared mapping of one page; checked for failure below.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        run.anomaly("mmap of the shared page failed".into());
        return run.finish("");
    }
    // SAFETY: the page is zeroed, page-aligned, never unmapped, and only used as this atomic.
    let child_step = unsafe { &*page.cast::<AtomicU32>() };
    let world = Arc::new(World {
        locks: (0..LOCKS).map(|_| Lock::new()).collect(),
        shadows: (0..LOCKS).map(|_| Shadow::default()).collect(),
        phases: Phases::new(CHURNERS + 1),
        child_step,
        spawned: AtomicU64::new(0),
        churned: AtomicU64::new(0),
        child_thread_failed: AtomicBool::new(false),
    });
    {
        let world = Arc::clone(&world);
        watchdog(
            run,
            Box::new(move || {
                let step = world.child_step.load(SeqCst) as usize;
                format!(
                    "{}{}  current child's step: {}\n",
                    world.phases.describe(&OPS),
                    describe_locks(&world.locks, &world.shadows),
                    STEPS.get(step).copied().unwrap_or("?")
                )
            }),
        );
    }
    let mut forks = 0u64;
    std::thread::scope(|scope| {
        for c in 0..CHURNERS {
            let world = &world;
            scope.spawn(move || churn(run, world, c));
        }
        if std::env::var_os(ASAN_ENV).is_none() {
            let world = &world;
            scope.spawn(move || spawner(run, world));
        }
        while !run.should_stop() {
            fork_once(run, &world);
            forks += 1;
            run.tick(1);
        }
    });
    check_quiescent(run, &world.locks, &world.shadows);
    let details = format!(
        "forks {forks} (every child checked); parent: {} timed waits churned, {} threads started",
        world.churned.load(SeqCst),
        world.spawned.load(SeqCst)
    );
    run.finish(&details)
}

/// One fork: the child checks and exits; the parent waits for it, with a limit.
fn fork_once(run: &Run, world: &Arc<World>) {
    world.child_step.store(0, SeqCst);
    // SAFETY: the child runs only `child`, which uses our locks, thread-core's spawn and
    // atomics, and then `_exit`s without returning into the parent's frames.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        run.anomaly(format!("fork failed: {}", std::io::Error::last_os_error()));
        return;
    }
    if pid == 0 {
        let code = child(world);
        // SAFETY: ends the child at once, without the parent's atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    let started = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: `pid` is our child; `status` is a valid out-pointer.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            break;
        }
        if reaped < 0 {
            run.anomaly(format!(
                "waitpid failed: {}",
                std::io::Error::last_os_error()
            ));
            return;
        }
        if started.elapsed() > CHILD_PATIENCE {
            let step = world.child_step.load(SeqCst) as usize;
            eprintln!(
                "stress fork: child {pid} hung; its threads:\n{}",
                threads_of(pid)
            );
            if std::env::var_os("STRESS_GDB").is_some() {
                // Every thread's stack, for a hang that the kernel's view does not explain.
                let _ = std::process::Command::new("gdb")
                    .args([
                        "-p",
                        &pid.to_string(),
                        "-batch",
                        "-ex",
                        "thread apply all bt",
                    ])
                    .status();
            }
            // SAFETY: `pid` is our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            // SAFETY: as above; reaps the killed child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            run.anomaly(format!(
                "a forked child hung for {CHILD_PATIENCE:?} while {}",
                STEPS.get(step).copied().unwrap_or("?")
            ));
            return;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    if !libc::WIFEXITED(status) {
        run.anomaly(format!("a forked child crashed: status {status:#x}"));
    } else if libc::WEXITSTATUS(status) != 0 {
        let code = libc::WEXITSTATUS(status);
        run.anomaly(format!("a forked child failed check {code}"));
    }
}

/// The kernel's view of a process's threads: name, state and wait channel of each.
fn threads_of(pid: libc::pid_t) -> String {
    let mut out = String::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return "  (gone)\n".into();
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        let stat = read("stat");
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or("?")
            .to_owned();
        out.push_str(&format!(
            "  task {}: {} state {state} wchan {}\n",
            task.file_name().to_string_lossy(),
            read("comm").trim(),
            read("wchan").trim()
        ));
    }
    out
}

/// What the child checks; the number of the first failed check, 0 if all passed.
fn child(world: &Arc<World>) -> i32 {
    let step = |n: u32| world.child_step.store(n, SeqCst);
    step(1);
    for (lock, shadow) in world.locks.iter().zip(&world.shadows) {
        // FORK-2: a lock that a parent thread held at the fork is still held here.
        if shadow.owner() != 0 && !lock.locked() {
            return 10;
        }
        if lock.locked() {
            // SAFETY: the child has one thread, this one; nobody else uses or waits on the lock.
            unsafe { lock.reinit_after_fork() };
        }
    }
    step(2);
    for lock in &world.locks {
        if !lock.try_acquire() {
            return 20;
        }
        if lock.release().is_err() {
            return 21;
        }
    }
    step(3);
    let lock = &world.locks[0];
    if !lock.try_acquire() || lock.acquire_for(Duration::from_micros(100)) {
        return 30;
    }
    if lock.release().is_err() {
        return 31;
    }
    step(4);
    let mut handles = Vec::new();
    world.child_thread_failed.store(false, SeqCst);
    for _ in 0..2 {
        let world = Arc::clone(world);
        let started = thread_core::start_joinable_thread(move || {
            for _ in 0..3 {
                for lock in &world.locks {
                    lock.acquire_blocking();
                    if lock.release().is_err() {
                        world.child_thread_failed.store(true, SeqCst);
                    }
                }
            }
        });
        match started {
            Ok(handle) => handles.push(handle),
            Err(_) => return 40,
        }
    }
    step(5);
    for handle in handles {
        if handle.join(None).is_err() {
            return 50;
        }
    }
    if world.child_thread_failed.load(SeqCst) {
        return 51;
    }
    step(6);
    for lock in &world.locks {
        if lock.__state() != 0 || lock.__waiters() != 0 {
            return 60;
        }
    }
    0
}

/// Timed waits (and some blocking ones) on random locks, holding the lock briefly when it comes.
fn churn(run: &Run, world: &World, slot: usize) {
    let me = slot as u64 + 1;
    let mut rng = Rng::new(seed(me));
    while !run.should_stop() {
        let index = rng.below(LOCKS as u64) as usize;
        let lock = &world.locks[index];
        let got = if rng.below(8) == 0 {
            world.phases.set(slot, 4, index as u64);
            lock.acquire_blocking();
            true
        } else {
            world.phases.set(slot, 1, index as u64);
            lock.acquire_for(rng.micros(1, 2000))
        };
        if got {
            world.phases.set(slot, 2, index as u64);
            world.shadows[index].enter(run, me, "churner");
            std::thread::sleep(rng.micros(1, 300));
            world.shadows[index].leave(run, me, "churner");
            if lock.release().is_err() {
                run.anomaly(format!("churner: release of held lock {index} failed"));
            }
        }
        world.churned.fetch_add(1, SeqCst);
        world.phases.set(slot, 0, 0);
    }
}

/// Starts short threads through thread-core, so that forks also land in the middle of spawns.
fn spawner(run: &Run, world: &World) {
    let slot = CHURNERS;
    while !run.should_stop() {
        world.phases.set(slot, 3, 0);
        match thread_core::start_joinable_thread(|| {
            std::hint::black_box(1u64);
        }) {
            Ok(handle) => {
                if let Err(e) = handle.join(None) {
                    run.anomaly(format!("join of a started thread failed: {e}"));
                }
                world.spawned.fetch_add(1, SeqCst);
            }
            Err(e) => run.anomaly(format!("start_joinable_thread failed: {e}")),
        }
        world.phases.set(slot, 0, 0);
    }
}
