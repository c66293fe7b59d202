//! The clause report: which clause of `SPEC.md` each test proves, and whether it passed.
//!
//! Its inputs: the clause list (`conformance/clauses.toml`); the Rust tests' `/// proves: ID, ID`
//! markers in the workspace's sources, with libtest's `test NAME ... ok|FAILED|ignored` lines
//! from the logs of the test runs; and the Python-level tests' `# proves: ID, ID` markers in
//! `thread-py/tests/*.py`, with the per-version results that `cargo xtask cpython` leaves in
//! `target/cpython/results.json`.
//!
//! A Rust marker belongs to the next `fn` after it; it is matched with result lines of the same
//! test target (a crate's unit tests, or one integration-test file) whose last path segment is
//! that function's name. A Python marker is a comment line directly above a `def test_...` (or
//! above its decorators); it is matched with the results whose test id (`module.Class.test`)
//! starts with the file's module and ends with that function's name, on every CPython version
//! that ran. Such a test proves its clauses when it passed on at least one version and failed on
//! none; a version whose pythread could not even be imported counts as a failure of every
//! Python test.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// One clause of the spec, as the clause list describes it.
#[derive(Debug, Clone)]
pub(crate) struct Clause {
    pub(crate) id: String,
    pub(crate) area: String,
    pub(crate) summary: String,
    /// Why the clause has no Rust counterpart, for N/A clauses.
    pub(crate) na: Option<String>,
}

/// Reads and checks the clause list.
pub(crate) fn load_clauses(path: &Path) -> Result<Vec<Clause>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let entries = table
        .get("clause")
        .and_then(|v| v.as_array())
        .ok_or_else(|| format!("{}: no [[clause]] entries", path.display()))?;
    let mut clauses = Vec::new();
    let mut seen = BTreeSet::new();
    for entry in entries {
        let field = |name: &str| -> Result<String, String> {
            entry
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| {
                    let id = entry.get("id").and_then(|v| v.as_str()).unwrap_or("?");
                    format!("{}: clause {id} lacks `{name}`", path.display())
                })
        };
        for required in ["crate", "cpython"] {
            field(required)?;
        }
        let clause = Clause {
            id: field("id")?,
            area: field("area")?,
            summary: field("summary")?,
            na: entry.get("na").and_then(|v| v.as_str()).map(str::to_owned),
        };
        if !seen.insert(clause.id.clone()) {
            return Err(format!("{}: {} is listed twice", path.display(), clause.id));
        }
        clauses.push(clause);
    }
    Ok(clauses)
}

/// A test function that names clauses.
#[derive(Debug, Clone)]
pub(crate) struct Marker {
    pub(crate) ids: Vec<String>,
    /// The test target the function is compiled into (see [`target_of`]).
    pub(crate) target: String,
    pub(crate) function: String,
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
}

