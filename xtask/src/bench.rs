//! `cargo xtask bench`: pythread's speed, always side by side with its peers in the same run.
//!
//! - `cargo xtask bench` runs every crate's criterion benches, reads criterion's estimates, and
//!   writes `target/bench-report.md`: one table per area, each row ours beside a peer, the ratio
//!   of their median times, the goal from the crate's issue, and whether it is met. Then a context
//!   table from CPython on the same machine (it includes the interpreter: context, not a goal), and
//!   the instruction counts of the uncontended fast paths.
//! - `cargo xtask bench --quick` only counts instructions (`valgrind --tool=callgrind` on a small
//!   binary with fixed iteration counts and one thread: exactly repeatable on a noisy machine) and
//!   fails when a count grew more than 10% over the committed baseline.
//! - `cargo xtask bench --update-baseline` rewrites that baseline.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::python;

/// What a row of the report must show to meet its goal.
#[derive(Clone, Copy)]
enum Target {
    /// Our median time at most this many times the peer's.
    MaxRatio(f64),
    /// Our median time at most this many nanoseconds above the peer's.
    MaxExtraNs(f64),
    /// Our median time under this many nanoseconds, whatever the peer's.
    UnderNs(f64),
    /// A timed wait of this many nanoseconds: our oversleep (median minus the wait) no worse
    /// than the peer's.
    OversleepOf(f64),
    /// No goal: the peer is shown for context.
    Context,
}

/// A comparison the report makes: our benchmark against a peer's, with the issue's goal.
struct Goal {
    area: &'static str,
    /// Criterion's full ids (`group/function[/parameter]`).
    ours: &'static str,
    peer: &'static str,
    target: Target,
}

const fn goal(area: &'static str, ours: &'static str, peer: &'static str, max: f64) -> Goal {
    Goal {
        area,
        ours,
        peer,
        target: Target::MaxRatio(max),
    }
}

const fn beside(area: &'static str, ours: &'static str, peer: &'static str) -> Goal {
    Goal {
        area,
        ours,
        peer,
        target: Target::Context,
    }
}

/// The rows of the report. Throughput goals are stated as time ratios: "at least 0.8x
/// parking_lot's throughput" is "at most 1.25x its time".
const GOALS: &[Goal] = &[
    goal(
        "lock",
        "uncontended_pair/thread_lock",
        "uncontended_pair/std_mutex",
        1.0,
    ),
    beside(
        "lock",
        "uncontended_pair/thread_lock",
        "uncontended_pair/pl_mutex",
    ),
    beside(
        "lock",
        "uncontended_pair/thread_lock",
        "uncontended_pair/pl_raw",
    ),
    beside(
        "lock",
        "uncontended_pair/thread_lock_result",
        "uncontended_pair/std_mutex",
    ),
    beside("lock", "try_pair/thread_lock", "try_pair/std_mutex"),
    beside("lock", "try_pair/thread_lock", "try_pair/pl_raw"),
    goal(
        "lock",
        "timed_pair_free/thread_lock_acquire_for",
        "timed_pair_free/std_mutex",
        1.05,
    ),
    goal(
        "lock",
        "timed_pair_free/thread_lock",
        "timed_pair_free/std_mutex",
        1.05,
    ),
    goal(
        "handoff",
        "handoff_pingpong/thread_lock",
        "handoff_pingpong/pl_raw",
        1.5,
    ),
    beside(
        "handoff",
        "handoff_pingpong/thread_lock",
        "handoff_pingpong/std_mutex_condvar",
    ),
    goal(
        "contention",
        "contended/thread_lock/2",
        "contended/std_mutex/2",
        1.0,
    ),
    goal(
        "contention",
        "contended/thread_lock/2",
        "contended/pl_mutex/2",
        1.25,
    ),
    goal(
        "contention",
        "contended/thread_lock/4",
        "contended/std_mutex/4",
        1.0,
    ),
    goal(
        "contention",
        "contended/thread_lock/4",
        "contended/pl_mutex/4",
        1.25,
    ),
    goal(
        "contention",
        "contended/thread_lock/8",
        "contended/std_mutex/8",
        1.0,
    ),
    goal(
        "contention",
        "contended/thread_lock/8",
        "contended/pl_mutex/8",
        1.25,
    ),
    Goal {
        area: "timed wait",
        ours: "timed_wait_1ms/thread_lock",
        peer: "timed_wait_1ms/std_condvar_wait_timeout",
        target: Target::OversleepOf(1e6),
    },
    beside(
        "timed wait",
        "timed_wait_1ms/thread_lock",
        "timed_wait_1ms/pl_condvar_wait_for",
    ),
    goal("identity", "ident/get_ident", "ident/pthread_self", 1.0),
    beside("identity", "ident/get_ident", "ident/std_thread_current_id"),
    beside("identity", "ident/get_native_id", "ident/gettid_syscall"),
    goal(
        "spawn",
        "spawn_join/start_joinable_thread",
        "spawn_join/std_thread_spawn",
        1.10,
    ),
    beside(
        "spawn",
        "spawn_join/spawn_foreign",
        "spawn_join/std_thread_spawn",
    ),
    Goal {
        area: "audit",
        ours: "audit/audit_0_hooks",
        peer: "audit/atomic_load_acquire",
        target: Target::MaxExtraNs(1.0),
    },
    Goal {
        area: "audit",
        ours: "audit/audit_1_hooks",
        peer: "audit/empty_fn_call",
        target: Target::UnderNs(20.0),
    },
    beside("audit", "audit/audit_4_hooks", "audit/empty_fn_call"),
];

