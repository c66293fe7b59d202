//! proptest strategies for the operation vocabulary: timeouts from every class of LOCK-4..6,
//! stack sizes around 32768, signal numbers around 0 and 65, and single-threaded sequences made
//! safe to run ([`make_runnable`]: no wait longer than 50 ms, nothing that blocks forever).

use proptest::prelude::*;

use crate::model::may_wait_long;
use crate::ops::{LOCKS, Op};

/// Timeouts of every class: NaN, ±inf, huge, the largest accepted, `TIMEOUT_MAX`, −1 and the
/// values that round to it, the negative ones that do not, ±0, and short waits (≤ 50 ms,
/// mostly ≤ 2 ms).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let timeout = conformance::strategy::timeout().new_tree(&mut runner).unwrap().current();
/// let _ = timeout;
/// ```
pub fn timeout() -> impl Strategy<Value = f64> + Clone {
    let special = prop::sample::select(vec![
        f64::NAN,
        -f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e100,
        -1e100,
        1e300,
        9_223_372_036.854_776,
        9_223_372_036.854_775,
        -9_223_372_036.854_776,
        -9_223_372_036.854_775,
        9_223_372_036.0,
        1e9,
        -1.0,
        -0.999_999_999_9,
        -0.999_999_999_5,
        -0.999_999_999,
        -0.999_999_998_9,
        -1e-10,
        -1.000_000_000_1,
        -1.000_000_001,
        -1.000_000_000_000_000_2,
        -2.0,
        -0.0,
        0.0,
        5e-324,
        1e-10,
        0.001,
    ]);
    // The neighbours (one ulp away) of every edge: −1 s, the last value that rounds to it,
    // and both ends of the nanosecond range (±2^63 ns).
    let edges = [
        -1.0,
        -0.999_999_999,
        -1.000_000_001,
        9_223_372_036.854_775,
        9_223_372_036.854_776,
        -9_223_372_036.854_775,
        -9_223_372_036.854_776,
    ];
    let neighbours = prop::sample::select(
        edges
            .iter()
            .flat_map(|&edge: &f64| [edge.next_down(), edge, edge.next_up()])
            .collect::<Vec<f64>>(),
    );
    prop_oneof![
        4 => special,
        2 => neighbours,
        // Close to −1 s, on both sides of the rounding edge.
        2 => (-30i32..30).prop_map(|k| -1.0 + f64::from(k) * 1e-10),
        2 => -3.0f64..0.0,
        3 => 0.0f64..0.002,
        1 => 0.002f64..0.05,
        1 => any::<f64>(),
    ]
}

/// `(blocking, timeout)` for an acquire: mostly accepted ones (so that locks get held and
/// releases succeed), and every class of refused ones.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let (_blocking, _timeout) = conformance::strategy::acquire_args().new_tree(&mut runner).unwrap().current();
/// ```
pub fn acquire_args() -> impl Strategy<Value = (bool, f64)> + Clone {
    prop_oneof![
        3 => prop::sample::select(vec![
            -1.0,
            -0.999_999_999_9,
            -1.000_000_000_000_000_2,
            0.0,
            -0.0,
            0.001,
            9_223_372_036.0,
            1e9,
        ])
        .prop_map(|timeout| (true, timeout)),
        2 => prop::sample::select(vec![-1.0, -0.999_999_999_9, -0.999_999_999_5])
            .prop_map(|timeout| (false, timeout)),
        4 => (any::<bool>(), timeout()),
    ]
}

fn lock_index() -> impl Strategy<Value = usize> + Clone {
    0..LOCKS
}

/// Stack sizes: 0, around 32768, small, and huge.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let _size = conformance::strategy::stack_size().new_tree(&mut runner).unwrap().current();
/// ```
pub fn stack_size() -> impl Strategy<Value = usize> + Clone {
    prop_oneof![
        4 => prop::sample::select(vec![
            0usize,
            1,
            4096,
            16384,
            32767,
            32768,
            32769,
            65536,
            1 << 20,
            8 << 20,
            1 << 40,
            1 << 62,
            i64::MAX as usize,
        ]),
        2 => 32000usize..33600,
        1 => 0usize..100_000,
        1 => (1usize << 20)..(1 << 48),
    ]
}

