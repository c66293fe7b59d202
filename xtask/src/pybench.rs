//! The Python level of `cargo xtask bench`: the built-in `_thread` against pythread, in the same
//! CPython, on every CPython that `cargo xtask cpython` finds (3.11.7, 3.12.1, 3.13.0).
//!
//! For each version: the pythread wheel and a venv with the `.pth` switch, made by `cpython`'s
//! own steps (the wheel is built in that command's per-version directory, so either command
//! reuses the other's build); then, in each of `rounds` rounds, `pybench/driver.py` runs once
//! with the built-in module and once with pythread as `_thread` (`PYTHREAD_AS_THREAD=1`), in
//! turn, so both see the same stretch of the machine's load. Each run times every operation in
//! its own process, the fastest of seven timings (load only ever slows a timing down). The
//! pythread run also times the built-in module in the same process, one timing of each in turn,
//! for every row that needs no `threading` (all but the queue's); those are the built-in's
//! figures for the row, since a process on a shared machine can run faster or slower than the
//! next for its whole life. A row's ratio is pythread's time over the built-in's in the same
//! round; the table gives the median over the rounds, the spread, and the goal (≤ 1.00x on every
//! row), met when the median meets it.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::bench::{format_ns, median, spread};
use crate::cpython;

const DRIVER: &str = include_str!("pybench/driver.py");

/// The goal on every row: pythread no slower than the built-in module.
const GOAL: f64 = 1.0;

/// One driver run: nanoseconds per operation, by row name, in the driver's order.
#[derive(Debug)]
struct Run {
    rows: Vec<(String, f64)>,
    /// A pythread run's timings of the built-in module, taken in the same process.
    builtin_rows: Vec<(String, f64)>,
}

fn run_driver(python: &Path, driver: &Path, as_pythread: bool) -> Result<Run, String> {
    let output = Command::new(python)
        .arg(driver)
        .env("PYTHREAD_AS_THREAD", if as_pythread { "1" } else { "0" })
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "the bench driver failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    parse_run(text.trim(), as_pythread)
}

fn parse_run(line: &str, as_pythread: bool) -> Result<Run, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("bench driver output: {e}: {line}"))?;
    let expected = if as_pythread { "pythread" } else { "built-in" };
    let module = value.get("module").and_then(|m| m.as_str());
    if module != Some(expected) {
        return Err(format!(
            "the driver ran on {module:?} where {expected} was asked for"
        ));
    }
    let rows_of = |key: &str| -> Vec<(String, f64)> {
        value
            .get(key)
            .and_then(|r| r.as_object())
            .into_iter()
            .flatten()
            .filter_map(|(name, ns)| Some((name.clone(), ns.as_f64()?)))
            .collect()
    };
    let rows = rows_of("rows");
    if rows.is_empty() {
        return Err(format!("bench driver output has no rows: {line}"));
    }
    Ok(Run {
        rows,
        builtin_rows: rows_of("builtin_rows"),
    })
}

/// The table of one version from its rounds (built-in run, pythread run).
fn version_table(rounds: &[(Run, Run)]) -> String {
    let mut out = String::from(
        "| operation | built-in (median) | pythread (median) | ratio (median) | spread | rounds \
         | goal | met |\n|---|---|---|---|---|---|---|---|\n",
    );
    let Some((first, _)) = rounds.first() else {
        return out;
    };
    for (name, _) in &first.rows {
        let find = |rows: &[(String, f64)]| rows.iter().find(|(n, _)| n == name).map(|&(_, v)| v);
        // The built-in's figure from pythread's own process where it has one (module docs).
        let pairs: Vec<(f64, f64)> = rounds
            .iter()
            .filter_map(|(builtin, ours)| {
                let builtin = find(&ours.builtin_rows).or_else(|| find(&builtin.rows))?;
                Some((builtin, find(&ours.rows)?))
            })
            .collect();
        let builtin: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let ours: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let ratios: Vec<f64> = pairs.iter().map(|(b, o)| o / b).collect();
        let Some(ratio) = median(&ratios) else {
            continue;
        };
        let met = if ratio <= GOAL { "met" } else { "NOT MET" };
        let _ = writeln!(
            out,
            "| `{name}` | {} | {} | {ratio:.2}x | {} | {} | ≤ {GOAL:.2}x | {met} |",
            format_ns(median(&builtin).unwrap_or(f64::NAN)),
            format_ns(median(&ours).unwrap_or(f64::NAN)),
            spread(&ratios, |r| format!("{r:.2}x")),
            ratios.len(),
        );
    }
    out
}

