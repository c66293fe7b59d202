//! `run_thread_body` and the unraisable registry, in process: what the hook is given, when it is
//! called, and when it is not. Each test reports through its own `UnraisableHooks` value; this
//! file is its own process because `run_thread_body` installs the process-wide panic hook.
//! The text on stderr is checked in `tests/stderr.rs`, in child processes.

use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

use thread_audit::{AuditArg, AuditError, AuditHooks};
use thread_hooks::{
    SystemExit, ThreadExit, UnraisableHookArgs, UnraisableHooks, run_thread_body_in,
};

type Calls = Arc<Mutex<Vec<(ThreadId, UnraisableHookArgs)>>>;

/// A registry whose hook records each call and the thread it ran on.
fn recording_registry() -> (UnraisableHooks, Calls) {
    let hooks = UnraisableHooks::new();
    let calls: Calls = Arc::default();
    let c = calls.clone();
    hooks.set(move |args: &UnraisableHookArgs| {
        c.lock()
            .unwrap()
            .push((thread::current().id(), args.clone()));
    });
    (hooks, calls)
}

fn only_call(calls: &Calls) -> (ThreadId, UnraisableHookArgs) {
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 1, "exactly one report: {calls:?}");
    calls[0].clone()
}

#[derive(Debug)]
struct ParseError(u32);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad digit at {}", self.0)
    }
}

const PANIC_LINE: u32 = line!() + 3;

fn panics() {
    panic!("index {} out of range", 7)
}

/// proves: HOOK-1, HOOK-2
#[test]
fn panic_is_reported_once_in_the_dying_thread() {
    let (hooks, calls) = recording_registry();
    let hooks = Arc::new(hooks);
    let h = hooks.clone();
    let (ended, dying) = thread::spawn(move || {
        (
            run_thread_body_in(&h, "<function panics>", panics),
            thread::current().id(),
        )
    })
    .join()
    .unwrap();
    assert_eq!(ended, ThreadExit::Reported);
    let (on, args) = only_call(&calls);
    assert_eq!(on, dying, "the hook runs in the dying thread");
    assert_eq!(args.exc_type, "PanicException");
    assert_eq!(args.exc_value, "index 7 out of range");
    assert_eq!(
        args.err_msg.as_deref(),
        Some("Exception ignored in thread started by")
    );
    assert_eq!(args.object.as_deref(), Some("<function panics>"));
    let traceback = args.exc_traceback.expect("a panic has a traceback");
    let first = traceback.lines().next().unwrap();
    assert_eq!(
        first,
        format!("  File \"thread-hooks/tests/thread_body.rs\", line {PANIC_LINE}")
    );
}

/// proves: HOOK-1, HOOK-2
#[test]
fn err_is_reported_once_with_type_name_and_display() {
    let (hooks, calls) = recording_registry();
    let ended = run_thread_body_in(&hooks, "<function parse>", || Err::<(), _>(ParseError(3)));
    assert_eq!(ended, ThreadExit::Reported);
    let (on, args) = only_call(&calls);
    assert_eq!(on, thread::current().id());
    assert_eq!(
        args,
        UnraisableHookArgs {
            exc_type: "thread_body::ParseError".into(),
            exc_value: "bad digit at 3".into(),
            exc_traceback: None,
            err_msg: Some("Exception ignored in thread started by".into()),
            object: Some("<function parse>".into()),
        }
    );
}

/// proves: HOOK-2
#[test]
fn boxed_errors_and_odd_payloads() {
    let (hooks, calls) = recording_registry();
    run_thread_body_in(
        &hooks,
        "<function boxed>",
        || -> Result<(), Box<dyn std::error::Error + Send + Sync>> { Err("boxed message".into()) },
    );
    run_thread_body_in(&hooks, "<function any>", || -> () {
        std::panic::panic_any(17u32)
    });
    run_thread_body_in(&hooks, "<function str>", || -> () {
        std::panic::panic_any("static str")
    });
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 3);
    assert_eq!(
        calls[0].1.exc_type,
        std::any::type_name::<Box<dyn std::error::Error + Send + Sync>>()
    );
    assert_eq!(calls[0].1.exc_value, "boxed message");
    assert_eq!(calls[1].1.exc_type, "PanicException");
    assert_eq!(calls[1].1.exc_value, "Box<dyn Any>");
    assert_eq!(calls[2].1.exc_value, "static str");
}

/// proves: EXIT-2
#[test]
fn system_exit_ends_silently_whatever_the_code() {
    let (hooks, calls) = recording_registry();
    assert_eq!(
        run_thread_body_in(&hooks, "<function a>", || -> () {
            std::panic::resume_unwind(Box::new(SystemExit { code: None }))
        }),
        ThreadExit::SystemExit(SystemExit { code: None })
    );
    assert_eq!(
        run_thread_body_in(&hooks, "<function b>", || -> () {
            std::panic::panic_any(SystemExit { code: Some(3) })
        }),
        ThreadExit::SystemExit(SystemExit { code: Some(3) })
    );
    assert_eq!(
        run_thread_body_in(&hooks, "<function c>", || Err::<(), _>(SystemExit {
            code: Some(-1)
        })),
        ThreadExit::SystemExit(SystemExit { code: Some(-1) })
    );
    let h = Arc::new(hooks);
    let ended = thread::spawn(move || {
        run_thread_body_in(&h, "<function d>", || -> () {
            std::panic::panic_any(SystemExit { code: Some(0) })
        })
    })
    .join()
    .unwrap();
    assert_eq!(ended, ThreadExit::SystemExit(SystemExit { code: Some(0) }));
    assert!(
        calls.lock().unwrap().is_empty(),
        "no hook call for SystemExit"
    );
}