/// Signal numbers around 0 and NSIG (65), and a few from anywhere; never 32 or 33 (see
/// [`crate::differences`]: glibc keeps them, CPython prints an error for them at its check).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let _signum = conformance::strategy::signum().new_tree(&mut runner).unwrap().current();
/// ```
pub fn signum() -> impl Strategy<Value = i32> + Clone {
    prop_oneof![
        4 => prop::sample::select(vec![-1, 0, 1, 2, 64, 65, 66]),
        1 => -5i32..80,
        1 => prop::sample::select(vec![i32::MIN, i32::MAX, 15, 10, 13, 34]),
    ]
    .prop_filter("glibc's reserved signals", |signum| {
        !matches!(signum, 32 | 33)
    })
}

fn lock_op() -> impl Strategy<Value = Op> + Clone {
    prop_oneof![
        6 => (lock_index(), acquire_args()).prop_map(|(lock, (blocking, timeout))| {
            Op::LockAcquire { lock, blocking, timeout }
        }),
        4 => lock_index().prop_map(|lock| Op::LockRelease { lock }),
        2 => lock_index().prop_map(|lock| Op::LockLocked { lock }),
        1 => lock_index().prop_map(|lock| Op::LockRepr { lock }),
    ]
}

fn rlock_op() -> impl Strategy<Value = Op> + Clone {
    prop_oneof![
        6 => (lock_index(), acquire_args()).prop_map(|(lock, (blocking, timeout))| {
            Op::RLockAcquire { lock, blocking, timeout }
        }),
        4 => lock_index().prop_map(|lock| Op::RLockRelease { lock }),
        1 => lock_index().prop_map(|lock| Op::RLockIsOwned { lock }),
        1 => lock_index().prop_map(|lock| Op::RLockRecursionCount { lock }),
        1 => lock_index().prop_map(|lock| Op::RLockRepr { lock }),
        2 => lock_index().prop_map(|lock| Op::RLockReleaseSave { lock }),
        1 => (lock_index(), 1usize..4).prop_map(|(lock, count)| Op::RLockAcquireRestore { lock, count }),
    ]
}

fn other_thread_op() -> impl Strategy<Value = Op> + Clone {
    prop_oneof![
        (lock_index(), timeout()).prop_map(|(lock, timeout)| Op::LockAcquire {
            lock,
            blocking: false,
            timeout
        }),
        lock_index().prop_map(|lock| Op::LockRelease { lock }),
        lock_index().prop_map(|lock| Op::LockLocked { lock }),
        lock_index().prop_map(|lock| Op::RLockRelease { lock }),
        lock_index().prop_map(|lock| Op::RLockIsOwned { lock }),
        lock_index().prop_map(|lock| Op::RLockRecursionCount { lock }),
        lock_index().prop_map(|lock| Op::RLockReleaseSave { lock }),
        lock_index().prop_map(|lock| Op::RLockRepr { lock }),
    ]
    .prop_map(|op| Op::OtherThread(Box::new(op)))
}

/// One operation of a lock/stack-size sequence (no interrupts: those run in their own batch).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let op = conformance::strategy::op().new_tree(&mut runner).unwrap().current();
/// assert!(!matches!(op, conformance::ops::Op::InterruptMain { .. }));
/// ```
pub fn op() -> impl Strategy<Value = Op> + Clone {
    prop_oneof![
        10 => lock_op(),
        10 => rlock_op(),
        2 => stack_size().prop_map(|size| Op::StackSize { size }),
        1 => Just(Op::StackSizeQuery),
        1 => Just(Op::TimeoutMax),
        2 => other_thread_op(),
    ]
}

/// A lock/stack-size sequence of 1 to `max_len` operations, made runnable.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let ops = conformance::strategy::sequence(20).new_tree(&mut runner).unwrap().current();
/// assert!(!ops.is_empty());
/// ```
pub fn sequence(max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..=max_len).prop_map(make_runnable)
}

/// A sequence of `interrupt_main` calls (each followed, in every runner, by the check that
/// consumes what it marked).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let ops = conformance::strategy::interrupt_sequence().new_tree(&mut runner).unwrap().current();
/// assert!(ops.iter().all(|op| matches!(op, conformance::ops::Op::InterruptMain { .. })));
/// ```
pub fn interrupt_sequence() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        signum().prop_map(|signum| Op::InterruptMain { signum }),
        1..=8,
    )
}

/// A sequence of stack size settings and thread starts (SPAWN-4, STACK-5: the setting applies
/// to the threads started after it, and a size the OS refuses fails the start).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let ops = conformance::strategy::spawn_sequence().new_tree(&mut runner).unwrap().current();
/// assert!(!ops.is_empty());
/// ```
pub fn spawn_sequence() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            2 => stack_size().prop_map(|size| Op::StackSize { size }),
            1 => prop::sample::select(vec![1usize << 40, 1 << 44, 1 << 62, i64::MAX as usize])
                .prop_map(|size| Op::StackSize { size }),
            3 => Just(Op::StartThread),
            1 => Just(Op::StackSizeQuery),
        ],
        1..=6,
    )
}

