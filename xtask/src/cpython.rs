//! `cargo xtask cpython`: CPython's own thread tests, unmodified, on the built-in `_thread` and on
//! pythread's extension module, side by side, on every CPython found; then pythread's own
//! Python-level tests.
//!
//! The interpreters: 3.11 by the project's rule ([`python::find`]; under `CI=true` it must be
//! found), 3.12 ([`python::find_312`]) and 3.13 ([`python::find_313`]) where present — a missing
//! one is skipped with a notice. `PYTHREAD_CPYTHON_VERSIONS=3.11,3.13` picks some of them.
//!
//! For each version, in `target/cpython/<version>/`: build the `pythread` wheel for that
//! interpreter with maturin (from a build venv made once with pip and kept,
//! `target/cpython/build-venv`), in a cargo target directory of the version's own — PyO3
//! configures itself for the interpreter named by `PYO3_PYTHON`, so one shared directory would
//! rebuild PyO3 and thread-py at every change of version, where a directory each costs one build
//! per version and then nothing; make a fresh venv with the wheel and a `.pth` file that puts
//! `pythread` in `sys.modules['_thread']` at start-up when `PYTHREAD_AS_THREAD=1` (in the test
//! process and in every child interpreter the tests start); then run each suite of [`SUITES`]
//! that the version's `test` package has, once per mode.
//!
//! Each run goes through a driver (`cpython/driver.py`, written to `target/cpython/driver.py`)
//! that first checks which `_thread` the process really has (the lock type that `threading`
//! allocates, here and in a child interpreter) — a pythread that `threading` cannot import is
//! reported at once, and that version's pythread runs stop there — then runs the tests with a
//! per-test timeout (`faulthandler.dump_traceback_later(exit=True)`, 60 s,
//! `PYTHREAD_CPYTHON_TIMEOUT` overrides it), one line per test to a results file. A test that
//! hangs or kills the process is recorded as failed and the run goes on with the tests after it
//! — up to [`run::MAX_HUNG`] such tests a run; after [`MAX_HUNG_PER_VERSION`] on pythread, its
//! later runs on that version are left out — so that a pythread that deadlocks everywhere costs
//! minutes, not a timeout per test. The tests' own output is kept in
//! `target/cpython/<version>/logs/`.
//!
//! A test whose outcome (passed / failed / skipped) differs between the two modes is run again
//! alone, a few times in each mode, so that a suite's timing-dependent test cannot make the
//! comparison flaky (the rule is in [`compare`]). A difference that stays fails the run unless
//! `cpython-differences.txt` beside this file lists it for that version, with the spec clause
//! behind it.
//!
//! Then every `thread-py/tests/test_*.py` runs on pythread alone, and each test must pass or be
//! skipped (a version-specific test skips elsewhere); their outcomes per version go to
//! `target/cpython/results.json`, which the clause report reads (see `clauses`).
//!
//! Output: per version and suite
//! `<version> <module>: built-in: P passed, F failed, S skipped | pythread: ...`, per version its
//! times, and last `cpython: N passed, M failed` (a CPython test passes when both modes agree or
//! the difference is listed; each own test on each version counts once).

mod compare;
mod run;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::clauses;
use crate::python::{self, Python};
use compare::Known;
use run::{Mode, Outcome, Run, Runner};

/// The known differences: `<versions> <test id> <CLAUSE> <why>`.
const DIFFERENCES: &str = include_str!("cpython-differences.txt");
const DIFFERENCES_FILE: &str = "xtask/src/cpython-differences.txt";

/// The driver that runs a unittest name and writes its results (`cargo xtask rustpython` runs it
/// too, without its `_thread` check).
pub(crate) const DRIVER: &str = include_str!("cpython/driver.py");

