//! What reaches stderr, compared to the letter with CPython's format (HOOK-3 and friends).
//!
//! Each test re-executes this binary with `THREAD_HOOKS_STDERR_SCENARIO` naming a scenario,
//! without `RUST_BACKTRACE` (unless the scenario is about backtraces), and compares the child's
//! stderr exactly — which also shows each failure is reported once and Rust's own panic message
//! is not printed as well. `harness = false`: the scenarios need a fresh process each, with the
//! process-wide registries and panic hook to themselves; the parent prints libtest-style lines.

use std::io::{BufRead, Write};
use std::process::{Command, Output, Stdio};

use thread_audit::{AuditError, add_audit_hook};
use thread_hooks::{
    SystemExit, ThreadExit, UnraisableHookArgs, reset_unraisable_hook, run_thread_body,
    set_unraisable_hook, write_unraisable,
};

const SCENARIO_VAR: &str = "THREAD_HOOKS_STDERR_SCENARIO";
const FILE: &str = "thread-hooks/tests/stderr.rs";

// ---------------------------------------------------------------------------------------------
// The scenarios (run in the child).

const BOOM_LINE: u32 = line!() + 3;

fn boom() {
    panic!("boom")
}

const HOOK_PANIC_LINE: u32 = line!() + 3;

fn failing_hook(_: &UnraisableHookArgs) {
    panic!("hook failed")
}

#[derive(Debug)]
struct ParseError;

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bad digit")
    }
}

#[derive(Debug)]
struct Empty;

impl std::fmt::Display for Empty {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

/// Runs `body` through `run_thread_body` on a new thread, as thread-core does.
fn in_thread<R: thread_hooks::ThreadResult>(
    object: &'static str,
    body: impl FnOnce() -> R + Send + 'static,
) -> ThreadExit {
    std::thread::spawn(move || run_thread_body(object, body))
        .join()
        .expect("run_thread_body never panics")
}

fn run_scenario(name: &str) {
    match name {
        "thread_panic" => println!("{:?}", in_thread("<function worker>", boom)),
        "thread_err" => println!(
            "{:?}",
            in_thread("<function parse>", || Err::<(), _>(ParseError))
        ),
        "empty_message" => println!(
            "{:?}",
            in_thread("<function quiet>", || Err::<(), _>(Empty))
        ),
        "system_exit" => {
            println!(
                "{:?}",
                in_thread("<function a>", || -> () {
                    std::panic::resume_unwind(Box::new(SystemExit { code: None }))
                })
            );
            println!(
                "{:?}",
                in_thread("<function b>", || -> () {
                    std::panic::panic_any(SystemExit { code: Some(2) })
                })
            );
            println!(
                "{:?}",
                in_thread("<function c>", || Err::<(), _>(SystemExit {
                    code: Some(1)
                }))
            );
        }
        "hook_panics" => {
            set_unraisable_hook(failing_hook);
            println!(
                "{:?}",
                in_thread("<function parse>", || Err::<(), _>(ParseError))
            );
            reset_unraisable_hook();
            write_unraisable(UnraisableHookArgs::new("ValueError", "after reset"));
        }
        "audit_refuses" => {
            add_audit_hook(|event| match event.name() {
                "sys.unraisablehook" => Err(AuditError::new("RuntimeError", "no unraisable")),
                _ => Ok(()),
            })
            .unwrap();
            let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let c = calls.clone();
            set_unraisable_hook(move |_: &UnraisableHookArgs| {
                c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            });
            println!(
                "{:?}",
                in_thread("<function parse>", || Err::<(), _>(ParseError))
            );
            println!(
                "hook calls: {}",
                calls.load(std::sync::atomic::Ordering::Relaxed)
            );
        }
        "default_audited" => {
            add_audit_hook(|event| {
                if event.name() == "sys.unraisablehook" {
                    let hook = event.args()[0].downcast_ref::<&str>().unwrap();
                    let args = event.args()[1]
                        .downcast_ref::<UnraisableHookArgs>()
                        .unwrap();
                    println!("audit {hook} {}", args.exc_value);
                }
                Ok(())
            })
            .unwrap();
            write_unraisable(UnraisableHookArgs::new("ValueError", "v"));
        }
        "headers" => {
            let base = UnraisableHookArgs::new("OSError", "connection reset");
            write_unraisable(
                base.clone()
                    .with_err_msg("Exception ignored while closing")
                    .with_object("<conn 7>"),
            );
            write_unraisable(base.clone().with_object("<conn 8>"));
            write_unraisable(base.clone().with_err_msg("Exception ignored in finalizer"));
            write_unraisable(base.clone());
            write_unraisable(
                base.with_traceback(
                    "  File \"embedder.rs\", line 4\n  File \"embedder.rs\", line 9",
                ),
            );
        }
        "stderr_closed" => {
            // Wait until the parent has closed the read end of our stderr pipe.
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).unwrap();
            println!("{:?}", in_thread("<function worker>", boom));
            set_unraisable_hook(failing_hook);
            println!(
                "{:?}",
                in_thread("<function parse>", || Err::<(), _>(ParseError))
            );
            println!("survived");
        }
        "foreign_panic" => {
            thread_hooks::install_panic_hook();
            let _ = std::thread::Builder::new()
                .name("plain".into())
                .spawn(|| panic!("plain panic"))
                .unwrap()
                .join();
        }
        "backtrace" => println!("{:?}", in_thread("<function worker>", boom)),
        other => panic!("unknown scenario {other}"),
    }
    std::io::stdout().flush().unwrap();
}