/// A sequence of threads that fail or exit (each run with a recording unraisable hook, which
/// is process-wide: run these in their own batch, from one thread).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let ops = conformance::strategy::thread_end_sequence().new_tree(&mut runner).unwrap().current();
/// assert!(!ops.is_empty());
/// ```
pub fn thread_end_sequence() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            any::<bool>().prop_map(|panic| Op::ThreadFails { panic }),
            Just(Op::ThreadExits),
        ],
        1..=4,
    )
}

/// Rewrites a generated sequence so that a single thread can run it: a blocking acquire that
/// could wait longer than 50 ms on a Lock that may be held gets a 1 ms timeout, and an
/// `acquire_restore` on an RLock that may be held is preceded by a `release_save`. "May be
/// held" is tracked crudely (any acquire may have succeeded; only a release frees a Lock, only
/// the main thread's `release_save` surely frees an RLock), so a model error cannot hang a run.
///
/// ```
/// use conformance::ops::Op;
/// use conformance::strategy::make_runnable;
/// let ops = make_runnable(vec![
///     Op::LockAcquire { lock: 0, blocking: true, timeout: -1.0 },
///     Op::LockAcquire { lock: 0, blocking: true, timeout: -1.0 },
/// ]);
/// assert_eq!(ops[1], Op::LockAcquire { lock: 0, blocking: true, timeout: 0.001 });
/// ```
pub fn make_runnable(ops: Vec<Op>) -> Vec<Op> {
    let mut lock_maybe_held = [false; LOCKS];
    let mut rlock_maybe_held = [false; LOCKS];
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        match op {
            Op::LockAcquire {
                lock,
                blocking,
                timeout,
            } => {
                let timeout = if lock_maybe_held[lock] && may_wait_long(blocking, timeout) {
                    0.001
                } else {
                    timeout
                };
                lock_maybe_held[lock] = true;
                out.push(Op::LockAcquire {
                    lock,
                    blocking,
                    timeout,
                });
            }
            Op::LockRelease { lock } => {
                lock_maybe_held[lock] = false;
                out.push(op);
            }
            Op::RLockAcquire { lock, .. } => {
                rlock_maybe_held[lock] = true;
                out.push(op);
            }
            Op::RLockReleaseSave { lock } => {
                rlock_maybe_held[lock] = false;
                out.push(op);
            }
            Op::RLockAcquireRestore { lock, .. } => {
                if rlock_maybe_held[lock] {
                    out.push(Op::RLockReleaseSave { lock });
                }
                rlock_maybe_held[lock] = true;
                out.push(op);
            }
            Op::OtherThread(ref inner) => {
                if let Op::LockAcquire { lock, .. } = **inner {
                    lock_maybe_held[lock] = true;
                }
                if let Op::LockRelease { lock } = **inner {
                    lock_maybe_held[lock] = false;
                }
                out.push(op);
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{make_runnable, sequence};
    use crate::model::{Model, may_wait_long};
    use crate::ops::{Op, Outcome};
    use proptest::prelude::*;

    proptest! {
        /// Runnable sequences never ask the model for a wait that cannot end, nor for a long
        /// wait on a held lock.
        #[test]
        fn runnable_sequences_never_block_for_long(ops in sequence(24)) {
            let mut model = Model::new();
            for op in &ops {
                if let Op::LockAcquire { lock, blocking, timeout } = *op {
                    prop_assert!(!(model.lock_held(lock) && may_wait_long(blocking, timeout)), "{:?}", op);
                }
                let outcome = model.apply(op);
                prop_assert!(
                    !matches!(&outcome, Outcome::Err { python_type, .. } if python_type == "Model"),
                    "{:?} blocks forever", op
                );
            }
        }
    }

    #[test]
    fn acquire_restore_on_a_held_rlock_is_preceded_by_release_save() {
        let ops = make_runnable(vec![
            Op::RLockAcquire {
                lock: 1,
                blocking: true,
                timeout: -1.0,
            },
            Op::RLockAcquireRestore { lock: 1, count: 2 },
        ]);
        assert_eq!(ops[1], Op::RLockReleaseSave { lock: 1 });
        assert_eq!(ops[2], Op::RLockAcquireRestore { lock: 1, count: 2 });
    }
}
