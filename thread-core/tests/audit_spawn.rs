//! Audit events of spawning: SPAWN-3 and AUDIT-5, and spawning from inside an audit hook.
//! Own process: audit hooks are process-wide and cannot be removed. One test: the hook's
//! behaviour is switched by statics while it runs.

use std::any::Any;
use std::ffi::c_void;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use thread_audit::{AuditArg, AuditError, add_audit_hook};
use thread_core::{
    Builder, FunctionDescription, ThreadError, count, get_ident, start_joinable_thread,
    start_new_thread,
};

static REFUSE: AtomicBool = AtomicBool::new(false);
static SPAWN_IN_HOOK: AtomicBool = AtomicBool::new(false);
static EVENTS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
static SPAWNED_IN_HOOK: Mutex<Vec<Result<(), ThreadError>>> = Mutex::new(Vec::new());

/// Renders the three arguments the way the test compares them.
fn render(args: &[&dyn AuditArg]) -> String {
    args.iter()
        .map(|a| {
            let a: &dyn Any = *a as &dyn Any;
            if let Some(d) = a.downcast_ref::<FunctionDescription>() {
                format!("desc:{}", d.name())
            } else if a.downcast_ref::<()>().is_some() {
                "()".to_owned()
            } else if let Some(i) = a.downcast_ref::<i32>() {
                format!("i32:{i}")
            } else if a.downcast_ref::<Option<()>>().is_some_and(Option::is_none) {
                "None".to_owned()
            } else if let Some(s) = a.downcast_ref::<&str>() {
                format!("str:{s}")
            } else {
                format!("{a:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn hook(event: &thread_audit::AuditEvent<'_>) -> Result<(), AuditError> {
    if !event.name().starts_with("_thread.") {
        return Ok(());
    }
    EVENTS
        .lock()
        .unwrap()
        .push((event.name().to_owned(), render(event.args())));
    if SPAWN_IN_HOOK.swap(false, Ordering::SeqCst) {
        // A hook may start threads itself (X-AUDIT-1): its own spawn raises an event too.
        let r = start_joinable_thread(|| ()).and_then(|h| h.join(None));
        SPAWNED_IN_HOOK.lock().unwrap().push(r);
    }
    if REFUSE.load(Ordering::SeqCst) {
        return Err(AuditError::new("PermissionError", "no threads here"));
    }
    Ok(())
}

fn take_events() -> Vec<(String, String)> {
    std::mem::take(&mut *EVENTS.lock().unwrap())
}

extern "C-unwind" fn foreign_body(arg: *mut c_void) {
    // SAFETY: the test passes a pointer to a live AtomicBool.
    unsafe { &*arg.cast::<AtomicBool>() }.store(true, Ordering::SeqCst);
}

/// proves: SPAWN-3, AUDIT-5, HANDLE-3
#[test]
fn spawns_raise_their_event_first_and_a_refusal_starts_nothing() {
    add_audit_hook(hook).unwrap();
    let me = get_ident();

    // AUDIT-5: the events and their arguments.
    start_joinable_thread(|| ()).unwrap().join(None).unwrap();
    let h = Builder::new()
        .describe("named")
        .spawn_joinable(|| ())
        .unwrap();
    h.join(None).unwrap();
    let detached = Builder::new().describe("detached").spawn(|| ()).unwrap();
    assert_ne!(detached, me);
    let custom = Builder::new()
        .audit_args(vec![Box::new("<function f>"), Box::new(7i32)])
        .spawn_joinable(|| ())
        .unwrap();
    custom.join(None).unwrap();
    // HANDLE-3: a non-daemon joinable thread's event says 0, on the Rust and foreign paths.
    let non_daemon = Builder::new()
        .describe("non_daemon")
        .daemon(false)
        .spawn_joinable(|| ())
        .unwrap();
    non_daemon.join(None).unwrap();
    static FOREIGN_RAN: AtomicBool = AtomicBool::new(false);
    // SAFETY: `foreign_body` gets a pointer to a static AtomicBool.
    let (_, foreign) = unsafe {
        Builder::new()
            .describe("foreign")
            .daemon(false)
            .spawn_foreign(
                foreign_body,
                std::ptr::from_ref(&FOREIGN_RAN).cast_mut().cast(),
                true,
            )
    }
    .unwrap();
    foreign.unwrap().join(None).unwrap();
    assert!(FOREIGN_RAN.load(Ordering::SeqCst));
    let events = take_events();
    assert_eq!(events.len(), 6, "{events:?}");
    assert_eq!(
        events[4..],
        [
            (
                "_thread.start_joinable_thread".into(),
                "desc:non_daemon, i32:0, None".into()
            ),
            (
                "_thread.start_joinable_thread".into(),
                "desc:foreign, i32:0, None".into()
            ),
        ]
    );
    // A closure's description is its type name, `audit_spawn::...::{{closure}}`.
    assert_eq!(events[0].0, "_thread.start_joinable_thread");
    assert!(events[0].1.starts_with("desc:audit_spawn::"), "{events:?}");
    assert!(events[0].1.ends_with(", i32:1, None"), "{events:?}");
    assert_eq!(
        events[1],
        (
            "_thread.start_joinable_thread".into(),
            "desc:named, i32:1, None".into()
        )
    );
    assert_eq!(
        events[2],
        (
            "_thread.start_new_thread".into(),
            "desc:detached, (), None".into()
        )
    );
    assert_eq!(
        events[3],
        (
            "_thread.start_joinable_thread".into(),
            "str:<function f>, i32:7".into()
        )
    );

    // SPAWN-3: a refusal aborts every path; nothing runs, the count is unchanged.
    while count() != 0 {
        std::thread::yield_now();
    }
    REFUSE.store(true, Ordering::SeqCst);
    static RAN: AtomicBool = AtomicBool::new(false);
    let results = [
        start_new_thread(|| RAN.store(true, Ordering::SeqCst)).map(|_| ()),
        start_joinable_thread(|| RAN.store(true, Ordering::SeqCst)).map(|_| ()),
        Builder::new()
            .spawn(|| RAN.store(true, Ordering::SeqCst))
            .map(|_| ()),
        // SAFETY: `foreign_body` gets a pointer to a static AtomicBool.
        unsafe {
            Builder::new().spawn_foreign(
                foreign_body,
                std::ptr::from_ref(&RAN).cast_mut().cast(),
                false,
            )
        }
        .map(|_| ()),
    ];
    for r in results {
        let err = r.unwrap_err();
        assert!(matches!(err, ThreadError::Audit(_)));
        assert_eq!(
            (err.python_type(), err.to_string().as_str()),
            ("PermissionError", "no threads here")
        );
    }
    assert_eq!(count(), 0);
    assert!(!RAN.load(Ordering::SeqCst));
    let events = take_events();
    assert_eq!(events.len(), 4);
    assert_eq!(
        events[3].0, "_thread.start_new_thread",
        "the foreign path raises its event too"
    );
    REFUSE.store(false, Ordering::SeqCst);

    // A hook that starts a thread while it handles a spawn's event.
    SPAWN_IN_HOOK.store(true, Ordering::SeqCst);
    start_joinable_thread(|| ()).unwrap().join(None).unwrap();
    assert_eq!(SPAWNED_IN_HOOK.lock().unwrap().as_slice(), &[Ok(())]);
    assert_eq!(take_events().len(), 2);
}
