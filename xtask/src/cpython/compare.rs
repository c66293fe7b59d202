//! Comparing the two modes' runs of one module, fairly for suites with tests that pass or fail by
//! timing.
//!
//! A test whose outcome differs between the full runs is not taken at its word: it is run again
//! alone, in a new process, alternately on the built-in and on pythread, up to [`RERUNS`] times
//! each. The difference is put down to chance, and the test agrees, as soon as every outcome that
//! pythread has shown (in the full run and the re-runs) has also been shown by the built-in: a
//! test that fails on the built-in now and then says nothing about pythread when it fails there
//! too. An outcome pythread shows and the built-in never does — a failure where the built-in
//! always passes, a pass or a skip where it always fails — is a difference, however rarely it
//! shows. This is not a retry of pythread's own tests (those must pass each time): it is how two
//! interpreters' flaky suites are compared.
//!
//! Re-runs are for chance, not for systematic breakage: a module with more than
//! [`MAX_RERUN_TESTS`] differing tests, a test that hung on pythread or is missing from one
//! run, a test id that cannot be loaded alone (a fixture's failure) and everything after the
//! re-run time budget is spent keep their first outcomes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::run::{Mode, Outcome, Run, Runner};

/// How many times a differing test runs again alone, at most, in each mode.
pub(crate) const RERUNS: usize = 4;

/// More differing tests than this in one module are not re-run.
pub(crate) const MAX_RERUN_TESTS: usize = 10;

/// Whether the outcomes seen on pythread are all outcomes the built-in has shown too.
pub(crate) fn chance_explains(builtin: &[Outcome], pythread: &[Outcome]) -> bool {
    pythread.iter().all(|outcome| builtin.contains(outcome))
}

/// One test whose outcomes differ, with every outcome seen (the full run's first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Difference {
    pub(crate) test: String,
    pub(crate) builtin: Vec<Option<Outcome>>,
    pub(crate) pythread: Vec<Option<Outcome>>,
    /// Why it was not re-run, if it was not.
    pub(crate) not_rerun: Option<&'static str>,
}

impl Difference {
    /// Whether the re-runs put the difference down to chance.
    pub(crate) fn by_chance(&self) -> bool {
        let seen =
            |all: &[Option<Outcome>]| -> Option<Vec<Outcome>> { all.iter().copied().collect() };
        match (seen(&self.builtin), seen(&self.pythread)) {
            (Some(builtin), Some(pythread)) => chance_explains(&builtin, &pythread),
            _ => false,
        }
    }

    /// `built-in failed, passed×3 | pythread passed×4`.
    pub(crate) fn shown(&self) -> String {
        let list = |all: &[Option<Outcome>]| -> String {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for outcome in all {
                *counts
                    .entry(outcome.map_or("missing", Outcome::name))
                    .or_default() += 1;
            }
            let parts: Vec<String> = counts
                .into_iter()
                .map(|(name, n)| {
                    if n == 1 {
                        name.to_owned()
                    } else {
                        format!("{name}×{n}")
                    }
                })
                .collect();
            parts.join(", ")
        };
        format!(
            "built-in {} | pythread {}",
            list(&self.builtin),
            list(&self.pythread)
        )
    }
}

/// The tests of two full runs whose outcomes differ (a test missing from one run differs too).
pub(crate) fn differing(builtin: &Run, pythread: &Run) -> Vec<Difference> {
    let names: BTreeSet<&String> = builtin
        .outcomes
        .keys()
        .chain(pythread.outcomes.keys())
        .collect();
    names
        .into_iter()
        .filter_map(|test| {
            let a = builtin.outcomes.get(test).copied();
            let b = pythread.outcomes.get(test).copied();
            // A hang costs a timeout a run, and pythread's hang is its own fault however the
            // built-in fares; a test missing from a run (one stopped after too many hangs) is
            // never chance: neither is re-run.
            let not_rerun = if pythread.hung.contains(test) {
                Some("it hung on pythread")
            } else if a.is_none() || b.is_none() {
                Some("missing from a run")
            } else {
                None
            };
            (a != b).then(|| Difference {
                test: test.clone(),
                builtin: vec![a],
                pythread: vec![b],
                not_rerun,
            })
        })
        .collect()
}

/// Re-runs each difference alone (see the module docs), within `budget` for all of them.
pub(crate) fn rerun(
    runner: &Runner,
    differences: &mut [Difference],
    budget: Duration,
) -> Result<(), String> {
    let too_many = differences.len() > MAX_RERUN_TESTS;
    let started = Instant::now();
    for difference in differences.iter_mut() {
        if difference.not_rerun.is_some() {
            continue;
        }
        if too_many {
            difference.not_rerun = Some("too many differences in this module to be chance");
            continue;
        }
        // A fixture's failure is reported as `setUpClass (module.Class)`, which no loader takes.
        if difference.test.contains(char::is_whitespace) {
            difference.not_rerun = Some("not a test that runs alone");
            continue;
        }
        for round in 0..RERUNS {
            if difference.by_chance() {
                break;
            }
            if started.elapsed() > budget {
                difference.not_rerun = Some("re-run time budget spent");
                break;
            }
            for mode in [Mode::Builtin, Mode::Pythread] {
                let label = format!("{}.rerun{round}", difference.test);
                let run = runner.run(&difference.test, mode, &label)?;
                let outcome = if run.check_ok {
                    run.outcomes.get(&difference.test).copied()
                } else {
                    None
                };
                match mode {
                    Mode::Builtin => difference.builtin.push(outcome),
                    Mode::Pythread => difference.pythread.push(outcome),
                }
            }
        }
    }
    Ok(())
}

