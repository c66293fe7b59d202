//! The process-wide registry behind the free functions. Its own test binary (one process), and
//! one test in it, because hooks added here stay for the life of the process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use thread_audit::{AuditError, AuditHooks, add_audit_hook, audit, has_hooks};

/// proves: AUDIT-1, AUDIT-2, AUDIT-4
#[test]
fn process_wide_registry() {
    // AUDIT-1: nothing added yet.
    assert!(!has_hooks());
    assert_eq!(
        audit(
            "_thread.start_new_thread",
            &[&"<function f>", &(), &None::<()>]
        ),
        Ok(())
    );

    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    add_audit_hook(move |event| {
        s.lock().unwrap().push(event.name().to_owned());
        if event.name() == "forbidden" {
            return Err(AuditError::new("RuntimeError", "forbidden here"));
        }
        Ok(())
    })
    .unwrap();
    assert!(has_hooks());
    assert_eq!(AuditHooks::global().len(), 1);

    // AUDIT-2: events from any thread reach the hook; a refusal comes back.
    std::thread::spawn(|| audit("from.thread", &[&1i32]).unwrap())
        .join()
        .unwrap();
    let err = std::thread::spawn(|| audit("forbidden", &[]))
        .join()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (err.python_type(), err.to_string().as_str()),
        ("RuntimeError", "forbidden here")
    );
    assert_eq!(*seen.lock().unwrap(), ["from.thread", "forbidden"]);

    // AUDIT-4: the second hook's addition is raised to the first; a BaseException refusal of a
    // later addition comes back and the hook is not added.
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    add_audit_hook(move |event| {
        c.fetch_add(1, Ordering::Relaxed);
        match event.name() {
            "sys.addaudithook" => Err(AuditError::new("KeyboardInterrupt", "")),
            _ => Ok(()),
        }
    })
    .unwrap();
    assert_eq!(
        seen.lock().unwrap().last().map(String::as_str),
        Some("sys.addaudithook")
    );
    let err = add_audit_hook(|_| Ok(())).unwrap_err();
    assert_eq!(err.python_type(), "KeyboardInterrupt");
    assert_eq!(AuditHooks::global().len(), 2);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}