/// The report's Python section: one table per CPython version found.
pub(crate) fn section(root: &Path, rounds: usize) -> Result<String, String> {
    let (pythons, notices) = cpython::interpreters()?;
    let mut out = String::new();
    for notice in &notices {
        let _ = writeln!(out, "- {notice}");
    }
    let Some(first) = pythons.first() else {
        out.push_str("No CPython found.\n");
        return Ok(out);
    };
    let work = root.join("target").join("pybench");
    let logs = work.join("logs");
    fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let driver = work.join("driver.py");
    fs::write(&driver, DRIVER).map_err(|e| format!("{}: {e}", driver.display()))?;
    let build_venv = root.join("target").join("cpython").join("build-venv");
    let maturin = cpython::build_venv(&first.program, &build_venv, &logs)?;
    let _ = writeln!(
        out,
        "Each row: pythread's time per operation over the built-in `_thread`'s, in the same \
         interpreter, {rounds} interleaved rounds (built-in run, pythread run, each the fastest \
         of seven timings per row); the median of the rounds' ratios and their spread. Goal: \
         ≤ {GOAL:.2}x on every row."
    );
    for python in &pythons {
        let version = python.version_string();
        println!("== Python level, CPython {version}: building the pythread wheel");
        let prepared = (|| {
            let version_work = root.join("target").join("cpython").join(&version);
            let version_logs = work.join(&version);
            fs::create_dir_all(&version_logs).map_err(|e| e.to_string())?;
            let wheel = cpython::build_wheel(
                root,
                &python.program,
                &maturin,
                &version_work,
                &version_logs,
            )?;
            cpython::test_venv(
                &python.program,
                &build_venv,
                &wheel,
                &work.join(&version).join("venv"),
                &version_logs,
            )
        })();
        let venv_python = match prepared {
            Ok(venv_python) => venv_python,
            Err(why) => {
                let _ = writeln!(out, "\n### CPython {version}\n\nnot measured: {why}");
                continue;
            }
        };
        let mut measured = Vec::new();
        let mut failure = None;
        for round in 1..=rounds {
            println!(
                "== Python level, CPython {version}: round {round} of {rounds} ({})",
                crate::bench::machine_load()
            );
            let pair = run_driver(&venv_python, &driver, false)
                .and_then(|builtin| Ok((builtin, run_driver(&venv_python, &driver, true)?)));
            match pair {
                Ok(pair) => measured.push(pair),
                Err(why) => {
                    failure = Some(why);
                    break;
                }
            }
        }
        let _ = writeln!(out, "\n### CPython {version}\n");
        if let Some(why) = failure {
            let _ = writeln!(out, "stopped after {} rounds: {why}\n", measured.len());
        }
        out.push_str(&version_table(&measured));
    }
    Ok(out)
}

/// Rows by name, for the tests.
#[cfg(test)]
fn run_of(rows: &[(&str, f64)]) -> Run {
    Run {
        rows: rows.iter().map(|&(n, v)| (n.to_owned(), v)).collect(),
        builtin_rows: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_line_is_read_and_its_module_checked() {
        let line = r#"{"module": "pythread", "version": "3.11.7", "rows": {"get_ident()": 50.0}}"#;
        let run = parse_run(line, true).unwrap();
        assert_eq!(run.rows, vec![("get_ident()".to_owned(), 50.0)]);
        assert!(run.builtin_rows.is_empty());
        assert!(parse_run(line, false).unwrap_err().contains("built-in"));
        assert!(parse_run("not json", true).is_err());
    }

    #[test]
    fn a_row_is_met_on_the_median_of_its_rounds() {
        let rounds = vec![
            (run_of(&[("a", 100.0)]), run_of(&[("a", 90.0)])),
            (run_of(&[("a", 100.0)]), run_of(&[("a", 130.0)])),
            (run_of(&[("a", 100.0)]), run_of(&[("a", 95.0)])),
        ];
        let table = version_table(&rounds);
        assert!(
            table.contains(
                "| `a` | 100.00 ns | 95.00 ns | 0.95x | 0.90x–1.30x | 3 | ≤ 1.00x | met |"
            ),
            "{table}"
        );
        let mut rounds = rounds;
        rounds[0].1 = run_of(&[("a", 120.0)]);
        // The built-in's figure from pythread's process, where the run has one, stands.
        rounds[0].1.builtin_rows = vec![("a".to_owned(), 150.0)];
        assert!(version_table(&rounds).contains("| 0.95x | 0.80x–1.30x | 3 | ≤ 1.00x | met |"));
        rounds[0].1.builtin_rows.clear();
        assert!(version_table(&rounds).contains("| 1.20x | 0.95x–1.30x | 3 | ≤ 1.00x | NOT MET |"));
    }
}
