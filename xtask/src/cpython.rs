//! `cargo xtask cpython`: CPython's own thread tests, unmodified, on the built-in `_thread` and on
//! pythread's extension module, side by side.
//!
//! Steps: find the interpreter by the project's rule ([`python::find`]); keep a build venv with
//! maturin from PyPI (`target/cpython/build-venv`); build the `pythread` wheel with it, in its own
//! cargo target directory and with `PYO3_PYTHON` naming that interpreter (so PyO3 configures for
//! it, whatever `python3` is on `PATH`); make a fresh venv (`target/cpython/venv`), install the
//! wheel and a `.pth` file that puts `pythread` in `sys.modules['_thread']` at start-up when
//! `PYTHREAD_AS_THREAD=1` — in the test process and in every child interpreter the tests start;
//! then run `test.test_thread`, `test.test_threading` and `test.test_threadsignals` once per mode.
//!
//! Each run goes through a small driver (written to `target/cpython/driver.py`) that first checks
//! which `_thread` the process really has (the lock type that `threading` allocates, here and in a
//! child interpreter), then runs the module's tests with a per-test timeout
//! (`faulthandler.dump_traceback_later(exit=True)`), writing one line per test to a results
//! file. A test that hangs or kills the process is recorded as failed and the run goes on with
//! the tests after it. The tests' own output is kept in `target/cpython/logs/`.
//!
//! A test whose outcome (passed / failed / skipped) differs between the two modes must be listed
//! in `cpython-differences.txt` beside this file, one line each with the spec clause behind it;
//! anything not listed fails the run. Then pythread's own Python-level tests
//! (`thread-py/tests/test_pythread.py`: exact messages, the audit event, the unraisable report,
//! real signals, daemon threads at shutdown) run on pythread alone, and each must pass. The last
//! line is `cpython: N passed, M failed` (a CPython test passes when both modes agree or the
//! difference is listed).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::clauses;
use crate::python;

/// The known differences, one line each: `<test id> <CLAUSE> <why>`.
const DIFFERENCES: &str = include_str!("cpython-differences.txt");
const DIFFERENCES_FILE: &str = "xtask/src/cpython-differences.txt";

/// The test modules, in the order they run.
const MODULES: [&str; 3] = [
    "test.test_thread",
    "test.test_threading",
    "test.test_threadsignals",
];

/// pythread's own Python-level tests (run on pythread only), and the module name they run as.
const OWN_TESTS: &str = "thread-py/tests/test_pythread.py";
const OWN_MODULE: &str = "test_pythread";

/// How long one test may take before it is counted as hung (`PYTHREAD_CPYTHON_TIMEOUT` seconds
/// overrides it).
const TEST_TIMEOUT_SECS: u64 = 60;

/// The per-test timeout in force.
fn test_timeout() -> u64 {
    std::env::var("PYTHREAD_CPYTHON_TIMEOUT")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(TEST_TIMEOUT_SECS)
}

/// The modules to run: `PYTHREAD_CPYTHON_MODULES` (comma-separated) overrides [`MODULES`], e.g.
/// to run one of them while working on it.
fn modules() -> Vec<String> {
    match std::env::var("PYTHREAD_CPYTHON_MODULES") {
        Ok(list) if !list.trim().is_empty() => {
            list.split(',').map(|m| m.trim().to_owned()).collect()
        }
        _ => MODULES.iter().map(|m| (*m).to_owned()).collect(),
    }
}

/// The environment variable that the venv's `.pth` file reads.
const SWITCH: &str = "PYTHREAD_AS_THREAD";

/// Sorted before any other `.pth` file, so nothing that another one imports sees the built-in.
const PTH_NAME: &str = "00-pythread-as-thread.pth";
const PTH: &str = "import os, sys; os.environ.get('PYTHREAD_AS_THREAD') == '1' and \
('threading' in sys.modules and sys.stderr.write('pythread: threading was imported before \
_thread was replaced\\n'), sys.modules.__setitem__('_thread', __import__('pythread')))\n";

/// Runs in the venv's interpreter: checks which `_thread` is in use, then runs one test module.
/// Arguments: module, per-test timeout, results file, file of test ids to leave out.
const DRIVER: &str = r#"
import faulthandler, os, signal, subprocess, sys, unittest

