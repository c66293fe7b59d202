//! The one table of known differences between pythread and the CPython it is compared
//! against, keyed by clause and interpreter version. A difference the table does not explain
//! fails the differential run.

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
        why: "a negative timeout other than -1: 3.11/3.12 say `timeout value must be positive`, \
              3.13 (the target) `timeout value must be a non-negative number`",
        matches: lock_5_wording,
        then: Then::Continue,
    },
    Known {
        clause: "RLOCK-5",
        versions: ((3, 11), (3, 13)),
        why: "release_save by a thread that does not own the RLock: 3.11-3.13 check only the \
              count and release another thread's hold; pythread refuses ([3.14]) with \
              `RuntimeError: cannot release un-acquired lock`",
        matches: rlock_5_non_owner,
        then: Then::StopSequence,
    },
    Known {
        clause: "HOOK-2",
        versions: ((3, 13), (3, 13)),
        why: "a thread's failure: 3.13.0 puts the function's repr into err_msg (`Exception \
              ignored in thread started by <function task>`) and leaves object None; its \
              documentation, 3.11/3.12 and pythread put the function into object",
        matches: hook_2_repr_in_err_msg,
        then: Then::Continue,
    },
    Known {
        clause: "HOOK-2",
        versions: ((3, 0), (3, 99)),
        why: "a thread's failure: exc_type and exc_traceback are not compared (a Rust Err \
              has its type's Rust name and no traceback, a panic is `PanicException` with \
              its location); exc_value, err_msg and object are",
        matches: never,
        then: Then::NotGenerated,
    },
    Known {
        clause: "X-STACK-1",
        versions: ((3, 0), (3, 99)),
        why: "CPython's no-argument stack_size() returns the setting and resets it to 0; \
              pythread's stack_size(None) only reads it. The driver puts the setting back \
              after its call, so the next operation compares",
        matches: never,
        then: Then::Compensated,
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
