//! The one table of known differences between pythread and the CPython it is compared
//! against, keyed by clause and interpreter version (3.11, 3.12, 3.13: an entry names the
//! range of minor versions it applies to). A difference the table does not explain fails the
//! differential run.
//!
//! The table is checked against the real interpreters, never guessed: every entry that can show
//! in an outcome has a witness sequence ([`Known::witness`]), and the harness's
//! `differential_known_python3XX` tests run each witness on each interpreter found, requiring a
//! difference (explained by that entry) on the versions the entry names and agreement on the
//! others. [`for_version`] is one interpreter's list.

use crate::ops::{Op, Outcome, Owner, Value};

/// What the runner does once an entry has explained a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// The states are still the same: go on comparing the sequence.
    Continue,
    /// The states now differ (one side changed a lock, the other refused): stop comparing
    /// this sequence.
    StopSequence,
    /// Never seen as a difference: `driver.py` compensates for it (its name is sent to the
    /// driver, which applies it).
    Compensated,
    /// Never seen: the generators leave the case out (the difference is not in the outcome).
    NotGenerated,
}

/// One known difference.
///
/// ```
/// let entry = &conformance::differences::KNOWN[0];
/// assert_eq!(entry.clause, "LOCK-5");
/// ```
#[derive(Debug)]
pub struct Known {
    /// The clause whose behaviour differs.
    pub clause: &'static str,
    /// The CPython minor versions (`(3, 11)`..=`(3, 13)`) it applies to, inclusive.
    pub versions: ((u32, u32), (u32, u32)),
    /// What differs, and which side the spec takes.
    pub why: &'static str,
    /// Whether `(op, cpython, ours)` is this difference.
    pub matches: fn(&Op, &Outcome, &Outcome) -> bool,
    /// What happens next.
    pub then: Then,
    /// A sequence whose last operation shows the difference, run against every interpreter
    /// (without the driver's compensations) so that the table is checked against the real
    /// CPythons, never guessed: on the versions the entry applies to the outcomes differ (and
    /// the entry explains them), on the others they agree. `None` where the difference never
    /// shows in an outcome (stderr only, or fields no operation reports).
    pub witness: Option<fn() -> Vec<Op>>,
}

impl Known {
    /// Whether the entry applies to CPython `major.minor`.
    ///
    /// ```
    /// let entry = &conformance::differences::KNOWN[0];
    /// assert!(entry.applies_to((3, 11, 7)));
    /// assert!(!entry.applies_to((3, 13, 0)));
    /// ```
    pub fn applies_to(&self, version: (u32, u32, u32)) -> bool {
        let minor = (version.0, version.1);
        self.versions.0 <= minor && minor <= self.versions.1
    }
}

fn is_error(outcome: &Outcome, python_type: &str, message: &str) -> bool {
    matches!(outcome, Outcome::Err { python_type: t, message: m } if t == python_type && m == message)
}

fn lock_5_wording(_: &Op, cpython: &Outcome, ours: &Outcome) -> bool {
    is_error(cpython, "ValueError", "timeout value must be positive")
        && is_error(
            ours,
            "ValueError",
            "timeout value must be a non-negative number",
        )
}

fn rlock_5_non_owner(op: &Op, cpython: &Outcome, ours: &Outcome) -> bool {
    let by_other =
        matches!(op, Op::OtherThread(inner) if matches!(**inner, Op::RLockReleaseSave { .. }));
    by_other
        && matches!(
            cpython,
            Outcome::Ok(Value::Saved {
                owner: Owner::Main,
                ..
            })
        )
        && is_error(ours, "RuntimeError", "cannot release un-acquired lock")
}

fn hook_2_repr_in_err_msg(op: &Op, cpython: &Outcome, ours: &Outcome) -> bool {
    let fails = matches!(op, Op::ThreadFails { .. });
    let theirs = "exc_value='task failed' err_msg='Exception ignored in thread started by \
                  <function task>' object=None";
    let mine = "exc_value='task failed' err_msg='Exception ignored in thread started by' \
                object='<function task>'";
    fails
        && matches!(cpython, Outcome::Ok(Value::Str(text)) if text == theirs)
        && matches!(ours, Outcome::Ok(Value::Str(text)) if text == mine)
}

fn lock_5_witness() -> Vec<Op> {
    vec![Op::LockAcquire {
        lock: 0,
        blocking: true,
        timeout: -2.0,
    }]
}

fn rlock_5_witness() -> Vec<Op> {
    vec![
        Op::RLockAcquire {
            lock: 0,
            blocking: true,
            timeout: -1.0,
        },
        Op::OtherThread(Box::new(Op::RLockReleaseSave { lock: 0 })),
    ]
}

fn hook_2_witness() -> Vec<Op> {
    vec![Op::ThreadFails { panic: false }]
}

fn x_stack_1_witness() -> Vec<Op> {
    vec![
        Op::StackSize { size: 65536 },
        Op::StackSizeQuery,
        Op::StackSizeQuery,
    ]
}

