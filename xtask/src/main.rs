//! pythread's project automation, reached as `cargo xtask <command>`.
//!
//! - `verify`: formatting, clippy, every test, the loom models, and the clause-by-clause report
//!   whose last line is `clauses: N covered, M uncovered, K n/a; tests: P passed, F failed`.
//! - `report`: the clause report again, from the logs of the last `verify` and the Python-level
//!   tests' results of the last `cpython`.
//! - `bench`: the criterion benches of every crate beside their peers, thread-lock's in rounds,
//!   and the Python level (built-in `_thread` against pythread); `--quick` counts instructions.
//! - `python`: which CPython the differential runs use (the rule of SPEC.md's "Target").
//! - `cpython`: CPython's own thread tests on the built-in `_thread` and on `pythread`, compared,
//!   on every CPython found among 3.11, 3.12 and 3.13; then pythread's Python-level tests, whose
//!   results the clause report reads.
//! - `rustpython`: CPython 3.13's thread suites on stock RustPython and on RustPython with
//!   pythread's `_thread` (thread-rustpython).
//! - `stress`: the stress programs, bounded in time (`--seconds N` per program makes a soak).

mod bench;
mod clauses;
mod cpython;
mod process_group;
mod pybench;
mod python;
mod rustpython;
mod stress;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <verify | report | bench [--quick | --update-baseline | --rounds N --no-python --python-only] \
                     | python | cpython | rustpython | \
                     stress [--seconds N] [--release] [--asan]>";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("verify") => verify::verify(&root),
        Some("report") => {
            let logs = ["test.log", "loom.log"].map(|l| root.join("target/verify").join(l));
            verify::clause_report(&root, &logs).map(|(ok, summary)| {
                println!("{summary}");
                ok
            })
        }
        Some("bench") => bench::bench(&root, &args[1..]),
        Some("cpython") => cpython::cpython(&root),
        Some("rustpython") => rustpython::rustpython(&root),
        Some("stress") => stress::stress(&root, &args[1..]),
        Some("python") => match python::find() {
            Ok(found) => {
                println!("{} {}", found.program.display(), found.version_string());
                Ok(true)
            }
            Err(not_found) => Err(not_found.to_string()),
        },
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
