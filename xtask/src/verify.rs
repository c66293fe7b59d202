//! `cargo xtask verify`: everything a release needs, in order, timed, then the clause report.
//!
//! Each step runs in its own process group with a hard timeout (a hung test must not stall CI)
//! and a budget that is only reported, so that a step growing towards its timeout is seen early.
//! The test logs are kept under `target/verify/` for the clause report and for reading failures;
//! the report also counts the Python-level tests, from the results the last `cargo xtask cpython`
//! left in `target/cpython/results.json` (CI runs that one first).

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::clauses;
use crate::process_group;
use crate::python;

/// Where the loom models are built: apart from the normal build, which `--cfg loom` would
/// otherwise throw away.
pub(crate) const LOOM_TARGET_DIR: &str = "target/loom";

struct Step {
    title: &'static str,
    /// Run one after another into the same log; the step fails at the first that fails.
    commands: Vec<Command>,
    budget: Duration,
    timeout: Duration,
    /// Where the step's output is kept for the report; `None` keeps only failures' output.
    log: Option<&'static str>,
}

fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.args(args);
    command
}

fn minutes(minutes: u64) -> Duration {
    Duration::from_secs(minutes * 60)
}

fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 60 {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// How a step ended.
enum Ended {
    Exited(ExitStatus),
    TimedOut,
}

fn run_with_timeout(command: &mut Command, log: &Path, timeout: Duration) -> Result<Ended, String> {
    let file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let stderr = file.try_clone().map_err(|e| e.to_string())?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(Ended::Exited(status));
        }
        if started.elapsed() > timeout {
            // The whole group: cargo's test binaries and their children must go too.
            process_group::kill_group(&child);
            let _ = child.wait();
            return Ok(Ended::TimedOut);
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Exports the interpreter rule's result to the tests; under `CI=true` a missing interpreter
/// fails verify before anything runs.
fn export_python() -> Result<(), String> {
    match python::find() {
        Ok(found) => {
            println!(
                "python: {} ({})",
                found.program.display(),
                found.version_string()
            );
            set_env("PYTHREAD_PYTHON", &found.program);
        }
        Err(not_found) if python::under_ci() => {
            return Err(format!("{not_found}; CI=true needs one"));
        }
        Err(not_found) => println!("python: NOT FOUND, differential runs will skip: {not_found}"),
    }
    match python::find_312() {
        Some(found) => {
            println!(
                "python 3.12: {} ({})",
                found.program.display(),
                found.version_string()
            );
            set_env("PYTHREAD_PYTHON312", &found.program);
        }
        None => println!("python 3.12: not found, 3.12 differential runs skip"),
    }
    match python::find_313() {
        Some(found) => {
            println!(
                "python 3.13: {} ({})",
                found.program.display(),
                found.version_string()
            );
            set_env("PYTHREAD_PYTHON313", &found.program);
        }
        None => println!("python 3.13: not found, 3.13 differential runs skip"),
    }
    Ok(())
}

fn set_env(key: &str, value: &Path) {
    // SAFETY: called from xtask's only thread, before any other thread exists.
    unsafe { std::env::set_var(key, value) };
}

/// Whether any crate has a `tests/loom_*.rs` model (cargo refuses a `--test` pattern that
/// matches nothing).
fn has_loom_tests(root: &Path) -> bool {
    clauses::workspace_sources(root).iter().any(|file| {
        let in_tests = file.parent().is_some_and(|dir| dir.ends_with("tests"));
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        in_tests && name.is_some_and(|n| n.starts_with("loom_"))
    })
}

/// Runs every step, prints the report, and says whether everything passed.
pub(crate) fn verify(root: &Path) -> Result<bool, String> {
    export_python()?;
    let log_dir = root.join("target").join("verify");
    fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;

    let loom = |selection: &[&str]| {
        let mut command = cargo(&[
            "test",
            "--workspace",
            "--release",
            "--target-dir",
            LOOM_TARGET_DIR,
        ]);
        command
            .args(selection)
            .env("RUSTFLAGS", "--cfg loom")
            .env("LOOM_MAX_PREEMPTIONS", "2");
        command
    };
    // White-box models live in `loom_models` modules beside the code; the models of the public
    // API in `tests/loom_*.rs` files.
    let mut loom_commands = vec![loom(&["--lib", "--", "loom_models"])];
    if has_loom_tests(root) {
        loom_commands.push(loom(&["--test", "loom_*"]));
    }
    let steps = vec![
        Step {
            title: "cargo fmt --check",
            commands: vec![cargo(&["fmt", "--all", "--check"])],
            budget: minutes(1),
            timeout: minutes(3),
            log: None,
        },
        Step {
            title: "cargo clippy --workspace --all-targets -- -D warnings",
            commands: vec![cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])],
            budget: minutes(5),
            timeout: minutes(12),
            log: None,
        },
        Step {
            title: "cargo test --workspace",
            commands: vec![cargo(&["test", "--workspace"])],
            budget: minutes(8),
            timeout: minutes(15),
            log: Some("test.log"),
        },
        Step {
            title: "loom models (--cfg loom, --release, LOOM_MAX_PREEMPTIONS=2)",
            commands: loom_commands,
            budget: minutes(8),
            timeout: minutes(15),
            log: Some("loom.log"),
        },
    ];

    let count = steps.len() + 1;
    let mut all_passed = true;
    let mut logs: Vec<PathBuf> = Vec::new();
    for (index, mut step) in steps.into_iter().enumerate() {
        println!("[{}/{count}] {} ...", index + 1, step.title);
        let log = log_dir.join(step.log.unwrap_or("step.log"));
        fs::write(&log, "").map_err(|e| format!("{}: {e}", log.display()))?;
        let started = Instant::now();
        let mut ended = Ended::Exited(ExitStatus::default());
        for command in &mut step.commands {
            command.current_dir(root);
            let left = step.timeout.saturating_sub(started.elapsed());
            ended = run_with_timeout(command, &log, left)?;
            if !matches!(&ended, Ended::Exited(status) if status.success()) {
                break;
            }
        }
        let took = started.elapsed();
        let limits = format!(
            "{}; budget {}, timeout {}",
            format_duration(took),
            format_duration(step.budget),
            format_duration(step.timeout)
        );
        let passed = matches!(&ended, Ended::Exited(status) if status.success());
        match ended {
            Ended::Exited(_) if passed => {
                let over = if took > step.budget {
                    " OVER BUDGET"
                } else {
                    ""
                };
                println!("[{}/{count}] ok ({limits}){over}", index + 1);
            }
            Ended::Exited(status) => {
                println!("{}", tail(&log, 120));
                println!("[{}/{count}] FAILED: {status} ({limits})", index + 1);
            }
            Ended::TimedOut => {
                println!("{}", tail(&log, 60));
                println!("[{}/{count}] TIMED OUT ({limits})", index + 1);
            }
        }
        all_passed &= passed;
        if step.log.is_some() {
            logs.push(log);
        }
    }

    println!("[{count}/{count}] clause report ...");
    let (report_ok, summary) = clause_report(root, &logs)?;
    all_passed &= report_ok;
    println!("{summary}");
    Ok(all_passed)
}

