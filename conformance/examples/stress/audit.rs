//! `audit` and `audit-spawn`: the audit registry under concurrency (AUDIT-2, AUDIT-4,
//! X-AUDIT-1).
//!
//! * `audit`: on a registry value, adders add hooks while auditors raise events. Every event
//!   must run a prefix of the list in the order the hooks were linked (any two events' lists
//!   agree where they overlap), each hook at most once, and every hook whose `add` had returned
//!   before the event began — on the adder's own thread right after its `add`, and on the
//!   auditors'.
//! * `audit-spawn`: on the process-wide registry, one thread starts threads without pause while
//!   another, round after round, adds a hook that refuses spawns during its round, while a third
//!   adds a harmless hook at the same moment (two concurrent adds: the shape of the AUDIT-2 race).
//!   A spawn that began after the refusing hook's `add` returned, and ran entirely inside the
//!   round, must be refused (a refusing hook cannot be skipped right after its `add` returned).
//!   Hooks are never removed, so the rounds are capped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};

use thread_audit::{AuditError, AuditEvent, AuditHooks};
use thread_core::ThreadError;

use crate::support::{Rng, Run, seed, watchdog};

const ADDERS: usize = 4;
const AUDITORS: usize = 2;
const HOOKS_PER_ADDER: u64 = 8;
const EVENT: &str = "stress.event";

/// The event's argument: where the hooks that ran write their ids, in the order they ran.
#[derive(Debug, Default)]
struct Record(Mutex<Vec<u64>>);

impl Record {
    fn ids(&self) -> Vec<u64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn recording_hook(id: u64) -> impl Fn(&AuditEvent<'_>) -> Result<(), AuditError> + Send + Sync {
    move |event| {
        if event.name() == EVENT
            && let Some(record) = event
                .args()
                .first()
                .and_then(|a| a.downcast_ref::<Record>())
        {
            record
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(id);
        }
        Ok(())
    }
}

/// One round's shared state.
struct Round {
    hooks: AuditHooks,
    /// How many hooks each adder has added (stored after its `add` returned).
    added: [AtomicU64; ADDERS],
    /// The longest list of ids an event ran so far: every event's list must be a prefix of the
    /// link order, so any two lists agree on their common length.
    longest: Mutex<Vec<u64>>,
    adders_done: AtomicU64,
    /// Each adder's `pthread_self()`, for the stretcher's signals (0: not running).
    adder_threads: [AtomicU64; ADDERS],
    /// The stretcher sends no more signals; adders may end (their `pthread_t` stays valid until
    /// then).
    stretcher_done: AtomicBool,
}

/// Signals sent to stretch the adders' windows (the handler runs in the middle of an `add`).
static STRETCHES: AtomicU64 = AtomicU64::new(0);

/// A few microseconds of busy work in the adder's thread, wherever the signal caught it.
/// Async-signal-safe: `clock_gettime` (through `Instant`) and arithmetic only.
extern "C" fn on_stretch(_signum: libc::c_int) {
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_micros(5) {
        std::hint::spin_loop();
    }
}

/// Installs [`on_stretch`] for `SIGUSR2`; false (after reporting) if that failed.
fn install_stretch_handler(run: &Run) -> bool {
    // SAFETY: a zeroed `sigaction` is "no flags, empty mask"; the handler is async-signal-safe.
    // SA_RESTART: the interrupted threads' own system calls (futex waits) resume.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_stretch as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()) != 0 {
            run.anomaly("sigaction failed".into());
            return false;
        }
    }
    true
}

/// Interrupts random adders with `SIGUSR2` until every adder of the round is done.
fn stretcher(run: &Run, round: &Round) {
    let mut rng = Rng::new(seed(7));
    while round.adders_done.load(SeqCst) < ADDERS as u64 && !run.should_stop() {
        let target = round.adder_threads[rng.below(ADDERS as u64) as usize].load(SeqCst);
        if target != 0 {
            // SAFETY: the adder's thread is alive until `stretcher_done` is set (it waits for
            // it), so its `pthread_t` is valid; SIGUSR2 has the handler above.
            unsafe { libc::pthread_kill(target as libc::pthread_t, libc::SIGUSR2) };
            STRETCHES.fetch_add(1, SeqCst);
        }
        std::thread::sleep(rng.micros(1, 30));
    }
    round.stretcher_done.store(true, SeqCst);
}

fn hook_id(adder: usize, k: u64) -> u64 {
    adder as u64 * 1000 + k
}