/// CPython's suites that exercise `_thread`, directly or through `threading`, in the order they
/// run: the thread suites, then suites of modules built on threads and locks (queues, thread-local
/// data, imports and temporary files from many threads, thread pools, `sched`, `contextvars` in
/// threads, `lru_cache` and weak dictionaries under threads, `sys._current_frames` keyed by
/// thread ident, threading socket servers). About 45 s a mode and version on a 2-core machine.
/// Left out as too slow for what they add: `test_signal` (40-50 s a mode, mostly the signal
/// module itself; `test_threadsignals` covers lock waits and signals), `test_concurrent_futures`
/// beyond its thread-pool tests (two minutes a mode, mostly process pools), `test_logging` (a
/// minute), multiprocessing's thread-backed tests.
const SUITES: [&str; 14] = [
    "test.test_thread",
    "test.test_threading",
    "test.test_threadsignals",
    "test.test_threading_local",
    "test.test_queue",
    "test.test_threadedtempfile",
    "test.test_importlib.test_threaded_import",
    "test.test_concurrent_futures.test_thread_pool",
    "test.test_sched",
    "test.test_context",
    "test.test_functools",
    "test.test_weakref",
    "test.test_sys",
    "test.test_socketserver",
];

/// The suites to run: `PYTHREAD_CPYTHON_MODULES` (comma-separated) overrides [`SUITES`], e.g. to
/// run one of them while working on it.
fn suites() -> Vec<String> {
    match std::env::var("PYTHREAD_CPYTHON_MODULES") {
        Ok(list) if !list.trim().is_empty() => {
            list.split(',').map(|m| m.trim().to_owned()).collect()
        }
        _ => SUITES.iter().map(|m| (*m).to_owned()).collect(),
    }
}

/// How long the re-runs of one version's differing tests may take in all.
const RERUN_BUDGET: Duration = Duration::from_secs(120);

/// After this many tests of one version hung or crashed on pythread, its later runs there are
/// left out (and counted as failed): the run must end in CI's time whatever pythread does.
const MAX_HUNG_PER_VERSION: usize = 5;

/// Sorted before any other `.pth` file, so nothing that another one imports sees the built-in.
const PTH_NAME: &str = "00-pythread-as-thread.pth";

/// What the `.pth` line runs when the switch is on. An isolated sub-interpreter (3.12+) cannot
/// import pythread (PyO3 refuses it): there the built-in stays, quietly; in the main interpreter
/// a failed import is reported as ever.
const PTH_CODE: &str = r"import _thread
try:
    import pythread
except ImportError:
    if getattr(_thread, '_is_main_interpreter', lambda: True)():
        raise
else:
    if 'threading' in sys.modules:
        sys.stderr.write('pythread: threading was imported before _thread was replaced\n')
    sys.modules['_thread'] = pythread
";

/// The `.pth` file: one line, since site runs only lines that start with `import`, one at a time.
/// `PTH_CODE` goes in as a string literal (Rust's escaping of `"`, `\` and newlines is Python's).
fn pth_line() -> String {
    format!(
        "import os, sys; os.environ.get('{}') == '1' and exec({PTH_CODE:?})\n",
        run::SWITCH
    )
}

/// Which of the `names` a venv's interpreter can import: the suites its `test` package has.
const HAS_MODULES: &str = "import importlib.util, sys
for name in sys.argv[1:]:
    try:
        found = importlib.util.find_spec(name) is not None
    except ImportError:
        found = False
    print(name if found else '')
";

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
pub(crate) fn build_venv(python: &Path, dir: &Path, logs: &Path) -> Result<PathBuf, String> {
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
            Command::new(venv_python(dir)).args([
                "-m",
                "pip",
                "install",
                "maturin>=1.5,<2",
                "pip>=22.3",
            ]),
            "pip install maturin",
            &logs.join("pip-maturin.log"),
        )?;
    }
    Ok(maturin)
}

