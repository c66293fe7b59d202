//! `cargo xtask rustpython`: CPython 3.13's thread tests on RustPython, stock and on pythread.
//!
//! Steps: build `thread-rustpython`'s two binaries (`rustpython-stock`: RustPython's command
//! line as its own `rustpython` binary makes it; `rustpython-pythread`: the same with pythread's
//! `_thread`), from the crate's committed lockfile, with the toolchain its `rust-toolchain.toml`
//! names (RustPython 0.6.0 needs a newer Rust than the workspace's), in its own target directory;
//! run the crate's own tests (the issue's interrupt checks); then run `test.test_thread`,
//! `test.test_threadsignals` and `test.test_threading` from CPython 3.13's `test` package (pyenv's
//! 3.13.0; the published RustPython crates carry no `test` package) on both binaries, and print
//! one row per suite:
//!
//! ```text
//! SUITE: stock: P passed, F failed, S skipped | pythread: P passed, F failed, S skipped
//! interpreter: PATH
//! ```
//!
//! Each suite runs through `cargo xtask cpython`'s driver (`cpython/driver.py`, written to
//! `target/rustpython/driver.py`, its `_thread` check off) that writes one line per test to a
//! results file, with a per-test deadline (`faulthandler.dump_traceback_later(exit=
//! True)`); a test that hangs or kills the interpreter counts as failed and the suite goes on in a
//! fresh process with the tests after it. The tests' own output is kept in
//! `target/rustpython/logs/`. The run fails when the crate's tests fail, when a test that
//! passes on stock RustPython does not pass on pythread (each such test is listed), or when
//! `test_threadsignals`' lock and RLock interruption tests (which stock RustPython skips) do not
//! pass on pythread.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::process_group;

/// The suites, in the order they run.
const SUITES: [&str; 3] = [
    "test.test_thread",
    "test.test_threadsignals",
    "test.test_threading",
];

/// The tests that must pass on pythread (the issue's "done when"): the interruption tests, which
/// stock RustPython skips.
const MUST_PASS: [&str; 2] = [
    "test.test_threadsignals.ThreadSignals.test_lock_acquire_interruption",
    "test.test_threadsignals.ThreadSignals.test_rlock_acquire_interruption",
];

/// Where CPython 3.13's `test` package is found.
const CPYTHON_LIB: &str = ".pyenv/versions/3.13.0/lib/python3.13";

/// How long one test may run before it counts as hung (`PYTHREAD_RUSTPYTHON_TIMEOUT` seconds
/// overrides it).
const TEST_TIMEOUT_SECS: u64 = 60;

/// One test's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Skipped,
}

/// A suite's outcomes by test id.
type Outcomes = BTreeMap<String, Outcome>;

fn count(outcomes: &Outcomes, wanted: Outcome) -> usize {
    outcomes.values().filter(|o| **o == wanted).count()
}

fn row(outcomes: &Outcomes) -> String {
    format!(
        "{} passed, {} failed, {} skipped",
        count(outcomes, Outcome::Passed),
        count(outcomes, Outcome::Failed),
        count(outcomes, Outcome::Skipped)
    )
}

/// `rustup run <toolchain> cargo <args>` in the crate, with the outer cargo's environment
/// removed (it names the workspace's toolchain and target directory).
fn crate_cargo(krate: &Path, toolchain: &str, args: &[&str]) -> Command {
    let mut command = Command::new("rustup");
    command
        .args(["run", toolchain, "cargo"])
        .args(args)
        .current_dir(krate);
    for name in [
        "RUSTUP_TOOLCHAIN",
        "CARGO",
        "CARGO_TARGET_DIR",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_PKG_NAME",
        "RUSTC",
        "RUSTDOC",
        "RUSTFLAGS",
    ] {
        command.env_remove(name);
    }
    command
}

/// The toolchain the crate's `rust-toolchain.toml` names.
fn toolchain(krate: &Path) -> Result<String, String> {
    let text = fs::read_to_string(krate.join("rust-toolchain.toml"))
        .map_err(|e| format!("thread-rustpython/rust-toolchain.toml: {e}"))?;
    let parsed: toml::Table = toml::from_str(&text).map_err(|e| e.to_string())?;
    parsed
        .get("toolchain")
        .and_then(|t| t.get("channel"))
        .and_then(|c| c.as_str())
        .map(str::to_owned)
        .ok_or_else(|| "rust-toolchain.toml names no channel".to_owned())
}