// ---------------------------------------------------------------------------------------------
// The tests (run in the parent).

fn child(scenario: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command
        .env(SCENARIO_VAR, scenario)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null());
    command
}

fn run(scenario: &str) -> Result<(String, String), String> {
    let output: Output = child(scenario).output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return Err(format!(
            "child failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            output.status
        ));
    }
    Ok((stdout, stderr))
}

fn expect_eq(what: &str, got: &str, want: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what} differs\n--- got:\n{got}\n--- want:\n{want}"
        ))
    }
}

/// proves: HOOK-1, HOOK-2, HOOK-3
fn panic_in_thread_prints_cpythons_block_once() -> Result<(), String> {
    let (stdout, stderr) = run("thread_panic")?;
    expect_eq("stdout", &stdout, "Reported\n")?;
    expect_eq(
        "stderr",
        &stderr,
        &format!(
            "Exception ignored in thread started by: <function worker>\n\
             Traceback (most recent call last):\n  File \"{FILE}\", line {BOOM_LINE}\n\
             PanicException: boom\n"
        ),
    )
}

/// proves: HOOK-1, HOOK-2, HOOK-3
fn err_in_thread_prints_type_name_and_message() -> Result<(), String> {
    let (stdout, stderr) = run("thread_err")?;
    expect_eq("stdout", &stdout, "Reported\n")?;
    expect_eq(
        "stderr",
        &stderr,
        "Exception ignored in thread started by: <function parse>\nstderr::ParseError: bad digit\n",
    )
}

/// proves: HOOK-3
fn empty_message_keeps_the_colon_and_space() -> Result<(), String> {
    let (_, stderr) = run("empty_message")?;
    expect_eq(
        "stderr",
        &stderr,
        "Exception ignored in thread started by: <function quiet>\nstderr::Empty: \n",
    )
}

/// proves: EXIT-2
fn system_exit_prints_nothing() -> Result<(), String> {
    let (stdout, stderr) = run("system_exit")?;
    expect_eq(
        "stdout",
        &stdout,
        "SystemExit(SystemExit { code: None })\nSystemExit(SystemExit { code: Some(2) })\n\
         SystemExit(SystemExit { code: Some(1) })\n",
    )?;
    expect_eq("stderr", &stderr, "")
}

/// proves: HOOK-5, HOOK-6
fn failing_hook_is_reported_by_the_default_printer() -> Result<(), String> {
    let (stdout, stderr) = run("hook_panics")?;
    expect_eq("stdout", &stdout, "Reported\n")?;
    expect_eq(
        "stderr",
        &stderr,
        &format!(
            "Exception ignored in sys.unraisablehook: stderr::failing_hook\n\
             Traceback (most recent call last):\n  File \"{FILE}\", line {HOOK_PANIC_LINE}\n\
             PanicException: hook failed\n\
             ValueError: after reset\n"
        ),
    )
}

/// proves: HOOK-7, AUDIT-6
fn audit_refusal_is_printed_and_hook_not_called() -> Result<(), String> {
    let (stdout, stderr) = run("audit_refuses")?;
    expect_eq("stdout", &stdout, "Reported\nhook calls: 0\n")?;
    expect_eq(
        "stderr",
        &stderr,
        "Exception ignored in audit hook:\nRuntimeError: no unraisable\n",
    )
}

/// proves: HOOK-7, HOOK-10, AUDIT-6
fn default_hook_is_audited_too() -> Result<(), String> {
    let (stdout, stderr) = run("default_audited")?;
    expect_eq("stdout", &stdout, "audit <default unraisable hook> v\n")?;
    expect_eq("stderr", &stderr, "ValueError: v\n")
}