/// One criterion benchmark's median time, in nanoseconds.
fn criterion_medians(dir: &Path) -> BTreeMap<String, f64> {
    let mut medians = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("new/benchmark.json")
                && let Some((id, median)) = read_estimate(&path)
            {
                medians.insert(id, median);
            }
        }
    }
    medians
}

fn read_estimate(benchmark: &Path) -> Option<(String, f64)> {
    let id: serde_json::Value = serde_json::from_str(&fs::read_to_string(benchmark).ok()?).ok()?;
    let estimates_path = benchmark.with_file_name("estimates.json");
    let estimates: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(estimates_path).ok()?).ok()?;
    let full_id = id.get("full_id")?.as_str()?.to_owned();
    let median = estimates.get("median")?.get("point_estimate")?.as_f64()?;
    Some((full_id, median))
}

fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.2} ns")
    }
}

fn goal_table(medians: &BTreeMap<String, f64>) -> String {
    let mut out = String::new();
    let mut area = "";
    for row in GOALS {
        if row.area != area {
            area = row.area;
            let _ = write!(
                out,
                "\n### {area}\n\n| ours | peer | ours (median) | peer (median) | ratio | goal | met |\n|---|---|---|---|---|---|---|\n"
            );
        }
        let ours = medians.get(row.ours);
        let peer = medians.get(row.peer);
        let (ours_text, peer_text, ratio_text, met) = match (ours, peer) {
            (Some(&o), Some(&p)) => {
                let met = match row.target {
                    Target::MaxRatio(max) => Some(o / p <= max),
                    Target::MaxExtraNs(extra) => Some(o - p <= extra),
                    Target::UnderNs(limit) => Some(o < limit),
                    Target::OversleepOf(wait) => Some(o - wait <= p - wait),
                    Target::Context => None,
                };
                let met = match met {
                    Some(true) => "met",
                    Some(false) => "NOT MET",
                    None => "—",
                };
                let ratio = format!("{:.2}x", o / p);
                (format_ns(o), format_ns(p), ratio, met.to_owned())
            }
            _ => (
                ours.map_or("not run".into(), |&o| format_ns(o)),
                peer.map_or("not run".into(), |&p| format_ns(p)),
                "—".to_owned(),
                "not measured".to_owned(),
            ),
        };
        let goal = match row.target {
            Target::MaxRatio(max) => format!("≤ {max:.2}x"),
            Target::MaxExtraNs(extra) => format!("≤ peer + {extra} ns"),
            Target::UnderNs(limit) => format!("< {limit} ns"),
            Target::OversleepOf(wait) => format!("oversleep past {} ≤ peer's", format_ns(wait)),
            Target::Context => "context".to_owned(),
        };
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {ours_text} | {peer_text} | {ratio_text} | {goal} | {met} |",
            row.ours, row.peer
        );
    }
    out
}

