//! `cargo xtask bench`: pythread's speed, always side by side with its peers in the same run.
//!
//! - `cargo xtask bench` runs every crate's criterion benches once and thread-lock's `locks` bench
//!   in [`ROUNDS`] rounds in all (`--rounds N`), reads criterion's estimates after each run, and
//!   writes `target/bench-report.md`: one table per area, each row ours beside a peer measured in
//!   the same run, the median over the rounds of the per-round ratio of their median times, the
//!   ratios' spread, the goal from the crates' issues, and whether the median meets it (a goal is
//!   called met only on the median). Then fairness in the same rounds, the Python level (the
//!   built-in `_thread` against pythread in the same CPython, interleaved rounds, on every CPython
//!   found; see [`crate::pybench`]; `--no-python` leaves it out), and the instruction counts of
//!   the uncontended fast paths. The report's head gives the date and the machine's load.
//!   `--python-only` runs the Python level alone (into `target/bench-python.md`).
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
use std::time::SystemTime;

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

/// The rows of the report, with issue 14's goals ("ahead of every peer"). Throughput goals are
/// stated as time ratios: "at least parking_lot's throughput" is "at most 1.0x its time".
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
        1.0,
    ),
    goal(
        "lock",
        "timed_pair_free/thread_lock",
        "timed_pair_free/std_mutex",
        1.0,
    ),
    goal(
        "rlock",
        "rlock_pair/thread_rlock",
        "rlock_pair/pl_reentrant_mutex",
        1.0,
    ),
    beside(
        "rlock",
        "rlock_pair/thread_rlock_guard",
        "rlock_pair/pl_reentrant_mutex",
    ),
    beside(
        "rlock",
        "rlock_pair/thread_rlock_nested",
        "rlock_pair/pl_reentrant_mutex_nested",
    ),
    goal(
        "handoff",
        "handoff_pingpong/thread_lock",
        "handoff_pingpong/pl_raw",
        1.0,
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
        1.0,
    ),
    beside(
        "contention",
        "contended/thread_lock/2",
        "contended/no_lock/2",
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
        1.0,
    ),
    beside(
        "contention",
        "contended/thread_lock/4",
        "contended/no_lock/4",
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
        1.0,
    ),
    beside(
        "contention",
        "contended/thread_lock/8",
        "contended/no_lock/8",
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

/// The median times (nanoseconds) of the criterion benchmarks that one run measured.
type Medians = BTreeMap<String, f64>;

/// Criterion's estimates under `dir`, keyed by full id, of the benchmarks written at or after
/// `since` (so a run that measured only some benchmarks does not count the others' older ones).
fn criterion_medians(dir: &Path, since: SystemTime) -> Medians {
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
                && let Some((id, median)) = read_estimate(&path, since)
            {
                medians.insert(id, median);
            }
        }
    }
    medians
}

fn read_estimate(benchmark: &Path, since: SystemTime) -> Option<(String, f64)> {
    let id: serde_json::Value = serde_json::from_str(&fs::read_to_string(benchmark).ok()?).ok()?;
    let estimates_path = benchmark.with_file_name("estimates.json");
    if fs::metadata(&estimates_path).ok()?.modified().ok()? < since {
        return None;
    }
    let estimates: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(estimates_path).ok()?).ok()?;
    let full_id = id.get("full_id")?.as_str()?.to_owned();
    let median = estimates.get("median")?.get("point_estimate")?.as_f64()?;
    Some((full_id, median))
}

pub(crate) fn format_ns(ns: f64) -> String {
    if ns.abs() >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns.abs() >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.2} ns")
    }
}

/// A difference of times, with its sign.
fn signed_ns(ns: f64) -> String {
    if ns < 0.0 {
        format!("−{}", format_ns(-ns))
    } else {
        format!("+{}", format_ns(ns))
    }
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// `min–max` of `values`, formatted by `show`.
pub(crate) fn spread(values: &[f64], show: impl Fn(f64) -> String) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.len() < 2 {
        "—".to_owned()
    } else {
        format!("{}–{}", show(min), show(max))
    }
}

/// One row over the rounds: ours and the peer's medians from each round that measured both.
struct RowRounds {
    ours: Vec<f64>,
    peer: Vec<f64>,
}

impl RowRounds {
    fn of(row: &Goal, rounds: &[Medians]) -> RowRounds {
        let (ours, peer) = rounds
            .iter()
            .filter_map(|r| Some((*r.get(row.ours)?, *r.get(row.peer)?)))
            .unzip();
        RowRounds { ours, peer }
    }

