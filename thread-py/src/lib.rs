//! pythread as CPython's `_thread`: work in progress (issue 9).
use pyo3::prelude::*;

#[pymodule]
fn pythread(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
