//! The operation vocabulary shared by the differential runs, the sequential model and the
//! proptest state machines: what to do ([`Op`]) and what came of it ([`Outcome`]).
//!
//! One vocabulary for three runners (our crates, CPython's `_thread` through
//! `python/driver.py`, and [`crate::model`]) is what lets every runner's results be compared
//! value for value, exception type for exception type, message for message.

// `Json`, because `Value` here is what an operation returned.
use serde_json::{Value as Json, json};

/// Which lock of a sequence an operation uses: every sequence has [`LOCKS`] `Lock`s and as
/// many `RLock`s, fresh.
pub type LockIndex = usize;

/// How many locks of each kind a sequence has.
///
/// ```
/// assert_eq!(conformance::ops::LOCKS, 2);
/// ```
pub const LOCKS: usize = 2;

/// One operation of a single-threaded sequence.
///
/// ```
/// use conformance::ops::Op;
/// let op = Op::LockAcquire { lock: 0, blocking: false, timeout: -0.9999999999 };
/// assert_eq!(op.name(), "lock_acquire");
/// assert!(op.to_json().to_string().contains("bfeffffffff24190"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `Lock.acquire(blocking, timeout)` / `Lock::acquire`.
    LockAcquire {
        /// Which lock.
        lock: LockIndex,
        /// `blocking`.
        blocking: bool,
        /// `timeout`, seconds.
        timeout: f64,
    },
    /// `Lock.release()`.
    LockRelease {
        /// Which lock.
        lock: LockIndex,
    },
    /// `Lock.locked()`.
    LockLocked {
        /// Which lock.
        lock: LockIndex,
    },
    /// `RLock.acquire(blocking, timeout)`.
    RLockAcquire {
        /// Which lock.
        lock: LockIndex,
        /// `blocking`.
        blocking: bool,
        /// `timeout`, seconds.
        timeout: f64,
    },
    /// `repr(lock)` / `format!("{lock:?}")`, without CPython's ` at 0x…` address.
    LockRepr {
        /// Which lock.
        lock: LockIndex,
    },
    /// `RLock.release()`.
    RLockRelease {
        /// Which lock.
        lock: LockIndex,
    },
    /// `RLock._is_owned()` / `RLock::is_owned`.
    RLockIsOwned {
        /// Which lock.
        lock: LockIndex,
    },
    /// `RLock._recursion_count()` / `RLock::recursion_count`.
    RLockRecursionCount {
        /// Which lock.
        lock: LockIndex,
    },
    /// `repr(rlock)` / `format!("{rlock:?}")`, without the address, the owner's ident written
    /// as `main` or `other` (see [`normalize_repr`]).
    RLockRepr {
        /// Which lock.
        lock: LockIndex,
    },
    /// `RLock._release_save()` / `RLock::release_save`.
    RLockReleaseSave {
        /// Which lock.
        lock: LockIndex,
    },
    /// `RLock._acquire_restore((count, get_ident()))`; generated only on a free RLock (it
    /// blocks).
    RLockAcquireRestore {
        /// Which lock.
        lock: LockIndex,
        /// The count to restore.
        count: usize,
    },
    /// `stack_size(size)` / `stack_size(Some(size))`.
    StackSize {
        /// The new setting.
        size: usize,
    },
    /// `stack_size()` / `stack_size(None)` (X-STACK-1: CPython's call also resets).
    StackSizeQuery,
    /// `TIMEOUT_MAX`.
    TimeoutMax,
    /// `interrupt_main(signum)` followed by the main thread's next check.
    InterruptMain {
        /// The signal number.
        signum: i32,
    },
    /// Starts a thread that does nothing (with the current stack size setting) and waits until
    /// it has ended: `None`, or the spawn's error (SPAWN-4: a size the OS refuses).
    StartThread,
    /// Starts a thread (described as `task`) whose function fails with the message
    /// `task failed` — Python: `raise ValueError`; Rust: `Err` or a panic — waits until it has
    /// ended and reports what the unraisable hook was given: `exc_value`, `err_msg`, `object`
    /// (the types and tracebacks are Rust's own and are not compared).
    ThreadFails {
        /// Rust only: fail by panicking instead of returning `Err`.
        panic: bool,
    },
    /// Starts a thread whose function ends in `SystemExit` (`exit()`), waits until it has
    /// ended, and reports whether the unraisable hook was called.
    ThreadExits,
    /// The inner operation, run on a short-lived helper thread and joined (never a blocking
    /// one, never an RLock acquire).
    OtherThread(Box<Op>),
    /// [3.13] `start_joinable_thread(body)` / `thread_core::start_joinable_thread`: the
    /// sequence's next handle (handles are numbered in the order they are made). A gated
    /// thread waits for the sequence's commands ([`Op::HandleRelease`], a join it performs)
    /// and ends a short while after its release; an ungated one runs a short while and ends.
    /// The runner waits until the thread has begun (and read its own ident). `None`.
    HandleStart {
        /// Whether the thread waits for [`Op::HandleRelease`].
        gated: bool,
    },
    /// Tells a gated thread to end (it ends a short while later). `None`.
    HandleRelease {
        /// Which handle's thread.
        handle: HandleIndex,
    },
    /// `handle.join(timeout)`, by the sequence's thread or by the gated thread of another
    /// handle; the outcome is the join's error, or whether `is_done()` right after the join
    /// says the thread had ended: `"done"` or `"running"`.
    HandleJoin {
        /// Which handle.
        handle: HandleIndex,
        /// Python's argument: `None` or negative waits forever (the Rust runner passes
        /// `None` for both), else seconds.
        timeout: Option<f64>,
        /// Whose thread joins: the sequence's (`None`) or the gated thread of that handle.
        by: Option<HandleIndex>,
    },
    /// `handle.is_done()`.
    HandleIsDone {
        /// Which handle.
        handle: HandleIndex,
    },
    /// Whether `handle.ident` is the ident of the thread it stands for, as that thread's own
    /// `get_ident()` reads it (idents differ between processes; the relation does not).
    HandleIdent {
        /// Which handle.
        handle: HandleIndex,
    },
    /// `handle._set_done()` / `ThreadHandle::set_done` (HANDLE-1). `None`.
    HandleSetDone {
        /// Which handle.
        handle: HandleIndex,
    },
    /// `_make_thread_handle(ident)` / `ThreadHandle::for_thread(ident)`: the sequence's next
    /// handle, on the sequence's own thread (`None`) or on the (gated) thread of a handle.
    /// `None`.
    HandleForThread {
        /// Whose ident: the sequence's thread, or that handle's thread.
        of: Option<HandleIndex>,
    },
}