/// proves: HOOK-3, HOOK-10
fn embedder_reports_use_cpythons_headers() -> Result<(), String> {
    let (_, stderr) = run("headers")?;
    expect_eq(
        "stderr",
        &stderr,
        "Exception ignored while closing: <conn 7>\nOSError: connection reset\n\
         Exception ignored in: <conn 8>\nOSError: connection reset\n\
         Exception ignored in finalizer:\nOSError: connection reset\n\
         OSError: connection reset\n\
         Traceback (most recent call last):\n  File \"embedder.rs\", line 4\n  File \"embedder.rs\", line 9\n\
         OSError: connection reset\n",
    )
}

/// proves: HOOK-4
fn unwritable_stderr_is_tolerated() -> Result<(), String> {
    let mut command = child("stderr_closed");
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut process = command.spawn().map_err(|e| e.to_string())?;
    // Close the read end of the child's stderr before it writes anything: its writes fail
    // with EPIPE.
    drop(process.stderr.take());
    let mut stdin = process.stdin.take().unwrap();
    stdin.write_all(b"go\n").map_err(|e| e.to_string())?;
    drop(stdin);
    let output = process.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "child failed: {}; stdout:\n{stdout}",
            output.status
        ));
    }
    expect_eq("stdout", &stdout, "Reported\nReported\nsurvived\n")
}

/// proves: HOOK-3
fn other_threads_keep_rusts_panic_message() -> Result<(), String> {
    let (_, stderr) = run("foreign_panic")?;
    let want = format!("panicked at {FILE}:");
    if stderr.contains("thread 'plain'")
        && stderr.contains(&want)
        && stderr.contains("plain panic")
        && !stderr.contains("Exception ignored")
    {
        Ok(())
    } else {
        Err(format!("want Rust's own message, got:\n{stderr}"))
    }
}

/// proves: HOOK-2
fn backtrace_follows_the_location_when_asked() -> Result<(), String> {
    let output = child("backtrace")
        .env("RUST_BACKTRACE", "1")
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let location = format!("  File \"{FILE}\", line {BOOM_LINE}");
    let ok = output.status.success()
        && lines.len() > 4
        && lines[0] == "Exception ignored in thread started by: <function worker>"
        && lines[1] == "Traceback (most recent call last):"
        && lines[2] == location
        && lines[lines.len() - 1] == "PanicException: boom"
        && stderr.matches("Exception ignored").count() == 1
        && !stderr.contains("panicked at");
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected stderr:\n{stderr}"))
    }
}

fn main() {
    if let Ok(scenario) = std::env::var(SCENARIO_VAR) {
        run_scenario(&scenario);
        return;
    }
    type Test = fn() -> Result<(), String>;
    let tests: &[(&str, Test)] = &[
        (
            "panic_in_thread_prints_cpythons_block_once",
            panic_in_thread_prints_cpythons_block_once,
        ),
        (
            "err_in_thread_prints_type_name_and_message",
            err_in_thread_prints_type_name_and_message,
        ),
        (
            "empty_message_keeps_the_colon_and_space",
            empty_message_keeps_the_colon_and_space,
        ),
        ("system_exit_prints_nothing", system_exit_prints_nothing),
        (
            "failing_hook_is_reported_by_the_default_printer",
            failing_hook_is_reported_by_the_default_printer,
        ),
        (
            "audit_refusal_is_printed_and_hook_not_called",
            audit_refusal_is_printed_and_hook_not_called,
        ),
        ("default_hook_is_audited_too", default_hook_is_audited_too),
        (
            "embedder_reports_use_cpythons_headers",
            embedder_reports_use_cpythons_headers,
        ),
        (
            "unwritable_stderr_is_tolerated",
            unwritable_stderr_is_tolerated,
        ),
        (
            "other_threads_keep_rusts_panic_message",
            other_threads_keep_rusts_panic_message,
        ),
        (
            "backtrace_follows_the_location_when_asked",
            backtrace_follows_the_location_when_asked,
        ),
    ];
    // libtest-like arguments: flags are ignored, a free argument filters by substring.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in tests {
            println!("{name}: test");
        }
        return;
    }
    let selected: Vec<_> = tests
        .iter()
        .filter(|(name, _)| {
            filters.is_empty()
                || filters.iter().any(|f| {
                    if exact {
                        *name == f.as_str()
                    } else {
                        name.contains(f.as_str())
                    }
                })
        })
        .collect();
    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    for (name, test) in &selected {
        match test() {
            Ok(()) => println!("test {name} ... ok"),
            Err(why) => {
                println!("test {name} ... FAILED");
                failed.push((name, why));
            }
        }
    }
    for (name, why) in &failed {
        println!("\n---- {name} ----\n{why}");
    }
    let result = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {result}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out\n",
        selected.len() - failed.len(),
        failed.len(),
        tests.len() - selected.len()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}