/// The libtest target a source file belongs to, named as cargo names the test binary: the
/// crate's library (`thread_lock`) for `src/`, the file stem for `tests/NAME.rs` and
/// `tests/NAME/...`. `None` for files that no test target runs (benches, build scripts).
pub(crate) fn target_of(root: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(root).ok()?;
    let mut parts = relative.iter().map(|p| p.to_string_lossy().into_owned());
    let krate = parts.next()?;
    match parts.next()?.as_str() {
        "src" => Some(krate.replace('-', "_")),
        "tests" => {
            let first = parts.next()?;
            Some(first.strip_suffix(".rs").unwrap_or(&first).to_owned())
        }
        _ => None,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if path.is_dir() {
            if !matches!(name.as_deref(), Some("target" | ".git")) {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every Rust source file of the workspace's crates (not `target/`).
pub(crate) fn workspace_sources(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = fs::read_dir(root) else {
        return files;
    };
    let mut crates: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    crates.sort();
    for krate in crates {
        rust_files(&krate, &mut files);
    }
    files
}

const MARKER: &str = "/// proves:";

/// The name of the function a line declares, if it declares one.
fn declared_fn(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        if word == "fn" {
            let name = words.next()?;
            let end = name
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(name.len());
            return Some(&name[..end]);
        }
        if !matches!(
            word,
            "pub" | "pub(crate)" | "async" | "unsafe" | "const" | "extern" | "\"C\""
        ) {
            return None;
        }
    }
    None
}

/// The clause ids after a marker's `proves:`.
fn marker_ids(rest: &str) -> Vec<String> {
    rest.split(',')
        .map(|id| id.trim().trim_end_matches('.').to_owned())
        .filter(|id| !id.is_empty())
        .collect()
}

/// Finds every marker in `files`.
pub(crate) fn scan_markers(root: &Path, files: &[PathBuf]) -> Result<Vec<Marker>, String> {
    let mut markers = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix(MARKER) else {
                continue;
            };
            let ids = marker_ids(rest);
            let function = lines[index + 1..]
                .iter()
                .take(40)
                .find_map(|l| declared_fn(l.trim_start()));
            let where_ = format!("{}:{}", file.display(), index + 1);
            let Some(function) = function else {
                return Err(format!("{where_}: `{MARKER}` is not followed by a fn"));
            };
            let Some(target) = target_of(root, file) else {
                return Err(format!("{where_}: `{MARKER}` outside a test target"));
            };
            markers.push(Marker {
                ids,
                target,
                function: function.to_owned(),
                file: file.clone(),
                line: index + 1,
            });
        }
    }
    Ok(markers)
}

/// Where pythread's Python-level tests live (`test_*.py`), relative to the workspace root.
pub(crate) const PY_TESTS_DIR: &str = "thread-py/tests";

/// Where `cargo xtask cpython` leaves the Python-level tests' results, relative to the root.
pub(crate) const PY_RESULTS_FILE: &str = "target/cpython/results.json";

const PY_MARKER: &str = "# proves:";

/// A Python-level test function that names clauses.
#[derive(Debug, Clone)]
pub(crate) struct PyMarker {
    pub(crate) ids: Vec<String>,
    /// The module the file is run as: its stem, `test_pythread`.
    pub(crate) module: String,
    pub(crate) function: String,
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
}

/// The Python test files, `test_*.py` in [`PY_TESTS_DIR`], sorted.
pub(crate) fn python_test_files(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root.join(PY_TESTS_DIR)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|path| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.starts_with("test_") && n.ends_with(".py"))
        })
        .collect();
    files.sort();
    files
}

/// Finds the `# proves:` markers of one Python test file (`text` is its content; `file` names it
/// in the markers and errors). A marker line may be followed by other comment lines and by
/// decorators (also ones spread over several lines); the first line after them must define a
/// `test...` function.
pub(crate) fn scan_py_markers(file: &Path, text: &str) -> Result<Vec<PyMarker>, String> {
    let module = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut markers = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix(PY_MARKER) else {
            continue;
        };
        let where_ = format!("{}:{}", file.display(), index + 1);
        let mut open_brackets = 0i32;
        let mut function = None;
        for next in &lines[index + 1..] {
            let next = next.trim_start();
            if open_brackets > 0 || next.starts_with('@') {
                // A decorator, or the rest of one whose arguments span lines.
                for c in next.chars() {
                    match c {
                        '(' | '[' | '{' => open_brackets += 1,
                        ')' | ']' | '}' => open_brackets -= 1,
                        _ => {}
                    }
                }
                continue;
            }
            if next.starts_with('#') {
                continue;
            }
            let def = next
                .strip_prefix("async ")
                .unwrap_or(next)
                .strip_prefix("def ");
            function = def.map(|d| {
                let end = d
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(d.len());
                &d[..end]
            });
            break;
        }
        let Some(function) = function.filter(|f| f.starts_with("test")) else {
            return Err(format!(
                "{where_}: `{PY_MARKER}` is not directly above a `def test...` (or its decorators)"
            ));
        };
        markers.push(PyMarker {
            ids: marker_ids(rest),
            module: module.clone(),
            function: function.to_owned(),
            file: file.to_path_buf(),
            line: index + 1,
        });
    }
    Ok(markers)
}

/// Every Python marker of the workspace's Python-level tests.
pub(crate) fn workspace_py_markers(root: &Path) -> Result<Vec<PyMarker>, String> {
    let mut markers = Vec::new();
    for file in python_test_files(root) {
        let text = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let relative = file.strip_prefix(root).unwrap_or(&file);
        markers.extend(scan_py_markers(relative, &text)?);
    }
    Ok(markers)
}

/// The Python-level tests' results on one CPython version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PyVersionResults {
    /// `3.11.7`.
    pub(crate) version: String,
    /// Why pythread's tests could not run at all on this version (pythread failed to load as
    /// `_thread`), if so: every Python test counts as failed there.
    pub(crate) broken: Option<String>,
    /// Test id (`test_pythread.Errors.test_release_errors`) → how it ended; a skip is `Ignored`.
    pub(crate) outcomes: BTreeMap<String, Outcome>,
}

fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Ignored => "skipped",
    }
}

/// The results file's text: `{"versions": [{"version", "broken", "tests": {id: outcome}}]}`.
pub(crate) fn py_results_json(runs: &[PyVersionResults]) -> String {
    let versions: Vec<serde_json::Value> = runs
        .iter()
        .map(|run| {
            let tests: serde_json::Map<String, serde_json::Value> = run
                .outcomes
                .iter()
                .map(|(id, outcome)| (id.clone(), outcome_word(*outcome).into()))
                .collect();
            serde_json::json!({
                "version": run.version,
                "broken": run.broken,
                "tests": tests,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&serde_json::json!({ "versions": versions }))
        .expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// Reads what [`py_results_json`] wrote.
pub(crate) fn parse_py_results(text: &str) -> Result<Vec<PyVersionResults>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let versions = value
        .get("versions")
        .and_then(|v| v.as_array())
        .ok_or("no `versions` list")?;
    let mut runs = Vec::new();
    for entry in versions {
        let version = entry
            .get("version")
            .and_then(|v| v.as_str())
            .ok_or("a version without `version`")?
            .to_owned();
        let broken = entry
            .get("broken")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let mut outcomes = BTreeMap::new();
        let tests = entry.get("tests").and_then(|t| t.as_object());
        for (id, outcome) in tests.into_iter().flatten() {
            let outcome = match outcome.as_str() {
                Some("passed") => Outcome::Passed,
                Some("failed") => Outcome::Failed,
                Some("skipped") => Outcome::Ignored,
                other => return Err(format!("{version} {id}: unknown outcome {other:?}")),
            };
            outcomes.insert(id.clone(), outcome);
        }
        runs.push(PyVersionResults {
            version,
            broken,
            outcomes,
        });
    }
    Ok(runs)
}

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    Passed,
    Failed,
    Ignored,
}

/// One `test NAME ... RESULT` line, with the target whose run printed it.
#[derive(Debug, Clone)]
pub(crate) struct TestResult {
    pub(crate) target: String,
    pub(crate) name: String,
    pub(crate) outcome: Outcome,
}

/// The target named by cargo's `Running SRC (target/.../deps/NAME-HASH)` line.
fn running_target(line: &str) -> Option<String> {
    let line = line.trim_start();
    if let Some(krate) = line.strip_prefix("Doc-tests ") {
        return Some(format!("doc:{}", krate.trim()));
    }
    line.strip_prefix("Running ")?;
    let binary = line.rsplit_once('(')?.1.trim_end_matches(')');
    let file = Path::new(binary)
        .file_name()?
        .to_string_lossy()
        .into_owned();
    let name = match file.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
        _ => file,
    };
    Some(name)
}

/// Reads libtest's result lines out of a `cargo test` log.
pub(crate) fn parse_results(log: &str) -> Vec<TestResult> {
    let mut target = String::new();
    let mut results = Vec::new();
    for line in log.lines() {
        if let Some(running) = running_target(line) {
            target = running;
            continue;
        }
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, result)) = rest.rsplit_once(" ... ") else {
            continue;
        };
        let outcome = match result.trim() {
            "ok" => Outcome::Passed,
            "FAILED" => Outcome::Failed,
            r if r.starts_with("ignored") => Outcome::Ignored,
            _ => continue,
        };
        results.push(TestResult {
            target: target.clone(),
            name: name.trim().to_owned(),
            outcome,
        });
    }
    results
}

/// The report's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Totals {
    pub(crate) covered: usize,
    pub(crate) uncovered: usize,
    pub(crate) na: usize,
    pub(crate) passed: usize,
    pub(crate) failed: usize,
}

impl Totals {
    /// The report's last line, exactly as `cargo xtask verify` promises it.
    pub(crate) fn summary_line(&self) -> String {
        format!(
            "clauses: {} covered, {} uncovered, {} n/a; tests: {} passed, {} failed",
            self.covered, self.uncovered, self.na, self.passed, self.failed
        )
    }
}

/// The finished report: its text (without the summary line), its totals, and the problems that
/// fail it (markers naming unknown clauses).
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub(crate) text: String,
    pub(crate) totals: Totals,
    pub(crate) errors: Vec<String>,
}

