//! Runs operation sequences on CPython's `_thread`: one `python/driver.py` process a batch,
//! JSON lines over its stdin and stdout.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::ops::{Op, Outcome};
use crate::python::{self, Python};

/// A checked interpreter: what to run and its version.
///
/// ```no_run
/// let found = conformance::cpython::Interpreter::find_311().unwrap();
/// assert_eq!(found.version().0, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    found: Python,
}

impl Interpreter {
    /// The interpreter every differential run uses, by the project's one rule
    /// (`xtask/src/python.rs`): `PYTHREAD_PYTHON`, else pyenv's 3.11.7, else `python3`.
    ///
    /// ```no_run
    /// match conformance::cpython::Interpreter::find_311() {
    ///     Ok(python) => println!("{}", python.version_string()),
    ///     Err(why) => println!("{why}"),
    /// }
    /// ```
    pub fn find_311() -> Result<Interpreter, String> {
        python::find()
            .map(|found| Interpreter { found })
            .map_err(|not_found| not_found.to_string())
    }

    /// The 3.13 interpreter (the target), when there is one: `PYTHREAD_PYTHON313`, else
    /// pyenv's 3.13.0.
    ///
    /// ```no_run
    /// let _maybe = conformance::cpython::Interpreter::find_313();
    /// ```
    pub fn find_313() -> Option<Interpreter> {
        python::find_313().map(|found| Interpreter { found })
    }

    /// The 3.12 interpreter, when there is one: `PYTHREAD_PYTHON312`, else pyenv's 3.12.1.
    ///
    /// ```no_run
    /// let _maybe = conformance::cpython::Interpreter::find_312();
    /// ```
    pub fn find_312() -> Option<Interpreter> {
        python::find_312().map(|found| Interpreter { found })
    }

    /// Whether this run is under CI (`CI=true`), where a missing interpreter fails.
    ///
    /// ```
    /// let _strict = conformance::cpython::Interpreter::under_ci();
    /// ```
    pub fn under_ci() -> bool {
        python::under_ci()
    }

    /// `(major, minor, micro)`.
    ///
    /// ```no_run
    /// let python = conformance::cpython::Interpreter::find_311().unwrap();
    /// assert!(python.version() >= (3, 11, 0));
    /// ```
    pub fn version(&self) -> (u32, u32, u32) {
        self.found.version
    }

    /// The version as `3.11.7`.
    ///
    /// ```no_run
    /// let python = conformance::cpython::Interpreter::find_311().unwrap();
    /// assert!(python.version_string().starts_with("3."));
    /// ```
    pub fn version_string(&self) -> String {
        self.found.version_string()
    }

    /// The program that runs.
    ///
    /// ```no_run
    /// let python = conformance::cpython::Interpreter::find_311().unwrap();
    /// println!("{}", python.program().display());
    /// ```
    pub fn program(&self) -> &Path {
        &self.found.program
    }

    /// Runs every sequence in one driver process and returns each operation's outcome. The
    /// driver applies the compensations named (see [`crate::differences`]); the whole batch
    /// must finish within `deadline` (the process is killed after it).
    ///
    /// ```no_run
    /// use conformance::cpython::Interpreter;
    /// use conformance::ops::Op;
    /// let python = Interpreter::find_311().unwrap();
    /// let results = python
    ///     .run_batch(&[vec![Op::LockRelease { lock: 0 }]], &[], std::time::Duration::from_secs(30))
    ///     .unwrap();
    /// assert_eq!(results[0][0].to_string(), "RuntimeError: release unlocked lock");
    /// ```
    pub fn run_batch(
        &self,
        sequences: &[Vec<Op>],
        compensate: &[&str],
        deadline: Duration,
    ) -> Result<Vec<Vec<Outcome>>, String> {
        let mut child = Command::new(self.program())
            .arg(driver_path())
            .env_remove("PYTHONPATH")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{}: {e}", self.program().display()))?;
        let mut input = String::new();
        let header = json!({ "compensate": compensate });
        input.push_str(&format!("{header}\n"));
        for (index, ops) in sequences.iter().enumerate() {
            let ops: Vec<Value> = ops.iter().map(Op::to_json).collect();
            let line = json!({ "seq": index, "ops": ops });
            input.push_str(&format!("{line}\n"));
        }
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        // Written from its own thread: the driver answers while it reads, and a full pipe
        // each way would otherwise deadlock.
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let child = Arc::new(Mutex::new(child));
        let watchdog = Watchdog::start(Arc::clone(&child), deadline);
        let mut results = Vec::with_capacity(sequences.len());
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| e.to_string())?;
            let json: Value =
                serde_json::from_str(&line).map_err(|e| format!("JSON: {e} in {line}"))?;
            let seq = json.get("seq").and_then(Value::as_u64);
            if seq != Some(results.len() as u64) {
                return Err(format!("driver answered out of order: {line}"));
            }
            let outcomes = json
                .get("results")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("no results in {line}"))?
                .iter()
                .map(Outcome::from_json)
                .collect::<Result<Vec<_>, _>>()?;
            results.push(outcomes);
        }
        let _ = writer.join();
        let status = child.lock().map_err(|_| "poisoned")?.wait();
        let timed_out = watchdog.stop();
        if timed_out {
            return Err(format!("the driver did not finish within {deadline:?}"));
        }
        let status = status.map_err(|e| e.to_string())?;
        if !status.success() || results.len() != sequences.len() {
            return Err(format!(
                "the driver ended with {status} after {} of {} sequences",
                results.len(),
                sequences.len()
            ));
        }
        Ok(results)
    }
}

/// `conformance/python/driver.py`.
///
/// ```
/// assert!(conformance::cpython::driver_path().is_file());
/// ```
pub fn driver_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join("driver.py")
}

/// Kills the driver when a batch overruns its deadline, so a hang fails the run instead of
/// stalling it.
struct Watchdog {
    done: Arc<Mutex<bool>>,
    fired: Arc<Mutex<bool>>,
    thread: std::thread::JoinHandle<()>,
}

impl Watchdog {
    fn start(child: Arc<Mutex<Child>>, deadline: Duration) -> Watchdog {
        let done = Arc::new(Mutex::new(false));
        let fired = Arc::new(Mutex::new(false));
        let (done2, fired2) = (Arc::clone(&done), Arc::clone(&fired));
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            while started.elapsed() < deadline {
                if *done2.lock().unwrap_or_else(|e| e.into_inner()) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            *fired2.lock().unwrap_or_else(|e| e.into_inner()) = true;
            if let Ok(mut child) = child.lock() {
                let _ = child.kill();
            }
        });
        Watchdog {
            done,
            fired,
            thread,
        }
    }

    fn stop(self) -> bool {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        let _ = self.thread.join();
        *self.fired.lock().unwrap_or_else(|e| e.into_inner())
    }
}
