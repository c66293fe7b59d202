//! How a spawned thread ends, end to end through pythread's spawning: EXIT-1, EXIT-2, EXIT-3,
//! HOOK-1, HOOK-2, and spawning from a dying thread's unraisable hook.
//!
//! One process-wide unraisable hook, installed once, records every report with the ident of the
//! thread it ran in; each test describes its threads with names of its own and looks only at
//! their reports, so the tests do not interfere (idents may be reused once a thread has exited). The text the default hook prints is checked in a child process.

use std::panic::{catch_unwind, panic_any};
use std::process::Command;
use std::sync::{Mutex, Once, mpsc};

use thread_core::{
    Builder, Ident, SystemExit, default_int_handler, exit, get_ident, start_joinable_thread,
};
use thread_hooks::{UnraisableHookArgs, set_unraisable_hook};

static REPORTS: Mutex<Vec<(Ident, UnraisableHookArgs)>> = Mutex::new(Vec::new());
static SPAWNED_FROM_HOOK: Mutex<Vec<Result<Ident, String>>> = Mutex::new(Vec::new());

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        set_unraisable_hook(|args| {
            if args.object.as_deref() == Some("<function spawner>") {
                // A dying thread's hook starts a thread and waits for it.
                let r = start_joinable_thread(|| ())
                    .and_then(|h| h.join(None).map(|()| h.ident()))
                    .map_err(|e| e.to_string());
                SPAWNED_FROM_HOOK.lock().unwrap().push(r);
            }
            REPORTS.lock().unwrap().push((get_ident(), args.clone()));
        });
    });
}

/// The reports about `object`, checking that each was made in the thread `ident` (HOOK-1).
fn reports_of(object: &str, ident: Ident) -> Vec<UnraisableHookArgs> {
    let reports = REPORTS.lock().unwrap();
    let mine: Vec<_> = reports
        .iter()
        .filter(|(_, a)| a.object.as_deref() == Some(object))
        .collect();
    assert!(
        mine.iter().all(|(i, _)| *i == ident),
        "reported in another thread"
    );
    mine.into_iter().map(|(_, a)| a.clone()).collect()
}

/// proves: EXIT-1
#[test]
fn exit_unwinds_with_system_exit_and_no_code() {
    let payload = catch_unwind(|| -> () { exit() }).unwrap_err();
    assert_eq!(
        payload.downcast_ref::<SystemExit>(),
        Some(&SystemExit { code: None })
    );
}

/// proves: EXIT-1, EXIT-2
#[test]
fn a_thread_ending_in_system_exit_ends_silently() {
    install();
    let (tx, rx) = mpsc::channel();
    let a = Builder::new()
        .describe("silent_a")
        .spawn_joinable(move || -> () {
            tx.send(()).unwrap();
            exit();
        })
        .unwrap();
    let b = Builder::new()
        .describe("silent_b")
        .spawn_joinable(|| -> () { panic_any(SystemExit { code: Some(3) }) })
        .unwrap();
    let c = Builder::new()
        .describe("silent_c")
        .spawn_joinable(|| -> Result<(), String> { panic_any(SystemExit { code: Some(0) }) })
        .unwrap();
    for (h, name) in [(&a, "silent_a"), (&b, "silent_b"), (&c, "silent_c")] {
        h.join(None).unwrap();
        assert!(h.is_done());
        assert!(reports_of(&format!("<function {name}>"), h.ident()).is_empty());
    }
    rx.recv().unwrap();
}

/// proves: HOOK-1, HOOK-2
#[test]
fn a_panic_is_reported_once_in_the_dying_thread() {
    install();
    let h = Builder::new()
        .describe("worker")
        .spawn_joinable(|| -> () { panic!("boom {}", 7) })
        .unwrap();
    h.join(None).unwrap();
    let reports = reports_of("<function worker>", h.ident());
    assert_eq!(reports.len(), 1, "{reports:?}");
    let r = &reports[0];
    assert_eq!(r.exc_type, "PanicException");
    assert_eq!(r.exc_value, "boom 7");
    assert_eq!(
        r.err_msg.as_deref(),
        Some("Exception ignored in thread started by")
    );
    assert_eq!(r.object.as_deref(), Some("<function worker>"));
    let tb = r.exc_traceback.as_deref().unwrap();
    assert!(
        tb.starts_with("  File \"thread-core/tests/exit_hooks.rs\", line "),
        "{tb}"
    );
}

/// proves: HOOK-1, HOOK-2
#[test]
fn an_err_is_reported_with_its_type_name_and_the_closure_type_as_object() {
    install();
    #[derive(Debug)]
    struct Oops;
    impl std::fmt::Display for Oops {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("it went wrong")
        }
    }
    fn failing() -> Result<(), Oops> {
        Err(Oops)
    }
    let h = start_joinable_thread(failing).unwrap();
    h.join(None).unwrap();
    let object = format!("<function {}>", std::any::type_name_of_val(&failing));
    let reports = reports_of(&object, h.ident());
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.exc_type, std::any::type_name::<Oops>());
    assert_eq!(r.exc_value, "it went wrong");
    assert_eq!(r.exc_traceback, None);
    assert_eq!(
        r.err_msg.as_deref(),
        Some("Exception ignored in thread started by")
    );
}

/// proves: EXIT-3
#[test]
fn a_keyboard_interrupt_in_another_thread_is_not_special() {
    install();
    // The default SIGINT handler's KeyboardInterrupt, raised in a thread that is not the main one.
    let h = Builder::new()
        .describe("interrupted")
        .spawn_joinable(|| default_int_handler(libc::SIGINT))
        .unwrap();
    h.join(None).unwrap();
    let reports = reports_of("<function interrupted>", h.ident());
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].exc_type,
        std::any::type_name::<thread_core::Interrupt>()
    );
}

#[test]
fn a_dying_threads_hook_can_start_threads() {
    install();
    let h = Builder::new()
        .describe("spawner")
        .spawn_joinable(|| -> () { panic!("die") })
        .unwrap();
    h.join(None).unwrap();
    assert_eq!(reports_of("<function spawner>", h.ident()).len(), 1);
    let spawned = SPAWNED_FROM_HOOK.lock().unwrap().clone();
    assert_eq!(spawned.len(), 1);
    assert!(spawned[0].is_ok(), "{spawned:?}");
}

/// proves: HOOK-1, HOOK-2, EXIT-2
#[test]
fn the_default_hook_prints_one_cpython_report_and_exit_prints_nothing() {
    if std::env::var_os("PYTHREAD_EXIT_CHILD").is_some() {
        // In the child: the default hook (nothing installed).
        let h = Builder::new()
            .describe("worker")
            .spawn_joinable(|| -> () { panic!("boom") })
            .unwrap();
        h.join(None).unwrap();
        let h = start_joinable_thread(|| -> () { exit() }).unwrap();
        h.join(None).unwrap();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_default_hook_prints_one_cpython_report_and_exit_prints_nothing",
        ])
        .args(["--test-threads=1", "--nocapture"])
        .env("PYTHREAD_EXIT_CHILD", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = stderr.lines().nth(2).unwrap_or_default().to_owned();
    let expected = format!(
        "Exception ignored in thread started by: <function worker>\n\
         Traceback (most recent call last):\n{line}\nPanicException: boom\n"
    );
    assert_eq!(stderr, expected);
    assert!(
        line.starts_with("  File \"thread-core/tests/exit_hooks.rs\", line "),
        "{line}"
    );
}
