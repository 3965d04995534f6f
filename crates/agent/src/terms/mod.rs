//! Cost terms stated in the world's units through a [`crate::probe::StateProbe`]: the hazard
//! guardrail ([`hazard`]), the distance to a region ([`region`]), a guardrail on one decoded
//! feature ([`feature_guard`]) and a target for one decoded feature ([`feature_target`]). One file per term; the
//! goal distance and action energy live in [`crate::cost`].

pub mod feature_guard;
pub mod feature_target;
pub mod hazard;
pub mod region;

pub use feature_guard::{FeatureBound, FeatureGuardrail};
pub use feature_target::FeatureTarget;
pub use hazard::HazardGuardrail;
pub use region::RegionDistance;

/// `check_dims` of a term that reads states through a probe of input dimension `repr_dim`:
/// the world model's state dimension must be it (`what` names the term).
pub(crate) fn check_probe_input(
    what: &str,
    repr_dim: usize,
    state_dim: usize,
) -> Result<(), crate::error::AgentError> {
    if state_dim == repr_dim {
        Ok(())
    } else {
        Err(crate::error::AgentError::shape(
            format!("{what} probe input"),
            repr_dim,
            format!("[D={state_dim}] (the world model's state dimension)"),
        ))
    }
}

/// An axis-aligned box `lo ≤ x ≤ hi` in decoded-state coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct StateBox {
    /// Lower corner.
    pub lo: Vec<f32>,
    /// Upper corner.
    pub hi: Vec<f32>,
}

impl StateBox {
    /// From an environment region.
    pub fn of(region: &ami_envs::Region) -> Self {
        StateBox {
            lo: region.lo.clone(),
            hi: region.hi.clone(),
        }
    }

    /// The box grown by `m` on every side.
    pub fn expanded(&self, m: f32) -> Self {
        StateBox {
            lo: self.lo.iter().map(|v| v - m).collect(),
            hi: self.hi.iter().map(|v| v + m).collect(),
        }
    }

    /// Whether `x` lies in the closed box.
    pub fn contains(&self, x: &[f32]) -> bool {
        self.lo
            .iter()
            .zip(&self.hi)
            .zip(x)
            .all(|((lo, hi), v)| v >= lo && v <= hi)
    }

    /// Euclidean distance from `x` to the box (0 inside) and its gradient direction
    /// `∂dist/∂x` (zero inside).
    pub fn distance_grad(&self, x: &[f32]) -> (f32, Vec<f32>) {
        let gaps: Vec<f32> = self
            .lo
            .iter()
            .zip(&self.hi)
            .zip(x)
            .map(|((lo, hi), v)| {
                if v < lo {
                    v - lo
                } else if v > hi {
                    v - hi
                } else {
                    0.0
                }
            })
            .collect();
        let d = gaps.iter().map(|g| g * g).sum::<f32>().sqrt();
        let grad = if d > 0.0 {
            gaps.iter().map(|g| g / d).collect()
        } else {
            vec![0.0; gaps.len()]
        };
        (d, grad)
    }

    /// Whether the segment `p → q` meets the closed box (slab method over every axis: the
    /// segment is inside slab `k` for `t` in an interval; the box is met when the
    /// intersection of all intervals with `[0, 1]` is not empty).
    pub fn meets_segment(&self, p: &[f32], q: &[f32]) -> bool {
        let (mut t0, mut t1) = (0f32, 1f32);
        for (((lo, hi), a), b) in self.lo.iter().zip(&self.hi).zip(p).zip(q) {
            let d = b - a;
            if d == 0.0 {
                if a < lo || a > hi {
                    return false;
                }
            } else {
                let (u, v) = ((lo - a) / d, (hi - a) / d);
                let (u, v) = if u < v { (u, v) } else { (v, u) };
                t0 = t0.max(u);
                t1 = t1.min(v);
                if t0 > t1 {
                    return false;
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_by_hand() {
        let b = StateBox {
            lo: vec![1.0, 1.0],
            hi: vec![2.0, 3.0],
        };
        assert!(b.contains(&[1.0, 3.0]) && !b.contains(&[0.9, 2.0]));
        assert!(b.meets_segment(&[0.0, 2.0], &[3.0, 2.0]));
        assert!(b.meets_segment(&[0.0, 0.0], &[2.0, 2.0]));
        assert!(!b.meets_segment(&[0.0, 4.0], &[3.0, 4.0]));
        assert!(!b.meets_segment(&[0.0, 2.0], &[0.5, 2.0]));
        assert!(!b.meets_segment(&[3.0, 0.0], &[3.0, 5.0]));
        let (d, g) = b.distance_grad(&[5.0, 7.0]);
        assert_eq!(d, 5.0);
        assert_eq!(g, vec![0.6, 0.8]);
        assert_eq!(b.distance_grad(&[1.5, 2.0]), (0.0, vec![0.0, 0.0]));
        assert_eq!(b.expanded(1.0).lo, vec![0.0, 0.0]);
    }
}
