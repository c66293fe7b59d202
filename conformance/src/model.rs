//! A sequential model of SPEC.md's Lock, RLock, stack size and interrupt clauses, written from
//! the spec alone (not from thread-lock's code), so that it can judge our crates in the
//! single-threaded proptest state machines and be judged itself against CPython.

use crate::ops::{LOCKS, Op, Outcome, Owner, Value};

/// `TIMEOUT_MAX` on Linux (CORE-4).
///
/// ```
/// assert_eq!(conformance::model::TIMEOUT_MAX, 9223372036.0);
/// ```
pub const TIMEOUT_MAX: f64 = 9_223_372_036.0;

/// What an accepted `(blocking, timeout)` asks for (LOCK-4..6).
///
/// ```
/// use conformance::model::{Wait, parse_timeout};
/// assert_eq!(parse_timeout(false, -0.9999999999), Ok(Wait::NonBlocking));
/// assert_eq!(parse_timeout(true, -0.9999999999), Ok(Wait::Forever));
/// assert_eq!(parse_timeout(true, 0.0015), Ok(Wait::Nanos(1_500_000)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// One try (`blocking` false).
    NonBlocking,
    /// Until the lock is free (the timeout rounded to exactly −1 s).
    Forever,
    /// At most this many nanoseconds (0: one try).
    Nanos(i64),
}

/// LOCK-4 and LOCK-5: CPython's checks of `acquire`'s arguments, in CPython's order, with its
/// types and messages (3.13's; the 3.11 wording is a listed difference).
///
/// ```
/// use conformance::model::parse_timeout;
/// let refused = parse_timeout(true, -1e-10).unwrap_err();
/// assert_eq!(refused.to_string(), "ValueError: timeout value must be a non-negative number");
/// ```
pub fn parse_timeout(blocking: bool, timeout: f64) -> Result<Wait, Outcome> {
    if timeout.is_nan() {
        return Err(Outcome::error(
            "ValueError",
            "Invalid value NaN (not a number)",
        ));
    }
    // Seconds to nanoseconds in f64, rounded away from zero (CPython's _PyTime_ROUND_TIMEOUT).
    let scaled = timeout * 1e9;
    let rounded = if scaled >= 0.0 {
        scaled.ceil()
    } else {
        scaled.floor()
    };
    let limit = 9_223_372_036_854_775_808.0_f64; // 2^63
    if !(-limit <= rounded && rounded < limit) {
        return Err(Outcome::error(
            "OverflowError",
            "timestamp out of range for platform time_t",
        ));
    }
    // In range, so the conversion is exact.
    let nanos = rounded as i64;
    const FOREVER: i64 = -1_000_000_000;
    if !blocking && nanos != FOREVER {
        return Err(Outcome::error(
            "ValueError",
            "can't specify a timeout for a non-blocking call",
        ));
    }
    if nanos < 0 && nanos != FOREVER {
        return Err(Outcome::error(
            "ValueError",
            "timeout value must be a non-negative number",
        ));
    }
    if !blocking {
        return Ok(Wait::NonBlocking);
    }
    if nanos == FOREVER {
        return Ok(Wait::Forever);
    }
    // Microseconds rounded up against PY_TIMEOUT_MAX: unreachable on Linux (LOCK-5, N/A).
    let micros = nanos / 1000 + i64::from(nanos % 1000 != 0);
    if micros > i64::MAX / 1000 {
        return Err(Outcome::error(
            "OverflowError",
            "timeout value is too large",
        ));
    }
    Ok(Wait::Nanos(nanos))
}

/// Whether an acquire with these arguments could wait longer than 50 ms on a held lock: what
/// the generators must never ask of a lock that may be held. Deliberately cruder than
/// [`parse_timeout`], so that a mistake in the model cannot hang a run.
///
/// ```
/// use conformance::model::may_wait_long;
/// assert!(may_wait_long(true, -1.0));
/// assert!(may_wait_long(true, 1e6));
/// assert!(!may_wait_long(true, 0.01));
/// assert!(!may_wait_long(false, -1.0));
/// assert!(!may_wait_long(true, f64::NAN));
/// ```
pub fn may_wait_long(blocking: bool, timeout: f64) -> bool {
    if !blocking || timeout.is_nan() || timeout.is_infinite() || timeout.abs() >= 9.3e9 {
        return false;
    }
    if (0.0..=0.05).contains(&timeout) {
        return false;
    }
    // Positive ones longer than 50 ms wait; negative ones only when they are about −1 s (keep
    // a wide margin around the rounding edge).
    timeout > 0.0 || (-1.000_000_1..=-0.999_999_9).contains(&timeout)
}

