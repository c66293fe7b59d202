//! proptest state machine, one thread: random sequences of Lock and RLock operations (acquire
//! with every class of valid and invalid arguments, release, locked, release_save /
//! acquire_restore, misuse from a helper thread) and stack sizes, each checked against the
//! sequential model of `conformance::model`, written from SPEC.md. After every operation the
//! observable state (`locked()`, `is_owned()`, `recursion_count()`, `Debug`) must match the
//! model's too, so a refused call that changed a lock is caught where it happens.
//!
//! `stack_size` is process-wide: this file is its own test binary, and this is its only test.
//! A few hundred cases by default (`PROPTEST_CASES` raises it); failures persist to
//! `conformance/proptest-regressions/state_machine_single.txt`.

use std::time::{Duration, Instant};

use conformance::model::{Model, Wait, parse_timeout};
use conformance::ops::{LOCKS, Op, Outcome, Owner};
use conformance::ours::Sequence;
use conformance::strategy;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/state_machine_single.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// The state every observer sees must be the model's.
fn check_state(model: &Model, ours: &Sequence) -> Result<(), TestCaseError> {
    let me = thread_core::get_ident().as_u64();
    for index in 0..LOCKS {
        let held = model.lock_held(index);
        prop_assert_eq!(ours.lock(index).locked(), held, "Lock {} locked()", index);
        let state = if held { "locked" } else { "unlocked" };
        prop_assert_eq!(
            format!("{:?}", ours.lock(index)),
            format!("<{state} _thread.lock object>")
        );
        let (owner, count) = model.rlock(index);
        let rlock = ours.rlock(index);
        prop_assert_eq!(rlock.locked(), count > 0, "RLock {} locked()", index);
        prop_assert_eq!(rlock.is_owned(), owner == Owner::Main && count > 0);
        let own_count = if owner == Owner::Main { count } else { 0 };
        prop_assert_eq!(rlock.recursion_count(), own_count);
        let debug = if count > 0 {
            format!("<locked _thread.RLock object owner={me} count={count}>")
        } else {
            "<unlocked _thread.RLock object owner=0 count=0>".to_owned()
        };
        prop_assert_eq!(format!("{rlock:?}"), debug);
    }
    Ok(())
}

/// The wait a timed acquire of a held lock must at least last (LOCK-7), if it is one.
fn lower_bound(model: &Model, op: &Op) -> Option<Duration> {
    match *op {
        Op::LockAcquire {
            lock,
            blocking,
            timeout,
        } if model.lock_held(lock) => match parse_timeout(blocking, timeout) {
            Ok(Wait::Nanos(nanos)) => Some(Duration::from_nanos(nanos as u64)),
            _ => None,
        },
        _ => None,
    }
}

proptest! {
    #![proptest_config(config())]

    /// proves: LOCK-1, LOCK-4, LOCK-5, LOCK-6, LOCK-7, LOCK-8, LOCK-9, LOCK-10, LOCK-12
    /// proves: RLOCK-2, RLOCK-3, RLOCK-4, RLOCK-5, RLOCK-6, STACK-1, STACK-4, R-1, R-2
    #[test]
    fn single_thread_sequences_follow_the_model(ops in strategy::sequence(24)) {
        // The setting is process-wide and a failed case returns early: start from the default.
        let _ = thread_core::stack_size(Some(0));
        let ours = Sequence::new();
        let mut model = Model::new();
        check_state(&model, &ours)?;
        for (at, op) in ops.iter().enumerate() {
            let bound = lower_bound(&model, op);
            let expected = model.apply(op);
            let started = Instant::now();
            let got = ours.run(op);
            let took = started.elapsed();
            prop_assert!(
                !matches!(&expected, Outcome::Err { python_type, .. } if python_type == "Model"),
                "the generator made a sequence that blocks forever at {}: {:?}", at, op
            );
            prop_assert_eq!(&got, &expected, "operation {}: {:?}", at, op);
            if let Some(bound) = bound {
                prop_assert!(took >= bound, "{:?} returned after {:?}, before its timeout", op, took);
            }
            check_state(&model, &ours)?;
        }
    }
}