/// The Python-level tests' results that the last `cargo xtask cpython` left, with a line saying
/// where they come from (none yet is no error: the Python markers then show "not run").
fn python_results(root: &Path) -> Result<(Vec<clauses::PyVersionResults>, String), String> {
    let path = root.join(clauses::PY_RESULTS_FILE);
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok((
            Vec::new(),
            format!(
                "python tests: no {} yet (`cargo xtask cpython` writes it)",
                clauses::PY_RESULTS_FILE
            ),
        ));
    };
    let runs = clauses::parse_py_results(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let age = fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|written| written.elapsed().ok())
        .map_or_else(|| "?".to_owned(), format_duration);
    let versions: Vec<&str> = runs.iter().map(|r| r.version.as_str()).collect();
    let source = format!(
        "python tests: {} (written {age} ago; CPython {})",
        clauses::PY_RESULTS_FILE,
        if versions.is_empty() {
            "none".to_owned()
        } else {
            versions.join(", ")
        }
    );
    Ok((runs, source))
}

/// Prints the clause-by-clause report from the test logs and the Python-level tests' results,
/// and returns whether it holds and its summary line.
pub(crate) fn clause_report(root: &Path, logs: &[PathBuf]) -> Result<(bool, String), String> {
    let clauses = clauses::load_clauses(&root.join("conformance").join("clauses.toml"))?;
    let markers = clauses::scan_markers(root, &clauses::workspace_sources(root))?;
    let py_markers = clauses::workspace_py_markers(root)?;
    let mut results = Vec::new();
    for log in logs {
        let text = fs::read_to_string(log).unwrap_or_default();
        results.extend(clauses::parse_results(&text));
    }
    let (py_runs, py_source) = python_results(root)?;
    let mut proofs = clauses::rust_proofs(&markers, &results);
    proofs.extend(clauses::py_proofs(&py_markers, &py_runs));
    let report = clauses::report(&clauses, &proofs, clauses::test_counts(&results, &py_runs));
    println!("{}", report.text);
    println!("{py_source}");
    for error in &report.errors {
        println!("error: {error}");
    }
    let ok = report.errors.is_empty() && report.totals.failed == 0;
    Ok((ok, report.totals.summary_line()))
}
