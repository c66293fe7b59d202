//! pythread's project automation.
fn main() {}
