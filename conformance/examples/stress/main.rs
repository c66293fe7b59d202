//! pythread's stress programs, run by `cargo xtask stress [--seconds N]`.
//!
//! `stress PROGRAM [--seconds S] [--iterations N]` runs one program until S seconds have passed
//! (default 10) or N iterations were made, whichever comes first, and prints one line:
//! `stress PROGRAM: ok|FAILED, I iterations in Ts, A anomalies; details`. The exit status is 0
//! when nothing went wrong, 1 after an anomaly (each is printed as it is found), and 3 when the
//! watchdog found a stall: no progress for a while, or a run that does not stop; it then prints
//! what it knows of the program's state instead of hanging. `stress list` prints the programs.
//!
//! Each program runs in its own process: several of them change process-wide state (signal
//! handlers, the global audit registry, forks).

mod audit;
mod fork;
mod handoff;
mod interrupt;
mod locks;
mod stray;
mod support;

use std::process::ExitCode;

/// A program's body: runs until the run says stop, returns the exit status.
type Program = fn(&std::sync::Arc<support::Run>) -> i32;

/// The programs: name, what it does, its function.
const PROGRAMS: [(&str, &str, Program); 7] = [
    (
        "locks",
        "every acquire form on one, a few and thousands of locks",
        locks::main,
    ),
    (
        "stray",
        "releases by threads that hold nothing, racing holders and parked waiters",
        stray::main,
    ),
    (
        "handoff",
        "a ~1 ms holder against waiters timing out about then",
        handoff::main,
    ),
    (
        "interrupt",
        "the main thread's interruptible acquires against interrupts and signals",
        interrupt::main,
    ),
    (
        "fork",
        "forks while threads churn timed waits; every child uses every lock",
        fork::main,
    ),
    (
        "audit",
        "concurrent add/audit on a registry value",
        audit::registry_main,
    ),
    (
        "audit-spawn",
        "spawns racing the add of a refusing hook on the global registry",
        audit::spawn_main,
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!("usage: stress <list | PROGRAM> [--seconds S] [--iterations N]");
        ExitCode::from(2)
    };
    let Some(program) = args.first() else {
        return usage();
    };
    if program == "list" {
        for (name, what, _) in PROGRAMS {
            println!("{name}\t{what}");
        }
        return ExitCode::SUCCESS;
    }
    let mut seconds = 10.0;
    let mut iterations = u64::MAX;
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next();
        match (flag.as_str(), value) {
            ("--seconds", Some(v)) => match v.parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 => seconds = s,
                _ => return usage(),
            },
            ("--iterations", Some(v)) => match v.parse::<u64>() {
                Ok(n) if n > 0 => iterations = n,
                _ => return usage(),
            },
            _ => return usage(),
        }
    }
    let Some((name, _, body)) = PROGRAMS.iter().find(|(name, _, _)| name == program) else {
        return usage();
    };
    let run = support::Run::new(name, seconds, iterations);
    let status = body(&run);
    ExitCode::from(status as u8)
}