/// Builds the wheel; returns its path.
pub(crate) fn build_wheel(
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
        // A target directory for each version (see the module docs).
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

/// A fresh venv with the wheel and the `.pth` switch installed. It is made without pip (ensurepip
/// takes seconds) and the build venv's pip installs into it.
pub(crate) fn test_venv(
    python: &Path,
    build_venv: &Path,
    wheel: &Path,
    venv: &Path,
    logs: &Path,
) -> Result<PathBuf, String> {
    let _ = fs::remove_dir_all(venv);
    run_quiet(
        Command::new(python)
            .args(["-m", "venv", "--without-pip"])
            .arg(venv),
        "making the test venv",
        &logs.join("venv.log"),
    )?;
    let venv_python = venv_python(venv);
    run_quiet(
        Command::new(self::venv_python(build_venv))
            .args(["-m", "pip", "--python"])
            .arg(&venv_python)
            .args(["install", "--no-index", "--no-deps"])
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
    fs::write(site.join(PTH_NAME), pth_line()).map_err(|e| format!("{}: {e}", site.display()))?;
    Ok(venv_python)
}

fn secs(duration: Duration) -> String {
    format!("{:.0}s", duration.as_secs_f64())
}

/// The interpreters to run on, each checked, and a notice for each one skipped.
pub(crate) fn interpreters() -> Result<(Vec<Python>, Vec<String>), String> {
    let wanted: Option<Vec<String>> = std::env::var("PYTHREAD_CPYTHON_VERSIONS")
        .ok()
        .filter(|list| !list.trim().is_empty())
        .map(|list| list.split(',').map(|v| v.trim().to_owned()).collect());
    let is_wanted = |minor: &str| {
        wanted
            .as_ref()
            .is_none_or(|list| list.iter().any(|v| v == minor))
    };
    let mut found: Vec<Python> = Vec::new();
    let mut notices = Vec::new();
    if is_wanted("3.11") {
        match python::find() {
            Ok(python) => found.push(python),
            Err(not_found) if python::under_ci() => {
                return Err(format!("{not_found}; CI=true needs 3.11"));
            }
            Err(not_found) => notices.push(format!("3.11: skipped, {not_found}")),
        }
    }
    for (minor, how, finder) in [
        (
            "3.12",
            "PYTHREAD_PYTHON312 or pyenv's 3.12.1",
            python::find_312 as fn() -> Option<Python>,
        ),
        (
            "3.13",
            "PYTHREAD_PYTHON313 or pyenv's 3.13.0",
            python::find_313,
        ),
    ] {
        if !is_wanted(minor) {
            continue;
        }
        match finder() {
            // The 3.11 rule may have found this version already (a `python3` that is 3.12).
            Some(python) if found.iter().any(|f| f.version == python.version) => {}
            Some(python) => found.push(python),
            None => notices.push(format!("{minor}: not found ({how}), skipped")),
        }
    }
    Ok((found, notices))
}

/// How many tests passed and failed, over every version.
#[derive(Debug, Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

/// Which of the suites this version's `test` package has (looked for from the driver's
/// directory, which is first on the driver's `sys.path`).
fn available_suites(runner: &Runner, wanted: &[String]) -> Result<Vec<String>, String> {
    let venv_python = &runner.python;
    let output = Command::new(venv_python)
        .current_dir(runner.driver.parent().unwrap_or(Path::new(".")))
        .args(["-c", HAS_MODULES])
        .args(wanted)
        .env_remove("PYTHONPATH")
        .env_remove(run::SWITCH)
        .output()
        .map_err(|e| format!("{}: {e}", venv_python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{}: cannot look for the suites: {}",
            venv_python.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let have: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    Ok(wanted
        .iter()
        .filter(|m| have.contains(*m))
        .cloned()
        .collect())
}

/// The suites on both modes, compared; adds to `tally`. Returns why pythread is unusable on this
/// version, if it is.
fn run_suites(
    version: &str,
    runner: &Runner,
    suites: &[String],
    known: &[Known],
    tally: &mut Tally,
) -> Result<Option<String>, String> {
    let mut broken: Option<String> = None;
    let mut listed_seen: BTreeSet<&str> = BTreeSet::new();
    let mut rerun_budget = RERUN_BUDGET;
    let mut pythread_hangs = 0;
    for module in suites {
        let started = Instant::now();
        let builtin = runner.run(module, Mode::Builtin, module)?;
        let ours = match &broken {
            Some(_) => None,
            None => Some(runner.run(module, Mode::Pythread, module)?),
        };
        let shown = |run: &Run| {
            if run.check_ok {
                run.summary()
            } else {
                "BROKEN _thread".to_owned()
            }
        };
        println!(
            "{version} {module}: built-in: {} | pythread: {} ({})",
            shown(&builtin),
            ours.as_ref()
                .map_or("not run (see above)".to_owned(), shown),
            secs(started.elapsed())
        );
        for (mode, run) in [
            (Mode::Builtin, Some(&builtin)),
            (Mode::Pythread, ours.as_ref()),
        ] {
            let Some(run) = run else { continue };
            if !run.check_ok {
                println!(
                    "  {}: wrong or broken _thread: {}; see {}",
                    mode.shown(),
                    run.check,
                    run.log.display()
                );
            }
            for test in &run.hung {
                println!(
                    "  {}: {test} hung or crashed (timeout {}s); see {}",
                    mode.shown(),
                    run::test_timeout(),
                    run.log.display()
                );
            }
            if run.gave_up {
                println!(
                    "  {}: stopped after {} tests hung or crashed; the rest did not run",
                    mode.shown(),
                    run::MAX_HUNG
                );
            }
        }
        if let Some(ours) = &ours {
            pythread_hangs += ours.hung.len();
            if pythread_hangs >= MAX_HUNG_PER_VERSION && broken.is_none() {
                let why = format!("{pythread_hangs} tests hung or crashed on pythread");
                println!("  {version}: {why}; pythread's later runs here are left out");
                broken = Some(why);
            }
        }
        let comparable = builtin.check_ok && ours.as_ref().is_some_and(|ours| ours.check_ok);
        let (true, Some(ours)) = (comparable, &ours) else {
            // Nothing to compare: every test of the module counts as failed.
            tally.failed += builtin.outcomes.len().max(1);
            if broken.is_none() {
                // Only pythread's check stops its later runs; the built-in's is a fault of the
                // venv, which each module's run shows again.
                broken = ours
                    .as_ref()
                    .filter(|ours| !ours.check_ok)
                    .map(|ours| ours.check.clone());
            }
            continue;
        };
        let mut differences = compare::differing(&builtin, ours);
        let rerun_started = Instant::now();
        compare::rerun(runner, &mut differences, rerun_budget)?;
        rerun_budget = rerun_budget.saturating_sub(rerun_started.elapsed());
        let compared: BTreeSet<&String> = builtin
            .outcomes
            .keys()
            .chain(ours.outcomes.keys())
            .collect();
        tally.passed += compared.len() - differences.len();
        for difference in &differences {
            let test = difference.test.as_str();
            let listed = known
                .iter()
                .find(|k| k.test == test && k.applies_to(version));
            if difference.by_chance() {
                tally.passed += 1;
                println!("  differs by chance only: {test}: {}", difference.shown());
            } else if let Some(listed) = listed {
                tally.passed += 1;
                listed_seen.insert(listed.test.as_str());
                println!(
                    "  differs (listed: {}): {test}: {}",
                    listed.why,
                    difference.shown()
                );
            } else {
                tally.failed += 1;
                let why = difference
                    .not_rerun
                    .map_or(String::new(), |why| format!(" (not re-run: {why})"));
                println!("  DIFFERS: {test}: {}{why}", difference.shown());
            }
        }
        if !differences.is_empty() {
            println!(
                "  logs: {} and {} (re-runs beside them)",
                builtin.log.display(),
                ours.log.display()
            );
        }
    }
    for listed in known.iter().filter(|k| k.applies_to(version)) {
        let in_a_suite_run = suites
            .iter()
            .any(|m| listed.test.starts_with(&format!("{m}.")));
        if in_a_suite_run && broken.is_none() && !listed_seen.contains(listed.test.as_str()) {
            println!(
                "  {version}: listed in {DIFFERENCES_FILE} but did not differ this time: {}",
                listed.test
            );
        }
    }
    Ok(broken)
}

/// pythread's own tests on pythread; adds to `tally` and returns their outcomes for the clause
/// report.
fn run_own_tests(
    root: &Path,
    version: &str,
    runner: &Runner,
    work: &Path,
    tally: &mut Tally,
) -> Result<clauses::PyVersionResults, String> {
    let mut results = clauses::PyVersionResults {
        version: version.to_owned(),
        broken: None,
        outcomes: Default::default(),
    };
    // A copy of the directory (helpers too), so that the source tree gets no bytecode caches.
    let own = work.join("own");
    let _ = fs::remove_dir_all(&own);
    fs::create_dir_all(&own).map_err(|e| format!("{}: {e}", own.display()))?;
    let source = root.join(clauses::PY_TESTS_DIR);
    for entry in fs::read_dir(&source).map_err(|e| format!("{}: {e}", source.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "py") {
            let name = path.file_name().unwrap_or_default();
            fs::copy(&path, own.join(name)).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let runner = Runner {
        path: Some(own),
        ..runner.clone()
    };
    for file in clauses::python_test_files(root) {
        let module = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let started = Instant::now();
        let run = runner.run(&module, Mode::Pythread, &module)?;
        if !run.check_ok {
            println!(
                "{version} {module} (pythread only): BROKEN _thread: {}; see {}",
                run.check,
                run.log.display()
            );
            tally.failed += 1;
            results.broken = Some(run.check.clone());
            continue;
        }
        println!(
            "{version} {module} (pythread only): {} ({})",
            run.summary(),
            secs(started.elapsed())
        );
        if run.outcomes.is_empty() || run.gave_up {
            // The tests that did not run are unknown: none of this version's results proves.
            let why = if run.gave_up {
                format!("{module} stopped after {} tests hung", run::MAX_HUNG)
            } else {
                format!("{module}: no test ran")
            };
            println!("  {why}; see {}", run.log.display());
            tally.failed += 1;
            results.broken = Some(why);
        }
        for (test, outcome) in &run.outcomes {
            let outcome = match outcome {
                Outcome::Passed => clauses::Outcome::Passed,
                Outcome::Failed => clauses::Outcome::Failed,
                Outcome::Skipped => clauses::Outcome::Ignored,
            };
            if outcome == clauses::Outcome::Failed {
                tally.failed += 1;
                let hung = if run.hung.contains(test) {
                    " (hung or crashed)"
                } else {
                    ""
                };
                println!("  FAILED: {test}{hung}; see {}", run.log.display());
            } else {
                tally.passed += 1;
            }
            results.outcomes.insert(test.clone(), outcome);
        }
    }
    Ok(results)
}

/// One version: build, venv, suites, own tests.
fn run_version(
    root: &Path,
    python: &Python,
    maturin: &Path,
    known: &[Known],
    tally: &mut Tally,
) -> Result<clauses::PyVersionResults, String> {
    let version = python.version_string();
    let work = root.join("target").join("cpython").join(&version);
    let logs = work.join("logs");
    let _ = fs::remove_dir_all(&logs);
    fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    println!("{version}: {}", python.program.display());

    let started = Instant::now();
    let wheel = build_wheel(root, &python.program, maturin, &work, &logs)?;
    let built = started.elapsed();
    let build_venv = root.join("target").join("cpython").join("build-venv");
    let venv_python = test_venv(
        &python.program,
        &build_venv,
        &wheel,
        &work.join("venv"),
        &logs,
    )?;
    let venv_made = started.elapsed() - built;
    println!(
        "{version}: built {} ({}), venv ({})",
        wheel.file_name().unwrap_or_default().to_string_lossy(),
        secs(built),
        secs(venv_made)
    );
    let runner = Runner {
        python: venv_python.clone(),
        driver: root.join("target").join("cpython").join("driver.py"),
        logs,
        path: None,
        cwd: work.clone(),
    };

    let wanted = suites();
    let suites = available_suites(&runner, &wanted)?;
    for missing in wanted.iter().filter(|m| !suites.contains(m)) {
        println!("{version} {missing}: not in this CPython's test package, skipped");
    }
    let suites_started = Instant::now();
    let broken = run_suites(&version, &runner, &suites, known, tally)?;
    let suites_took = suites_started.elapsed();

    let own_started = Instant::now();
    let mut results = if let Some(why) = &broken {
        println!("{version}: pythread's own tests not run: pythread is broken here ({why})");
        tally.failed += 1;
        clauses::PyVersionResults {
            version: version.clone(),
            broken: Some(why.clone()),
            outcomes: Default::default(),
        }
    } else {
        run_own_tests(root, &version, &runner, &work, tally)?
    };
    if results.broken.is_none() && broken.is_some() {
        results.broken = broken;
    }
    println!(
        "{version}: build {}, venv {}, CPython suites {}, own tests {}; {} in all",
        secs(built),
        secs(venv_made),
        secs(suites_took),
        secs(own_started.elapsed()),
        secs(started.elapsed())
    );
    Ok(results)
}

/// `cargo xtask cpython`.
pub(crate) fn cpython(root: &Path) -> Result<bool, String> {
    let started = Instant::now();
    let known = compare::parse_known(DIFFERENCES, DIFFERENCES_FILE)?;
    let work = root.join("target").join("cpython");
    let results_file = root.join(clauses::PY_RESULTS_FILE);
    // No results from an earlier run may mix with this one's.
    let _ = fs::remove_file(&results_file);
    let (pythons, notices) = interpreters()?;
    for notice in &notices {
        println!("cpython: {notice}");
    }
    let Some(first) = pythons.first() else {
        println!("cpython: skipped, no CPython found");
        return Ok(true);
    };
    let logs = work.join("logs");
    fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    fs::write(work.join("driver.py"), DRIVER).map_err(|e| e.to_string())?;
    let maturin = build_venv(&first.program, &work.join("build-venv"), &logs)?;

    let mut tally = Tally::default();
    let mut all_results = Vec::new();
    let mut times = Vec::new();
    for python in &pythons {
        let version_started = Instant::now();
        let results = match run_version(root, python, &maturin, &known, &mut tally) {
            Ok(results) => results,
            Err(why) => {
                println!("{}: FAILED: {why}", python.version_string());
                tally.failed += 1;
                clauses::PyVersionResults {
                    version: python.version_string(),
                    broken: Some(why.lines().next().unwrap_or("failed").to_owned()),
                    outcomes: Default::default(),
                }
            }
        };
        all_results.push(results);
        // Rewritten after each version: a run stopped half-way still leaves what it found.
        fs::write(&results_file, clauses::py_results_json(&all_results))
            .map_err(|e| format!("{}: {e}", results_file.display()))?;
        times.push(format!(
            "{} {}",
            python.version_string(),
            secs(version_started.elapsed())
        ));
    }
    println!(
        "cpython: {}; {} in all; logs in {}/<version>/logs",
        times.join(", "),
        secs(started.elapsed()),
        work.display()
    );
    println!("cpython: {} passed, {} failed", tally.passed, tally.failed);
    Ok(tally.failed == 0)
}

#[cfg(test)]
mod tests {
    use super::pth_line;

    #[test]
    fn the_pth_file_is_one_import_line() {
        // site runs a .pth file line by line, and only lines that start with `import`.
        let line = pth_line();
        assert!(line.starts_with("import "));
        assert_eq!(line.find('\n'), Some(line.len() - 1));
    }
}
