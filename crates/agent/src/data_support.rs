//! The support of the level-2 model: the states the agent has seen, so that a planner keeps
//! its imagined states on the data and never lets an imagined step cross a place where no
//! data was (offline model-based planning's pessimism, as in MOReL's unknown-state
//! detector; REFERENCE.md §14).
//!
//! A learned predictor is only accurate where it was trained, and a search over it finds every
//! place where it is not: in `maze` the level-2 model is a few px off at walls, predicts
//! states inside them, and a breadth-first search routes the agent through those gaps. The
//! support holds the level-2 states of the reward-free trajectories `S = {s_i}` and answers
//! two questions (radii in representation units):
//!
//! * **snap** — the nearest seen state within `r_snap` of an imagined state `ŝ`,
//!   `π(ŝ) = argmin_{s_i ∈ S, ‖s_i − ŝ‖ < r_snap} ‖s_i − ŝ‖` (none: `ŝ` is off the data and is
//!   dropped). The search continues from `π(ŝ)`, a state the encoder has produced.
//! * **segment** — whether the straight segment between two states stays within `r_line`
//!   of `S`: every point `a + λ(b − a)`, `λ = j/J` with spacing `‖b − a‖/J ≤ r_line/2`, has a
//!   seen state within `r_line`. No trajectory walks inside a wall, so a segment through a
//!   wall thicker than `2 r_line` (where the representation is locally linear) fails.
//!
//! # Index
//! States are hashed on grids of side `r` over their first `P = min(3, D)` principal
//! components ([`ami_energy::Pca`]). The projection on orthonormal directions
//! does not lengthen distances, so every state within `r` of a query lies in one of the `3^P`
//! cells around the query's cell; those are scanned and checked in full dimension.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use ami_energy::{Fit, Matrix, Pca};

use crate::error::AgentError;

/// Principal components used by the grids.
const GRID_DIMS: usize = 3;

type Cell = [i32; GRID_DIMS];

/// Cell → rows in it, with a multiplicative hash of the cell (the default SipHash dominates
/// the query time, and the keys are not adversarial).
type Grid = HashMap<Cell, Vec<u32>, BuildHasherDefault<CellHasher>>;

/// FNV-1a over the key's bytes, finished by a multiply-xorshift.
#[derive(Default)]
struct CellHasher(u64);

impl Hasher for CellHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^ (h >> 29)
    }
}

/// Seen level-2 states, indexed for snap and segment queries (module docs).
#[derive(Debug, Clone)]
pub struct DataSupport {
    d: usize,
    /// `[n, D]`.
    states: Vec<f32>,
    /// Mean of the states (centre of the projection).
    mean: Vec<f32>,
    /// `[P, D]` orthonormal directions.
    axes: Vec<f32>,
    snap_radius: f32,
    line_radius: f32,
    /// Cell of side `r_snap` → rows in it.
    snap_grid: Grid,
    /// Cell of side `r_line` → rows in it.
    line_grid: Grid,
}

impl DataSupport {
    /// Indexes the states `[n, D]` with the radii `r_snap` and `r_line` (each finite, > 0).
    pub fn new(
        states: Vec<f32>,
        d: usize,
        snap_radius: f32,
        line_radius: f32,
    ) -> Result<Self, AgentError> {
        if d == 0 || states.is_empty() || !states.len().is_multiple_of(d) {
            return Err(AgentError::shape(
                "data support states",
                states.len(),
                format!("[n ≥ 1, D = {d}]"),
            ));
        }
        if u32::try_from(states.len() / d).is_err() {
            return Err(AgentError::shape(
                "data support states",
                states.len() / d,
                "fewer than 2^32 states",
            ));
        }
        for (key, r) in [
            ("hierarchy.planner.snap_radius", snap_radius),
            ("hierarchy.planner.line_radius", line_radius),
        ] {
            if !(r.is_finite() && r > 0.0) {
                return Err(AgentError::config(key, r, "a finite value > 0"));
            }
        }
        if states.iter().any(|v| !v.is_finite()) {
            return Err(AgentError::shape(
                "data support states",
                states.len(),
                "finite level-2 states",
            ));
        }
        let rows = states.len() / d;
        let (mean, axes) = principal_axes(&states, rows, d, GRID_DIMS.min(d));
        let mut sup = DataSupport {
            d,
            states,
            mean,
            axes,
            snap_radius,
            line_radius,
            snap_grid: Grid::default(),
            line_grid: Grid::default(),
        };
        for row in 0..rows {
            let q = sup.project(&sup.states[row * d..(row + 1) * d]);
            let snap = cell_of(q, snap_radius);
            let line = cell_of(q, line_radius);
            sup.snap_grid.entry(snap).or_default().push(row as u32);
            sup.line_grid.entry(line).or_default().push(row as u32);
        }
        Ok(sup)
    }