/// Which handle of a sequence an operation uses: handles are numbered in the order
/// [`Op::HandleStart`] and [`Op::HandleForThread`] make them.
pub type HandleIndex = usize;

/// Writes a float as the driver reads it: the hexadecimal bits of the double.
fn f64_bits(value: f64) -> String {
    format!("{:016x}", value.to_bits())
}

impl Op {
    /// The operation's name in the driver's protocol.
    ///
    /// ```
    /// assert_eq!(conformance::ops::Op::TimeoutMax.name(), "timeout_max");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Op::LockAcquire { .. } => "lock_acquire",
            Op::LockRelease { .. } => "lock_release",
            Op::LockLocked { .. } => "lock_locked",
            Op::LockRepr { .. } => "lock_repr",
            Op::RLockAcquire { .. } => "rlock_acquire",
            Op::RLockRelease { .. } => "rlock_release",
            Op::RLockIsOwned { .. } => "rlock_is_owned",
            Op::RLockRecursionCount { .. } => "rlock_recursion_count",
            Op::RLockReleaseSave { .. } => "rlock_release_save",
            Op::RLockRepr { .. } => "rlock_repr",
            Op::RLockAcquireRestore { .. } => "rlock_acquire_restore",
            Op::StackSize { .. } => "stack_size",
            Op::StackSizeQuery => "stack_size_query",
            Op::TimeoutMax => "timeout_max",
            Op::InterruptMain { .. } => "interrupt_main",
            Op::ThreadFails { .. } => "thread_fails",
            Op::ThreadExits => "thread_exits",
            Op::StartThread => "start_thread",
            Op::OtherThread(_) => "other_thread",
            Op::HandleStart { .. } => "handle_start",
            Op::HandleRelease { .. } => "handle_release",
            Op::HandleJoin { .. } => "handle_join",
            Op::HandleIsDone { .. } => "handle_is_done",
            Op::HandleIdent { .. } => "handle_ident",
            Op::HandleSetDone { .. } => "handle_set_done",
            Op::HandleForThread { .. } => "handle_for_thread",
        }
    }

    /// The operation as the driver reads it (floats as the hexadecimal bits of the double).
    ///
    /// ```
    /// use conformance::ops::Op;
    /// let json = Op::StackSize { size: 32768 }.to_json().to_string();
    /// assert_eq!(json, r#"{"op":"stack_size","size":32768}"#);
    /// ```
    pub fn to_json(&self) -> Json {
        let op = self.name();
        match self {
            Op::LockAcquire {
                lock,
                blocking,
                timeout,
            }
            | Op::RLockAcquire {
                lock,
                blocking,
                timeout,
            } => json!({
                "op": op,
                "lock": lock,
                "blocking": blocking,
                // The bits, not a JSON number: NaN, the infinities, -0.0 and every rounding
                // edge must reach the driver exactly.
                "timeout": f64_bits(*timeout),
            }),
            Op::LockRelease { lock }
            | Op::LockLocked { lock }
            | Op::RLockRelease { lock }
            | Op::RLockIsOwned { lock }
            | Op::RLockRecursionCount { lock }
            | Op::RLockReleaseSave { lock }
            | Op::LockRepr { lock }
            | Op::RLockRepr { lock } => json!({ "op": op, "lock": lock }),
            Op::RLockAcquireRestore { lock, count } => {
                json!({ "op": op, "lock": lock, "count": count })
            }
            Op::StackSize { size } => json!({ "op": op, "size": size }),
            Op::StackSizeQuery | Op::TimeoutMax | Op::ThreadExits | Op::StartThread => {
                json!({ "op": op })
            }
            Op::ThreadFails { panic } => json!({ "op": op, "panic": panic }),
            Op::InterruptMain { signum } => json!({ "op": op, "signum": signum }),
            Op::OtherThread(inner) => json!({ "op": op, "inner": inner.to_json() }),
            Op::HandleStart { gated } => json!({ "op": op, "gated": gated }),
            Op::HandleRelease { handle }
            | Op::HandleIsDone { handle }
            | Op::HandleIdent { handle }
            | Op::HandleSetDone { handle } => json!({ "op": op, "handle": handle }),
            Op::HandleJoin {
                handle,
                timeout,
                by,
            } => json!({
                "op": op,
                "handle": handle,
                "timeout": timeout.map(f64_bits),
                "by": by,
            }),
            Op::HandleForThread { of } => json!({ "op": op, "of": of }),
        }
    }

    /// Whether a helper thread may run this operation ([`Op::OtherThread`]): nothing that
    /// blocks, and no RLock acquire (a helper that ends owning an RLock would block the
    /// sequence's next acquire forever).
    ///
    /// ```
    /// use conformance::ops::Op;
    /// assert!(Op::LockRelease { lock: 0 }.fits_other_thread());
    /// assert!(!Op::RLockAcquire { lock: 0, blocking: false, timeout: -1.0 }.fits_other_thread());
    /// ```
    pub fn fits_other_thread(&self) -> bool {
        match self {
            Op::LockAcquire { blocking, .. } => !blocking,
            Op::LockRelease { .. }
            | Op::LockLocked { .. }
            | Op::RLockRelease { .. }
            | Op::RLockIsOwned { .. }
            | Op::RLockRecursionCount { .. }
            | Op::RLockReleaseSave { .. }
            | Op::LockRepr { .. }
            | Op::RLockRepr { .. } => true,
            _ => false,
        }
    }
}