/// The known differences, one line each: `<versions> <test id> <CLAUSE> <why>`, where
/// `<versions>` is a comma-separated list of `major.minor` (`3.11` or `3.11,3.12`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Known {
    pub(crate) versions: Vec<String>,
    pub(crate) test: String,
    /// The clause and the reason, as printed.
    pub(crate) why: String,
}

/// Reads the known-differences file; `file` names it in errors.
pub(crate) fn parse_known(text: &str, file: &str) -> Result<Vec<Known>, String> {
    let mut known = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(4, char::is_whitespace);
        let (Some(versions), Some(test), Some(clause), Some(why)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "{file}:{}: want `<versions> <test id> <CLAUSE> <why>`",
                number + 1
            ));
        };
        let versions: Vec<String> = versions.split(',').map(str::to_owned).collect();
        let shaped = |v: &String| {
            let mut numbers = v.split('.');
            numbers.next().is_some_and(|n| n.parse::<u32>().is_ok())
                && numbers.next().is_some_and(|n| n.parse::<u32>().is_ok())
                && numbers.next().is_none()
        };
        if !versions.iter().all(shaped) {
            return Err(format!(
                "{file}:{}: versions are `3.11` or `3.11,3.12`",
                number + 1
            ));
        }
        known.push(Known {
            versions,
            test: test.to_owned(),
            why: format!("{clause} {}", why.trim()),
        });
    }
    Ok(known)
}

impl Known {
    /// Whether the line is about CPython `version` (`3.11.7`).
    pub(crate) fn applies_to(&self, version: &str) -> bool {
        self.versions.iter().any(|v| {
            version
                .strip_prefix(v.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::{Failed, Passed, Skipped};

    #[test]
    fn chance_explains_only_what_the_builtin_also_showed() {
        // The built-in failed by timing in the full run and passed alone; pythread passed.
        assert!(chance_explains(&[Failed, Passed], &[Passed, Passed]));
        // pythread failed in the full run, the built-in did so once in its re-runs.
        assert!(chance_explains(
            &[Passed, Passed, Failed],
            &[Failed, Passed]
        ));
        // pythread fails where the built-in never does, even once in five.
        assert!(!chance_explains(
            &[Passed; 5],
            &[Failed, Passed, Passed, Passed, Passed]
        ));
        // pythread passes what the built-in always fails: a difference too.
        assert!(!chance_explains(&[Failed; 5], &[Passed; 5]));
        assert!(!chance_explains(&[Skipped; 5], &[Passed; 5]));
    }

    #[test]
    fn a_missing_outcome_is_never_chance() {
        let difference = Difference {
            test: "m.T.test".to_owned(),
            builtin: vec![Some(Passed), Some(Passed)],
            pythread: vec![None, Some(Passed)],
            not_rerun: None,
        };
        assert!(!difference.by_chance());
        assert_eq!(
            difference.shown(),
            "built-in passed×2 | pythread missing, passed"
        );
    }

    #[test]
    fn differences_are_the_tests_whose_outcomes_differ() {
        let run = |outcomes: &[(&str, Outcome)], hung: &[&str]| Run {
            outcomes: outcomes.iter().map(|(t, o)| (t.to_string(), *o)).collect(),
            check_ok: true,
            hung: hung.iter().map(|t| t.to_string()).collect(),
            ..Run::default()
        };
        let builtin = run(
            &[("a", Passed), ("b", Passed), ("c", Skipped), ("d", Passed)],
            &[],
        );
        let pythread = run(&[("a", Passed), ("b", Failed), ("c", Passed)], &["b"]);
        let differences = differing(&builtin, &pythread);
        let seen: Vec<_> = differences
            .iter()
            .map(|d| (d.test.as_str(), d.builtin[0], d.pythread[0], d.not_rerun))
            .collect();
        assert_eq!(
            seen,
            [
                ("b", Some(Passed), Some(Failed), Some("it hung on pythread")),
                ("c", Some(Skipped), Some(Passed), None),
                ("d", Some(Passed), None, Some("missing from a run")),
            ]
        );
    }

    #[test]
    fn known_differences_are_keyed_by_version() {
        let text = "\
# comment

3.11 test.test_threading.T.test_a LOCK-15 3.11's _shutdown asserts
3.11,3.12 test.test_threading.T.test_b PY-8 the same, in a child
";
        let known = parse_known(text, "f.txt").unwrap();
        assert_eq!(known.len(), 2);
        assert_eq!(known[0].test, "test.test_threading.T.test_a");
        assert_eq!(known[0].why, "LOCK-15 3.11's _shutdown asserts");
        assert!(known[0].applies_to("3.11.7"));
        assert!(!known[0].applies_to("3.12.1"));
        assert!(!known[0].applies_to("3.111.0"));
        assert!(known[1].applies_to("3.12.1") && !known[1].applies_to("3.13.0"));
        let error = parse_known("test.test_x.T.test LOCK-1 why not\n", "f.txt").unwrap_err();
        assert!(error.starts_with("f.txt:1: versions"), "{error}");
        assert!(parse_known("3.11 test.x LOCK-1\n", "f.txt").is_err());
    }
}