    /// States indexed.
    pub fn len(&self) -> usize {
        self.states.len() / self.d
    }

    /// Whether no state is indexed (never: [`DataSupport::new`] needs one).
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    fn project(&self, s: &[f32]) -> [f32; GRID_DIMS] {
        let mut q = [0.0f32; GRID_DIMS];
        for (p, axis) in q.iter_mut().zip(self.axes.chunks_exact(self.d)) {
            *p = axis
                .iter()
                .zip(s.iter().zip(&self.mean))
                .map(|(a, (x, m))| a * (x - m))
                .sum();
        }
        q
    }

    fn row(&self, r: u32) -> &[f32] {
        let r = r as usize;
        &self.states[r * self.d..(r + 1) * self.d]
    }

    /// Calls `f(row, squared distance)` for every state within `radius ≤ side` of `s` in
    /// `grid` (whose cells have side `side`), the query's own cell first; stops when `f`
    /// returns `true`.
    fn scan(
        &self,
        grid: &Grid,
        side: f32,
        radius: f32,
        s: &[f32],
        mut f: impl FnMut(u32, f32) -> bool,
    ) {
        let c = cell_of(self.project(s), side);
        let used = self.axes.len() / self.d;
        let r2 = radius * radius;
        let cells = 3usize.pow(used as u32);
        // Offsets in base 3 with digit 1 = 0; start at the centre, (cells − 1)/2.
        for k in 0..cells {
            let code = (k + (cells - 1) / 2) % cells;
            let mut key = c;
            let mut rest = code;
            for ki in key.iter_mut().take(used) {
                *ki += (rest % 3) as i32 - 1;
                rest /= 3;
            }
            for &row in grid.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
                let e = sq(self.row(row), s);
                if e < r2 && f(row, e) {
                    return;
                }
            }
        }
    }

    /// `π(ŝ)`: the nearest seen state within `r_snap` of `s` (`[D]`), or `None`.
    ///
    /// The fine grid is scanned first: when it holds a state within `r_line` of `s`, the
    /// nearest state is among those it holds (it is no farther), so the answer is exact.
    pub fn snap(&self, s: &[f32]) -> Option<&[f32]> {
        if s.len() != self.d {
            return None;
        }
        let nearest = |grid: &Grid, side: f32, radius: f32| {
            let mut best: Option<(u32, f32)> = None;
            self.scan(grid, side, radius, s, |row, e| {
                if best.is_none_or(|(_, b)| e < b) {
                    best = Some((row, e));
                }
                false
            });
            best
        };
        let r = self.line_radius.min(self.snap_radius);
        let best = nearest(&self.line_grid, self.line_radius, r)
            .or_else(|| nearest(&self.snap_grid, self.snap_radius, self.snap_radius));
        best.map(|(row, _)| self.row(row))
    }

    /// Every seen state within `r_snap` of `s` (`[D]`), as `(row, squared distance)` in no
    /// particular order (empty for a wrong width).
    pub fn within_snap(&self, s: &[f32]) -> Vec<(usize, f32)> {
        let mut out = Vec::new();
        if s.len() == self.d {
            self.scan(
                &self.snap_grid,
                self.snap_radius,
                self.snap_radius,
                s,
                |row, e| {
                    out.push((row as usize, e));
                    false
                },
            );
        }
        out
    }

    /// Whether a seen state lies within `r_line` of `p` (`[D]`).
    pub fn near(&self, p: &[f32]) -> bool {
        if p.len() != self.d {
            return false;
        }
        let mut found = false;
        self.scan(
            &self.line_grid,
            self.line_radius,
            self.line_radius,
            p,
            |_, _| {
                found = true;
                true
            },
        );
        found
    }

    /// Whether the segment from `a` to `b` stays within `r_line` of the data (module docs).
    pub fn segment(&self, a: &[f32], b: &[f32]) -> bool {
        if a.len() != self.d || b.len() != self.d {
            return false;
        }
        let len = sq(a, b).sqrt();
        let parts = (2.0 * len / self.line_radius).ceil().max(1.0) as usize;
        let mut p = vec![0.0f32; self.d];
        (0..=parts).all(|j| {
            let l = j as f32 / parts as f32;
            for ((pi, x), y) in p.iter_mut().zip(a).zip(b) {
                *pi = x + l * (y - x);
            }
            self.near(&p)
        })
    }
}

