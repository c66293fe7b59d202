//! The differential run: generate operation sequences with proptest, run them on our crates
//! and, batched, on CPython's `_thread` (3.11, 3.12, 3.13; the [3.13] handle operations on 3.13
//! only), and compare every operation's value, exception type and message. Differences are
//! explained by [`crate::differences`] or fail the run; [`witnesses`] checks that table
//! against each interpreter.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::cpython::Interpreter;
use crate::differences::{self, Then};
use crate::ops::{Op, Outcome};

/// What a comparison found.
///
/// ```
/// let report = conformance::differential::Report::default();
/// assert!(report.passed());
/// ```
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Operations whose outcomes were compared.
    pub compared: usize,
    /// Of those, how many differed in a way the table explains, by clause.
    pub known: BTreeMap<&'static str, usize>,
    /// Differences nothing explains, described for a reader.
    pub unexplained: Vec<String>,
    /// Compared operations by name (helper-thread operations under their inner name, prefixed
    /// `other:`), with how many of them CPython answered with an exception.
    pub by_op: BTreeMap<String, (usize, usize)>,
}

impl Report {
    /// Whether every difference was explained.
    ///
    /// ```
    /// let mut report = conformance::differential::Report::default();
    /// report.unexplained.push("x".into());
    /// assert!(!report.passed());
    /// ```
    pub fn passed(&self) -> bool {
        self.unexplained.is_empty()
    }