/// The fairness lines thread-lock's contention bench prints (`  N threads: thread_lock F (A
/// ops), std_mutex F (B), ...`), as a table with the issue's goal (slowest / mean ≥ 0.8).
fn fairness_table(printed: &str) -> String {
    let mut out = String::from(
        "\n### fairness (slowest thread / mean, contended)\n\n| threads | thread_lock | std_mutex | pl_mutex | pl_raw | goal | met |\n|---|---|---|---|---|---|---|\n",
    );
    let mut rows = 0;
    for line in printed.lines() {
        let Some((threads, rest)) = line.trim().split_once(" threads: ") else {
            continue;
        };
        let values: Vec<f64> = rest
            .split(", ")
            .filter_map(|part| part.split_whitespace().nth(1)?.parse().ok())
            .collect();
        let [ours, std, pl_mutex, pl_raw] = values[..] else {
            continue;
        };
        let met = if ours >= 0.8 { "met" } else { "NOT MET" };
        let _ = writeln!(
            out,
            "| {threads} | {ours:.2} | {std:.2} | {pl_mutex:.2} | {pl_raw:.2} | ≥ 0.80 | {met} |"
        );
        rows += 1;
    }
    if rows == 0 {
        out.push_str("| — | not measured | | | | ≥ 0.80 | not measured |\n");
    }
    out
}

/// `python3 -m timeit` of the same operations, for context: it includes the interpreter.
fn cpython_context() -> String {
    let Ok(found) = python::find() else {
        return "CPython not found: no context table.\n".to_owned();
    };
    let cases = [
        (
            "lock.acquire(); lock.release()",
            "import _thread; lock = _thread.allocate_lock()",
            "lock.acquire(); lock.release()",
        ),
        (
            "with lock: pass",
            "import _thread; lock = _thread.allocate_lock()",
            "with lock: pass",
        ),
        (
            "_thread.get_ident()",
            "import _thread",
            "_thread.get_ident()",
        ),
    ];
    let mut out = format!(
        "| CPython {} (includes the interpreter) | time per operation |\n|---|---|\n",
        found.version_string()
    );
    for (label, setup, statement) in cases {
        let output = Command::new(&found.program)
            .args(["-m", "timeit", "-s", setup, statement])
            .output();
        let text = output
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let per_loop = text.split(": ").nth(1).unwrap_or("failed").to_owned();
        let _ = writeln!(out, "| `{label}` | {per_loop} |");
    }
    let ping_pong = "\
import _thread, time
a = _thread.allocate_lock(); b = _thread.allocate_lock(); a.acquire(); b.acquire()
N = 20000
def partner():
    for _ in range(N):
        a.acquire(); b.release()
_thread.start_new_thread(partner, ())
t = time.perf_counter()
for _ in range(N):
    a.release(); b.acquire()
print((time.perf_counter() - t) / N * 1e9)
";
    let ping = Command::new(&found.program)
        .args(["-c", ping_pong])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        });
    let _ = writeln!(
        out,
        "| two-lock ping-pong, one round trip | {} |",
        ping.map_or("failed".to_owned(), format_ns)
    );
    out
}

/// The fast paths whose instruction counts are the regression signal.
const COUNTED: &[&str] = &[
    "lock_pair",
    "lock_try_pair",
    "lock_timed_pair",
    "lock_result_timed_pair",
    "lock_guard",
    "rlock_pair",
    "get_ident",
    "audit_no_hooks",
    "std_mutex_pair",
    "parking_lot_raw_mutex_pair",
];

const ITERATIONS: u64 = 100_000;
const BASELINE: &str = "xtask/bench-baseline.toml";