/// Runs one suite on `binary` to the end, restarting after a test that ended the process.
fn run_suite(
    binary: &Path,
    suite: &str,
    work: &Path,
    label: &str,
    tests_dir: &Path,
) -> Result<Outcomes, String> {
    let timeout = std::env::var("PYTHREAD_RUSTPYTHON_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TEST_TIMEOUT_SECS);
    let results_path = work.join(format!("{label}-{suite}.results"));
    let skip_path = work.join(format!("{label}-{suite}.skip"));
    let log_path = work.join("logs").join(format!("{label}-{suite}.log"));
    fs::write(&results_path, "").map_err(|e| e.to_string())?;
    let mut outcomes = Outcomes::new();
    let mut log = String::new();
    for attempt in 0.. {
        fs::write(
            &skip_path,
            outcomes.keys().cloned().collect::<Vec<_>>().join("\n"),
        )
        .map_err(|e| e.to_string())?;
        // The output goes to a file, not a pipe: a hung test's own subprocess, which outlives
        // the driver its watchdog ended, would hold a pipe open.
        let output_path = work.join(format!("{label}-{suite}.output"));
        let output = fs::File::create(&output_path).map_err(|e| e.to_string())?;
        let mut child = Command::new(binary)
            .arg(work.join("driver.py"))
            .arg(suite)
            .arg(timeout.to_string())
            .arg(&results_path)
            .arg(&skip_path)
            .env("PYTHONPATH", tests_dir)
            // No `_thread` check: the two binaries are what is compared, not a module switch.
            .env("PYTHREAD_DRIVER_CHECK", "0")
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(output.try_clone().map_err(|e| e.to_string())?)
            .stderr(output)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let status = child.wait().map_err(|e| e.to_string())?;
        // End whatever is left of the group, such a subprocess among it.
        process_group::kill_group(&child);
        let printed = fs::read(&output_path).unwrap_or_default();
        let _ = fs::remove_file(&output_path);
        log.push_str(&format!(
            "== attempt {attempt}: {status}\n{}",
            String::from_utf8_lossy(&printed)
        ));
        let text = fs::read_to_string(&results_path).map_err(|e| e.to_string())?;
        let mut started: Option<String> = None;
        let mut done = false;
        for line in text.lines() {
            let Some((kind, id)) = line.split_once(' ') else {
                continue;
            };
            let outcome = match kind {
                "START" => {
                    started = Some(id.to_owned());
                    continue;
                }
                "DONE" => {
                    done = true;
                    continue;
                }
                "pass" => Outcome::Passed,
                "skip" => Outcome::Skipped,
                _ => Outcome::Failed,
            };
            if started.as_deref() == Some(id) {
                started = None;
            }
            outcomes.insert(id.to_owned(), outcome);
        }
        if done {
            break;
        }
        match started {
            // The process ended inside a test: it failed; go on after it.
            Some(id) => {
                outcomes.insert(id, Outcome::Failed);
            }
            // Ended outside any test with no DONE: nothing more can be learnt by retrying.
            None => {
                outcomes.insert(
                    format!("{suite} (the run ended early: {status})"),
                    Outcome::Failed,
                );
                break;
            }
        }
    }
    fs::write(&log_path, log).map_err(|e| e.to_string())?;
    Ok(outcomes)
}

/// `cargo xtask rustpython`.
pub(crate) fn rustpython(root: &Path) -> Result<bool, String> {
    let krate = root.join("thread-rustpython");
    let toolchain = toolchain(&krate)?;
    let work = root.join("target").join("rustpython");
    fs::create_dir_all(work.join("logs")).map_err(|e| e.to_string())?;
    fs::write(work.join("driver.py"), crate::cpython::DRIVER).map_err(|e| e.to_string())?;

    let home = std::env::var("HOME").map_err(|_| "HOME is not set".to_owned())?;
    let cpython_lib = Path::new(&home).join(CPYTHON_LIB);
    if !cpython_lib.join("test").join("test_thread.py").is_file() {
        return Err(format!(
            "CPython 3.13's test package is missing: {}",
            cpython_lib.join("test").display()
        ));
    }
    // A directory holding only `test`, so the rest of CPython's library never shadows
    // RustPython's.
    let tests_dir = work.join("cpython-tests");
    fs::create_dir_all(&tests_dir).map_err(|e| e.to_string())?;
    let link = tests_dir.join("test");
    if fs::read_link(&link).ok().as_deref() != Some(cpython_lib.join("test").as_path()) {
        fs::remove_file(&link).ok();
        std::os::unix::fs::symlink(cpython_lib.join("test"), &link).map_err(|e| e.to_string())?;
    }

    let started = Instant::now();
    let status = crate_cargo(
        &krate,
        &toolchain,
        &["build", "--release", "--locked", "--bins"],
    )
    .status()
    .map_err(|e| format!("rustup run {toolchain} cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("building thread-rustpython failed ({status})"));
    }
    println!(
        "rustpython: built in {:.0} s (toolchain {toolchain})",
        started.elapsed().as_secs_f64()
    );
    let bin_dir: PathBuf = krate.join("target").join("release");
    let stock = bin_dir.join("rustpython-stock");
    let pythread = bin_dir.join("rustpython-pythread");

    let started = Instant::now();
    let crate_tests = crate_cargo(
        &krate,
        &toolchain,
        &["test", "--release", "--locked", "--test", "interrupt"],
    )
    .status()
    .map_err(|e| format!("rustup run {toolchain} cargo test: {e}"))?;
    println!(
        "rustpython: the crate's tests {} in {:.0} s",
        if crate_tests.success() {
            "passed"
        } else {
            "FAILED"
        },
        started.elapsed().as_secs_f64()
    );
    let mut ok = crate_tests.success();

    for suite in SUITES {
        let name = suite.trim_start_matches("test.");
        let started = Instant::now();
        let stock_outcomes = run_suite(&stock, suite, &work, "stock", &tests_dir)?;
        let stock_secs = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let ours = run_suite(&pythread, suite, &work, "pythread", &tests_dir)?;
        let ours_secs = started.elapsed().as_secs_f64();
        println!(
            "{name}: stock: {} | pythread: {}",
            row(&stock_outcomes),
            row(&ours)
        );
        println!("  ({name}: {stock_secs:.0} s stock, {ours_secs:.0} s pythread)");
        for (id, outcome) in &stock_outcomes {
            if *outcome == Outcome::Passed && ours.get(id) != Some(&Outcome::Passed) {
                println!("  passes on stock, not on pythread: {id}");
                ok = false;
            }
        }
        let prefix = format!("{suite}.");
        for id in MUST_PASS.iter().filter(|id| id.starts_with(&prefix)) {
            if ours.get(*id) != Some(&Outcome::Passed) {
                println!("  must pass on pythread, did not: {id}");
                ok = false;
            }
        }
    }
    println!("interpreter: {}", pythread.display());
    Ok(ok)
}
