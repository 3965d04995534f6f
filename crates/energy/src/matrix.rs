//! A small dense row-major `f64` matrix: the only array type of this crate.
//!
//! Samples are rows and features are columns, as in scikit-learn (`X[n_samples, n_features]`).

use rayon::prelude::*;

use crate::error::{EnergyError, Result};

/// Rows per parallel block of the column statistics: fixed, so that partial sums are added in
/// the same order (the same bits) on any number of threads.
const STAT_BLOCK: usize = 2048;

/// Dense row-major matrix of `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// Wraps row-major `data`; fails unless `data.len() == rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        match rows.checked_mul(cols) {
            Some(n) if n == data.len() => Ok(Self { rows, cols, data }),
            _ => Err(EnergyError::Shape {
                what: "matrix data",
                found: format!("[{}] (values)", data.len()),
                expected: format!("{rows}×{cols} values"),
            }),
        }
    }

    /// Wraps data whose length the caller computed as `rows * cols` (internal results).
    pub(crate) fn from_parts(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(data.len(), rows * cols, "internal matrix shape");
        Self { rows, cols, data }
    }

    /// Builds a matrix from equal-length rows.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self> {
        let cols = rows.first().map_or(0, Vec::len);
        if let Some(bad) = rows.iter().position(|r| r.len() != cols) {
            return Err(EnergyError::Shape {
                what: "matrix rows",
                found: format!("row {bad} of length {}", rows[bad].len()),
                expected: format!("every row of length {cols}"),
            });
        }
        Ok(Self {
            rows: rows.len(),
            cols,
            data: rows.concat(),
        })
    }

    /// All zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// The `n × n` identity.
    pub fn identity(n: usize) -> Self {
        let mut m = Self::zeros(n, n);
        for i in 0..n {
            m[(i, i)] = 1.0;
        }
        m
    }

    /// Number of rows (samples).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `[rows, cols]`, for messages.
    pub fn shape_str(&self) -> String {
        format!("[{}, {}]", self.rows, self.cols)
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, mutable.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Iterator over the rows.
    pub fn row_iter(&self) -> impl Iterator<Item = &[f64]> {
        self.data.chunks_exact(self.cols.max(1)).take(self.rows)
    }

    /// The row-major values.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The row-major values, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Consumes the matrix, returning its row-major values.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }

    /// Rows as nested vectors (for serialisation).
    pub fn to_rows(&self) -> Vec<Vec<f64>> {
        self.row_iter().map(<[f64]>::to_vec).collect()
    }

    /// The transpose.
    pub fn transpose(&self) -> Self {
        let mut t = Self::zeros(self.cols, self.rows);
        for i in 0..self.rows {
            for j in 0..self.cols {
                t[(j, i)] = self[(i, j)];
            }
        }
        t
    }

    /// `self · other`.
    ///
    /// # Shapes
    /// `[m, k] · [k, n] → [m, n]`; fails on a mismatch.
    pub fn matmul(&self, other: &Matrix) -> Result<Matrix> {
        if self.cols != other.rows {
            return Err(EnergyError::Shape {
                what: "matmul right operand",
                found: other.shape_str(),
                expected: format!("[{}, _]", self.cols),
            });
        }
        let mut out = Self::zeros(self.rows, other.cols);
        for i in 0..self.rows {
            let o = &mut out.data[i * other.cols..(i + 1) * other.cols];
            for (k, &a) in self.row(i).iter().enumerate() {
                for (o, &b) in o.iter_mut().zip(other.row(k)) {
                    *o += a * b;
                }
            }
        }
        Ok(out)
    }

    /// `self · otherᵀ`: row dot products, `[m, k] · [n, k]ᵀ → [m, n]`.
    pub fn matmul_t(&self, other: &Matrix) -> Result<Matrix> {
        if self.cols != other.cols {
            return Err(EnergyError::Shape {
                what: "matmul_t right operand",
                found: other.shape_str(),
                expected: format!("[_, {}]", self.cols),
            });
        }
        let mut out = Self::zeros(self.rows, other.rows);
        for i in 0..self.rows {
            for j in 0..other.rows {
                out[(i, j)] = dot(self.row(i), other.row(j));
            }
        }
        Ok(out)
    }

    /// Column means: sums over blocks of [`STAT_BLOCK`] rows in parallel, added in block order.
    pub fn column_means(&self) -> Vec<f64> {
        let p = self.cols;
        let mut m = vec![0.0; p];
        if p > 0 {
            let partials: Vec<Vec<f64>> = self
                .data
                .par_chunks(STAT_BLOCK * p)
                .map(|block| {
                    let mut s = vec![0.0; p];
                    for r in block.chunks_exact(p) {
                        s.iter_mut().zip(r).for_each(|(s, &v)| *s += v);
                    }
                    s
                })
                .collect();
            for part in &partials {
                m.iter_mut().zip(part).for_each(|(m, &v)| *m += v);
            }
        }
        let n = self.rows.max(1) as f64;
        m.iter_mut().for_each(|v| *v /= n);
        m
    }

    /// Column variances with `ddof` degrees of freedom removed (numpy `var(axis=0, ddof)`).
    pub fn column_variances(&self, ddof: usize) -> Vec<f64> {
        let mean = self.column_means();
        let mut v = vec![0.0; self.cols];
        for r in self.row_iter() {
            for ((v, &x), &m) in v.iter_mut().zip(r).zip(&mean) {
                *v += (x - m) * (x - m);
            }
        }
        let d = self.rows.saturating_sub(ddof).max(1) as f64;
        v.iter_mut().for_each(|x| *x /= d);
        v
    }

    /// Fails with [`EnergyError::NonFinite`] at the first NaN or infinity.
    pub fn check_finite(&self, what: &'static str) -> Result<()> {
        // A branch-free pass over blocks in parallel; the first bad entry is located only if
        // a block has one.
        const BLOCK: usize = 1 << 16;
        let bad = self
            .data
            .par_chunks(BLOCK)
            .position_first(|c| !c.iter().fold(true, |ok, v| ok & v.is_finite()));
        let first = bad.and_then(|b| {
            let at = self.data[b * BLOCK..].iter().position(|v| !v.is_finite());
            at.map(|i| b * BLOCK + i)
        });
        match first {
            None => Ok(()),
            Some(p) => Err(EnergyError::NonFinite {
                what,
                row: p / self.cols.max(1),
                col: p % self.cols.max(1),
                value: self.data[p],
            }),
        }
    }

    /// Fails unless the shape is `[rows, cols]` (`None` matches any size).
    pub fn check_shape(
        &self,
        what: &'static str,
        rows: Option<usize>,
        cols: Option<usize>,
    ) -> Result<()> {
        let ok = rows.is_none_or(|r| r == self.rows) && cols.is_none_or(|c| c == self.cols);
        if ok {
            return Ok(());
        }
        let d = |x: Option<usize>| x.map_or("_".to_string(), |v| v.to_string());
        Err(EnergyError::Shape {
            what,
            found: self.shape_str(),
            expected: format!("[{}, {}]", d(rows), d(cols)),
        })
    }
}