/// Raises one event and checks what ran against the hooks added before it began.
fn audit_and_check(run: &Run, round: &Round, who: &str) {
    let expected: Vec<u64> = (0..ADDERS)
        .flat_map(|a| (0..round.added[a].load(SeqCst)).map(move |k| hook_id(a, k)))
        .collect();
    let record = Record::default();
    if let Err(e) = round.hooks.audit(EVENT, &[&record]) {
        run.anomaly(format!("{who}: audit refused without a refusing hook: {e}"));
        return;
    }
    let ran = record.ids();
    if let Some(missed) = expected.iter().find(|id| !ran.contains(id)) {
        run.anomaly(format!(
            "{who}: hook {missed}, whose add had returned, missed the event (ran: {ran:?})"
        ));
    }
    let mut sorted = ran.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != ran.len() {
        run.anomaly(format!("{who}: a hook ran twice for one event: {ran:?}"));
    }
    let mut longest = round.longest.lock().unwrap_or_else(PoisonError::into_inner);
    let common = ran.len().min(longest.len());
    if ran[..common] != longest[..common] {
        run.anomaly(format!(
            "{who}: hooks ran out of link order: {ran:?} against {:?}",
            &longest[..]
        ));
    } else if ran.len() > longest.len() {
        *longest = ran;
    }
}

pub(crate) fn registry_main(run: &Arc<Run>) -> i32 {
    watchdog(
        run,
        Box::new(|| "  (registry rounds: adders and auditors on a fresh AuditHooks)\n".into()),
    );
    if !install_stretch_handler(run) {
        return run.finish("");
    }
    let mut rounds = 0u64;
    while !run.should_stop() {
        let round = Round {
            hooks: AuditHooks::new(),
            added: Default::default(),
            longest: Mutex::new(Vec::new()),
            adders_done: AtomicU64::new(0),
            adder_threads: Default::default(),
            stretcher_done: AtomicBool::new(false),
        };
        std::thread::scope(|scope| {
            for adder in 0..ADDERS {
                let round = &round;
                scope.spawn(move || {
                    // SAFETY: `pthread_self` has no preconditions.
                    let me = unsafe { libc::pthread_self() } as u64;
                    round.adder_threads[adder].store(me, SeqCst);
                    for k in 0..HOOKS_PER_ADDER {
                        if let Err(e) = round.hooks.add(recording_hook(hook_id(adder, k))) {
                            run.anomaly(format!("add failed: {e}"));
                        }
                        round.added[adder].store(k + 1, SeqCst);
                        // AUDIT-2 on the adder's own thread, right after its add returned.
                        audit_and_check(run, round, "adder");
                        run.tick(2);
                    }
                    round.adders_done.fetch_add(1, SeqCst);
                    while !round.stretcher_done.load(SeqCst) {
                        std::thread::yield_now();
                    }
                });
            }
            {
                let round = &round;
                scope.spawn(move || stretcher(run, round));
            }
            for _ in 0..AUDITORS {
                let round = &round;
                scope.spawn(move || {
                    while round.adders_done.load(SeqCst) < ADDERS as u64 && !run.should_stop() {
                        audit_and_check(run, round, "auditor");
                        run.tick(1);
                    }
                });
            }
        });
        if round.hooks.len() != ADDERS * HOOKS_PER_ADDER as usize {
            run.anomaly(format!("round ended with {} hooks", round.hooks.len()));
        }
        audit_and_check(run, &round, "after the round");
        rounds += 1;
    }
    run.finish(&format!(
        "{rounds} rounds of {ADDERS} adders x {HOOKS_PER_ADDER} hooks against {AUDITORS} auditors, \
         {} stretching signals",
        STRETCHES.load(SeqCst)
    ))
}

/// The round whose refusing hook is live (0: none).
static ACTIVE: AtomicU64 = AtomicU64::new(0);
/// The round whose hook's `add` has returned.
static GATE: AtomicU64 = AtomicU64::new(0);
/// The last round the spawner made a whole attempt in.
static ATTEMPTED: AtomicU64 = AtomicU64::new(0);
/// The last round the noise thread added its harmless hook in.
static NOISE: AtomicU64 = AtomicU64::new(0);
/// The noise thread's `pthread_self()` (0 until it runs).
static NOISE_THREAD: AtomicU64 = AtomicU64::new(0);
/// The noise stretcher sends no more signals: the noise thread may end.
static NOISE_STRETCHER_DONE: AtomicBool = AtomicBool::new(false);
/// Rounds at most: each adds two hooks to the process-wide registry for good.
const MAX_ROUNDS: u64 = 2000;

