//! `rustpython-pythread`: RustPython's command line with pythread's `_thread`.

use rustpython::{InterpreterBuilder, InterpreterBuilderExt};

fn main() -> std::process::ExitCode {
    rustpython::run(thread_rustpython::install(
        InterpreterBuilder::new().init_stdlib(),
    ))
}