fn cell_of(q: [f32; GRID_DIMS], radius: f32) -> Cell {
    let mut c = [0i32; GRID_DIMS];
    for (ci, qi) in c.iter_mut().zip(q) {
        *ci = (qi / radius).floor() as i32;
    }
    c
}

fn sq(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The mean of the rows of `x` (`[rows, d]`) and their first `p` principal directions
/// (`[p, d]`, orthonormal; [`ami_energy::Pca`]). Data without `p` directions of variance
/// (fewer than two rows, or all alike) gets no directions: one grid cell, a full scan —
/// slower, and still exact.
fn principal_axes(x: &[f32], rows: usize, d: usize, p: usize) -> (Vec<f32>, Vec<f32>) {
    let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let fitted = Matrix::new(rows, d, x64)
        .and_then(|m| Pca::params(p.min(rows.saturating_sub(1)).max(1)).fit(&m));
    match fitted {
        Ok(pca) => (
            pca.mean.iter().map(|&m| m as f32).collect(),
            pca.components
                .as_slice()
                .iter()
                .map(|&v| v as f32)
                .collect(),
        ),
        Err(_) => {
            let mut mean = vec![0.0f64; d];
            for r in x.chunks_exact(d) {
                for (m, v) in mean.iter_mut().zip(r) {
                    *m += f64::from(*v);
                }
            }
            (
                mean.iter().map(|m| (m / rows as f64) as f32).collect(),
                Vec::new(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4-D embedding of a 2-D "room pair": points on a 0.25 grid of `[0, 10] × [0, 4]`
    /// except the wall `4 < x < 6`, `y < 3` (a door at `y ≥ 3`), as `(x, y, 0, 0)`.
    fn rooms() -> Vec<f32> {
        let mut v = Vec::new();
        for i in 0..=40 {
            for j in 0..=16 {
                let (x, y) = (i as f32 * 0.25, j as f32 * 0.25);
                if !(x > 4.0 && x < 6.0 && y < 3.0) {
                    v.extend_from_slice(&[x, y, 0.0, 0.0]);
                }
            }
        }
        v
    }

    #[test]
    fn snapping_returns_the_nearest_seen_state_within_the_radius() {
        let s = DataSupport::new(rooms(), 4, 0.3, 0.3).unwrap();
        assert_eq!(
            s.snap(&[1.05, 2.1, 0.05, 0.0]).unwrap(),
            &[1.0, 2.0, 0.0, 0.0]
        );
        assert_eq!(
            s.snap(&[3.9, 1.0, 0.0, 0.0]).unwrap(),
            &[4.0, 1.0, 0.0, 0.0]
        );
        // Inside the wall, farther than the radius from every seen state; off the data.
        assert!(s.snap(&[5.0, 1.0, 0.0, 0.0]).is_none());
        assert!(s.snap(&[1.0, 2.0, 0.5, 0.0]).is_none());
        assert!(s.snap(&[1.0, 2.0]).is_none());
    }

    #[test]
    fn a_segment_through_the_wall_fails_and_one_through_the_door_passes() {
        let s = DataSupport::new(rooms(), 4, 0.3, 0.3).unwrap();
        assert!(!s.segment(&[3.0, 1.0, 0.0, 0.0], &[7.0, 1.0, 0.0, 0.0]));
        assert!(s.segment(&[3.0, 3.5, 0.0, 0.0], &[7.0, 3.5, 0.0, 0.0]));
        assert!(s.segment(&[1.0, 1.0, 0.0, 0.0], &[3.0, 2.0, 0.0, 0.0]));
        // Diagonal across the wall's corner at the door: clips the wall, fails.
        assert!(!s.segment(&[3.5, 1.5, 0.0, 0.0], &[6.5, 3.5, 0.0, 0.0]));
        assert!(s.near(&[5.0, 3.2, 0.0, 0.0]));
        assert!(!s.near(&[5.0, 2.0, 0.0, 0.0]));
    }

    #[test]
    fn a_thin_wall_is_found_by_points_at_most_half_the_radius_apart() {
        // Data every 0.1 on [0, 10] × [0, 2] but for the wall 4.0 < x < 4.8: with r = 0.3
        // only 4.3 < x < 4.5 is farther than r from the data, a band narrower than r.
        let mut v = Vec::new();
        for i in 0..=100 {
            for j in 0..=20 {
                let (x, y) = (i as f32 * 0.1, j as f32 * 0.1);
                if !(x > 4.0 + 1e-4 && x < 4.8 - 1e-4) {
                    v.extend_from_slice(&[x, y, 0.0, 0.0]);
                }
            }
        }
        let s = DataSupport::new(v, 4, 0.3, 0.3).unwrap();
        assert!(!s.near(&[4.4, 1.0, 0.0, 0.0]));
        assert!(s.near(&[4.28, 1.0, 0.0, 0.0]) && s.near(&[4.56, 1.0, 0.0, 0.0]));
        // Points r apart from x = 0.4 would land at 4.28 and 4.56 and step over the band.
        assert!(!s.segment(&[0.4, 1.0, 0.0, 0.0], &[8.4, 1.0, 0.0, 0.0]));
        assert!(s.segment(&[0.4, 1.0, 0.0, 0.0], &[3.9, 1.5, 0.0, 0.0]));
        // Mismatched widths are never a segment on the data.
        assert!(!s.segment(&[0.4, 1.0], &[0.5, 1.0, 0.0, 0.0]));
        assert!(!s.segment(&[0.4, 1.0, 0.0, 0.0], &[0.5, 1.0]));
    }

    #[test]
    fn the_grid_finds_exactly_the_states_within_the_radius() {
        // Scattered 5-D states; the grid's answer equals a full scan's.
        let d = 5;
        let mut x = 0.37f32;
        let states: Vec<f32> = (0..400 * d)
            .map(|_| {
                x = (x * 97.13 + 0.29).fract();
                4.0 * x - 2.0
            })
            .collect();
        let s = DataSupport::new(states.clone(), d, 0.9, 0.6).unwrap();
        for q in states.chunks_exact(d).take(60) {
            let q: Vec<f32> = q.iter().map(|v| v + 0.1).collect();
            let want = states
                .chunks_exact(d)
                .map(|r| sq(r, &q))
                .filter(|e| *e < 0.81)
                .fold(None, |b: Option<f32>, e| Some(b.map_or(e, |b| b.min(e))));
            let got = s.snap(&q).map(|r| sq(r, &q));
            assert_eq!(got, want);
            let near = states.chunks_exact(d).any(|r| sq(r, &q) < 0.36);
            assert_eq!(s.near(&q), near);
        }
    }

    #[test]
    fn principal_axes_are_orthonormal_and_find_the_main_direction() {
        // Points spread along (1, 1, 0) / √2 with small noise elsewhere.
        let mut x = Vec::new();
        for i in 0..50 {
            let t = i as f32 - 25.0;
            x.extend_from_slice(&[t, t + 0.01 * (i % 3) as f32, 0.02 * (i % 5) as f32]);
        }
        let (_, a) = principal_axes(&x, 50, 3, 3);
        assert_eq!(a.len(), 9);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((a[0].abs() - h).abs() < 1e-3 && (a[1].abs() - h).abs() < 1e-3);
        for i in 0..3 {
            for j in 0..3 {
                let dot: f32 = (0..3).map(|c| a[i * 3 + c] * a[j * 3 + c]).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(DataSupport::new(vec![], 4, 0.5, 0.5).is_err());
        assert!(DataSupport::new(vec![0.0; 6], 4, 0.5, 0.5).is_err());
        let err = DataSupport::new(vec![0.0; 8], 4, 0.0, 0.5).unwrap_err();
        assert!(err.to_string().contains("snap_radius"));
        let err = DataSupport::new(vec![0.0; 8], 4, 0.5, f32::NAN).unwrap_err();
        assert!(err.to_string().contains("line_radius"));
        let mut nan = vec![0.0; 8];
        nan[2] = f32::NAN;
        assert!(DataSupport::new(nan, 4, 0.5, 0.5).is_err());
    }
}