# A background job starts with SIGINT ignored, and Python then leaves it so: give the tests (and
# the interpreters they start) the SIGINT handling of an ordinary start.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

module, timeout, results_path, skip_path = sys.argv[1:5]
timeout = float(timeout)
skip = set(open(skip_path).read().split())
results = open(results_path, "a", buffering=1)

def emit(kind, name):
    results.write("%s %s\n" % (kind, name))
    results.flush()

want_pythread = os.environ.get("PYTHREAD_AS_THREAD") == "1"
CHECK = ("import _thread, threading; t = type(threading.Lock()); "
         "print(_thread.__name__, t.__module__ + '.' + t.__qualname__)")
here = subprocess.run([sys.executable, "-I", "-c", CHECK], capture_output=True, text=True)
import _thread, threading
lock_type = type(threading.Lock())
if want_pythread:
    import pythread
    ok = _thread is pythread and lock_type is pythread.LockType and threading.RLock().__class__ is pythread.RLock
else:
    ok = _thread.__name__ == "_thread" and lock_type.__module__ == "_thread"
child = here.stdout.strip() or here.stderr.strip()
own = "%s %s.%s" % (_thread.__name__, lock_type.__module__, lock_type.__qualname__)
ok = ok and child == own
emit("CHECK", "%s %s | child: %s" % ("ok" if ok else "WRONG", own, child))
if not ok:
    sys.exit(3)

from test import support
support.verbose = 0

class Result(unittest.TestResult):
    current = None

    def startTest(self, test):
        super().startTest(test)
        self.current, self.outcome = test, "pass"
        emit("START", test.id())
        faulthandler.dump_traceback_later(timeout, exit=True)

    def stopTest(self, test):
        faulthandler.cancel_dump_traceback_later()
        emit(self.outcome, test.id())
        self.current = None
        super().stopTest(test)

    def _failed(self, test, err):
        # A failure outside a running test (a class or module fixture) is a line of its own.
        if test is self.current:
            self.outcome = "fail"
        else:
            emit("fail", getattr(test, "description", None) or str(test))
        sys.stderr.write("FAILED %s\n%s\n" % (test, self._exc_info_to_string(err, test)))

    def addError(self, test, err):
        super().addError(test, err)
        self._failed(test, err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._failed(test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._failed(test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if test is self.current:
            self.outcome = "skip"
        else:
            emit("skip", getattr(test, "description", None) or str(test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.outcome = "fail"

def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item

tests = [t for t in flatten(unittest.defaultTestLoader.loadTestsFromName(module)) if t.id() not in skip]
unittest.TestSuite(tests).run(Result())
emit("DONE", module)
"#;

/// A test's outcome, as compared between the two modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Skipped,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One module's run in one mode: each test's outcome, and the `_thread` check's line.
#[derive(Debug, Default)]
struct Run {
    outcomes: BTreeMap<String, Outcome>,
    check: String,
    check_ok: bool,
    hung: Vec<String>,
}

impl Run {
    fn count(&self, outcome: Outcome) -> usize {
        self.outcomes.values().filter(|o| **o == outcome).count()
    }

    fn summary(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.count(Outcome::Passed),
            self.count(Outcome::Failed),
            self.count(Outcome::Skipped)
        )
    }
}

/// The known differences: test id → its line's clause and reason.
fn known_differences() -> Result<BTreeMap<String, String>, String> {
    let mut known = BTreeMap::new();
    for (number, line) in DIFFERENCES.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, char::is_whitespace);
        let (Some(test), Some(clause), Some(why)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "{DIFFERENCES_FILE}:{}: want `<test id> <CLAUSE> <why>`",
                number + 1
            ));
        };
        known.insert(test.to_owned(), format!("{clause} {}", why.trim()));
    }
    Ok(known)
}

fn run_quiet(command: &mut Command, what: &str, log: &Path) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    let mut text = output.stdout;
    text.extend_from_slice(&output.stderr);
    fs::write(log, &text).map_err(|e| format!("{}: {e}", log.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        let tail: Vec<&str> = std::str::from_utf8(&text)
            .unwrap_or("")
            .lines()
            .rev()
            .take(25)
            .collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(format!(
            "{what} failed ({}); log: {}\n{}",
            output.status,
            log.display(),
            tail.join("\n")
        ))
    }
}

fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// maturin in a venv of its own, made once and kept (a fresh test venv each run is enough).
fn build_venv(python: &Path, dir: &Path, logs: &Path) -> Result<PathBuf, String> {
    let maturin = dir.join("bin").join("maturin");
    let works = Command::new(&maturin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !works {
        let _ = fs::remove_dir_all(dir);
        run_quiet(
            Command::new(python).args(["-m", "venv"]).arg(dir),
            "making the build venv",
            &logs.join("build-venv.log"),
        )?;
        run_quiet(
            Command::new(venv_python(dir)).args(["-m", "pip", "install", "maturin>=1.5,<2"]),
            "pip install maturin",
            &logs.join("pip-maturin.log"),
        )?;
    }
    Ok(maturin)
}

/// Builds the wheel; returns its path.
fn build_wheel(
    root: &Path,
    python: &Path,
    maturin: &Path,
    work: &Path,
    logs: &Path,
) -> Result<PathBuf, String> {
    let wheels = work.join("wheels");
    let _ = fs::remove_dir_all(&wheels);
    let mut command = Command::new(maturin);
    command
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--manifest-path",
            "thread-py/Cargo.toml",
            "--interpreter",
        ])
        .arg(python)
        .arg("--out")
        .arg(&wheels)
        // Its own target directory: PYO3_PYTHON differs from a plain `cargo build`'s choice, and
        // sharing `target/` would rebuild PyO3 every time one alternates with the other.
        .env("CARGO_TARGET_DIR", work.join("cargo"))
        .env("PYO3_PYTHON", python);
    run_quiet(&mut command, "maturin build", &logs.join("maturin.log"))?;
    fs::read_dir(&wheels)
        .map_err(|e| format!("{}: {e}", wheels.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .ok_or_else(|| format!("maturin left no wheel in {}", wheels.display()))
}

/// A fresh venv with the wheel and the `.pth` switch installed.
fn test_venv(python: &Path, wheel: &Path, venv: &Path, logs: &Path) -> Result<PathBuf, String> {
    let _ = fs::remove_dir_all(venv);
    run_quiet(
        Command::new(python).args(["-m", "venv"]).arg(venv),
        "making the test venv",
        &logs.join("venv.log"),
    )?;
    let venv_python = venv_python(venv);
    run_quiet(
        Command::new(&venv_python)
            .args(["-m", "pip", "install", "--no-index", "--no-deps"])
            .arg(wheel),
        "pip install the wheel",
        &logs.join("pip-wheel.log"),
    )?;
    let output = Command::new(&venv_python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
        .map_err(|e| format!("{}: {e}", venv_python.display()))?;
    let site = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    fs::write(site.join(PTH_NAME), PTH).map_err(|e| format!("{}: {e}", site.display()))?;
    Ok(venv_python)
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Runs one module in one mode, restarting after a test that hangs or kills the interpreter.
fn run_module(
    venv_python: &Path,
    work: &Path,
    module: &str,
    pythread: bool,
) -> Result<Run, String> {
    let mode = if pythread { "pythread" } else { "builtin" };
    let results = work.join("logs").join(format!("{mode}-{module}.results"));
    let skip = work.join("logs").join(format!("{mode}-{module}.skip"));
    let log = work.join("logs").join(format!("{mode}-{module}.log"));
    let driver = work.join("driver.py");
    let _ = fs::remove_file(&results);
    let mut run = Run::default();
    let mut done_ids: BTreeSet<String> = BTreeSet::new();
    let mut log_text = Vec::new();
    for _attempt in 0..50 {
        let skip_text: Vec<&str> = done_ids.iter().map(String::as_str).collect();
        fs::write(&skip, skip_text.join("\n")).map_err(|e| format!("{}: {e}", skip.display()))?;
        let child_log = work.join("logs").join("current.log");
        let file = fs::File::create(&child_log).map_err(|e| e.to_string())?;
        let mut command = Command::new(venv_python);
        command
            .arg("-X")
            .arg("faulthandler")
            .arg(&driver)
            .args([module, &test_timeout().to_string()])
            .arg(&results)
            .arg(&skip)
            .env_remove("PYTHONPATH")
            .stdin(Stdio::null())
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file)
            .process_group(0);
        if pythread {
            command.env(SWITCH, "1");
        } else {
            command.env_remove(SWITCH);
        }
        let mut child = command.spawn().map_err(|e| format!("{module}: {e}"))?;
        // A second guard beside faulthandler's: no progress for this long kills the group.
        let stall = Duration::from_secs(test_timeout() + 30);
        let mut last_progress = (modified(&results), Instant::now());
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                break Some(status);
            }
            let now = modified(&results);
            if now != last_progress.0 {
                last_progress = (now, Instant::now());
            } else if last_progress.1.elapsed() > stall {
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(100));
        };
        log_text.extend(fs::read(&child_log).unwrap_or_default());
        let text = fs::read_to_string(&results).unwrap_or_default();
        let mut started: Option<String> = None;
        let mut finished = false;
        run.outcomes.clear();
        for line in text.lines() {
            let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
            match kind {
                "CHECK" => {
                    run.check = rest.to_owned();
                    run.check_ok = rest.starts_with("ok ");
                }
                "START" => started = Some(rest.to_owned()),
                "DONE" => finished = true,
                "pass" | "fail" | "skip" | "hung" => {
                    let outcome = match kind {
                        "pass" => Outcome::Passed,
                        "skip" => Outcome::Skipped,
                        _ => Outcome::Failed,
                    };
                    // A failure in a fixture or a sub-test may be reported before the test's
                    // own line: the test keeps the worst.
                    let entry = run.outcomes.entry(rest.to_owned()).or_insert(outcome);
                    if outcome == Outcome::Failed {
                        *entry = Outcome::Failed;
                    }
                    done_ids.insert(rest.to_owned());
                    if started.as_deref() == Some(rest) {
                        started = None;
                    }
                }
                _ => {}
            }
        }
        if finished || !run.check_ok {
            break;
        }
        // The process ended inside a test (a hang that faulthandler or the stall guard ended,
        // or a crash): that test failed; go on after it.
        let Some(culprit) = started else {
            let why = status.map_or("killed".to_owned(), |s| s.to_string());
            return Err(format!(
                "{mode} {module}: the driver ended outside a test ({why}); see {}",
                log.display()
            ));
        };
        let mut append = fs::OpenOptions::new()
            .append(true)
            .open(&results)
            .map_err(|e| e.to_string())?;
        use std::io::Write;
        writeln!(append, "hung {culprit}").map_err(|e| e.to_string())?;
        done_ids.insert(culprit.clone());
        run.hung.push(culprit);
    }
    fs::write(&log, &log_text).map_err(|e| format!("{}: {e}", log.display()))?;
    Ok(run)
}

