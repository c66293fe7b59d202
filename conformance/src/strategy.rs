//! proptest strategies for the operation vocabulary: timeouts from every class of LOCK-4..6,
//! stack sizes around 32768, signal numbers around 0 and 65, and single-threaded sequences made
//! safe to run ([`make_runnable`]: no wait longer than 50 ms, nothing that blocks forever).

use proptest::prelude::*;

use crate::model::may_wait_long;
use crate::ops::{HandleIndex, LOCKS, Op};

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

/// How many handles a handle sequence makes at most.
///
/// ```
/// assert_eq!(conformance::strategy::MAX_HANDLES, 4);
/// ```
pub const MAX_HANDLES: usize = 4;

/// `join` timeouts as Python passes them: `None`, negative ones (which wait forever, down to
/// `-1e-10`, which rounds to −1 ns), ±0, and short ones (≤ 20 ms).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let timeout = conformance::strategy::join_timeout().new_tree(&mut runner).unwrap().current();
/// assert!(timeout.is_none_or(|t| t <= 0.02));
/// ```
pub fn join_timeout() -> impl Strategy<Value = Option<f64>> + Clone {
    prop_oneof![
        3 => prop::sample::select(vec![
            None,
            Some(-1.0),
            Some(-0.5),
            Some(-1e-10),
            Some(-1000.0),
            Some(0.0),
            Some(-0.0),
            Some(1e-10),
            Some(0.001),
            Some(0.02),
        ]),
        1 => (0.0f64..0.01).prop_map(Some),
    ]
}

fn handle_index() -> impl Strategy<Value = HandleIndex> + Clone {
    0..MAX_HANDLES
}

fn handle_op() -> impl Strategy<Value = Op> + Clone {
    prop_oneof![
        3 => prop::sample::select(vec![true, true, true, false])
            .prop_map(|gated| Op::HandleStart { gated }),
        1 => handle_index().prop_map(|handle| Op::HandleRelease { handle }),
        6 => (handle_index(), join_timeout(), prop::option::weighted(0.3, handle_index()))
            .prop_map(|(handle, timeout, by)| Op::HandleJoin { handle, timeout, by }),
        2 => handle_index().prop_map(|handle| Op::HandleIsDone { handle }),
        1 => handle_index().prop_map(|handle| Op::HandleIdent { handle }),
        2 => handle_index().prop_map(|handle| Op::HandleSetDone { handle }),
        2 => prop::option::of(handle_index()).prop_map(|of| Op::HandleForThread { of }),
    ]
}

/// [3.13] A sequence of handle operations (SPAWN-7, HANDLE-1, HANDLE-4), made deterministic
/// by [`make_handles_runnable`].
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let ops = conformance::strategy::handle_sequence().new_tree(&mut runner).unwrap().current();
/// assert!(ops.iter().all(|op| op.name().starts_with("handle_")));
/// ```
pub fn handle_sequence() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(handle_op(), 1..=14).prop_map(make_handles_runnable)
}

/// [3.13] HANDLE-4's case: a thread ends and is joined, the next one (which glibc usually
/// gives the same `pthread_t`, so the same ident) joins the old handle (which must stay done,
/// never "Cannot join current thread"), then itself and a `for_thread` handle of itself
/// (which must both refuse), and is released and joined.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// let mut runner = proptest::test_runner::TestRunner::deterministic();
/// let ops = conformance::strategy::reuse_sequence().new_tree(&mut runner).unwrap().current();
/// assert!(ops.len() >= 9);
/// ```
pub fn reuse_sequence() -> impl Strategy<Value = Vec<Op>> {
    (
        any::<bool>(),
        join_timeout(),
        join_timeout(),
        join_timeout(),
    )
        .prop_map(|(first_gated, old, own, foreign)| {
            make_handles_runnable(vec![
                Op::HandleStart { gated: first_gated },
                Op::HandleJoin {
                    handle: 0,
                    timeout: None,
                    by: None,
                },
                Op::HandleStart { gated: true },
                Op::HandleIsDone { handle: 0 },
                Op::HandleJoin {
                    handle: 0,
                    timeout: old,
                    by: Some(1),
                },
                Op::HandleJoin {
                    handle: 1,
                    timeout: own,
                    by: Some(1),
                },
                Op::HandleIsDone { handle: 1 },
                Op::HandleIdent { handle: 1 },
                Op::HandleForThread { of: Some(1) },
                Op::HandleJoin {
                    handle: 2,
                    timeout: foreign,
                    by: Some(1),
                },
                Op::HandleJoin {
                    handle: 1,
                    timeout: None,
                    by: None,
                },
                Op::HandleIsDone { handle: 0 },
            ])
        })
}

