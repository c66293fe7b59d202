//! One unittest name (a module, or a single test when a difference is re-run) in one mode, through
//! the driver: a process that hangs or dies inside a test costs that test, and the run goes on
//! after it in a new process.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::process_group;

/// The environment variable that the venv's `.pth` file reads.
pub(crate) const SWITCH: &str = "PYTHREAD_AS_THREAD";

/// How long one test may take before it is counted as hung (`PYTHREAD_CPYTHON_TIMEOUT` seconds
/// overrides it).
const TEST_TIMEOUT_SECS: u64 = 60;

/// After this many tests of one run hung or crashed, the run stops: a pythread that hangs in
/// every test must not cost a timeout per test.
pub(crate) const MAX_HUNG: usize = 3;

/// The per-test timeout in force.
pub(crate) fn test_timeout() -> u64 {
    std::env::var("PYTHREAD_CPYTHON_TIMEOUT")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(TEST_TIMEOUT_SECS)
}

/// Which `_thread` a run has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Builtin,
    Pythread,
}

impl Mode {
    /// As the output lines name it.
    pub(crate) fn shown(self) -> &'static str {
        match self {
            Mode::Builtin => "built-in",
            Mode::Pythread => "pythread",
        }
    }

    /// As log file names start.
    fn file_prefix(self) -> &'static str {
        match self {
            Mode::Builtin => "builtin",
            Mode::Pythread => "pythread",
        }
    }
}

/// A test's outcome, as compared between the two modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    Passed,
    Failed,
    Skipped,
}

impl Outcome {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One run: each test's outcome, the `_thread` check's line, and the tests that hung.
#[derive(Debug, Default)]
pub(crate) struct Run {
    pub(crate) outcomes: BTreeMap<String, Outcome>,
    pub(crate) check: String,
    pub(crate) check_ok: bool,
    pub(crate) hung: Vec<String>,
    /// Whether the run stopped after [`MAX_HUNG`] tests hung, leaving the others out.
    pub(crate) gave_up: bool,
    /// The driver's output (the tests' own output and tracebacks), kept here.
    pub(crate) log: PathBuf,
}

impl Run {
    pub(crate) fn count(&self, outcome: Outcome) -> usize {
        self.outcomes.values().filter(|o| **o == outcome).count()
    }

    pub(crate) fn summary(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.count(Outcome::Passed),
            self.count(Outcome::Failed),
            self.count(Outcome::Skipped)
        )
    }
}

/// Where a run happens: the venv's interpreter, the driver, the directory for its files, a
/// directory the driver puts first on `sys.path` (for pythread's own tests), and the working
/// directory (CPython's tests make their temporary files in it).
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    pub(crate) python: PathBuf,
    pub(crate) driver: PathBuf,
    pub(crate) logs: PathBuf,
    pub(crate) path: Option<PathBuf>,
    pub(crate) cwd: PathBuf,
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// What the results file says so far, into `run`; returns whether the driver got to the end, and
/// the test it started without finishing, if any.
fn read_results(text: &str, run: &mut Run, done: &mut BTreeSet<String>) -> (bool, Option<String>) {
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
                // A failure in a fixture or a sub-test may be reported before the test's own
                // line: the test keeps the worst.
                let entry = run.outcomes.entry(rest.to_owned()).or_insert(outcome);
                if outcome == Outcome::Failed {
                    *entry = Outcome::Failed;
                }
                done.insert(rest.to_owned());
                if started.as_deref() == Some(rest) {
                    started = None;
                }
            }
            _ => {}
        }
    }
    (finished, started)
}