/// `cargo xtask cpython`.
pub(crate) fn cpython(root: &Path) -> Result<bool, String> {
    let started = Instant::now();
    let known = known_differences()?;
    let python = match python::find() {
        Ok(python) => python,
        Err(not_found) if !python::under_ci() => {
            println!("cpython: skipped, {not_found}");
            return Ok(true);
        }
        Err(not_found) => return Err(not_found.to_string()),
    };
    println!(
        "cpython: {} {}",
        python.program.display(),
        python.version_string()
    );
    let work = root.join("target").join("cpython");
    let logs = work.join("logs");
    fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    fs::write(work.join("driver.py"), DRIVER).map_err(|e| e.to_string())?;

    let maturin = build_venv(&python.program, &work.join("build-venv"), &logs)?;
    let wheel = build_wheel(root, &python.program, &maturin, &work, &logs)?;
    println!(
        "cpython: built {} ({:.0}s)",
        wheel.file_name().unwrap_or_default().to_string_lossy(),
        started.elapsed().as_secs_f64()
    );
    let venv_python = test_venv(&python.program, &wheel, &work.join("venv"), &logs)?;

    let mut ok = true;
    let mut agreed = 0usize;
    let mut unlisted = 0usize;
    let mut seen_listed = BTreeSet::new();
    for module in modules() {
        let module = module.as_str();
        let module_started = Instant::now();
        let builtin = run_module(&venv_python, &work, module, false)?;
        let ours = run_module(&venv_python, &work, module, true)?;
        println!(
            "{module}: built-in: {} | pythread: {} ({:.0}s)",
            builtin.summary(),
            ours.summary(),
            module_started.elapsed().as_secs_f64()
        );
        let mut checked = true;
        for (name, run) in [("built-in", &builtin), ("pythread", &ours)] {
            if !run.check_ok {
                checked = false;
                let mode = if name == "built-in" { "builtin" } else { name };
                let log = format!("target/cpython/logs/{mode}-{module}.log");
                println!(
                    "  {name}: wrong or broken _thread ({}); see {log}",
                    run.check
                );
            }
            for test in &run.hung {
                println!(
                    "  {name}: {test} hung or crashed (timeout {}s)",
                    test_timeout()
                );
            }
        }
        if !checked {
            // Nothing to compare: every test of the module counts as failed.
            ok = false;
            unlisted += builtin.outcomes.len().max(ours.outcomes.len()).max(1);
            continue;
        }
        let names: BTreeSet<&String> = builtin
            .outcomes
            .keys()
            .chain(ours.outcomes.keys())
            .collect();
        for test in names {
            let a = builtin.outcomes.get(test).copied();
            let b = ours.outcomes.get(test).copied();
            if a == b {
                agreed += 1;
                continue;
            }
            let show = |o: Option<Outcome>| o.map_or("missing", Outcome::name);
            if let Some(why) = known.get(test.as_str()) {
                seen_listed.insert(test.clone());
                agreed += 1;
                println!(
                    "  differs (listed: {why}): {test}: built-in {}, pythread {}",
                    show(a),
                    show(b)
                );
            } else {
                unlisted += 1;
                ok = false;
                println!(
                    "  DIFFERS: {test}: built-in {}, pythread {}",
                    show(a),
                    show(b)
                );
            }
        }
    }
    for test in known.keys().filter(|t| !seen_listed.contains(*t)) {
        println!("  listed in {DIFFERENCES_FILE} but no longer differs: {test}");
    }

    // pythread's own Python-level tests, on pythread only: every one must pass.
    fs::copy(root.join(OWN_TESTS), work.join(format!("{OWN_MODULE}.py")))
        .map_err(|e| format!("{OWN_TESTS}: {e}"))?;
    let own = run_module(&venv_python, &work, OWN_MODULE, true)?;
    println!("{OWN_MODULE} (pythread only): {}", own.summary());
    let mut own_failed = 0;
    for (test, outcome) in &own.outcomes {
        if *outcome != Outcome::Passed {
            own_failed += 1;
            ok = false;
            println!("  {}: {test}", outcome.name().to_uppercase());
        }
    }
    if !own.check_ok || own.outcomes.is_empty() {
        own_failed = own_failed.max(1);
        ok = false;
        println!("  {OWN_MODULE} did not run ({})", own.check);
    }

    // For the clause report (`cargo xtask verify`, `cargo xtask report`).
    let py_results = clauses::PyVersionResults {
        version: python.version_string(),
        broken: (!own.check_ok).then(|| own.check.clone()),
        outcomes: own
            .outcomes
            .iter()
            .map(|(test, outcome)| {
                let outcome = match outcome {
                    Outcome::Passed => clauses::Outcome::Passed,
                    Outcome::Failed => clauses::Outcome::Failed,
                    Outcome::Skipped => clauses::Outcome::Ignored,
                };
                (test.clone(), outcome)
            })
            .collect(),
    };
    let results_file = root.join(clauses::PY_RESULTS_FILE);
    fs::write(&results_file, clauses::py_results_json(&[py_results]))
        .map_err(|e| format!("{}: {e}", results_file.display()))?;

    println!(
        "cpython: logs in {}; {:.0}s in all",
        logs.display(),
        started.elapsed().as_secs_f64()
    );
    let passed = agreed + own.count(Outcome::Passed);
    println!("cpython: {passed} passed, {} failed", unlisted + own_failed);
    Ok(ok)
}