/// Where a started handle's thread is, as far as the sequence can know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// Waiting for the sequence's commands: surely alive.
    Gated,
    /// Released (or never gated): alive or ended, nobody knows which.
    Running,
    /// Joined with a wait that returns only once it has ended.
    Ended,
}

/// A handle as [`make_handles_runnable`] tracks it.
#[derive(Debug, Clone, Copy)]
struct Tracked {
    /// `Some` for a started handle; `None` for a `for_thread` one.
    life: Option<Life>,
    /// For a `for_thread` handle: whose ident (`None`: the sequence's thread).
    of: Option<HandleIndex>,
    set_done: bool,
}

/// Rewrites a generated handle sequence so that every outcome is the same whatever the
/// timing, and nothing waits forever: indices wrap to the handles made so far (operations
/// before the first handle are dropped); a join that would wait forever for a gated thread
/// is preceded by its release; a timed join or `is_done` on a released thread (ended or not,
/// nobody knows) waits for its end instead; a join of a `for_thread` handle that is not done
/// gets a short timeout (nothing ever ends it); a join by another thread is done by a gated
/// one, and of a `for_thread` handle only while its thread is surely alive (else idents may
/// be reused, and "Cannot join current thread" would depend on the reuse: by the sequence's
/// thread instead); `for_thread` takes the ident of the sequence's thread or of a gated one.
///
/// ```
/// use conformance::ops::Op;
/// use conformance::strategy::make_handles_runnable;
/// let ops = make_handles_runnable(vec![
///     Op::HandleStart { gated: true },
///     Op::HandleJoin { handle: 0, timeout: None, by: None },
/// ]);
/// assert_eq!(ops[1], Op::HandleRelease { handle: 0 });
/// ```
pub fn make_handles_runnable(ops: Vec<Op>) -> Vec<Op> {
    let mut handles: Vec<Tracked> = Vec::new();
    let mut out = Vec::with_capacity(ops.len() + 4);
    for op in ops {
        let count = handles.len();
        match op {
            Op::HandleStart { gated } => {
                if count < MAX_HANDLES {
                    let life = if gated { Life::Gated } else { Life::Running };
                    handles.push(Tracked {
                        life: Some(life),
                        of: None,
                        set_done: false,
                    });
                    out.push(op);
                }
            }
            Op::HandleForThread { of } => {
                if count < MAX_HANDLES {
                    let of = of
                        .filter(|_| count > 0)
                        .map(|of| of % count)
                        .filter(|&of| handles[of].life == Some(Life::Gated));
                    handles.push(Tracked {
                        life: None,
                        of,
                        set_done: false,
                    });
                    out.push(Op::HandleForThread { of });
                }
            }
            _ if count == 0 => {}
            Op::HandleRelease { handle } => {
                let handle = handle % count;
                if handles[handle].life == Some(Life::Gated) {
                    handles[handle].life = Some(Life::Running);
                    out.push(Op::HandleRelease { handle });
                }
            }
            Op::HandleIsDone { handle } => {
                let handle = handle % count;
                let tracked = handles[handle];
                if tracked.life == Some(Life::Running) && !tracked.set_done {
                    handles[handle].life = Some(Life::Ended);
                    out.push(Op::HandleJoin {
                        handle,
                        timeout: None,
                        by: None,
                    });
                }
                out.push(Op::HandleIsDone { handle });
            }
            Op::HandleIdent { handle } => out.push(Op::HandleIdent {
                handle: handle % count,
            }),
            Op::HandleSetDone { handle } => {
                let handle = handle % count;
                handles[handle].set_done = true;
                out.push(Op::HandleSetDone { handle });
            }
            Op::HandleJoin {
                handle,
                timeout,
                by,
            } => {
                let handle = handle % count;
                let mut by = by
                    .map(|by| by % count)
                    .filter(|&by| handles[by].life == Some(Life::Gated));
                let tracked = handles[handle];
                let own = match tracked.life {
                    Some(_) => by == Some(handle),
                    None => tracked.of == by,
                };
                let forever = timeout.is_none_or(|t| t < 0.0);
                let mut timeout = timeout;
                if !own && !tracked.set_done {
                    match tracked.life {
                        None => {
                            // Nothing ends a foreign thread's handle but set_done.
                            if forever {
                                timeout = Some(0.001);
                            }
                            let foreign_alive = tracked
                                .of
                                .is_none_or(|of| handles[of].life == Some(Life::Gated));
                            if by.is_some() && !foreign_alive {
                                by = None;
                            }
                        }
                        Some(Life::Gated) if forever => {
                            out.push(Op::HandleRelease { handle });
                            handles[handle].life = Some(Life::Ended);
                        }
                        Some(Life::Gated) | Some(Life::Ended) => {}
                        Some(Life::Running) => {
                            if !forever {
                                timeout = None;
                            }
                            handles[handle].life = Some(Life::Ended);
                        }
                    }
                }
                out.push(Op::HandleJoin {
                    handle,
                    timeout,
                    by,
                });
            }
            other => out.push(other),
        }
    }
    out
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
    use super::{handle_sequence, make_runnable, reuse_sequence, sequence};
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

    proptest! {
        /// Handle sequences only join by threads that still take commands, and only wait
        /// without a timeout for a started thread that has been let go (or for a handle that is
        /// done, or their own, which refuses at once).
        #[test]
        fn handle_sequences_never_wait_forever(ops in prop_oneof![handle_sequence(), reuse_sequence()]) {
            // Per handle: Some(gated, released) for started ones, None for for_thread ones;
            // the for_thread handle's owner; set_done.
            let mut started: Vec<Option<(bool, bool)>> = Vec::new();
            let mut of: Vec<Option<usize>> = Vec::new();
            let mut done: Vec<bool> = Vec::new();
            let takes_commands = |started: &Vec<Option<(bool, bool)>>, h: usize| {
                matches!(started[h], Some((true, false)))
            };
            for op in &ops {
                match *op {
                    Op::HandleStart { gated } => {
                        started.push(Some((gated, false)));
                        of.push(None);
                        done.push(false);
                    }
                    Op::HandleForThread { of: owner } => {
                        if let Some(owner) = owner {
                            prop_assert!(takes_commands(&started, owner), "{:?}", ops);
                        }
                        started.push(None);
                        of.push(owner);
                        done.push(false);
                    }
                    Op::HandleRelease { handle } => {
                        prop_assert!(takes_commands(&started, handle), "{:?}", ops);
                        started[handle] = Some((true, true));
                    }
                    Op::HandleSetDone { handle } => done[handle] = true,
                    Op::HandleJoin { handle, timeout, by } => {
                        if let Some(by) = by {
                            prop_assert!(takes_commands(&started, by), "{:?}", ops);
                        }
                        let own = match started[handle] {
                            Some(_) => by == Some(handle),
                            None => of[handle] == by,
                        };
                        let forever = timeout.is_none_or(|t| t < 0.0);
                        let let_go = matches!(started[handle], Some((false, _)) | Some((_, true)));
                        prop_assert!(!forever || own || done[handle] || let_go, "{:?}", ops);
                    }
                    Op::HandleIsDone { handle } | Op::HandleIdent { handle } => {
                        prop_assert!(handle < started.len());
                    }
                    ref other => prop_assert!(false, "not a handle operation: {:?}", other),
                }
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
