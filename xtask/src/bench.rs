//! `cargo xtask bench`: runs every crate's criterion benches.
//!
//! `--quick` shortens criterion's warm-up and measurement so the whole run takes about a minute.
//! The side-by-side report (`target/bench-report.md`) is issue 8's work and not written yet.

use std::path::Path;
use std::process::Command;

pub(crate) fn bench(root: &Path, args: &[String]) -> Result<bool, String> {
    let quick = args.iter().any(|a| a == "--quick");
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(root)
        .args(["bench", "--workspace", "--benches", "--"]);
    if quick {
        command.args(["--warm-up-time", "0.5", "--measurement-time", "1"]);
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    Ok(status.success())
}
