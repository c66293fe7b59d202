//! CPython's timeout argument: [`parse_timeout`] (LOCK-4..6), [`Timeout`], [`TIMEOUT_MAX`].
//!
//! The conversion follows `_PyTime_FromSecondsObject(..., _PyTime_ROUND_TIMEOUT)` and
//! `lock_acquire_parse_args` in CPython's `Modules/_threadmodule.c`: seconds times 1e9 in `f64`,
//! rounded away from zero, range-checked against `i64` as `f64`, then the checks of LOCK-5 in
//! CPython's order, on the integer nanoseconds.

use crate::error::LockError;
use std::time::Duration;

/// The largest timeout `acquire` documents, in seconds: `PY_TIMEOUT_MAX` (`i64::MAX / 1000`
/// microseconds) in whole seconds, as CPython computes it on Linux (CORE-4).
///
/// ```
/// assert_eq!(thread_lock::TIMEOUT_MAX, 9223372036.0);
/// ```
pub const TIMEOUT_MAX: f64 = 9_223_372_036.0;

/// `PY_TIMEOUT_MAX`, in microseconds.
const PY_TIMEOUT_MAX_US: i64 = i64::MAX / 1000;

/// CPython's "no timeout" (−1 second), in nanoseconds.
const UNSET_NS: i64 = -1_000_000_000;

/// 2^63 as `f64`: the exclusive upper and (negated) inclusive lower bound of valid nanoseconds.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// How long an acquire may wait, once its arguments passed CPython's checks.
///
/// ```
/// use std::time::Duration;
/// use thread_lock::{Timeout, parse_timeout};
///
/// assert_eq!(parse_timeout(true, -1.0), Ok(Timeout::Forever));
/// assert_eq!(parse_timeout(false, -1.0), Ok(Timeout::NonBlocking));
/// assert_eq!(parse_timeout(true, 0.5), Ok(Timeout::Within(Duration::from_millis(500))));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timeout {
    /// One attempt, at once (`blocking=False`).
    NonBlocking,
    /// Wait as long as it takes (`timeout=-1`).
    Forever,
    /// Wait at most this long, a whole number of microseconds (zero: one attempt, at once).
    Within(Duration),
}

/// Checks and converts `acquire`'s `(blocking, timeout)` exactly as CPython does (LOCK-4..6),
/// without touching any lock: what a binding calls before it acquires.
///
/// Errors, in CPython's order: NaN, then out of range (LOCK-4), then a timeout given to a
/// non-blocking call, a negative timeout other than −1, a timeout above `PY_TIMEOUT_MAX` (LOCK-5).
/// A timeout that rounds to exactly −1 s (such as `-0.9999999999`) means "forever" (LOCK-6).
///
/// ```
/// use thread_lock::{Timeout, parse_timeout};
///
/// assert_eq!(parse_timeout(true, -0.9999999999), Ok(Timeout::Forever));
/// let err = parse_timeout(false, 0.0).unwrap_err();
/// assert_eq!(err.to_string(), "can't specify a timeout for a non-blocking call");
/// assert_eq!(parse_timeout(true, -2.0).unwrap_err().python_type(), "ValueError");
/// assert_eq!(parse_timeout(true, f64::INFINITY).unwrap_err().python_type(), "OverflowError");
/// ```
#[inline]
pub fn parse_timeout(blocking: bool, timeout: f64) -> Result<Timeout, LockError> {
    if timeout.is_nan() {
        return Err(LockError::TimeoutNaN);
    }
    // The default argument, exactly −1 s: skip the arithmetic below (the common case).
    if timeout == -1.0 {
        return Ok(if blocking {
            Timeout::Forever
        } else {
            Timeout::NonBlocking
        });
    }
    let d = timeout * 1e9;
    // Checked before rounding: every f64 of magnitude 2^52 or more is an integer already, so
    // rounding cannot carry a value across either bound.
    if !(-TWO_POW_63..TWO_POW_63).contains(&d) {
        return Err(LockError::TimestampOutOfRange);
    }
    // _PyTime_ROUND_TIMEOUT rounds away from zero. `as` truncates toward zero (exactly: d is in
    // range); a fractional part (only possible below 2^52, where the round trip is exact) moves
    // it one step away. No `ceil`/`floor`: without SSE4.1 they are libm calls.
    // SAFETY: `d` is finite (NaN was refused, and ±inf fail the range check) and within
    // [-2^63, 2^63), so its truncation is a valid i64.
    let mut ns: i64 = unsafe { d.to_int_unchecked() };
    if ns as f64 != d {
        ns += if d > 0.0 { 1 } else { -1 };
    }
    if !blocking && ns != UNSET_NS {
        return Err(LockError::NonBlockingWithTimeout);
    }
    if ns < 0 && ns != UNSET_NS {
        return Err(LockError::NegativeTimeout);
    }
    if !blocking {
        return Ok(Timeout::NonBlocking);
    }
    if ns == UNSET_NS {
        return Ok(Timeout::Forever);
    }
    // ns >= 0 here. Rounded up to microseconds it exceeds PY_TIMEOUT_MAX exactly when ns exceeds
    // PY_TIMEOUT_MAX * 1000 (which fits an i64): no division before that check.
    if ns > PY_TIMEOUT_MAX_US * 1000 {
        return Err(LockError::TimeoutTooLarge);
    }
    // Microseconds, rounded up, as CPython's lock waits count them.
    Ok(Timeout::Within(Duration::from_micros(
        (ns as u64).div_ceil(1000),
    )))
}