    /// The breakdown by operation: `lock_acquire 812 (503 raised), ...`.
    ///
    /// ```
    /// let report = conformance::differential::Report::default();
    /// assert_eq!(report.breakdown(), "");
    /// ```
    pub fn breakdown(&self) -> String {
        self.by_op
            .iter()
            .map(|(op, (count, raised))| format!("{op} {count} ({raised} raised)"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One line: `compared N operations; known differences: ...`.
    ///
    /// ```
    /// let report = conformance::differential::Report::default();
    /// assert_eq!(report.summary(), "compared 0 operations, 0 unexplained differences; known: none");
    /// ```
    pub fn summary(&self) -> String {
        let known = if self.known.is_empty() {
            "none".to_owned()
        } else {
            self.known
                .iter()
                .map(|(clause, count)| format!("{clause} x{count}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "compared {} operations, {} unexplained differences; known: {known}",
            self.compared,
            self.unexplained.len()
        )
    }
}

/// The seed of a run: `PYTHREAD_DIFF_SEED` when set (to replay a failure), else the clock.
///
/// ```
/// let _seed = conformance::differential::seed();
/// ```
pub fn seed() -> u64 {
    std::env::var("PYTHREAD_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        })
}

/// `count` values of `strategy`, drawn from proptest's ChaCha generator seeded with `seed`.
///
/// ```
/// use conformance::{differential::generate, strategy::sequence};
/// let ops = generate(sequence(5), 3, 7);
/// assert_eq!(ops.len(), 3);
/// // The same seed gives the same sequences (compared as text: NaN is not equal to itself).
/// assert_eq!(format!("{ops:?}"), format!("{:?}", generate(sequence(5), 3, 7)));
/// ```
pub fn generate<S: Strategy>(strategy: S, count: usize, seed: u64) -> Vec<S::Value> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    (0..count)
        .filter_map(|_| {
            strategy
                .new_tree(&mut runner)
                .ok()
                .map(|tree| tree.current())
        })
        .collect()
}

/// Compares our outcomes with CPython's, sequence by sequence.
///
/// ```
/// use conformance::ops::{Op, Outcome, Value};
/// let ops = vec![vec![Op::LockLocked { lock: 0 }]];
/// let same = vec![vec![Outcome::Ok(Value::Bool(false))]];
/// let report = conformance::differential::compare((3, 13, 0), &ops, &same, &same);
/// assert_eq!(report.compared, 1);
/// assert!(report.passed());
/// ```
pub fn compare(
    version: (u32, u32, u32),
    sequences: &[Vec<Op>],
    cpython: &[Vec<Outcome>],
    ours: &[Vec<Outcome>],
) -> Report {
    let mut report = Report::default();
    for (index, ops) in sequences.iter().enumerate() {
        for (at, op) in ops.iter().enumerate() {
            let (theirs, mine) = (&cpython[index][at], &ours[index][at]);
            report.compared += 1;
            let name = match op {
                Op::OtherThread(inner) => format!("other:{}", inner.name()),
                op => op.name().to_owned(),
            };
            let tally = report.by_op.entry(name).or_default();
            tally.0 += 1;
            tally.1 += usize::from(matches!(theirs, Outcome::Err { .. }));
            if theirs == mine {
                continue;
            }
            match differences::explain(version, op, theirs, mine) {
                Some(known) => {
                    *report.known.entry(known.clause).or_default() += 1;
                    if known.then == Then::StopSequence {
                        break;
                    }
                }
                None => {
                    let listing = ops
                        .iter()
                        .enumerate()
                        .map(|(i, op)| {
                            format!(
                                "    {i:>2} {op:?}\n       cpython: {}\n       ours:    {}",
                                cpython[index][i], ours[index][i]
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n");
                    report.unexplained.push(format!(
                        "sequence {index}, operation {at}: {op:?}\n  cpython: {theirs}\n  ours:    {mine}\n  the whole sequence:\n{listing}"
                    ));
                    break;
                }
            }
        }
    }
    report
}

/// Runs `sequences` on `python` (one driver process) and on our crates (the calling thread,
/// which must be the main thread for interrupts), and compares.
///
/// ```no_run
/// use conformance::{cpython::Interpreter, differential, strategy};
/// let python = Interpreter::find_311().unwrap();
/// let sequences = differential::generate(strategy::sequence(10), 20, 1);
/// let report = differential::run(&python, &sequences).unwrap();
/// assert!(report.passed(), "{:#?}", report.unexplained);
/// ```
pub fn run(python: &Interpreter, sequences: &[Vec<Op>]) -> Result<Report, String> {
    let compensate = differences::compensations(python.version());
    let theirs = python.run_batch(sequences, &compensate, Duration::from_secs(120))?;
    let mine: Vec<Vec<Outcome>> = sequences
        .iter()
        .map(|ops| crate::ours::Sequence::run_all(ops))
        .collect();
    Ok(compare(python.version(), sequences, &theirs, &mine))
}

/// What one entry's witness showed on one interpreter (see [`differences::Known::witness`]).
#[derive(Debug, Clone)]
pub struct Witnessed {
    /// The entry's clause.
    pub clause: &'static str,
    /// Whether the entry applies to this interpreter's version.
    pub applies: bool,
    /// The witness's last operation.
    pub op: Op,
    /// CPython's outcome of it.
    pub cpython: Outcome,
    /// Ours.
    pub ours: Outcome,
    /// Whether the interpreter showed what the table says: where the entry applies, a
    /// difference (that the entry explains, unless it is a compensated one); elsewhere, the
    /// same outcome.
    pub holds: bool,
}

impl std::fmt::Display for Witnessed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let claim = if self.applies { "differs" } else { "agrees" };
        let verdict = if self.holds {
            "as listed"
        } else {
            "NOT as listed"
        };
        write!(
            f,
            "{} ({claim}, {verdict}): {:?} -> cpython {}; ours {}",
            self.clause, self.op, self.cpython, self.ours
        )
    }
}

/// Runs every entry's witness on `python` (one driver process, no compensations) and on our
/// crates, and says for each whether the interpreter showed what the table claims for its
/// version.
///
/// ```no_run
/// use conformance::{cpython::Interpreter, differential};
/// let python = Interpreter::find_311().unwrap();
/// for witnessed in differential::witnesses(&python).unwrap() {
///     assert!(witnessed.holds, "{witnessed}");
/// }
/// ```
pub fn witnesses(python: &Interpreter) -> Result<Vec<Witnessed>, String> {
    let version = python.version();
    let entries: Vec<(&'static differences::Known, Vec<Op>)> = differences::KNOWN
        .iter()
        .filter_map(|known| known.witness.map(|witness| (known, witness())))
        .collect();
    let sequences: Vec<Vec<Op>> = entries.iter().map(|(_, ops)| ops.clone()).collect();
    let theirs = python.run_batch(&sequences, &[], Duration::from_secs(60))?;
    let mut shown = Vec::with_capacity(entries.len());
    for ((known, ops), cpython) in entries.into_iter().zip(theirs) {
        let ours = crate::ours::Sequence::run_all(&ops);
        let last = ops.len() - 1;
        let (op, cpython, ours) = (ops[last].clone(), cpython[last].clone(), ours[last].clone());
        let applies = known.applies_to(version);
        let holds = if !applies {
            cpython == ours
        } else if known.then == Then::Compensated {
            cpython != ours
        } else {
            cpython != ours
                && differences::explain(version, &op, &cpython, &ours)
                    .is_some_and(|explained| std::ptr::eq(explained, known))
        };
        shown.push(Witnessed {
            clause: known.clause,
            applies,
            op,
            cpython,
            ours,
            holds,
        });
    }
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::compare;
    use crate::ops::{Op, Outcome, Owner, Value};

    #[test]
    fn an_unknown_difference_fails_and_a_known_one_stops_the_sequence() {
        let ops = vec![vec![
            Op::OtherThread(Box::new(Op::RLockReleaseSave { lock: 0 })),
            Op::RLockRelease { lock: 0 },
        ]];
        let cpython = vec![vec![
            Outcome::Ok(Value::Saved {
                count: 1,
                owner: Owner::Main,
            }),
            Outcome::error("RuntimeError", "cannot release un-acquired lock"),
        ]];
        let ours = vec![vec![
            Outcome::error("RuntimeError", "cannot release un-acquired lock"),
            Outcome::Ok(Value::None),
        ]];
        // RLOCK-5's listed difference, then the states differ: nothing more is compared.
        let report = compare((3, 13, 0), &ops, &cpython, &ours);
        assert!(report.passed());
        assert_eq!(report.compared, 1);
        assert_eq!(report.known.get("RLOCK-5"), Some(&1));

        let ops = vec![vec![Op::LockRelease { lock: 0 }]];
        let cpython = vec![vec![Outcome::error(
            "RuntimeError",
            "release unlocked lock",
        )]];
        let ours = vec![vec![Outcome::error(
            "RuntimeError",
            "release unlocked lock!",
        )]];
        let report = compare((3, 13, 0), &ops, &cpython, &ours);
        assert!(!report.passed());
        assert!(report.unexplained[0].contains("LockRelease"));
    }
}
