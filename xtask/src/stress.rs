//! `cargo xtask stress [--seconds N] [--release] [--asan] [PROGRAM...]`: builds the stress
//! programs (`conformance/examples/stress`) and runs each in its own process for N seconds
//! (default [`DEFAULT_SECONDS`], so that the whole suite stays within CI's two minutes; a larger
//! N makes it a soak). A program exits non-zero on any anomaly and reports a stall itself (its
//! watchdog); xtask also kills a program that outlives its time by [`GRACE`] and counts that as
//! a stall. A program that reaches its iteration cap before its time is up runs again in a fresh
//! process. Per program xtask prints `stress NAME: passed, I iterations in R process(es), Ts`
//! (or why it failed); the last line is `stress: P passed, F failed in Ts`.
//!
//! `--asan` builds them with the nightly toolchain under AddressSanitizer
//! (`-Zsanitizer=address`, in `target/asan`): our crates are instrumented, the precompiled std is
//! not (that would need `-Zbuild-std` and the `rust-src` component).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Seconds per program by default: 7 programs × 12 s plus start-up stays under two minutes.
const DEFAULT_SECONDS: u64 = 12;
/// How long past its time a program may run before xtask kills it (its own watchdog reports a
/// stall after 15 s without progress, so it normally ends first).
const GRACE: Duration = Duration::from_secs(60);
const TARGET: &str = "x86_64-unknown-linux-gnu";

struct Options {
    seconds: u64,
    release: bool,
    asan: bool,
    only: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        seconds: DEFAULT_SECONDS,
        release: false,
        asan: false,
        only: Vec::new(),
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = rest.next().ok_or("--seconds needs a number")?;
                options.seconds = value
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("--seconds {value}: not a positive whole number"))?;
            }
            "--release" => options.release = true,
            "--asan" => options.asan = true,
            flag if flag.starts_with('-') => {
                return Err(format!(
                    "unknown flag {flag}; usage: cargo xtask stress [--seconds N] [--release] \
                     [--asan] [PROGRAM...]"
                ));
            }
            program => options.only.push(program.to_owned()),
        }
    }
    Ok(options)
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds the stress binary and returns its path.
fn build(root: &Path, options: &Options) -> Result<PathBuf, String> {
    let profile = if options.release { "release" } else { "debug" };
    let mut command = if options.asan {
        // `cargo +nightly` through rustup; CARGO points at the stable cargo running xtask.
        let mut command = Command::new("cargo");
        command
            .arg("+nightly")
            .env_remove("CARGO")
            .env_remove("RUSTC")
            .env_remove("RUSTUP_TOOLCHAIN")
            .env("RUSTFLAGS", "-Zsanitizer=address")
            .env("RUSTDOCFLAGS", "-Zsanitizer=address");
        command
    } else {
        cargo()
    };
    command
        .current_dir(root)
        .args(["build", "-p", "conformance", "--example", "stress"]);
    if options.release {
        command.arg("--release");
    }
    let binary = if options.asan {
        command.args(["--target", TARGET, "--target-dir", "target/asan"]);
        root.join("target/asan")
            .join(TARGET)
            .join(profile)
            .join("examples/stress")
    } else {
        root.join("target").join(profile).join("examples/stress")
    };
    println!("stress: building ({command:?})");
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the stress programs failed: {status}"));
    }
    Ok(binary)
}

/// The programs the binary knows (`stress list`).
fn programs(binary: &Path) -> Result<Vec<String>, String> {
    let output = Command::new(binary)
        .arg("list")
        .output()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    if !output.status.success() {
        return Err(format!("{} list failed", binary.display()));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split('\t').next())
        .map(str::to_owned)
        .collect())
}

/// How one run of a program ended.
enum Outcome {
    /// Passed, with the iteration count of its summary line.
    Passed(u64),
    Failed(String),
}