    fn ratios(&self) -> Vec<f64> {
        self.ours
            .iter()
            .zip(&self.peer)
            .map(|(o, p)| o / p)
            .collect()
    }

    fn differences(&self) -> Vec<f64> {
        self.ours
            .iter()
            .zip(&self.peer)
            .map(|(o, p)| o - p)
            .collect()
    }

    /// Whether the row's goal is met in the median over the rounds (`None`: no goal, or not
    /// measured).
    fn met(&self, target: Target) -> Option<bool> {
        match target {
            Target::MaxRatio(max) => Some(median(&self.ratios())? <= max),
            Target::MaxExtraNs(extra) => Some(median(&self.differences())? <= extra),
            Target::UnderNs(limit) => Some(median(&self.ours)? < limit),
            // Our oversleep past the wait (median − wait) no worse than the peer's: the same
            // wait cancels out.
            Target::OversleepOf(_) => Some(median(&self.differences())? <= 0.0),
            Target::Context => None,
        }
    }
}

fn goal_table(rounds: &[Medians]) -> String {
    let mut out = String::new();
    let mut area = "";
    for row in GOALS {
        if row.area != area {
            area = row.area;
            let _ = write!(
                out,
                "\n### {area}\n\n| ours | peer | ours (median) | peer (median) | ratio (median) | \
                 spread | rounds | goal | met |\n|---|---|---|---|---|---|---|---|---|\n"
            );
        }
        let measured = RowRounds::of(row, rounds);
        let n = measured.ours.len();
        let (ours_text, peer_text, ratio_text, spread_text, met) = if n == 0 {
            let first = |id: &str| {
                rounds
                    .iter()
                    .find_map(|r| r.get(id))
                    .map_or("not run".to_owned(), |&v| format_ns(v))
            };
            (
                first(row.ours),
                first(row.peer),
                "—".to_owned(),
                "—".to_owned(),
                "not measured".to_owned(),
            )
        } else {
            let ratios = measured.ratios();
            let met = match measured.met(row.target) {
                Some(true) => "met",
                Some(false) => "NOT MET",
                None => "—",
            };
            let spread_text = match row.target {
                Target::MaxExtraNs(_) | Target::OversleepOf(_) => {
                    spread(&measured.differences(), signed_ns).replace("–", " … ")
                }
                _ => spread(&ratios, |r| format!("{r:.2}x")),
            };
            (
                format_ns(median(&measured.ours).unwrap_or(f64::NAN)),
                format_ns(median(&measured.peer).unwrap_or(f64::NAN)),
                format!("{:.2}x", median(&ratios).unwrap_or(f64::NAN)),
                spread_text,
                met.to_owned(),
            )
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
            "| `{}` | `{}` | {ours_text} | {peer_text} | {ratio_text} | {spread_text} | {n} | {goal} | {met} |",
            row.ours, row.peer
        );
    }
    out
}

/// The fairness goal: the slowest thread's share at least this fraction of the mean's.
const FAIRNESS_GOAL: f64 = 0.9;