/// An RLock's state in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RLockState {
    owner: Owner,
    count: usize,
}

/// The sequential model: two Locks, two RLocks, the stack size setting.
///
/// ```
/// use conformance::model::Model;
/// use conformance::ops::{Op, Outcome, Value};
/// let mut model = Model::new();
/// assert_eq!(model.apply(&Op::LockRelease { lock: 0 }).to_string(), "RuntimeError: release unlocked lock");
/// assert_eq!(
///     model.apply(&Op::LockAcquire { lock: 0, blocking: true, timeout: -1.0 }),
///     Outcome::Ok(Value::Bool(true))
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Model {
    locks: [bool; LOCKS],
    rlocks: [RLockState; LOCKS],
    stack_size: usize,
}

impl Default for Model {
    fn default() -> Self {
        Self::new()
    }
}

fn released_unlocked() -> Outcome {
    Outcome::error("RuntimeError", "release unlocked lock")
}

fn unowned() -> Outcome {
    Outcome::error("RuntimeError", "cannot release un-acquired lock")
}

impl Model {
    /// Fresh locks, the default stack size.
    ///
    /// ```
    /// let model = conformance::model::Model::new();
    /// assert!(!model.lock_held(0));
    /// ```
    pub fn new() -> Model {
        Model {
            locks: [false; LOCKS],
            rlocks: [RLockState {
                owner: Owner::Nobody,
                count: 0,
            }; LOCKS],
            stack_size: 0,
        }
    }

    /// Whether Lock `lock` is held.
    ///
    /// ```
    /// assert!(!conformance::model::Model::new().lock_held(1));
    /// ```
    pub fn lock_held(&self, lock: usize) -> bool {
        self.locks[lock]
    }

    /// RLock `lock`'s owner and count.
    ///
    /// ```
    /// use conformance::ops::Owner;
    /// assert_eq!(conformance::model::Model::new().rlock(0), (Owner::Nobody, 0));
    /// ```
    pub fn rlock(&self, lock: usize) -> (Owner, usize) {
        (self.rlocks[lock].owner, self.rlocks[lock].count)
    }

    /// Applies `op`, run by the sequence's thread, and returns what SPEC.md says it returns.
    ///
    /// ```
    /// use conformance::model::Model;
    /// use conformance::ops::Op;
    /// let mut model = Model::new();
    /// assert_eq!(model.apply(&Op::StackSize { size: 32767 }).to_string(), "ValueError: size not valid: 32767 bytes");
    /// ```
    pub fn apply(&mut self, op: &Op) -> Outcome {
        self.apply_as(Owner::Main, op)
    }