pub(crate) fn spawn_main(run: &Arc<Run>) -> i32 {
    watchdog(
        run,
        Box::new(|| {
            format!(
                "  active round {}, gate {}, spawner's last round {}\n",
                ACTIVE.load(SeqCst),
                GATE.load(SeqCst),
                ATTEMPTED.load(SeqCst)
            )
        }),
    );
    if !install_stretch_handler(run) {
        return run.finish("");
    }
    let spawned = AtomicU64::new(0);
    let refused = AtomicU64::new(0);
    let mut rounds = 0u64;
    std::thread::scope(|scope| {
        scope.spawn(|| spawner(run, &spawned, &refused));
        scope.spawn(|| noise(run));
        scope.spawn(|| noise_stretcher(run));
        while !run.should_stop() && rounds < MAX_ROUNDS {
            let r = rounds + 1;
            // The noise thread starts its add when it sees the round begin.
            ACTIVE.store(r, SeqCst);
            let added = thread_audit::add_audit_hook(move |event| {
                let spawn = event.name().starts_with("_thread.start_");
                if spawn && ACTIVE.load(SeqCst) == r {
                    return Err(AuditError::new(
                        "RuntimeError",
                        format!("round {r} refuses"),
                    ));
                }
                Ok(())
            });
            if let Err(e) = added {
                run.anomaly(format!("add_audit_hook failed: {e}"));
            }
            GATE.store(r, SeqCst);
            // Let the spawner make at least one whole attempt inside the round.
            while (ATTEMPTED.load(SeqCst) < r || NOISE.load(SeqCst) < r) && !run.should_stop() {
                std::thread::yield_now();
            }
            ACTIVE.store(0, SeqCst);
            rounds = r;
            run.tick(1);
        }
        // Tell the spawner and the noise thread to stop even if the rounds ran out first.
        GATE.store(u64::MAX, SeqCst);
        ACTIVE.store(u64::MAX, SeqCst);
    });
    run.finish(&format!(
        "{rounds} rounds (hooks added); {} spawn attempts went ahead, {} refused; {} stretching \
         signals",
        spawned.load(SeqCst),
        refused.load(SeqCst),
        STRETCHES.load(SeqCst)
    ))
}

/// Adds one harmless hook as each round begins, racing the round's refusing hook.
fn noise(run: &Run) {
    // SAFETY: `pthread_self` has no preconditions.
    NOISE_THREAD.store(unsafe { libc::pthread_self() } as u64, SeqCst);
    let mut last = 0;
    loop {
        let round = ACTIVE.load(SeqCst);
        if round == u64::MAX || run.should_stop() {
            // Our `pthread_t` must stay valid while the stretcher may still signal us.
            while !NOISE_STRETCHER_DONE.load(SeqCst) {
                std::thread::yield_now();
            }
            return;
        }
        if round > last {
            if let Err(e) = thread_audit::add_audit_hook(|_| Ok(())) {
                run.anomaly(format!("add_audit_hook failed: {e}"));
            }
            last = round;
            NOISE.store(round, SeqCst);
        } else {
            std::thread::yield_now();
        }
    }
}

/// Signals the noise thread now and then, so that its `add` is sometimes caught midway.
fn noise_stretcher(run: &Run) {
    let mut rng = Rng::new(seed(8));
    while ACTIVE.load(SeqCst) != u64::MAX && !run.should_stop() {
        let target = NOISE_THREAD.load(SeqCst);
        if target != 0 {
            // SAFETY: the noise thread waits for `NOISE_STRETCHER_DONE` before it ends, so its
            // `pthread_t` is valid; SIGUSR2 has the stretch handler.
            unsafe { libc::pthread_kill(target as libc::pthread_t, libc::SIGUSR2) };
            STRETCHES.fetch_add(1, SeqCst);
        }
        std::thread::sleep(rng.micros(1, 30));
    }
    NOISE_STRETCHER_DONE.store(true, SeqCst);
}

fn spawner(run: &Run, spawned: &AtomicU64, refused: &AtomicU64) {
    let mut attempt = 0u64;
    while !run.should_stop() {
        let gate = GATE.load(SeqCst);
        if gate == u64::MAX {
            return;
        }
        let before = ACTIVE.load(SeqCst);
        attempt += 1;
        let result = if attempt.is_multiple_of(2) {
            thread_core::start_joinable_thread(|| ()).and_then(|h| h.join(None))
        } else {
            thread_core::start_new_thread(|| ()).map(|_| ())
        };
        let after = ACTIVE.load(SeqCst);
        let inside_round = gate != 0 && gate == before && before == after;
        match result {
            Ok(()) => {
                spawned.fetch_add(1, SeqCst);
                if inside_round {
                    run.anomaly(format!(
                        "a spawn went ahead inside round {gate}, after its refusing hook's add \
                         returned"
                    ));
                }
            }
            Err(ThreadError::Audit(e)) if e.python_type() == "RuntimeError" => {
                refused.fetch_add(1, SeqCst);
            }
            Err(e) => run.anomaly(format!("spawn failed otherwise: {e}")),
        }
        if inside_round {
            ATTEMPTED.store(gate, SeqCst);
        }
    }
}
