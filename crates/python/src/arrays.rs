//! numpy arrays in and out: in-place reads of C-contiguous `float32` arrays with their shape
//! checked against what the call expects (errors name the argument and the expected shape),
//! and library buffers handed to numpy without a copy.

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::bad_arg;

/// A borrowed input array: its values (row-major, read in place) and its shape.
pub struct Input<'a> {
    /// The values.
    pub data: &'a [f32],
    /// The shape.
    pub shape: Vec<usize>,
}

impl<'a> Input<'a> {
    /// Borrows the values of `array` (the argument `arg`), which must be C-contiguous.
    pub fn of(arg: &str, array: &'a PyReadonlyArrayDyn<'_, f32>) -> PyResult<Self> {
        let data = array.as_slice().map_err(|_| {
            bad_arg(
                arg,
                "expected a C-contiguous float32 array (np.ascontiguousarray(x, np.float32))",
            )
        })?;
        Ok(Input {
            data,
            shape: array.shape().to_vec(),
        })
    }

    /// The number of leading rows when the shape is `[*lead, *tail]` with `lead.len()` in
    /// `lead_dims` (the first that fits); `None` when it is not.
    pub fn rows(&self, lead_dims: &[usize], tail: &[usize]) -> Option<(usize, usize)> {
        lead_dims.iter().find_map(|&k| {
            (self.shape.len() == k + tail.len() && self.shape[k..] == *tail)
                .then(|| (k, self.shape[..k].iter().product()))
        })
    }

    /// [`Input::rows`], or a `ValueError` naming `arg`, the expected shape (`expected`) and
    /// the shape found.
    pub fn expect_rows(
        &self,
        arg: &str,
        lead_dims: &[usize],
        tail: &[usize],
        expected: &str,
    ) -> PyResult<(usize, usize)> {
        self.rows(lead_dims, tail).ok_or_else(|| {
            bad_arg(
                arg,
                format!("expected shape {expected}, got {}", shape_str(&self.shape)),
            )
        })
    }
}

/// `(2, 16, 16)`: a shape as Python writes it.
pub fn shape_str(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A library buffer as a numpy array of `shape`, without copying the values.
pub fn output<'py>(
    py: Python<'py>,
    data: Vec<f32>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    PyArray1::from_vec(py, data).reshape(shape.to_vec())
}