impl std::ops::Index<(usize, usize)> for Matrix {
    type Output = f64;
    fn index(&self, (i, j): (usize, usize)) -> &f64 {
        &self.data[i * self.cols + j]
    }
}

impl std::ops::IndexMut<(usize, usize)> for Matrix {
    fn index_mut(&mut self, (i, j): (usize, usize)) -> &mut f64 {
        &mut self.data[i * self.cols + j]
    }
}

/// Dot product of two equal-length slices.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Squared Euclidean distance of two equal-length slices (four partial sums, so the additions
/// do not wait on each other).
#[inline(always)]
pub fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            let d = x[k] - y[k];
            acc[k] += d * d;
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Checks the data matrix every estimator takes: finite, at least one feature.
pub(crate) fn check_data(x: &Matrix, min_samples: usize, why: &'static str) -> Result<()> {
    if x.cols() == 0 {
        return Err(EnergyError::Shape {
            what: "data",
            found: x.shape_str(),
            expected: "at least one feature (column)".into(),
        });
    }
    if x.rows() < min_samples {
        return Err(EnergyError::TooFewSamples {
            what: "data",
            n_samples: x.rows(),
            needed: min_samples,
            why,
        });
    }
    x.check_finite("data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_parallel_statistics_find_the_first_bad_entry_and_the_means() {
        // 70 000 × 3: several finiteness blocks (2^16 values) and many mean blocks.
        let (n, p) = (70_000, 3);
        let mut x = Matrix::new(
            n,
            p,
            (0..n * p)
                .map(|i| (i % 7) as f64 - 3.0 + (i % p) as f64)
                .collect(),
        )
        .unwrap();
        let want: Vec<f64> = (0..p)
            .map(|j| (0..n).map(|i| x[(i, j)]).sum::<f64>() / n as f64)
            .collect();
        for (m, w) in x.column_means().iter().zip(&want) {
            assert!((m - w).abs() < 1e-12, "{m} vs {w}");
        }
        assert!(x.check_finite("x").is_ok());
        x[(60_000, 2)] = f64::INFINITY;
        x[(30_000, 1)] = f64::NAN;
        match x.check_finite("x") {
            Err(EnergyError::NonFinite { row, col, .. }) => assert_eq!((row, col), (30_000, 1)),
            other => panic!("{other:?}"),
        }
        x[(30_000, 1)] = 0.0;
        match x.check_finite("x") {
            Err(EnergyError::NonFinite {
                row, col, value, ..
            }) => {
                assert_eq!((row, col, value), (60_000, 2, f64::INFINITY))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn products_and_statistics_match_hand_computation() {
        let a = Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]).unwrap();
        let b = Matrix::from_rows(&[vec![1.0, 0.0, 2.0], vec![-1.0, 1.0, 0.5]]).unwrap();
        let ab = a.matmul(&b).unwrap();
        assert_eq!(ab.row(0), &[-1.0, 2.0, 3.0]);
        assert_eq!(ab.row(2), &[-1.0, 6.0, 13.0]);
        assert_eq!(a.matmul_t(&a).unwrap().row(0), &[5.0, 11.0, 17.0]);
        assert_eq!(a.transpose().row(1), &[2.0, 4.0, 6.0]);
        assert_eq!(a.column_means(), vec![3.0, 4.0]);
        assert_eq!(a.column_variances(1), vec![4.0, 4.0]);
        assert!(a.matmul(&a).is_err());
    }

    #[test]
    fn bad_shapes_and_non_finite_values_are_reported() {
        assert!(Matrix::new(2, 2, vec![0.0; 3]).is_err());
        assert!(Matrix::from_rows(&[vec![1.0], vec![1.0, 2.0]]).is_err());
        let m = Matrix::new(2, 2, vec![0.0, 1.0, f64::NAN, 2.0]).unwrap();
        match m.check_finite("data") {
            Err(EnergyError::NonFinite { row: 1, col: 0, .. }) => {}
            other => panic!("expected NonFinite at (1, 0), got {other:?}"),
        }
    }
}
