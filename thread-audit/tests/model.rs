//! proptest: random sequences of `add` and `audit`, with hooks that refuse (or panic) at random,
//! against a plain model of the rules: hooks run in order, the first refusal aborts, an
//! `Exception` refusal of `sys.addaudithook` is swallowed and a `BaseException` one returned,
//! a refused hook is not added, hooks are never removed.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use thread_audit::{AuditError, AuditHooks};

const EVENTS: [&str; 4] = ["sys.addaudithook", "e.one", "e.two", "e.three"];

/// What a hook does with one event.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reaction {
    Accept,
    Refuse(&'static str),
    Panic,
}

fn reaction() -> impl Strategy<Value = Reaction> {
    prop_oneof![
        6 => Just(Reaction::Accept),
        1 => Just(Reaction::Refuse("RuntimeError")),
        1 => Just(Reaction::Refuse("PermissionError")),
        1 => Just(Reaction::Refuse("KeyboardInterrupt")),
        1 => Just(Reaction::Refuse("SystemExit")),
        1 => Just(Reaction::Panic),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    /// Add a hook that reacts to `EVENTS[i]` with `reactions[i]`.
    Add([Reaction; 4]),
    /// Raise `EVENTS[i]`.
    Audit(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        proptest::array::uniform4(reaction()).prop_map(Op::Add),
        (0..EVENTS.len()).prop_map(Op::Audit),
    ]
}

/// The model: the hooks' reaction tables, and the (hook, event) calls they saw.
struct Model {
    hooks: Vec<[Reaction; 4]>,
    calls: Vec<(usize, usize)>,
}

impl Model {
    /// Returns the refusal's Python type, if any.
    fn audit(&mut self, event: usize) -> Option<&'static str> {
        for (id, reactions) in self.hooks.iter().enumerate() {
            self.calls.push((id, event));
            match reactions[event] {
                Reaction::Accept => {}
                Reaction::Refuse(ty) => return Some(ty),
                Reaction::Panic => return Some("RuntimeError"),
            }
        }
        None
    }

    fn add(&mut self, reactions: [Reaction; 4]) -> Option<&'static str> {
        match self.audit(0) {
            None => {
                self.hooks.push(reactions);
                None
            }
            Some("KeyboardInterrupt" | "SystemExit") => self.audit_type_back(),
            Some(_) => None,
        }
    }

    /// The type a BaseException refusal of the last `add` came back with.
    fn audit_type_back(&self) -> Option<&'static str> {
        // The last call is the refusing hook's.
        let (id, _) = *self.calls.last().unwrap();
        match self.hooks[id][0] {
            Reaction::Refuse(ty) => Some(ty),
            _ => unreachable!(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// proves: AUDIT-2, AUDIT-4, X-AUDIT-1
    #[test]
    fn registry_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let hooks = AuditHooks::new();
        let calls: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
        let mut model = Model { hooks: Vec::new(), calls: Vec::new() };
        for op in ops {
            match op {
                Op::Add(reactions) => {
                    // The id the hook gets if it is added.
                    let id = model.hooks.len();
                    let calls = calls.clone();
                    let got = hooks.add(move |event| {
                        let e = EVENTS.iter().position(|n| *n == event.name()).unwrap();
                        calls.lock().unwrap().push((id, e));
                        match reactions[e] {
                            Reaction::Accept => Ok(()),
                            Reaction::Refuse(ty) => Err(AuditError::new(ty, "refused")),
                            Reaction::Panic => panic!("model hook panics"),
                        }
                    });
                    let want = model.add(reactions);
                    prop_assert_eq!(got.err().map(|e| e.python_type().to_owned()), want.map(str::to_owned));
                }
                Op::Audit(e) => {
                    let got = hooks.audit(EVENTS[e], &[&e]);
                    let want = model.audit(e);
                    prop_assert_eq!(got.err().map(|e| e.python_type().to_owned()), want.map(str::to_owned));
                }
            }
            prop_assert_eq!(hooks.len(), model.hooks.len());
            prop_assert_eq!(&*calls.lock().unwrap(), &model.calls);
        }
    }
}