/// Who owns an RLock, relative to the thread that runs the sequence.
///
/// ```
/// use conformance::ops::Owner;
/// assert_eq!(Owner::from_label("main"), Some(Owner::Main));
/// assert_eq!(Owner::Main.label(), "main");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The thread running the sequence.
    Main,
    /// Another thread (a helper of [`Op::OtherThread`]).
    Other,
    /// Nobody (ident 0).
    Nobody,
}

impl Owner {
    /// The driver's label: `main`, `other` or `none`.
    ///
    /// ```
    /// assert_eq!(conformance::ops::Owner::Nobody.label(), "none");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            Owner::Main => "main",
            Owner::Other => "other",
            Owner::Nobody => "none",
        }
    }

    /// The owner a label names.
    ///
    /// ```
    /// assert_eq!(conformance::ops::Owner::from_label("x"), None);
    /// ```
    pub fn from_label(label: &str) -> Option<Owner> {
        match label {
            "main" => Some(Owner::Main),
            "other" => Some(Owner::Other),
            "none" => Some(Owner::Nobody),
            _ => None,
        }
    }
}

/// What a successful operation returned.
///
/// ```
/// use conformance::ops::Value;
/// assert_eq!(Value::Bool(true).to_string(), "True");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `None` (release, acquire_restore, an interrupt that ran nothing).
    None,
    /// A bool.
    Bool(bool),
    /// An integer (counts, stack sizes).
    Int(i128),
    /// `release_save`'s `(count, owner)`.
    Saved {
        /// The count.
        count: usize,
        /// The owner it had.
        owner: Owner,
    },
    /// What the check after `interrupt_main` raised.
    Fired {
        /// The exception's type.
        python_type: String,
        /// Its message.
        message: String,
    },
    /// A float, as its bits (compared exactly).
    F64(u64),
    /// A text (a normalised `repr`).
    Str(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(value) => write!(f, "{value}"),
            Value::Saved { count, owner } => write!(f, "({count}, {})", owner.label()),
            Value::Fired {
                python_type,
                message,
            } => write!(f, "then the check raised {python_type}: {message:?}"),
            Value::F64(bits) => write!(f, "{:?}", f64::from_bits(*bits)),
            Value::Str(text) => write!(f, "{text:?}"),
        }
    }
}