/// The iteration count of a summary line, `stress NAME: ok, I iterations in ...`.
fn iterations_of(summary: &str) -> Option<u64> {
    let (_, rest) = summary.split_once(", ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Runs one process of `program` for `seconds` (fractions allowed), with xtask's own limit.
fn run_once(binary: &Path, program: &str, seconds: f64, asan: bool) -> Result<Outcome, String> {
    let mut command = Command::new(binary);
    command
        .args([program, "--seconds", &format!("{seconds:.3}")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    if asan {
        // Report leaks too; a distinct exit status tells an ASan report from an anomaly.
        command
            .env(
                "ASAN_OPTIONS",
                "detect_leaks=1:abort_on_error=0:exitcode=86",
            )
            // The fork program then starts no threads in the parent (see its docs: ASan's
            // runtime can leave its quarantine lock held in a child forked while a thread exits).
            .env("PYTHREAD_STRESS_ASAN", "1");
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let limit = Duration::from_secs_f64(seconds) + GRACE;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            // The program prints only its summary line on stdout (reports go to stderr), so
            // the pipe never fills while it runs.
            let mut summary = String::new();
            if let Some(mut stdout) = child.stdout.take() {
                let _ = std::io::Read::read_to_string(&mut stdout, &mut summary);
            }
            print!("{summary}");
            return Ok(match status.code() {
                Some(0) => Outcome::Passed(summary.lines().find_map(iterations_of).unwrap_or(0)),
                Some(1) => Outcome::Failed("anomalies (see above)".into()),
                Some(3) => Outcome::Failed("stall reported by its watchdog".into()),
                Some(86) => Outcome::Failed("AddressSanitizer report (see above)".into()),
                _ => Outcome::Failed(format!("ended with {status}")),
            });
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Outcome::Failed(format!(
                "stall: still running {GRACE:?} after its time, killed"
            )));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `program` for `seconds` in all: a program that reaches its iteration cap early (the
/// audit-spawn rounds, whose hooks can never be removed) is started again, in a fresh process,
/// until the time is used up. Returns the total iterations and the number of processes.
fn run_program(
    binary: &Path,
    program: &str,
    seconds: u64,
    asan: bool,
) -> Result<Result<(u64, u32), String>, String> {
    let budget = Duration::from_secs(seconds);
    let started = Instant::now();
    let (mut total, mut runs) = (0u64, 0u32);
    loop {
        let left = budget.saturating_sub(started.elapsed());
        if runs > 0 && left < Duration::from_secs(1) {
            return Ok(Ok((total, runs)));
        }
        runs += 1;
        match run_once(binary, program, left.as_secs_f64().max(1.0), asan)? {
            Outcome::Passed(iterations) => total += iterations,
            Outcome::Failed(why) => return Ok(Err(why)),
        }
    }
}

pub(crate) fn stress(root: &Path, args: &[String]) -> Result<bool, String> {
    let options = parse(args)?;
    let started = Instant::now();
    let binary = build(root, &options)?;
    let known = programs(&binary)?;
    let selected: Vec<String> = if options.only.is_empty() {
        known
    } else {
        if let Some(unknown) = options.only.iter().find(|p| !known.contains(p)) {
            return Err(format!(
                "no stress program {unknown}; there are: {}",
                known.join(", ")
            ));
        }
        options.only.clone()
    };
    let (mut passed, mut failed) = (0, 0);
    for program in &selected {
        let one = Instant::now();
        match run_program(&binary, program, options.seconds, options.asan)? {
            Ok((iterations, runs)) => {
                passed += 1;
                println!(
                    "stress {program}: passed, {iterations} iterations in {runs} process(es), \
                     {:.1}s",
                    one.elapsed().as_secs_f64()
                );
            }
            Err(why) => {
                failed += 1;
                println!(
                    "stress {program}: FAILED after {:.1}s: {why}",
                    one.elapsed().as_secs_f64()
                );
            }
        }
    }
    println!(
        "stress: {passed} passed, {failed} failed in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(failed == 0)
}
