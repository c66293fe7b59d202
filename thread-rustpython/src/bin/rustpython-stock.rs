//! `rustpython-stock`: RustPython's command line exactly as its own `rustpython` binary builds
//! it (same versions, same features as `rustpython-pythread`), for comparison.

use rustpython::{InterpreterBuilder, InterpreterBuilderExt};

fn main() -> std::process::ExitCode {
    rustpython::run(InterpreterBuilder::new().init_stdlib())
}