    fn apply_as(&mut self, me: Owner, op: &Op) -> Outcome {
        match *op {
            Op::LockAcquire {
                lock,
                blocking,
                timeout,
            } => match parse_timeout(blocking, timeout) {
                Err(refused) => refused,
                Ok(_) if !self.locks[lock] => {
                    self.locks[lock] = true;
                    Outcome::Ok(Value::Bool(true))
                }
                // Held: a try or a timed wait fails (nobody else releases it meanwhile).
                Ok(Wait::NonBlocking | Wait::Nanos(_)) => Outcome::Ok(Value::Bool(false)),
                Ok(Wait::Forever) => Outcome::error("Model", "would block forever"),
            },
            Op::LockRelease { lock } => {
                if self.locks[lock] {
                    self.locks[lock] = false;
                    Outcome::Ok(Value::None)
                } else {
                    released_unlocked()
                }
            }
            Op::LockLocked { lock } => Outcome::Ok(Value::Bool(self.locks[lock])),
            Op::LockRepr { lock } => {
                let state = if self.locks[lock] {
                    "locked"
                } else {
                    "unlocked"
                };
                Outcome::Ok(Value::Str(format!("<{state} _thread.lock object>")))
            }
            Op::RLockRepr { lock } => {
                let RLockState { owner, count } = self.rlocks[lock];
                let text = if count == 0 {
                    "<unlocked _thread.RLock object owner=0 count=0>".to_owned()
                } else {
                    let owner = match owner {
                        Owner::Main => "main",
                        Owner::Other => "other",
                        Owner::Nobody => "0",
                    };
                    format!("<locked _thread.RLock object owner={owner} count={count}>")
                };
                Outcome::Ok(Value::Str(text))
            }
            Op::RLockAcquire {
                lock,
                blocking,
                timeout,
            } => {
                let wait = match parse_timeout(blocking, timeout) {
                    Err(refused) => return refused,
                    Ok(wait) => wait,
                };
                let state = &mut self.rlocks[lock];
                if state.count == 0 {
                    *state = RLockState {
                        owner: me,
                        count: 1,
                    };
                    Outcome::Ok(Value::Bool(true))
                } else if state.owner == me {
                    state.count += 1;
                    Outcome::Ok(Value::Bool(true))
                } else if wait == Wait::Forever {
                    Outcome::error("Model", "would block forever")
                } else {
                    Outcome::Ok(Value::Bool(false))
                }
            }
            Op::RLockRelease { lock } => {
                let state = &mut self.rlocks[lock];
                if state.count == 0 || state.owner != me {
                    return unowned();
                }
                state.count -= 1;
                if state.count == 0 {
                    state.owner = Owner::Nobody;
                }
                Outcome::Ok(Value::None)
            }
            Op::RLockIsOwned { lock } => {
                let state = self.rlocks[lock];
                Outcome::Ok(Value::Bool(state.count > 0 && state.owner == me))
            }
            Op::RLockRecursionCount { lock } => {
                let state = self.rlocks[lock];
                let count = if state.owner == me { state.count } else { 0 };
                Outcome::Ok(Value::Int(count as i128))
            }
            Op::RLockReleaseSave { lock } => {
                let state = &mut self.rlocks[lock];
                // RLOCK-5 [3.14]: a non-owner is refused (3.11–3.13 let it through).
                if state.count == 0 || state.owner != me {
                    return unowned();
                }
                let saved = Value::Saved {
                    count: state.count,
                    owner: state.owner,
                };
                *state = RLockState {
                    owner: Owner::Nobody,
                    count: 0,
                };
                Outcome::Ok(saved)
            }
            Op::RLockAcquireRestore { lock, count } => {
                let state = &mut self.rlocks[lock];
                if state.count != 0 {
                    return Outcome::error("Model", "would block forever");
                }
                *state = RLockState { owner: me, count };
                Outcome::Ok(Value::None)
            }
            Op::StackSize { size } => {
                if size != 0 && size < 32768 {
                    return Outcome::error("ValueError", format!("size not valid: {size} bytes"));
                }
                let previous = std::mem::replace(&mut self.stack_size, size);
                Outcome::Ok(Value::Int(previous as i128))
            }
            Op::StackSizeQuery => Outcome::Ok(Value::Int(self.stack_size as i128)),
            Op::TimeoutMax => Outcome::Ok(Value::F64(TIMEOUT_MAX.to_bits())),
            Op::InterruptMain { signum } => {
                if !(1..65).contains(&signum) {
                    Outcome::error("ValueError", "signal number out of range")
                } else if signum == libc::SIGINT {
                    // The default SIGINT handler fails with an empty KeyboardInterrupt; every
                    // other signal's handler is the default, which marks nothing (INTR-2).
                    Outcome::Ok(Value::Fired {
                        python_type: "KeyboardInterrupt".to_owned(),
                        message: String::new(),
                    })
                } else {
                    Outcome::Ok(Value::None)
                }
            }
            Op::ThreadFails { .. } => Outcome::Ok(Value::Str(crate::ops::unraisable_text(Some((
                "task failed",
                Some("Exception ignored in thread started by"),
                Some("<function task>"),
            ))))),
            Op::ThreadExits => Outcome::Ok(Value::Str(crate::ops::unraisable_text(None))),
            // Whether the OS accepts a stack size is the OS's business, not the spec's.
            Op::StartThread => Outcome::error("Model", "not modelled: the OS decides"),
            Op::OtherThread(ref inner) => self.apply_as(Owner::Other, inner),
            // Threads that run for a while: compared with CPython 3.13, not modelled.
            Op::HandleStart { .. }
            | Op::HandleRelease { .. }
            | Op::HandleJoin { .. }
            | Op::HandleIsDone { .. }
            | Op::HandleIdent { .. }
            | Op::HandleSetDone { .. }
            | Op::HandleForThread { .. } => {
                Outcome::error("Model", "not modelled: handles are compared with CPython")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Wait, parse_timeout};

    #[test]
    fn rounding_edges_follow_lock_6() {
        assert_eq!(parse_timeout(true, -1.0), Ok(Wait::Forever));
        assert_eq!(parse_timeout(false, -1.0), Ok(Wait::NonBlocking));
        assert!(parse_timeout(true, -1.0000000001).is_err());
        assert!(parse_timeout(true, -1e-10).is_err());
        assert_eq!(parse_timeout(true, -0.0), Ok(Wait::Nanos(0)));
        assert!(parse_timeout(false, -0.0).is_err());
        assert!(parse_timeout(true, 9223372036.854776).is_err());
        assert!(parse_timeout(true, 9223372036.854775).is_ok());
        assert!(parse_timeout(true, f64::INFINITY).is_err());
    }
}