/// One test's evidence for the clauses it names, Rust or Python alike.
#[derive(Debug, Clone)]
pub(crate) struct Proof {
    pub(crate) ids: Vec<String>,
    /// How the report names the test: `target::function`, or `file::function` for Python.
    pub(crate) name: String,
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    /// What counts: `Passed` proves the clauses; `None` is a test that did not run.
    pub(crate) outcome: Option<Outcome>,
    /// How it ended, as the report shows it (`ok`, or one outcome per CPython version).
    pub(crate) shown: String,
}

fn last_segment(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

/// The Rust markers with the outcome of their tests.
pub(crate) fn rust_proofs(markers: &[Marker], results: &[TestResult]) -> Vec<Proof> {
    markers
        .iter()
        .map(|marker| {
            // A function may run in several targets' results only if names collide; the worst
            // outcome of the matching lines decides.
            let outcome = results
                .iter()
                .filter(|r| r.target == marker.target && last_segment(&r.name) == marker.function)
                .map(|r| r.outcome)
                .max();
            let shown = match outcome {
                Some(Outcome::Passed) => "ok",
                Some(Outcome::Failed) => "FAILED",
                Some(Outcome::Ignored) => "ignored",
                None => "not run",
            };
            Proof {
                ids: marker.ids.clone(),
                name: format!("{}::{}", marker.target, marker.function),
                file: marker.file.clone(),
                line: marker.line,
                outcome,
                shown: shown.to_owned(),
            }
        })
        .collect()
}

/// How one Python test ended on one version: the worst of the results it matches (a method of a
/// mixin runs once per class that uses it), `None` when it did not run there.
fn py_outcome_on(marker: &PyMarker, run: &PyVersionResults) -> Option<Outcome> {
    if run.broken.is_some() {
        return Some(Outcome::Failed);
    }
    let matching = run.outcomes.iter().filter(|(id, _)| {
        id.split('.').next() == Some(marker.module.as_str())
            && id.rsplit('.').next() == Some(marker.function.as_str())
    });
    let mut worst = None;
    for (_, outcome) in matching {
        worst = Some(match (worst, *outcome) {
            (_, Outcome::Failed) | (Some(Outcome::Failed), _) => Outcome::Failed,
            (_, Outcome::Passed) | (Some(Outcome::Passed), _) => Outcome::Passed,
            _ => Outcome::Ignored,
        });
    }
    worst
}

/// The Python markers with their outcome over every version: failed if it failed on any, else
/// passed if it passed on any, else skipped if it was skipped on any, else not run.
pub(crate) fn py_proofs(markers: &[PyMarker], runs: &[PyVersionResults]) -> Vec<Proof> {
    markers
        .iter()
        .map(|marker| {
            let per_version: Vec<(&str, Option<Outcome>)> = runs
                .iter()
                .map(|run| (run.version.as_str(), py_outcome_on(marker, run)))
                .collect();
            let seen = |wanted| per_version.iter().any(|(_, o)| *o == Some(wanted));
            let outcome = [Outcome::Failed, Outcome::Passed, Outcome::Ignored]
                .into_iter()
                .find(|o| seen(*o));
            let shown: Vec<String> = per_version
                .iter()
                .map(|(version, outcome)| {
                    let broken = runs
                        .iter()
                        .find(|r| r.version == *version)
                        .and_then(|r| r.broken.as_deref());
                    match (outcome, broken) {
                        (_, Some(why)) => format!("{version} FAILED ({why})"),
                        (Some(Outcome::Failed), None) => format!("{version} FAILED"),
                        (Some(o), None) => format!("{version} {}", outcome_word(*o)),
                        (None, None) => format!("{version} not run"),
                    }
                })
                .collect();
            Proof {
                ids: marker.ids.clone(),
                name: format!("{}::{}", marker.file.display(), marker.function),
                file: marker.file.clone(),
                line: marker.line,
                outcome,
                shown: if shown.is_empty() {
                    "not run (no `cargo xtask cpython` results)".to_owned()
                } else {
                    shown.join(", ")
                },
            }
        })
        .collect()
}

/// How many tests passed and failed in all: libtest's lines, and each Python test on each
/// version (a version whose pythread did not load counts one failure).
pub(crate) fn test_counts(results: &[TestResult], runs: &[PyVersionResults]) -> (usize, usize) {
    let count = |wanted| {
        let rust = results.iter().filter(|r| r.outcome == wanted).count();
        let python: usize = runs
            .iter()
            .map(|run| run.outcomes.values().filter(|o| **o == wanted).count())
            .sum();
        rust + python
    };
    let broken = runs.iter().filter(|run| run.broken.is_some()).count();
    (count(Outcome::Passed), count(Outcome::Failed) + broken)
}

/// Builds the clause-by-clause report; `tests` is `(passed, failed)` from [`test_counts`].
pub(crate) fn report(clauses: &[Clause], proofs: &[Proof], tests: (usize, usize)) -> Report {
    let known: BTreeSet<&str> = clauses.iter().map(|c| c.id.as_str()).collect();
    let mut errors = Vec::new();
    let mut by_clause: BTreeMap<&str, Vec<&Proof>> = BTreeMap::new();
    for proof in proofs {
        for id in &proof.ids {
            if known.contains(id.as_str()) {
                by_clause.entry(id).or_default().push(proof);
            } else {
                errors.push(format!(
                    "{}:{}: `{}` names unknown clause {id}",
                    proof.file.display(),
                    proof.line,
                    last_segment(&proof.name)
                ));
            }
        }
    }

    let mut totals = Totals {
        passed: tests.0,
        failed: tests.1,
        ..Totals::default()
    };
    let mut text = String::new();
    let mut area = "";
    for clause in clauses {
        if clause.area != area {
            area = &clause.area;
            let _ = writeln!(text, "\n## {area}");
        }
        let tests = by_clause.get(clause.id.as_str());
        let status = if let Some(why) = &clause.na {
            totals.na += 1;
            format!("n/a ({why})")
        } else if tests.is_some_and(|t| t.iter().any(|p| p.outcome == Some(Outcome::Passed))) {
            totals.covered += 1;
            "covered".to_owned()
        } else {
            totals.uncovered += 1;
            "UNCOVERED".to_owned()
        };
        let _ = writeln!(text, "{:<10} {status}: {}", clause.id, clause.summary);
        for proof in tests.into_iter().flatten() {
            let _ = writeln!(text, "             {} ... {}", proof.name, proof.shown);
        }
    }
    Report {
        text,
        totals,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(id: &str, na: Option<&str>) -> Clause {
        Clause {
            id: id.to_owned(),
            area: "lock".to_owned(),
            summary: format!("summary of {id}"),
            na: na.map(str::to_owned),
        }
    }

    #[test]
    fn results_are_keyed_by_the_running_target() {
        let log = "\
     Running unittests src/lib.rs (target/debug/deps/thread_lock-0123abcd)
test raw::tests::release_unlocked ... ok
test raw::tests::slow ... ignored, needs a quiet machine
     Running tests/loom_lock.rs (target/loom/release/deps/loom_lock-89ef)
test two_waiters ... FAILED
   Doc-tests thread_lock
test thread-lock/src/lib.rs - Lock (line 3) ... ok
";
        let results = parse_results(log);
        let seen: Vec<_> = results
            .iter()
            .map(|r| (r.target.as_str(), r.name.as_str(), r.outcome))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "thread_lock",
                    "raw::tests::release_unlocked",
                    Outcome::Passed
                ),
                ("thread_lock", "raw::tests::slow", Outcome::Ignored),
                ("loom_lock", "two_waiters", Outcome::Failed),
                (
                    "doc:thread_lock",
                    "thread-lock/src/lib.rs - Lock (line 3)",
                    Outcome::Passed
                ),
            ]
        );
    }

    #[test]
    fn markers_name_the_next_function_and_its_target() {
        let root = std::env::temp_dir().join(format!("xtask-markers-{}", std::process::id()));
        let tests = root.join("thread-lock").join("tests");
        fs::create_dir_all(&tests).unwrap();
        let file = tests.join("ported.rs");
        fs::write(
            &file,
            "/// proves: LOCK-7, LOCK-9\n#[test]\n#[cfg_attr(miri, ignore)]\nfn timed() {}\n",
        )
        .unwrap();
        let markers = scan_markers(&root, &[file]).unwrap();
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(markers.len(), 1);
        assert_eq!(markers[0].ids, ["LOCK-7", "LOCK-9"]);
        assert_eq!(markers[0].target, "ported");
        assert_eq!(markers[0].function, "timed");
    }

    #[test]
    fn covered_needs_a_passing_test_and_unknown_ids_fail() {
        let clauses = [
            clause("LOCK-1", None),
            clause("LOCK-2", Some("types")),
            clause("LOCK-7", None),
        ];
        let marker = |ids: &[&str], function: &str| Marker {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            target: "t".to_owned(),
            function: function.to_owned(),
            file: PathBuf::from("t.rs"),
            line: 1,
        };
        let markers = [marker(&["LOCK-1"], "a"), marker(&["LOCK-7", "NOPE-1"], "b")];
        let results = [
            TestResult {
                target: "t".into(),
                name: "m::a".into(),
                outcome: Outcome::Passed,
            },
            TestResult {
                target: "t".into(),
                name: "b".into(),
                outcome: Outcome::Failed,
            },
        ];
        let proofs = rust_proofs(&markers, &results);
        let report = report(&clauses, &proofs, test_counts(&results, &[]));
        assert_eq!(
            report.totals.summary_line(),
            "clauses: 1 covered, 1 uncovered, 1 n/a; tests: 1 passed, 1 failed"
        );
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].contains("NOPE-1"));
        assert!(report.text.contains("t::a ... ok"));
        assert!(report.text.contains("t::b ... FAILED"));
    }

    #[test]
    fn python_markers_sit_above_a_test_def_or_its_decorators() {
        let text = "\
import unittest

class Locks(unittest.TestCase):
    # proves: PY-3, LOCK-1.
    def test_acquire_zero(self):
        pass

    # proves: PY-8
    # (the sentinel lock of threading._shutdown)
    @unittest.skipUnless(
        hasattr(unittest, 'main'),
        'needs main',
    )
    @staticmethod
    def test_shutdown_handoff():
        pass

# proves: PY-9
async def test_module_level():
    pass
";
        let file = Path::new("thread-py/tests/test_things.py");
        let markers = scan_py_markers(file, text).unwrap();
        let seen: Vec<_> = markers
            .iter()
            .map(|m| {
                (
                    m.ids.join(","),
                    m.module.as_str(),
                    m.function.as_str(),
                    m.line,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "PY-3,LOCK-1".to_owned(),
                    "test_things",
                    "test_acquire_zero",
                    4
                ),
                ("PY-8".to_owned(), "test_things", "test_shutdown_handoff", 8),
                ("PY-9".to_owned(), "test_things", "test_module_level", 18),
            ]
        );
        assert_eq!(markers[0].file, file);
    }

    #[test]
    fn a_python_marker_must_be_followed_by_a_test_def() {
        let file = Path::new("test_x.py");
        for text in [
            "# proves: PY-1\n\ndef test_a():\n    pass\n",
            "# proves: PY-1\ndef helper():\n    pass\n",
            "# proves: PY-1\nclass TestA:\n    pass\n",
            "x = 1\n# proves: PY-1\n",
        ] {
            let error = scan_py_markers(file, text).unwrap_err();
            assert!(error.starts_with("test_x.py:"), "{error}");
            assert!(error.contains("def test"), "{error}");
        }
        // An ordinary comment that mentions the marker's words is no marker.
        assert!(
            scan_py_markers(file, "x = 1  # proves: nothing\n")
                .unwrap()
                .is_empty()
        );
    }

    fn py_marker(ids: &[&str], function: &str) -> PyMarker {
        PyMarker {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            module: "test_pythread".to_owned(),
            function: function.to_owned(),
            file: PathBuf::from("thread-py/tests/test_pythread.py"),
            line: 7,
        }
    }

    fn py_run(
        version: &str,
        broken: Option<&str>,
        outcomes: &[(&str, Outcome)],
    ) -> PyVersionResults {
        PyVersionResults {
            version: version.to_owned(),
            broken: broken.map(str::to_owned),
            outcomes: outcomes
                .iter()
                .map(|(id, o)| (format!("test_pythread.{id}"), *o))
                .collect(),
        }
    }

    #[test]
    fn python_results_merge_over_versions() {
        let runs = [
            py_run(
                "3.11.7",
                None,
                &[
                    ("Locks.test_zero", Outcome::Passed),
                    ("Locks.test_flaky", Outcome::Passed),
                    ("Handles.test_new", Outcome::Ignored),
                    ("LockMixin.test_mixed", Outcome::Passed),
                    ("RLockMixin.test_mixed", Outcome::Failed),
                ],
            ),
            py_run(
                "3.13.0",
                None,
                &[
                    ("Locks.test_zero", Outcome::Passed),
                    ("Locks.test_flaky", Outcome::Failed),
                    ("Handles.test_new", Outcome::Passed),
                    ("LockMixin.test_mixed", Outcome::Passed),
                    ("RLockMixin.test_mixed", Outcome::Passed),
                ],
            ),
        ];
        let markers = [
            py_marker(&["PY-3"], "test_zero"),
            py_marker(&["PY-4"], "test_flaky"),
            py_marker(&["HANDLE-1"], "test_new"),
            py_marker(&["LOCK-1"], "test_mixed"),
            py_marker(&["PY-5"], "test_gone"),
        ];
        let proofs = py_proofs(&markers, &runs);
        let seen: Vec<_> = proofs
            .iter()
            .map(|p| (p.outcome, p.shown.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (Some(Outcome::Passed), "3.11.7 passed, 3.13.0 passed"),
                (Some(Outcome::Failed), "3.11.7 passed, 3.13.0 FAILED"),
                (Some(Outcome::Passed), "3.11.7 skipped, 3.13.0 passed"),
                (Some(Outcome::Failed), "3.11.7 FAILED, 3.13.0 passed"),
                (None, "3.11.7 not run, 3.13.0 not run"),
            ]
        );
        assert_eq!(
            proofs[0].name,
            "thread-py/tests/test_pythread.py::test_zero"
        );
        // Each test on each version is one result.
        assert_eq!(test_counts(&[], &runs), (7, 2));

        let broken = [
            py_run("3.11.7", None, &[("Locks.test_zero", Outcome::Passed)]),
            py_run("3.13.0", Some("cannot import threading"), &[]),
        ];
        let proofs = py_proofs(&markers[..1], &broken);
        assert_eq!(proofs[0].outcome, Some(Outcome::Failed));
        assert_eq!(
            proofs[0].shown,
            "3.11.7 passed, 3.13.0 FAILED (cannot import threading)"
        );
        assert_eq!(test_counts(&[], &broken), (1, 1));

        let skipped_only = [py_run(
            "3.11.7",
            None,
            &[("Handles.test_new", Outcome::Ignored)],
        )];
        let proofs = py_proofs(&markers[2..3], &skipped_only);
        assert_eq!(proofs[0].outcome, Some(Outcome::Ignored));
        assert_eq!(
            py_proofs(&markers[..1], &[])[0].shown,
            "not run (no `cargo xtask cpython` results)"
        );
    }

    #[test]
    fn python_results_survive_their_file() {
        let runs = vec![
            py_run(
                "3.11.7",
                None,
                &[
                    ("Locks.test_zero", Outcome::Passed),
                    ("Locks.test_one", Outcome::Failed),
                    ("Handles.test_new", Outcome::Ignored),
                ],
            ),
            py_run("3.13.0", Some("ImportError: no start_joinable_thread"), &[]),
        ];
        assert_eq!(parse_py_results(&py_results_json(&runs)).unwrap(), runs);
        let error = parse_py_results(
            r#"{"versions": [{"version": "3.12.1", "tests": {"test_a.T.test_b": "hung"}}]}"#,
        )
        .unwrap_err();
        assert!(error.contains("test_a.T.test_b"), "{error}");
        assert!(parse_py_results("{}").is_err());
    }

    #[test]
    fn python_proofs_count_in_the_report_and_unknown_ids_fail() {
        let clauses = [
            clause("PY-3", None),
            clause("PY-8", None),
            clause("PY-9", None),
        ];
        let runs = [py_run(
            "3.12.1",
            None,
            &[
                ("Locks.test_zero", Outcome::Passed),
                ("Shutdown.test_handoff", Outcome::Ignored),
            ],
        )];
        let markers = [
            py_marker(&["PY-3"], "test_zero"),
            py_marker(&["PY-8", "PY-99"], "test_handoff"),
        ];
        let report = report(
            &clauses,
            &py_proofs(&markers, &runs),
            test_counts(&[], &runs),
        );
        assert_eq!(
            report.totals.summary_line(),
            "clauses: 1 covered, 2 uncovered, 0 n/a; tests: 1 passed, 0 failed"
        );
        assert_eq!(
            report.errors,
            ["thread-py/tests/test_pythread.py:7: `test_handoff` names unknown clause PY-99"]
        );
        assert!(
            report
                .text
                .contains("thread-py/tests/test_pythread.py::test_zero ... 3.12.1 passed")
        );
    }
}