/// Whether `(blocking, timeout)` certainly passes every check of [`parse_timeout`]: exactly −1
/// (either `blocking`), or a blocking timeout from 0 to [`TIMEOUT_MAX`]. Three float comparisons,
/// so that `acquire` can try its compare-and-swap before it converts anything; other arguments,
/// valid or not, go through [`parse_timeout`].
///
/// Why the range cannot fail a check: a timeout of at most `TIMEOUT_MAX` seconds is at most
/// 9 223 372 036 × 10⁹ ns (plus the product's rounding, under 2¹¹ ns), below both 2⁶³ (LOCK-4)
/// and `PY_TIMEOUT_MAX` × 1000 = 9 223 372 036 854 775 000 ns (LOCK-5); it is not negative (−0
/// is 0 ns), and `blocking` is true. NaN fails every comparison.
#[inline(always)]
pub(crate) fn surely_valid(blocking: bool, timeout: f64) -> bool {
    timeout == -1.0 || (blocking && (0.0..=TIMEOUT_MAX).contains(&timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(blocking: bool, timeout: f64) -> (String, String) {
        let e = parse_timeout(blocking, timeout).unwrap_err();
        (e.python_type().to_owned(), e.to_string())
    }

    /// proves: LOCK-4
    #[test]
    fn nan_and_out_of_range_come_first() {
        for blocking in [true, false] {
            assert_eq!(
                err(blocking, f64::NAN),
                (
                    "ValueError".into(),
                    "Invalid value NaN (not a number)".into()
                )
            );
            for t in [
                f64::INFINITY,
                f64::NEG_INFINITY,
                -1e100,
                9223372036.854776,
                1e19,
            ] {
                assert_eq!(
                    err(blocking, t),
                    (
                        "OverflowError".into(),
                        "timestamp out of range for platform time_t".into()
                    ),
                    "{t}"
                );
            }
        }
        // Just below 2^63 ns is accepted.
        assert!(matches!(
            parse_timeout(true, 9223372036.854775),
            Ok(Timeout::Within(_))
        ));
        assert!(matches!(
            parse_timeout(true, TIMEOUT_MAX),
            Ok(Timeout::Within(_))
        ));
        // -2^63 ns exactly is in range, and then negative.
        assert_eq!(
            err(true, -9223372036.854776).1,
            "timeout value must be a non-negative number"
        );
    }

    /// proves: LOCK-5, LOCK-6
    #[test]
    fn checks_in_cpython_order() {
        let nb = "can't specify a timeout for a non-blocking call";
        let neg = "timeout value must be a non-negative number";
        assert_eq!(err(false, 0.0).1, nb);
        assert_eq!(err(false, 1.0).1, nb);
        assert_eq!(err(false, -2.0).1, nb);
        assert_eq!(parse_timeout(false, -1.0), Ok(Timeout::NonBlocking));
        assert_eq!(
            parse_timeout(false, -0.9999999999),
            Ok(Timeout::NonBlocking)
        );
        assert_eq!(err(true, -1e-10).1, neg);
        assert_eq!(err(true, -1.0000000001).1, neg);
        assert_eq!(err(true, -2.0).1, neg);
        assert_eq!(err(true, -2.0).0, "ValueError");
        assert_eq!(parse_timeout(true, -0.9999999999), Ok(Timeout::Forever));
        assert_eq!(parse_timeout(true, -1.0), Ok(Timeout::Forever));
        assert_eq!(
            parse_timeout(true, 0.0),
            Ok(Timeout::Within(Duration::ZERO))
        );
        // -0.0 rounds to 0 ns: not negative.
        assert_eq!(
            parse_timeout(true, -0.0),
            Ok(Timeout::Within(Duration::ZERO))
        );
        // Rounded up to whole microseconds (LOCK-7).
        assert_eq!(
            parse_timeout(true, 1e-9),
            Ok(Timeout::Within(Duration::from_micros(1)))
        );
        assert_eq!(
            parse_timeout(true, 0.0000015),
            Ok(Timeout::Within(Duration::from_micros(2)))
        );
        // The PY_TIMEOUT_MAX branch cannot be reached on Linux: the largest accepted timeout is
        // below it.
        let Ok(Timeout::Within(max)) = parse_timeout(true, 9223372036.854775) else {
            panic!()
        };
        assert!(max.as_micros() <= PY_TIMEOUT_MAX_US as u128);
    }

    /// The conversion written the plain way (f64 `ceil`/`floor`, as CPython's `_PyTime_Round`).
    fn reference(blocking: bool, timeout: f64) -> Result<Timeout, LockError> {
        if timeout.is_nan() {
            return Err(LockError::TimeoutNaN);
        }
        let d = timeout * 1e9;
        let d = if d >= 0.0 { d.ceil() } else { d.floor() };
        if !(-TWO_POW_63..TWO_POW_63).contains(&d) {
            return Err(LockError::TimestampOutOfRange);
        }
        let ns = d as i64;
        if !blocking && ns != UNSET_NS {
            return Err(LockError::NonBlockingWithTimeout);
        }
        if ns < 0 && ns != UNSET_NS {
            return Err(LockError::NegativeTimeout);
        }
        if !blocking {
            return Ok(Timeout::NonBlocking);
        }
        if ns == UNSET_NS {
            return Ok(Timeout::Forever);
        }
        let us = ns / 1000 + i64::from(ns % 1000 != 0);
        if us > PY_TIMEOUT_MAX_US {
            return Err(LockError::TimeoutTooLarge);
        }
        Ok(Timeout::Within(Duration::from_micros(us as u64)))
    }

    proptest::proptest! {
        /// Any f64 (every bit pattern, and values near the boundaries) converts as the plain
        /// rounding does.
        /// proves: LOCK-4, LOCK-5, LOCK-6, R-1
        #[test]
        fn conversion_matches_cpythons_rounding(
            bits in proptest::num::u64::ANY,
            near in -2.0f64..2.0,
            blocking in proptest::bool::ANY,
        ) {
            let t = f64::from_bits(bits);
            proptest::prop_assert_eq!(parse_timeout(blocking, t), reference(blocking, t));
            proptest::prop_assert!(!surely_valid(blocking, t) || reference(blocking, t).is_ok());
            for base in [-1.0, 0.0, TIMEOUT_MAX, 9223372036.854775, -9223372036.854775] {
                let t = base + near * 1e-9;
                proptest::prop_assert_eq!(parse_timeout(blocking, t), reference(blocking, t));
                proptest::prop_assert!(!surely_valid(blocking, t) || reference(blocking, t).is_ok());
            }
        }
    }

    /// The arguments `acquire` lets through before any conversion are exactly the ones meant:
    /// the edges of the range, and what lies just outside it.
    /// proves: LOCK-4, LOCK-5
    #[test]
    fn surely_valid_covers_the_edges() {
        for (blocking, t, expected) in [
            (true, -1.0, true),
            (false, -1.0, true),
            (true, 0.0, true),
            (true, -0.0, true),
            (true, f64::MIN_POSITIVE / 4.0, true),
            (true, TIMEOUT_MAX, true),
            (false, 0.0, false),
            (true, -1e-300, false),
            (true, f64::NAN, false),
            (true, -f64::NAN, false),
            (true, f64::INFINITY, false),
            (true, TIMEOUT_MAX * (1.0 + f64::EPSILON), false),
        ] {
            assert_eq!(surely_valid(blocking, t), expected, "{blocking} {t}");
            if expected {
                assert!(parse_timeout(blocking, t).is_ok(), "{blocking} {t}");
            }
        }
    }

    /// proves: CORE-4
    #[test]
    fn timeout_max_is_cpythons() {
        assert_eq!(TIMEOUT_MAX, 9223372036.0);
        assert_eq!(TIMEOUT_MAX, ((i64::MAX / 1000) as f64 * 1e-6).floor());
    }
}
