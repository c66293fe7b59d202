//! The rules of one registry value (AUDIT-1, AUDIT-2, AUDIT-4, X-AUDIT-1), each test on its own
//! `AuditHooks`, so they do not touch the process-wide one.

use std::sync::{Arc, Mutex};

use thread_audit::{AuditArg, AuditError, AuditHooks};

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// A hook that records `"{tag}:{event}"` and accepts.
fn recorder(
    tag: &'static str,
    log: &Log,
) -> impl Fn(&thread_audit::AuditEvent<'_>) -> Result<(), AuditError> + Send + Sync + 'static {
    let log = log.clone();
    move |event| {
        log.lock().unwrap().push(format!("{tag}:{}", event.name()));
        Ok(())
    }
}

/// proves: AUDIT-1
#[test]
fn no_hooks_returns_ok_at_once() {
    let hooks = AuditHooks::new();
    assert!(!hooks.has_hooks());
    assert!(hooks.is_empty());
    assert_eq!(hooks.len(), 0);
    for _ in 0..1000 {
        assert_eq!(
            hooks.audit(
                "_thread.start_new_thread",
                &[&"<function f>", &(), &None::<()>]
            ),
            Ok(())
        );
    }
    assert!(!hooks.has_hooks());
}

/// proves: AUDIT-2
#[test]
fn hooks_run_in_order_with_name_and_args() {
    let hooks = AuditHooks::new();
    let log = log();
    for tag in ["a", "b", "c"] {
        hooks.add(recorder(tag, &log)).unwrap();
    }
    let args_seen = Arc::new(Mutex::new(None));
    let seen = args_seen.clone();
    hooks
        .add(move |event| {
            if event.name() == "my.event" {
                let args = event.args();
                *seen.lock().unwrap() = Some((
                    args.len(),
                    args[0].downcast_ref::<i32>().copied(),
                    args[1].downcast_ref::<&str>().copied(),
                    args[2].downcast_ref::<Option<()>>().copied(),
                ));
            }
            Ok(())
        })
        .unwrap();
    log.lock().unwrap().clear();
    hooks
        .audit("my.event", &[&7i32, &"x", &None::<()>])
        .unwrap();
    assert_eq!(entries(&log), ["a:my.event", "b:my.event", "c:my.event"]);
    assert_eq!(
        *args_seen.lock().unwrap(),
        Some((3, Some(7), Some("x"), Some(None)))
    );
}

/// proves: AUDIT-2
#[test]
fn first_refusal_aborts_and_later_hooks_are_skipped() {
    let hooks = AuditHooks::new();
    let log = log();
    hooks.add(recorder("a", &log)).unwrap();
    let l = log.clone();
    hooks
        .add(move |event| {
            l.lock().unwrap().push(format!("refuser:{}", event.name()));
            if event.name() == "bad" {
                Err(AuditError::new("PermissionError", "refused bad"))
            } else {
                Ok(())
            }
        })
        .unwrap();
    hooks.add(recorder("c", &log)).unwrap();
    log.lock().unwrap().clear();

    let err = hooks.audit("bad", &[]).unwrap_err();
    assert_eq!(err.python_type(), "PermissionError");
    assert_eq!(err.to_string(), "refused bad");
    assert_eq!(entries(&log), ["a:bad", "refuser:bad"]);

    log.lock().unwrap().clear();
    hooks.audit("good", &[]).unwrap();
    assert_eq!(entries(&log), ["a:good", "refuser:good", "c:good"]);
}

/// proves: AUDIT-2
#[test]
fn every_threads_events_reach_every_hook() {
    let hooks = Arc::new(AuditHooks::new());
    let log = log();
    hooks.add(recorder("main-added", &log)).unwrap();
    let h = hooks.clone();
    let l = log.clone();
    std::thread::spawn(move || h.add(recorder("thread-added", &l)).unwrap())
        .join()
        .unwrap();
    log.lock().unwrap().clear();
    std::thread::scope(|s| {
        for i in 0..4 {
            let hooks = &hooks;
            s.spawn(move || hooks.audit(["t0", "t1", "t2", "t3"][i], &[]).unwrap());
        }
    });
    let mut got = entries(&log);
    got.sort();
    let mut want: Vec<String> = (0..4)
        .flat_map(|i| [format!("main-added:t{i}"), format!("thread-added:t{i}")])
        .collect();
    want.sort();
    assert_eq!(got, want);
}

/// proves: AUDIT-4
#[test]
fn add_raises_sys_addaudithook_to_existing_hooks_only() {
    let hooks = AuditHooks::new();
    let log = log();
    hooks.add(recorder("first", &log)).unwrap();
    assert_eq!(
        entries(&log),
        Vec::<String>::new(),
        "the first hook never sees its own addition"
    );
    let args_len = Arc::new(Mutex::new(None));
    let a = args_len.clone();
    hooks
        .add(move |event| {
            if event.name() == "sys.addaudithook" {
                *a.lock().unwrap() = Some(event.args().len());
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(entries(&log), ["first:sys.addaudithook"]);
    assert_eq!(
        *args_len.lock().unwrap(),
        None,
        "the second never sees its own addition"
    );
    hooks.add(recorder("third", &log)).unwrap();
    assert_eq!(
        entries(&log),
        ["first:sys.addaudithook", "first:sys.addaudithook"]
    );
    assert_eq!(
        *args_len.lock().unwrap(),
        Some(0),
        "the event has no arguments"
    );
    assert_eq!(hooks.len(), 3);
}

/// proves: AUDIT-4
#[test]
fn exception_refusal_is_swallowed_and_hook_not_added() {
    for exception in [
        "RuntimeError",
        "Exception",
        "PermissionError",
        "ValueError",
        "ExceptionGroup",
    ] {
        let hooks = AuditHooks::new();
        hooks
            .add(move |event| match event.name() {
                "sys.addaudithook" => Err(AuditError::new(exception, "no more hooks")),
                _ => Ok(()),
            })
            .unwrap();
        let log = log();
        assert_eq!(
            hooks.add(recorder("late", &log)),
            Ok(()),
            "{exception} is swallowed"
        );
        assert_eq!(hooks.len(), 1);
        hooks.audit("e", &[]).unwrap();
        assert!(entries(&log).is_empty(), "the refused hook was not added");
    }
}

/// proves: AUDIT-4
#[test]
fn base_exception_refusal_is_returned_and_hook_not_added() {
    for base in [
        "KeyboardInterrupt",
        "SystemExit",
        "GeneratorExit",
        "BaseExceptionGroup",
        "BaseException",
    ] {
        let hooks = AuditHooks::new();
        hooks
            .add(move |event| match event.name() {
                "sys.addaudithook" => Err(AuditError::new(base, "stop")),
                _ => Ok(()),
            })
            .unwrap();
        let log = log();
        let err = hooks.add(recorder("late", &log)).unwrap_err();
        assert_eq!(err.python_type(), base);
        assert_eq!(err.to_string(), "stop");
        assert_eq!(hooks.len(), 1);
        hooks.audit("e", &[]).unwrap();
        assert!(entries(&log).is_empty());
    }
}

/// proves: AUDIT-4, X-AUDIT-1
#[test]
fn panic_while_adding_is_a_swallowed_runtime_error() {
    let hooks = AuditHooks::new();
    hooks
        .add(|event| match event.name() {
            "sys.addaudithook" => panic!("no hooks for you"),
            _ => Ok(()),
        })
        .unwrap();
    assert_eq!(hooks.add(|_| Ok(())), Ok(()));
    assert_eq!(hooks.len(), 1);
}

/// proves: X-AUDIT-1
#[test]
fn hook_added_during_event_is_not_called_for_it() {
    let hooks = Arc::new(AuditHooks::new());
    let log = log();
    let h = Arc::downgrade(&hooks);
    let l = log.clone();
    hooks
        .add(move |event| {
            if event.name() == "grow" {
                let hooks = h.upgrade().unwrap();
                hooks.add(recorder("added-late", &l)).unwrap();
            }
            Ok(())
        })
        .unwrap();
    hooks.add(recorder("second", &log)).unwrap();
    hooks.audit("grow", &[]).unwrap();
    // "second" sees the nested sys.addaudithook and "grow"; "added-late" sees neither.
    assert_eq!(entries(&log), ["second:sys.addaudithook", "second:grow"]);
    assert_eq!(hooks.len(), 3);
    log.lock().unwrap().clear();
    hooks.audit("next", &[]).unwrap();
    assert_eq!(entries(&log), ["second:next", "added-late:next"]);
}

/// proves: X-AUDIT-1
#[test]
fn hook_may_audit_and_start_threads_without_deadlock() {
    let hooks = Arc::new(AuditHooks::new());
    let log = log();
    hooks.add(recorder("rec", &log)).unwrap();
    let h = Arc::downgrade(&hooks);
    hooks
        .add(move |event| {
            if event.name() == "outer" {
                let hooks = h.upgrade().unwrap();
                // A nested event from this hook ...
                hooks.audit("inner", &[]).unwrap();
                // ... and a thread that raises an event and adds a hook while this one runs.
                let h2 = hooks.clone();
                std::thread::spawn(move || {
                    h2.audit("from-thread", &[]).unwrap();
                    h2.add(|_| Ok(())).unwrap();
                })
                .join()
                .unwrap();
            }
            Ok(())
        })
        .unwrap();
    log.lock().unwrap().clear();
    hooks.audit("outer", &[]).unwrap();
    assert_eq!(
        entries(&log),
        [
            "rec:outer",
            "rec:inner",
            "rec:from-thread",
            "rec:sys.addaudithook"
        ]
    );
    assert_eq!(hooks.len(), 3);
}

/// proves: X-AUDIT-1
#[test]
fn panicking_hook_refuses_with_runtime_error_and_registry_stays_usable() {
    let hooks = AuditHooks::new();
    let log = log();
    hooks.add(recorder("before", &log)).unwrap();
    hooks
        .add(|event| {
            if event.name() == "boom" {
                panic!("hook exploded");
            }
            if event.name() == "boom-any" {
                std::panic::panic_any(42u8);
            }
            Ok(())
        })
        .unwrap();
    hooks.add(recorder("after", &log)).unwrap();
    log.lock().unwrap().clear();

    let err = hooks.audit("boom", &[]).unwrap_err();
    assert_eq!(err.python_type(), "RuntimeError");
    assert_eq!(err.to_string(), "audit hook panicked: hook exploded");
    assert_eq!(
        entries(&log),
        ["before:boom"],
        "hooks after the panic are skipped"
    );

    let err = hooks.audit("boom-any", &[]).unwrap_err();
    assert_eq!(err.python_type(), "RuntimeError");
    assert_eq!(err.to_string(), "audit hook panicked: Box<dyn Any>");

    log.lock().unwrap().clear();
    hooks.audit("calm", &[]).unwrap();
    hooks.add(|_| Ok(())).unwrap();
    assert_eq!(
        entries(&log),
        [
            "before:calm",
            "after:calm",
            "before:sys.addaudithook",
            "after:sys.addaudithook"
        ]
    );
    assert_eq!(hooks.len(), 4);
}

#[test]
fn arguments_downcast_to_their_concrete_types() {
    let s = String::from("owned");
    let args: [&dyn AuditArg; 5] = [&1u64, &true, &s, &Some(3i8), &()];
    assert_eq!(args[0].downcast_ref::<u64>(), Some(&1));
    assert_eq!(args[0].downcast_ref::<u32>(), None);
    assert_eq!(args[1].downcast_ref::<bool>(), Some(&true));
    assert_eq!(
        args[2].downcast_ref::<String>().map(String::as_str),
        Some("owned")
    );
    assert_eq!(args[3].downcast_ref::<Option<i8>>(), Some(&Some(3)));
    assert!(args[4].is::<()>());
    assert_eq!(format!("{:?}", args[3]), "Some(3)");
}

#[test]
fn registry_and_errors_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<AuditHooks>();
    check::<AuditError>();
    check::<thread_audit::AuditEvent<'static>>();
}