/// The fairness lines thread-lock's contention bench prints (`  N threads: thread_lock F (A
/// ops), std_mutex F (B), pl_mutex F (C), pl_raw F (D), no_lock F (E)`), one `printed` text per
/// round, as a table: per thread count the median over the rounds of each lock's slowest / mean,
/// ours with its spread, and the goal met when our median reaches it. `no_lock` is the same
/// threads doing the same work with no lock: how evenly the scheduler alone shares the
/// processors, which no lock that lets a running thread barge can beat.
fn fairness_table(printed: &[String]) -> String {
    let mut out = String::from(
        "\n### fairness (slowest thread / mean, contended)\n\n| threads | thread_lock (median) | \
         spread | rounds | std_mutex | pl_mutex | pl_raw | no lock (scheduler alone) | goal | met \
         |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    // threads -> per column (ours, std, pl_mutex, pl_raw, no lock) the values of each round
    let mut by_threads: BTreeMap<u32, [Vec<f64>; 5]> = BTreeMap::new();
    for text in printed {
        for line in text.lines() {
            let Some((threads, rest)) = line.trim().split_once(" threads: ") else {
                continue;
            };
            let Ok(threads) = threads.parse::<u32>() else {
                continue;
            };
            let values: Vec<f64> = rest
                .split(", ")
                .filter_map(|part| part.split_whitespace().nth(1)?.parse().ok())
                .collect();
            if !(4..=5).contains(&values.len()) {
                continue;
            }
            let entry = by_threads.entry(threads).or_default();
            for (column, value) in entry.iter_mut().zip(values) {
                column.push(value);
            }
        }
    }
    for (threads, [ours, std, pl_mutex, pl_raw, no_lock]) in &by_threads {
        let mid = |v: &[f64]| median(v).map_or("—".to_owned(), |m| format!("{m:.2}"));
        let ours_median = median(ours).unwrap_or(f64::NAN);
        let met = if ours_median >= FAIRNESS_GOAL {
            "met"
        } else {
            "NOT MET"
        };
        let _ = writeln!(
            out,
            "| {threads} | {} | {} | {} | {} | {} | {} | {} | ≥ {FAIRNESS_GOAL:.2} | {met} |",
            mid(ours),
            spread(ours, |v| format!("{v:.2}")),
            ours.len(),
            mid(std),
            mid(pl_mutex),
            mid(pl_raw),
            mid(no_lock),
        );
    }
    if by_threads.is_empty() {
        let _ = writeln!(
            out,
            "| — | not measured | | | | | | | ≥ {FAIRNESS_GOAL:.2} | not measured |"
        );
    }
    out
}

/// The machine's load averages (1, 5, 15 minutes) and its processor count, for the report.
pub(crate) fn machine_load() -> String {
    let load = fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("load average {load} on {cpus} CPUs")
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
    "parking_lot_reentrant_mutex_pair",
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

/// How many rounds of thread-lock's `locks` bench a full run makes (`--rounds N`).
const ROUNDS: usize = 3;

/// One `cargo bench` run: its output echoed and kept, and the medians it wrote.
fn criterion_run(root: &Path, selection: &[&str]) -> Result<Option<(Medians, String)>, String> {
    let since = SystemTime::now();
    let mut child = cargo()
        .current_dir(root)
        .arg("bench")
        .args(selection)
        .arg("--")
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
        return Ok(None);
    }
    Ok(Some((
        criterion_medians(&root.join("target/criterion"), since),
        printed,
    )))
}

/// The value of `--name N` in `args`, if given.
fn numeric_arg(args: &[String], name: &str) -> Result<Option<usize>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .filter(|&n| n > 0)
            .map(Some)
            .ok_or_else(|| format!("{name} takes a positive number")),
    }
}

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "unknown date".to_owned())
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

    let rounds = numeric_arg(args, "--rounds")?.unwrap_or(ROUNDS);
    let with_python = !args.iter().any(|a| a == "--no-python");
    if args.iter().any(|a| a == "--python-only") {
        let section = crate::pybench::section(root, rounds)?;
        let report = format!(
            "# pythread benchmark report: Python level only\n\n{}; {}.\n\n{section}",
            utc_now(),
            machine_load()
        );
        let path = root.join("target/bench-python.md");
        fs::write(&path, &report).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("{report}\nwritten to {}", path.display());
        return Ok(true);
    }
    let started = utc_now();
    let load_at_start = machine_load();
    let mut medians = Vec::new();
    let mut printed = Vec::new();
    for round in 1..=rounds {
        // The first round runs every crate's benches; the others thread-lock's `locks` again,
        // so that its rows (ours and the peers, in turn, in each run) have a median and a spread.
        let selection: &[&str] = if round == 1 {
            &["--workspace", "--bench", "*"]
        } else {
            &["--package", "thread-lock", "--bench", "locks"]
        };
        println!(
            "== criterion round {round} of {rounds} ({})",
            machine_load()
        );
        let Some((round_medians, round_printed)) = criterion_run(root, selection)? else {
            return Ok(false);
        };
        medians.push(round_medians);
        printed.push(round_printed);
    }
    let load_after_rust = machine_load();

    let mut report = format!(
        "# pythread benchmark report\n\n{started}; {rounds} rounds of thread-lock's benches, one of \
         the others. Machine: {load_at_start} at the start, {load_after_rust} after the Rust \
         benches.\n\nMedians from criterion, ours beside each peer measured in the same run; \
         ratio = our time / the peer's time (below 1 is faster), the median over the rounds of \
         each round's ratio, with its spread (lowest–highest); a goal is met when the median \
         meets it.\n"
    );
    report.push_str(&goal_table(&medians));
    report.push_str(&fairness_table(&printed));
    report.push_str("\n## Python level: the built-in `_thread` against pythread\n\n");
    if with_python {
        match crate::pybench::section(root, rounds) {
            Ok(section) => report.push_str(&section),
            Err(why) => {
                let _ = writeln!(report, "not measured: {why}");
            }
        }
    } else {
        report.push_str("left out (`--no-python`).\n");
    }
    report.push_str("\n## Instruction counts (callgrind)\n\n");
    match (instruction_counts(root), read_baseline(root)) {
        (Ok(counts), Ok((_, baseline))) => report.push_str(&counts_table(&counts, &baseline)),
        (Ok(counts), Err(_)) => report.push_str(&counts_table(&counts, &BTreeMap::new())),
        (Err(why), _) => {
            let _ = writeln!(report, "not measured: {why}");
        }
    }
    let _ = writeln!(report, "\nFinished {}; {}.", utc_now(), machine_load());
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
    fn fairness_rounds_become_one_row_with_the_median_and_spread() {
        let round = |ours: &str| {
            format!(
                "  2 threads: thread_lock {ours} (100 ops), std_mutex 0.50 (80), \
                 pl_mutex 0.88 (90), pl_raw 0.70 (95), no_lock 0.97 (300)\n"
            )
        };
        let table = fairness_table(&[round("0.95"), round("0.85"), round("0.91")]);
        assert!(
            table.contains(
                "| 2 | 0.91 | 0.85–0.95 | 3 | 0.50 | 0.88 | 0.70 | 0.97 | ≥ 0.90 | met |"
            ),
            "{table}"
        );
        // A line from before the no-lock column still counts.
        let old = "  4 threads: thread_lock 0.80 (1 ops), std_mutex 0.90 (1), pl_mutex 0.70 (1), \
                   pl_raw 0.60 (1)\n";
        let table = fairness_table(&[old.to_owned()]);
        assert!(
            table.contains("| 4 | 0.80 | — | 1 | 0.90 | 0.70 | 0.60 | — | ≥ 0.90 | NOT MET |"),
            "{table}"
        );
        let table = fairness_table(&[round("0.95"), round("0.85"), round("0.89")]);
        assert!(table.contains("| ≥ 0.90 | NOT MET |"), "{table}");
    }

    #[test]
    fn a_goal_is_met_only_by_the_median_of_the_rounds() {
        let round = |ours: f64| {
            BTreeMap::from([
                ("contended/thread_lock/2".to_owned(), ours),
                ("contended/std_mutex/2".to_owned(), 100.0),
            ])
        };
        // One round far ahead does not make up for two behind.
        let table = goal_table(&[round(50.0), round(110.0), round(120.0)]);
        assert!(
            table.contains(
                "| `contended/thread_lock/2` | `contended/std_mutex/2` | 110.00 ns | 100.00 ns \
                 | 1.10x | 0.50x–1.20x | 3 | ≤ 1.00x | NOT MET |"
            ),
            "{table}"
        );
        let table = goal_table(&[round(90.0), round(130.0), round(95.0)]);
        assert!(
            table.contains("| 0.95x | 0.90x–1.30x | 3 | ≤ 1.00x | met |"),
            "{table}"
        );
    }

    #[test]
    fn median_and_spread() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(spread(&[1.0, 3.0, 2.0], |v| format!("{v}")), "1–3");
        assert_eq!(spread(&[1.0], |v| format!("{v}")), "—");
    }

    #[test]
    fn criterion_estimates_are_read_by_full_id_and_only_when_fresh() {
        let dir = std::env::temp_dir().join(format!("xtask-criterion-{}", std::process::id()));
        let new = dir.join("uncontended_pair/thread_lock/new");
        fs::create_dir_all(&new).unwrap();
        fs::write(
            new.join("benchmark.json"),
            r#"{"group_id":"uncontended_pair","function_id":"thread_lock","full_id":"uncontended_pair/thread_lock"}"#,
        )
        .unwrap();
        let before = SystemTime::now() - std::time::Duration::from_secs(60);
        fs::write(
            new.join("estimates.json"),
            r#"{"mean":{"point_estimate":9.0},"median":{"point_estimate":8.5}}"#,
        )
        .unwrap();
        let medians = criterion_medians(&dir, before);
        let later = criterion_medians(&dir, SystemTime::now() + std::time::Duration::from_secs(60));
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(medians.get("uncontended_pair/thread_lock"), Some(&8.5));
        assert!(later.is_empty());
        let table = goal_table(&[medians]);
        assert!(table.contains(
            "| `uncontended_pair/thread_lock` | `uncontended_pair/std_mutex` | 8.50 ns | not run |"
        ));
    }
}