fn toolchain() -> String {
    Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn build_fastpaths(root: &Path) -> Result<PathBuf, String> {
    let status = cargo()
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--release",
            "--package",
            "conformance",
            "--example",
            "fastpaths",
        ])
        .status()
        .map_err(|e| format!("cannot build the fast-path binary: {e}"))?;
    if !status.success() {
        return Err("building the fast-path binary failed".to_owned());
    }
    Ok(root.join("target/release/examples/fastpaths"))
}

fn callgrind_total(binary: &Path, case: &str, iterations: u64, out: &Path) -> Result<u64, String> {
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(binary)
        .args([case, &iterations.to_string()])
        .env_remove("RUST_BACKTRACE")
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "valgrind on `{case}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let text = fs::read_to_string(out).map_err(|e| format!("{}: {e}", out.display()))?;
    text.lines()
        .find_map(|l| l.strip_prefix("totals: "))
        .or_else(|| text.lines().find_map(|l| l.strip_prefix("summary: ")))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("{}: no instruction total", out.display()))
}

/// Instructions per operation: the difference between a run of `ITERATIONS` and a run of none,
/// so start-up and shutdown cancel out.
fn instruction_counts(root: &Path) -> Result<BTreeMap<String, f64>, String> {
    let binary = build_fastpaths(root)?;
    let dir = root.join("target/callgrind");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut counts = BTreeMap::new();
    for case in COUNTED {
        let empty = callgrind_total(&binary, case, 0, &dir.join(format!("{case}.0.out")))?;
        let full = callgrind_total(&binary, case, ITERATIONS, &dir.join(format!("{case}.out")))?;
        let per_op = full.saturating_sub(empty) as f64 / ITERATIONS as f64;
        counts.insert((*case).to_owned(), per_op);
    }
    Ok(counts)
}

fn read_baseline(root: &Path) -> Result<(String, BTreeMap<String, f64>), String> {
    let path = root.join(BASELINE);
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let toolchain = table
        .get("toolchain")
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .to_owned();
    let counts = table
        .get("instructions_per_op")
        .and_then(|v| v.as_table())
        .map(|t| {
            t.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_float()?)))
                .collect()
        })
        .unwrap_or_default();
    Ok((toolchain, counts))
}

fn write_baseline(root: &Path, counts: &BTreeMap<String, f64>) -> Result<(), String> {
    let mut text = String::from(
        "# Instructions per operation of the uncontended fast paths (callgrind, one thread).\n\
         # `cargo xtask bench --quick` fails when one grows more than 10% over this;\n\
         # `cargo xtask bench --update-baseline` rewrites it.\n",
    );
    let _ = writeln!(
        text,
        "toolchain = {:?}\n\n[instructions_per_op]",
        toolchain()
    );
    for (case, count) in counts {
        let _ = writeln!(text, "{case} = {count:.2}");
    }
    fs::write(root.join(BASELINE), text).map_err(|e| e.to_string())
}

fn counts_table(counts: &BTreeMap<String, f64>, baseline: &BTreeMap<String, f64>) -> String {
    let mut out =
        String::from("| fast path | instructions / op | baseline | change |\n|---|---|---|---|\n");
    for (case, count) in counts {
        let (base, change) = match baseline.get(case) {
            Some(&b) if b > 0.0 => (
                format!("{b:.2}"),
                format!("{:+.1}%", (count / b - 1.0) * 100.0),
            ),
            _ => ("—".to_owned(), "new".to_owned()),
        };
        let _ = writeln!(out, "| `{case}` | {count:.2} | {base} | {change} |");
    }
    out
}

/// Cases whose count grew more than 10% over the baseline.
fn regressions(counts: &BTreeMap<String, f64>, baseline: &BTreeMap<String, f64>) -> Vec<String> {
    counts
        .iter()
        .filter_map(|(case, &count)| {
            let base = *baseline.get(case)?;
            (count > base * 1.10).then(|| format!("{case}: {count:.2} > {base:.2} + 10%"))
        })
        .collect()
}