fn never(_: &Op, _: &Outcome, _: &Outcome) -> bool {
    false
}

/// The table.
///
/// ```
/// use conformance::differences::{KNOWN, Then};
/// assert!(KNOWN.iter().any(|k| k.clause == "X-STACK-1" && k.then == Then::Compensated));
/// ```
pub static KNOWN: &[Known] = &[
    Known {
        clause: "LOCK-5",
        versions: ((3, 11), (3, 12)),
        why: "a negative timeout other than -1: 3.11.7 and 3.12.1 say `timeout value must be \
              positive`, 3.13 (the target) `timeout value must be a non-negative number`",
        matches: lock_5_wording,
        then: Then::Continue,
        witness: Some(lock_5_witness),
    },
    Known {
        clause: "RLOCK-5",
        versions: ((3, 11), (3, 13)),
        why: "release_save by a thread that does not own the RLock: 3.11.7, 3.12.1 and 3.13.0 \
              check only the count and release another thread's hold (returning the owner's \
              (count, ident)); pythread refuses ([3.14]) with \
              `RuntimeError: cannot release un-acquired lock`",
        matches: rlock_5_non_owner,
        then: Then::StopSequence,
        witness: Some(rlock_5_witness),
    },
    Known {
        clause: "HOOK-2",
        versions: ((3, 13), (3, 13)),
        why: "a thread's failure: 3.13.0 puts the function's repr into err_msg (`Exception \
              ignored in thread started by <function task>`) and leaves object None; its \
              documentation, 3.11.7, 3.12.1 and pythread put the function into object",
        matches: hook_2_repr_in_err_msg,
        then: Then::Continue,
        witness: Some(hook_2_witness),
    },
    Known {
        clause: "HOOK-2",
        versions: ((3, 0), (3, 99)),
        why: "a thread's failure: exc_type and exc_traceback are not compared (a Rust Err \
              has its type's Rust name and no traceback, a panic is `PanicException` with \
              its location); exc_value, err_msg and object are",
        matches: never,
        then: Then::NotGenerated,
        witness: None,
    },
    Known {
        clause: "X-STACK-1",
        versions: ((3, 0), (3, 99)),
        why: "CPython's no-argument stack_size() returns the setting and resets it to 0 \
              (3.11.7, 3.12.1, 3.13.0); \
              pythread's stack_size(None) only reads it. The driver puts the setting back \
              after its call, so the next operation compares",
        matches: never,
        then: Then::Compensated,
        witness: Some(x_stack_1_witness),
    },
    Known {
        clause: "INTR-2",
        versions: ((3, 0), (3, 99)),
        why: "signals 32 and 33, which glibc keeps for itself: CPython's handler table holds \
              None for them, so interrupt_main marks them and the check prints `OSError: \
              Signal 33 ignored due to race condition` to stderr; pythread's handler is the \
              default and nothing is marked. The outcome (None) is the same; the strategy \
              leaves them out to keep the output clean",
        matches: never,
        then: Then::NotGenerated,
        witness: None,
    },
];

/// The entry that explains `(op, cpython, ours)` on CPython `version`, if one does.
///
/// ```
/// use conformance::differences::explain;
/// use conformance::ops::{Op, Outcome};
/// let op = Op::LockAcquire { lock: 0, blocking: true, timeout: -2.0 };
/// let cpython = Outcome::error("ValueError", "timeout value must be positive");
/// let ours = Outcome::error("ValueError", "timeout value must be a non-negative number");
/// assert_eq!(explain((3, 11, 7), &op, &cpython, &ours).unwrap().clause, "LOCK-5");
/// assert!(explain((3, 13, 0), &op, &cpython, &ours).is_none());
/// ```
pub fn explain(
    version: (u32, u32, u32),
    op: &Op,
    cpython: &Outcome,
    ours: &Outcome,
) -> Option<&'static Known> {
    KNOWN
        .iter()
        .find(|known| known.applies_to(version) && (known.matches)(op, cpython, ours))
}

/// The entries that apply to CPython `version`: that interpreter's list of known differences.
///
/// ```
/// use conformance::differences::for_version;
/// let clauses = |v| for_version(v).iter().map(|k| k.clause).collect::<Vec<_>>();
/// assert!(clauses((3, 12, 1)).contains(&"LOCK-5"));
/// assert!(!clauses((3, 13, 0)).contains(&"LOCK-5"));
/// ```
pub fn for_version(version: (u32, u32, u32)) -> Vec<&'static Known> {
    KNOWN
        .iter()
        .filter(|known| known.applies_to(version))
        .collect()
}

/// The compensations the driver applies for CPython `version`.
///
/// ```
/// assert_eq!(conformance::differences::compensations((3, 13, 0)), vec!["X-STACK-1"]);
/// ```
pub fn compensations(version: (u32, u32, u32)) -> Vec<&'static str> {
    KNOWN
        .iter()
        .filter(|known| known.then == Then::Compensated && known.applies_to(version))
        .map(|known| known.clause)
        .collect()
}