/// What came of an operation: a value, or an exception's type and message.
///
/// ```
/// use conformance::ops::Outcome;
/// let refused = Outcome::error("RuntimeError", "release unlocked lock");
/// assert_eq!(refused.to_string(), "RuntimeError: release unlocked lock");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It returned this.
    Ok(Value),
    /// It raised (Python) or returned an error whose `python_type()` and `Display` are these.
    Err {
        /// The exception's type.
        python_type: String,
        /// Its message.
        message: String,
    },
}

impl Outcome {
    /// An error outcome.
    ///
    /// ```
    /// use conformance::ops::Outcome;
    /// assert!(matches!(Outcome::error("ValueError", "x"), Outcome::Err { .. }));
    /// ```
    pub fn error(python_type: &str, message: impl Into<String>) -> Outcome {
        Outcome::Err {
            python_type: python_type.to_owned(),
            message: message.into(),
        }
    }

    /// Reads a driver result (`{"ok": VALUE}` or `{"err": [TYPE, MESSAGE]}`).
    ///
    /// ```
    /// use conformance::ops::{Outcome, Value};
    /// let result = serde_json::json!({"ok": {"saved": [2, "main"]}});
    /// assert_eq!(
    ///     Outcome::from_json(&result),
    ///     Ok(Outcome::Ok(Value::Saved { count: 2, owner: conformance::ops::Owner::Main }))
    /// );
    /// ```
    pub fn from_json(json: &Json) -> Result<Outcome, String> {
        let bad = || format!("unreadable result {json}");
        if let Some(err) = json.get("err") {
            return match err.as_array().map(Vec::as_slice) {
                Some([python_type, message]) => Ok(Outcome::error(
                    python_type.as_str().ok_or_else(bad)?,
                    message.as_str().ok_or_else(bad)?,
                )),
                _ => Err(bad()),
            };
        }
        let ok = json.get("ok").ok_or_else(bad)?;
        let value = match ok {
            Json::Null => Value::None,
            Json::Bool(value) => Value::Bool(*value),
            // Integers only: the protocol sends floats as their bits in a string.
            Json::Number(number) => Value::Int(
                number
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| number.as_u64().map(i128::from))
                    .ok_or_else(bad)?,
            ),
            Json::String(text) => Value::Str(text.clone()),
            Json::Object(_) => {
                if let Some([count, owner]) =
                    ok.get("saved").and_then(Json::as_array).map(Vec::as_slice)
                {
                    Value::Saved {
                        count: count
                            .as_u64()
                            .and_then(|c| usize::try_from(c).ok())
                            .ok_or_else(bad)?,
                        owner: owner.as_str().and_then(Owner::from_label).ok_or_else(bad)?,
                    }
                } else if let Some([python_type, message]) =
                    ok.get("fired").and_then(Json::as_array).map(Vec::as_slice)
                {
                    Value::Fired {
                        python_type: python_type.as_str().ok_or_else(bad)?.to_owned(),
                        message: message.as_str().ok_or_else(bad)?.to_owned(),
                    }
                } else if let Some(bits) = ok.get("f64").and_then(Json::as_str) {
                    Value::F64(u64::from_str_radix(bits, 16).map_err(|_| bad())?)
                } else {
                    return Err(bad());
                }
            }
            _ => return Err(bad()),
        };
        Ok(Outcome::Ok(value))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok(value) => write!(f, "{value}"),
            Outcome::Err {
                python_type,
                message,
            } => write!(f, "{python_type}: {message}"),
        }
    }
}

