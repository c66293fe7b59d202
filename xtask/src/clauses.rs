//! The clause report: which clause of `SPEC.md` each test proves, and whether it passed.
//!
//! Three inputs: the clause list (`conformance/clauses.toml`), the `/// proves: ID, ID` markers
//! in the workspace's sources, and libtest's `test NAME ... ok|FAILED|ignored` lines from the
//! logs of the test runs. A marker belongs to the next `fn` after it; it is matched with result
//! lines of the same test target (a crate's unit tests, or one integration-test file) whose
//! last path segment is that function's name.

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
            let ids: Vec<String> = rest
                .split(',')
                .map(|id| id.trim().trim_end_matches('.').to_owned())
                .filter(|id| !id.is_empty())
                .collect();
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

fn last_segment(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

/// Builds the clause-by-clause report.
pub(crate) fn report(clauses: &[Clause], markers: &[Marker], results: &[TestResult]) -> Report {
    let known: BTreeSet<&str> = clauses.iter().map(|c| c.id.as_str()).collect();
    let mut errors = Vec::new();
    let mut by_clause: BTreeMap<&str, Vec<(&Marker, Option<Outcome>)>> = BTreeMap::new();
    for marker in markers {
        // A function may run in several targets' results only if names collide; the worst
        // outcome of the matching lines decides.
        let outcome = results
            .iter()
            .filter(|r| r.target == marker.target && last_segment(&r.name) == marker.function)
            .map(|r| r.outcome)
            .max();
        for id in &marker.ids {
            if known.contains(id.as_str()) {
                by_clause.entry(id).or_default().push((marker, outcome));
            } else {
                errors.push(format!(
                    "{}:{}: `{}` names unknown clause {id}",
                    marker.file.display(),
                    marker.line,
                    marker.function
                ));
            }
        }
    }

    let mut totals = Totals {
        passed: results
            .iter()
            .filter(|r| r.outcome == Outcome::Passed)
            .count(),
        failed: results
            .iter()
            .filter(|r| r.outcome == Outcome::Failed)
            .count(),
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
        } else if tests.is_some_and(|t| t.iter().any(|(_, o)| *o == Some(Outcome::Passed))) {
            totals.covered += 1;
            "covered".to_owned()
        } else {
            totals.uncovered += 1;
            "UNCOVERED".to_owned()
        };
        let _ = writeln!(text, "{:<10} {status}: {}", clause.id, clause.summary);
        for (marker, outcome) in tests.into_iter().flatten() {
            let result = match outcome {
                Some(Outcome::Passed) => "ok",
                Some(Outcome::Failed) => "FAILED",
                Some(Outcome::Ignored) => "ignored",
                None => "not run",
            };
            let _ = writeln!(
                text,
                "             {}::{} ... {result}",
                marker.target, marker.function
            );
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
        let report = report(&clauses, &markers, &results);
        assert_eq!(
            report.totals.summary_line(),
            "clauses: 1 covered, 1 uncovered, 1 n/a; tests: 1 passed, 1 failed"
        );
        assert_eq!(report.errors.len(), 1);
        assert!(report.errors[0].contains("NOPE-1"));
    }
}