pub(crate) fn bench(root: &Path, args: &[String]) -> Result<bool, String> {
    let quick = args.iter().any(|a| a == "--quick");
    let update = args.iter().any(|a| a == "--update-baseline");
    if update {
        let counts = instruction_counts(root)?;
        write_baseline(root, &counts)?;
        print!("{}", counts_table(&counts, &counts));
        println!("baseline written to {BASELINE}");
        return Ok(true);
    }
    if quick {
        let (toolchain_then, baseline) = read_baseline(root)?;
        let counts = instruction_counts(root)?;
        print!("{}", counts_table(&counts, &baseline));
        if toolchain_then != toolchain() {
            println!(
                "note: the baseline was taken with {toolchain_then}, this is {}",
                toolchain()
            );
        }
        let grown = regressions(&counts, &baseline);
        for line in &grown {
            println!("REGRESSION {line}");
        }
        return Ok(grown.is_empty());
    }

    let mut child = cargo()
        .current_dir(root)
        .args(["bench", "--workspace", "--bench", "*", "--"])
        .args(["--warm-up-time", "1", "--measurement-time", "3"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    let mut printed = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            printed.push_str(&line);
            printed.push('\n');
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Ok(false);
    }
    let medians = criterion_medians(&root.join("target/criterion"));
    let mut report = String::from(
        "# pythread benchmark report\n\nMedians from criterion, ours beside each peer measured in \
         the same run; ratio = our time / the peer's time (below 1 is faster).\n",
    );
    report.push_str(&goal_table(&medians));
    report.push_str(&fairness_table(&printed));
    report.push_str("\n## Context: CPython on the same machine\n\n");
    report.push_str(&cpython_context());
    report.push_str("\n## Instruction counts (callgrind)\n\n");
    match (instruction_counts(root), read_baseline(root)) {
        (Ok(counts), Ok((_, baseline))) => report.push_str(&counts_table(&counts, &baseline)),
        (Ok(counts), Err(_)) => report.push_str(&counts_table(&counts, &BTreeMap::new())),
        (Err(why), _) => {
            let _ = writeln!(report, "not measured: {why}");
        }
    }
    let path = root.join("target/bench-report.md");
    fs::write(&path, &report).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("{report}\nwritten to {}", path.display());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_more_than_ten_percent_over_the_baseline_is_a_regression() {
        let baseline = BTreeMap::from([("a".to_owned(), 10.0), ("b".to_owned(), 10.0)]);
        let counts = BTreeMap::from([
            ("a".to_owned(), 11.0),
            ("b".to_owned(), 11.5),
            ("new".to_owned(), 99.0),
        ]);
        let found = regressions(&counts, &baseline);
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("b:"));
    }

    #[test]
    fn fairness_lines_become_rows() {
        let printed = "  2 threads: thread_lock 0.91 (100 ops), std_mutex 0.50 (80), \
                       pl_mutex 0.88 (90), pl_raw 0.70 (95)\n";
        let table = fairness_table(printed);
        assert!(
            table.contains("| 2 | 0.91 | 0.50 | 0.88 | 0.70 | ≥ 0.80 | met |"),
            "{table}"
        );
    }

    #[test]
    fn criterion_estimates_are_read_by_full_id() {
        let dir = std::env::temp_dir().join(format!("xtask-criterion-{}", std::process::id()));
        let new = dir.join("uncontended_pair/thread_lock/new");
        fs::create_dir_all(&new).unwrap();
        fs::write(
            new.join("benchmark.json"),
            r#"{"group_id":"uncontended_pair","function_id":"thread_lock","full_id":"uncontended_pair/thread_lock"}"#,
        )
        .unwrap();
        fs::write(
            new.join("estimates.json"),
            r#"{"mean":{"point_estimate":9.0},"median":{"point_estimate":8.5}}"#,
        )
        .unwrap();
        let medians = criterion_medians(&dir);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(medians.get("uncontended_pair/thread_lock"), Some(&8.5));
        let table = goal_table(&medians);
        assert!(table.contains(
            "| `uncontended_pair/thread_lock` | `uncontended_pair/std_mutex` | 8.50 ns | not run |"
        ));
    }
}