/// A lock's `repr` as the runners compare it: CPython's ` at 0x…` address dropped, and an
/// RLock's `owner={ident}` written `owner=main` when `ident` is `main` (the sequence's thread),
/// `owner=other` for any other non-zero ident (idents differ between processes).
///
/// ```
/// use conformance::ops::normalize_repr;
/// assert_eq!(
///     normalize_repr("<locked _thread.RLock object owner=77 count=2 at 0x7f00>", 77),
///     "<locked _thread.RLock object owner=main count=2>"
/// );
/// assert_eq!(normalize_repr("<unlocked _thread.lock object>", 77), "<unlocked _thread.lock object>");
/// ```
pub fn normalize_repr(repr: &str, main: u64) -> String {
    let mut text = match repr.rfind(" at 0x") {
        Some(at) if repr.ends_with('>') => format!("{}>", &repr[..at]),
        _ => repr.to_owned(),
    };
    if let Some(start) = text.find("owner=") {
        let digits_at = start + "owner=".len();
        let end = text[digits_at..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(text.len(), |n| digits_at + n);
        let label = match text[digits_at..end].parse::<u64>() {
            Ok(0) => "0",
            Ok(ident) if ident == main => "main",
            Ok(_) => "other",
            Err(_) => return text,
        };
        text.replace_range(digits_at..end, label);
    }
    text
}

/// The text the runners report for a thread's failure: what the unraisable hook was given
/// (`None` fields as `None`), or `no report`.
///
/// ```
/// use conformance::ops::unraisable_text;
/// assert_eq!(
///     unraisable_text(Some(("task failed", Some("Exception ignored in thread started by"), Some("<function task>")))),
///     "exc_value='task failed' err_msg='Exception ignored in thread started by' object='<function task>'"
/// );
/// assert_eq!(unraisable_text(None), "no report");
/// ```
pub fn unraisable_text(report: Option<(&str, Option<&str>, Option<&str>)>) -> String {
    let quoted = |text: Option<&str>| text.map_or("None".to_owned(), |t| format!("'{t}'"));
    match report {
        None => "no report".to_owned(),
        Some((value, err_msg, object)) => format!(
            "exc_value='{value}' err_msg={} object={}",
            quoted(err_msg),
            quoted(object)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{Json, Op, Outcome, Value};

    #[test]
    fn round_trips_the_protocol_shapes() {
        let text = r#"{"results":[{"ok":null},{"err":["ValueError","can't \"x\"\n"]},{"ok":{"saved":[1,"main"]}},{"ok":-9223372036854775808}],"seq":3}"#;
        let value: Json = serde_json::from_str(text).unwrap();
        assert_eq!(value.to_string(), text);
        assert_eq!(
            serde_json::from_str::<Json>(r#""\u00e9\ud83d\ude00""#)
                .unwrap()
                .as_str(),
            Some("é😀")
        );
    }

    #[test]
    fn floats_travel_as_bits_never_as_numbers() {
        let edges = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            f64::from_bits(1.0f64.to_bits() - 1),
            f64::from_bits(1.0f64.to_bits() + 1),
        ];
        for timeout in edges {
            let op = Op::LockAcquire {
                lock: 1,
                blocking: true,
                timeout,
            };
            let sent: Json = serde_json::from_str(&op.to_json().to_string()).unwrap();
            let bits = sent.get("timeout").and_then(Json::as_str).unwrap();
            assert_eq!(u64::from_str_radix(bits, 16), Ok(timeout.to_bits()));
            let back = serde_json::json!({ "ok": { "f64": bits } });
            assert_eq!(
                Outcome::from_json(&back),
                Ok(Outcome::Ok(Value::F64(timeout.to_bits())))
            );
        }
        assert!(Outcome::from_json(&serde_json::json!({ "ok": 1.5 })).is_err());
        assert_eq!(
            Outcome::from_json(&serde_json::json!({ "ok": u64::MAX })),
            Ok(Outcome::Ok(Value::Int(i128::from(u64::MAX))))
        );
    }
}
