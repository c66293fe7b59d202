//! The one rule for finding the CPython that pythread is compared against (SPEC.md, "Target").
//!
//! 3.11 (always): `PYTHREAD_PYTHON` if set; else pyenv's 3.11.7 when pyenv is there; else
//! `python3` on `PATH`. 3.13 (the target, where present): `PYTHREAD_PYTHON313`, else pyenv's
//! 3.13.0; 3.12 likewise (`PYTHREAD_PYTHON312`, pyenv's 3.12.1). Every candidate is checked: it must run, report its version, and import
//! `test.test_thread` (Debian's own `python3` has no `test` package and other messages).
//!
//! This file has no dependencies so that the conformance tests can include it with `#[path]`
//! and apply the same rule when they run without `cargo xtask` (`cargo test --workspace`).

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// A checked interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Python {
    /// What to execute.
    pub(crate) program: PathBuf,
    /// `sys.version_info[:3]`, e.g. `(3, 11, 7)`.
    pub(crate) version: (u32, u32, u32),
}

impl Python {
    /// The version as `3.11.7`.
    pub(crate) fn version_string(&self) -> String {
        let (major, minor, micro) = self.version;
        format!("{major}.{minor}.{micro}")
    }
}

/// Why no usable interpreter was found, with every candidate that was tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotFound {
    /// One line per candidate: what was tried and why it was refused.
    pub(crate) tried: Vec<String>,
}

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no usable CPython found ({})", self.tried.join("; "))
    }
}

fn pyenv_root() -> Option<PathBuf> {
    if let Some(root) = env::var_os("PYENV_ROOT") {
        return Some(PathBuf::from(root));
    }
    if let Ok(output) = Command::new("pyenv").arg("root").output()
        && output.status.success()
    {
        let root = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if !root.is_empty() {
            return Some(PathBuf::from(root));
        }
    }
    let home = PathBuf::from(env::var_os("HOME")?).join(".pyenv");
    home.is_dir().then_some(home)
}

fn pyenv_version(version: &str) -> Option<PathBuf> {
    let program = pyenv_root()?
        .join("versions")
        .join(version)
        .join("bin")
        .join("python3");
    program.is_file().then_some(program)
}

/// Runs `program` to read its version and import `test.test_thread`.
pub(crate) fn check(program: PathBuf) -> Result<Python, String> {
    let script = "import sys, test.test_thread; print('%d %d %d' % sys.version_info[:3])";
    let output = Command::new(&program)
        .args(["-c", script])
        .env_remove("PYTHONPATH")
        .output()
        .map_err(|error| format!("{}: {error}", program.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("failed");
        return Err(format!("{}: {last}", program.display()));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let parts: Vec<u32> = stdout
        .split_whitespace()
        .filter_map(|part| part.parse().ok())
        .collect();
    match parts[..] {
        [major, minor, micro] => Ok(Python {
            program,
            version: (major, minor, micro),
        }),
        _ => Err(format!(
            "{}: unreadable version {stdout:?}",
            program.display()
        )),
    }
}

/// The interpreter every differential run uses (3.11.7 on the project's machines).
pub(crate) fn find() -> Result<Python, NotFound> {
    let mut tried = Vec::new();
    let candidate = if let Some(program) = env::var_os("PYTHREAD_PYTHON") {
        PathBuf::from(program)
    } else if let Some(program) = pyenv_version("3.11.7") {
        program
    } else {
        PathBuf::from("python3")
    };
    match check(candidate) {
        Ok(python) if python.version.0 == 3 => Ok(python),
        Ok(python) => {
            tried.push(format!("{}: not Python 3", python.program.display()));
            Err(NotFound { tried })
        }
        Err(why) => {
            tried.push(why);
            Err(NotFound { tried })
        }
    }
}

/// The 3.13 interpreter (the target), when there is one.
pub(crate) fn find_313() -> Option<Python> {
    find_minor("PYTHREAD_PYTHON313", "3.13.0", 13)
}

/// The 3.12 interpreter, when there is one.
#[allow(dead_code)] // not every includer of this file compares against 3.12
pub(crate) fn find_312() -> Option<Python> {
    find_minor("PYTHREAD_PYTHON312", "3.12.1", 12)
}

/// `variable` if set, else pyenv's `version`; checked to be 3.`minor`.
fn find_minor(variable: &str, version: &str, minor: u32) -> Option<Python> {
    let candidate = env::var_os(variable)
        .map(PathBuf::from)
        .or_else(|| pyenv_version(version))?;
    check(candidate)
        .ok()
        .filter(|python| python.version.0 == 3 && python.version.1 == minor)
}

/// Whether this run is under CI (`CI=true`), where a missing interpreter is a failure.
pub(crate) fn under_ci() -> bool {
    env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}
