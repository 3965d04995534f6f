//! `ami._ami`: the native module of the Python package `ami` (python/). A thin front end,
//! like the `ami` binary: it checks array shapes, calls `ami_agent::pipeline` and returns
//! numpy arrays; all logic lives in the library crates.
//!
//! - **Arrays.** Inputs are C-contiguous `float32` numpy arrays (the Python layer,
//!   `python/ami/__init__.py`, converts other real arrays once), read in place through a
//!   borrowed slice; outputs are `Vec<f32>` handed to numpy without a copy
//!   ([`numpy::PyArray::from_vec`], then a reshaped view).
//! - **GIL.** Every call into the library (encode, rollout, plan, data generation, training)
//!   runs with the GIL released ([`Python::detach`]), so other Python threads keep running.
//! - **Errors.** Library errors become Python exceptions carrying the library's message
//!   ([`errors`]); a panic inside the library is caught at the boundary and becomes a
//!   `RuntimeError` instead of crossing into Python.

mod arrays;
mod errors;
mod run;
mod train;

use pyo3::prelude::*;

/// The native module `ami._ami` (the package's public API is `ami`, python/ami/__init__.py).
#[pymodule]
#[pyo3(name = "_ami")]
fn ami_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<run::Run>()?;
    m.add_function(wrap_pyfunction!(run::load_run, m)?)?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_function(wrap_pyfunction!(train::generate_data, m)?)?;
    m.add_function(wrap_pyfunction!(train::build_config, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