/// A stand-in for thread-core's `Interrupt` carrying Python's KeyboardInterrupt.
#[derive(Debug)]
struct KeyboardInterrupt;

impl std::fmt::Display for KeyboardInterrupt {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

/// proves: EXIT-3
#[test]
fn keyboard_interrupt_in_a_thread_is_not_special() {
    let (hooks, calls) = recording_registry();
    let hooks = Arc::new(hooks);
    let h = hooks.clone();
    let ended = thread::spawn(move || {
        run_thread_body_in(&h, "<function waiter>", || Err::<(), _>(KeyboardInterrupt))
    })
    .join()
    .unwrap();
    assert_eq!(ended, ThreadExit::Reported);
    let (_, args) = only_call(&calls);
    assert_eq!(args.exc_type, "thread_body::KeyboardInterrupt");
    assert_eq!(args.exc_value, "");
}

/// proves: HOOK-1
#[test]
fn returning_normally_reports_nothing() {
    let (hooks, calls) = recording_registry();
    assert_eq!(
        run_thread_body_in(&hooks, "<function ok>", || ()),
        ThreadExit::Returned
    );
    assert_eq!(
        run_thread_body_in(&hooks, "<function ok>", || Ok::<(), String>(())),
        ThreadExit::Returned
    );
    // A panic the body catches itself is not a failure of the thread.
    let ended = run_thread_body_in(&hooks, "<function careful>", || {
        let caught = std::panic::catch_unwind(|| panic!("handled"));
        assert!(caught.is_err());
    });
    assert_eq!(ended, ThreadExit::Returned);
    assert!(calls.lock().unwrap().is_empty());
}

/// proves: HOOK-2
#[test]
fn rethrown_payload_does_not_borrow_an_older_location() {
    let (hooks, calls) = recording_registry();
    run_thread_body_in(&hooks, "<function rethrow>", || -> () {
        let _ = std::panic::catch_unwind(|| panic!("first"));
        std::panic::resume_unwind(Box::new(String::from("second")))
    });
    let (_, args) = only_call(&calls);
    assert_eq!(args.exc_value, "second");
    assert_eq!(
        args.exc_traceback, None,
        "resume_unwind runs no panic hook: no location"
    );
}

/// proves: HOOK-5
#[test]
fn reset_restores_the_default_hook() {
    let (hooks, calls) = recording_registry();
    assert_ne!(hooks.hook_name(), "<default unraisable hook>");
    hooks.reset();
    assert_eq!(hooks.hook_name(), "<default unraisable hook>");
    // The default printer now gets the report (its text is checked in tests/stderr.rs).
    hooks.write(UnraisableHookArgs::new("ValueError", "to stderr"));
    assert!(calls.lock().unwrap().is_empty());
}

fn failing_hook(_: &UnraisableHookArgs) {
    panic!("hook failed")
}

/// proves: HOOK-6
#[test]
fn failing_hook_does_not_take_the_registry_down() {
    let hooks = UnraisableHooks::new();
    hooks.set(failing_hook);
    assert!(hooks.hook_name().ends_with("failing_hook"));
    // Reported by the default printer (text in tests/stderr.rs); nothing escapes.
    hooks.write(UnraisableHookArgs::new("ValueError", "lost"));
    let ended = run_thread_body_in(&hooks, "<function f>", || -> () { panic!("also lost") });
    assert_eq!(ended, ThreadExit::Reported);
    // The registry goes on: a new hook is set and called.
    let seen = Arc::new(Mutex::new(0));
    let s = seen.clone();
    hooks.set(move |_: &UnraisableHookArgs| *s.lock().unwrap() += 1);
    hooks.write(UnraisableHookArgs::new("ValueError", "seen"));
    assert_eq!(*seen.lock().unwrap(), 1);
}

static AUDIT_ORDER: AuditHooks = AuditHooks::new();
fn audit_order(event: &str, args: &[&dyn AuditArg]) -> Result<(), AuditError> {
    AUDIT_ORDER.audit(event, args)
}

/// proves: HOOK-7, AUDIT-6
#[test]
fn audit_event_comes_before_the_hook_with_its_arguments() {
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let l = log.clone();
    AUDIT_ORDER
        .add(move |event| {
            if event.name() == "sys.unraisablehook" {
                let args = event.args();
                assert_eq!(args.len(), 2);
                let hook = args[0].downcast_ref::<&str>().unwrap();
                let unraisable = args[1].downcast_ref::<UnraisableHookArgs>().unwrap();
                l.lock()
                    .unwrap()
                    .push(format!("audit {hook} {}", unraisable.exc_value));
            }
            Ok(())
        })
        .unwrap();
    let hooks = UnraisableHooks::with_audit(audit_order);
    let l = log.clone();
    hooks.set(move |args: &UnraisableHookArgs| {
        l.lock().unwrap().push(format!("hook {}", args.exc_value));
    });
    let name = hooks.hook_name();
    hooks.write(UnraisableHookArgs::new("ValueError", "v"));
    assert_eq!(
        *log.lock().unwrap(),
        [format!("audit {name} v"), "hook v".to_owned()]
    );
}

static AUDIT_REFUSE: AuditHooks = AuditHooks::new();
fn audit_refuse(event: &str, args: &[&dyn AuditArg]) -> Result<(), AuditError> {
    AUDIT_REFUSE.audit(event, args)
}

/// proves: HOOK-7, AUDIT-6
#[test]
fn refused_audit_event_skips_the_hook() {
    AUDIT_REFUSE
        .add(|event| match event.name() {
            "sys.unraisablehook" => Err(AuditError::new("RuntimeError", "no unraisable")),
            _ => Ok(()),
        })
        .unwrap();
    let hooks = UnraisableHooks::with_audit(audit_refuse);
    let called = Arc::new(Mutex::new(0));
    let c = called.clone();
    hooks.set(move |_: &UnraisableHookArgs| *c.lock().unwrap() += 1);
    // The refusal goes to the default printer (text in tests/stderr.rs).
    hooks.write(UnraisableHookArgs::new("ValueError", "v"));
    let ended = run_thread_body_in(&hooks, "<function f>", || Err::<(), _>("e"));
    assert_eq!(ended, ThreadExit::Reported);
    assert_eq!(*called.lock().unwrap(), 0, "the hook is not called");
}

/// proves: HOOK-10
#[test]
fn write_hands_an_embedders_args_to_the_hook_unchanged() {
    let (hooks, calls) = recording_registry();
    let args = UnraisableHookArgs::new("OSError", "connection reset")
        .with_err_msg("Exception ignored while closing")
        .with_object("<connection 7>")
        .with_traceback("  File \"embedder.rs\", line 1");
    hooks.write(args.clone());
    assert_eq!(only_call(&calls).1, args);
}

#[test]
fn nested_bodies_report_separately() {
    let (hooks, calls) = recording_registry();
    let ended = run_thread_body_in(&hooks, "<function outer>", || {
        let inner = run_thread_body_in(&hooks, "<function inner>", || -> () { panic!("inner") });
        assert_eq!(inner, ThreadExit::Reported);
        Err::<(), _>("outer")
    });
    assert_eq!(ended, ThreadExit::Reported);
    let calls = calls.lock().unwrap();
    let objects: Vec<_> = calls
        .iter()
        .map(|(_, a)| a.object.clone().unwrap())
        .collect();
    assert_eq!(objects, ["<function inner>", "<function outer>"]);
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<UnraisableHooks>();
    check::<UnraisableHookArgs>();
    check::<SystemExit>();
    check::<ThreadExit>();
}

static LATE: UnraisableHooks = UnraisableHooks::new();

/// A thread-local whose destructor reports through `LATE`, as an embedder's cleanup might.
struct ReportsOnDrop;

impl Drop for ReportsOnDrop {
    fn drop(&mut self) {
        LATE.write(UnraisableHookArgs::new("OSError", "from a destructor"));
        let ended = run_thread_body_in(&LATE, "<function cleanup>", || -> () { panic!("late") });
        assert_eq!(ended, ThreadExit::Reported);
    }
}

thread_local! {
    static LATE_GUARD: ReportsOnDrop = const { ReportsOnDrop };
}

/// proves: HOOK-10
#[test]
fn reporting_works_from_thread_local_destructors() {
    let calls: Calls = Arc::default();
    let c = calls.clone();
    LATE.set(move |args: &UnraisableHookArgs| {
        c.lock()
            .unwrap()
            .push((thread::current().id(), args.clone()))
    });
    thread::spawn(|| LATE_GUARD.with(|_| ())).join().unwrap();
    let calls = calls.lock().unwrap();
    let values: Vec<_> = calls.iter().map(|(_, a)| a.exc_value.as_str()).collect();
    assert_eq!(values, ["from a destructor", "late"]);
}

/// proves: HOOK-5
#[test]
fn a_hook_may_reset_its_own_registry() {
    let hooks = Arc::new(UnraisableHooks::new());
    let seen = Arc::new(Mutex::new(0));
    let (h, s) = (Arc::downgrade(&hooks), seen.clone());
    hooks.set(move |_: &UnraisableHookArgs| {
        *s.lock().unwrap() += 1;
        // No lock is held while the hook runs: resetting from inside does not deadlock.
        h.upgrade().unwrap().reset();
    });
    hooks.write(UnraisableHookArgs::new("ValueError", "once"));
    assert_eq!(*seen.lock().unwrap(), 1);
    assert_eq!(hooks.hook_name(), "<default unraisable hook>");
}