impl Runner {
    /// Runs `name` in `mode`; `label` names its files in the logs directory.
    pub(crate) fn run(&self, name: &str, mode: Mode, label: &str) -> Result<Run, String> {
        let stem = format!("{}-{label}", mode.file_prefix());
        let results = self.logs.join(format!("{stem}.results"));
        let skip = self.logs.join(format!("{stem}.skip"));
        let log = self.logs.join(format!("{stem}.log"));
        let _ = fs::remove_file(&results);
        let mut run = Run {
            log: log.clone(),
            ..Run::default()
        };
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut log_text = Vec::new();
        loop {
            if run.hung.len() >= MAX_HUNG {
                // Something systematic (a deadlock in every wait, say): the tests not yet run are
                // left out, and their absence shows in the comparison.
                run.gave_up = true;
                break;
            }
            let skip_text: Vec<&str> = done.iter().map(String::as_str).collect();
            fs::write(&skip, skip_text.join("\n"))
                .map_err(|e| format!("{}: {e}", skip.display()))?;
            let child_log = self.logs.join(format!("{stem}.current"));
            let file = fs::File::create(&child_log).map_err(|e| e.to_string())?;
            let mut command = Command::new(&self.python);
            command
                .arg("-X")
                .arg("faulthandler")
                .arg(&self.driver)
                .args([name, &test_timeout().to_string()])
                .arg(&results)
                .arg(&skip)
                .args(&self.path)
                .env_remove("PYTHONPATH")
                .current_dir(&self.cwd)
                .stdin(Stdio::null())
                .stdout(file.try_clone().map_err(|e| e.to_string())?)
                .stderr(file)
                .process_group(0);
            match mode {
                Mode::Pythread => command.env(SWITCH, "1"),
                Mode::Builtin => command.env_remove(SWITCH),
            };
            let mut child = command.spawn().map_err(|e| format!("{name}: {e}"))?;
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
                    // The rest of the group goes in the cleanup below.
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                thread::sleep(Duration::from_millis(50));
            };
            // A hung test's own subprocesses outlive a driver that faulthandler ended, and would
            // spin on beside every later run: end whatever is left of the group.
            process_group::kill_group(&child);
            log_text.extend(fs::read(&child_log).unwrap_or_default());
            let _ = fs::remove_file(&child_log);
            let text = fs::read_to_string(&results).unwrap_or_default();
            let (finished, started) = read_results(&text, &mut run, &mut done);
            if finished || !run.check_ok {
                if run.check.is_empty() {
                    // The driver died before its check: say how, from its output.
                    let why = String::from_utf8_lossy(&log_text);
                    let last = why.lines().rev().find(|l| !l.trim().is_empty());
                    run.check = format!("BROKEN driver: {}", last.unwrap_or("no output"));
                }
                break;
            }
            // The process ended inside a test (a hang that faulthandler or the stall guard
            // ended, or a crash): that test failed; go on after it.
            let Some(culprit) = started else {
                let why = status.map_or("killed".to_owned(), |s| s.to_string());
                fs::write(&log, &log_text).map_err(|e| format!("{}: {e}", log.display()))?;
                return Err(format!(
                    "{} {name}: the driver ended outside a test ({why}); see {}",
                    mode.shown(),
                    log.display()
                ));
            };
            let mut append = fs::OpenOptions::new()
                .append(true)
                .open(&results)
                .map_err(|e| e.to_string())?;
            writeln!(append, "hung {culprit}").map_err(|e| e.to_string())?;
            run.outcomes.insert(culprit.clone(), Outcome::Failed);
            done.insert(culprit.clone());
            run.hung.push(culprit);
        }
        fs::write(&log, &log_text).map_err(|e| format!("{}: {e}", log.display()))?;
        let _ = fs::remove_file(&skip);
        Ok(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_lines_keep_the_worst_outcome_and_the_unfinished_test() {
        let text = "\
CHECK ok pythread pythread.lock | child: pythread pythread.lock
START m.T.test_a
pass m.T.test_a
fail setUpClass (m.U)
START m.T.test_b
fail m.T.test_b
START m.T.test_c
skip m.T.test_c
START m.T.test_d
";
        let mut run = Run::default();
        let mut done = BTreeSet::new();
        let (finished, started) = read_results(text, &mut run, &mut done);
        assert!(!finished);
        assert_eq!(started.as_deref(), Some("m.T.test_d"));
        assert!(run.check_ok);
        assert_eq!(run.summary(), "1 passed, 2 failed, 1 skipped");
        assert_eq!(done.len(), 4);

        let text = "CHECK BROKEN import threading: ImportError: no start_joinable_thread\n";
        let (finished, started) = read_results(text, &mut run, &mut done);
        assert!(!finished && started.is_none() && !run.check_ok);
        assert!(run.outcomes.is_empty());
    }
}
