//! Joint-embedding self-supervised objectives behind one trait (DESIGN.md §4
//! `SslObjective`): each reports its terms separately, by name.
//!
//! A training loop for any of them does the same thing: it draws `V` views `x_v` of a batch of
//! `B` samples, passes each through the online network (encoder `f` then projector `g`) to get
//! `z_v = g(f(x_v))`, and — when the objective asks for them in [`SslObjective::needs`] —
//! * a **predictor** `q` on top: `p_v = q(z_v)` (BYOL, SimSiam; I-JEPA's predictor fills `p`
//!   with its predictions of the target tokens),
//! * a **target branch** whose outputs `t_v` carry no gradient: either the online network's own
//!   outputs behind a stop-gradient (SimSiam) or an exponential moving average `ξ ← m·ξ + (1−m)·θ`
//!   of the online weights with momentum `m` from a [`MomentumSchedule`] (BYOL, I-JEPA),
//! * trainable **prototypes** `C [K, D]` (SwAV).
//!
//! It then hands all of them to [`SslObjective::loss`] in one [`SslInputs`].
//! [`SslObjective::regularizer`] is the anti-collapse part alone on one batch of embeddings
//! (a [`Regularizer`]), which the world-model objective ([`crate::objective`]) applies to the
//! representation of every time step (for VICReg `μ·v(z) + ν·c(z)`); objectives without one
//! return `None`.
//!
//! A new objective = one file implementing this trait + one line in [`objective_by_name`].
//!
//! | objective | reads from [`SslInputs`] | needs | terms (weights) |
//! |---|---|---|---|
//! | [`Vicreg`] | `z[0]`, `z[1]` | plain | `invariance` (25), `variance` (25), `covariance` (1) |
//! | [`BarlowTwins`] | `z[0]`, `z[1]` | plain | `on_diag` (1), `off_diag` (λ = 0.0051) |
//! | [`Byol`] | `p[0]`, `p[1]`, `t[0]`, `t[1]` | predictor, EMA (cosine from 0.996) | `p1_t2` (1), `p2_t1` (1) |
//! | [`SimSiam`] | `p[0]`, `p[1]`, `t[0]`, `t[1]` | predictor, stop-gradient | `p1_z2` (½), `p2_z1` (½) |
//! | [`Swav`] | `z[0]`, `z[1]`, `prototypes` | `K` prototypes | `q1_p2` (½), `q2_p1` (½) |
//! | [`NtXent`] | `z[0]`, `z[1]` | plain | `alignment` (1), `uniformity` (1) |
//! | [`InfoNce`] | `z[0]` (queries), `z[1]` (keys) | plain | `alignment` (1), `uniformity` (1) |
//! | [`Ijepa`] | `p[0]`, `t[0]` (tokens `[M, D]`) | predictor, EMA (linear 0.996 → 1), masking ([`masking`]) | `smooth_l1` (1) |
//!
//! Every objective detaches `t` itself, so a target passed with a gradient still gets none.
//! [`ema::ema_update`] updates an EMA target's weights; [`masking`] samples I-JEPA's
//! context and target blocks. Each objective is checked, value and every gradient, against
//! the f64 reference with analytic gradients in `ami_energy::ssl` (REFERENCE.md §1–§5).

mod ablated;
mod barlow_twins;
mod byol;
pub mod ema;
mod ijepa;
mod infonce;
pub mod masking;
mod nt_xent;
mod simsiam;
mod swav;
#[cfg(test)]
mod testing;
mod vicreg;

use burn::tensor::Tensor;

use crate::error::JepaError;

pub use ablated::Ablated;
pub use barlow_twins::{BarlowTwins, BarlowTwinsConfig};
pub use byol::{Byol, ByolConfig};
pub use ijepa::{Ijepa, IjepaConfig};
pub use infonce::{InfoNce, InfoNceConfig};
pub use nt_xent::{NtXent, NtXentConfig};
pub use simsiam::SimSiam;
pub use swav::{Swav, SwavConfig};
pub use vicreg::Vicreg;

/// A loss and its unweighted terms, in a fixed order.
pub struct SslLoss {
    /// Weighted total `Σ_k w_k · term_k`.
    pub total: Tensor<1>,
    /// `(name, unweighted value)` of every term.
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

/// Everything a loss may read for one batch, view by view (`v = 0..V`).
#[derive(Debug, Clone, Default)]
pub struct SslInputs {
    /// Online projections `z_v [B, D]` (with gradient), one per view.
    pub z: Vec<Tensor<2>>,
    /// Predictor outputs `p_v = q(z_v) [B, D]`, one per view; empty unless
    /// `needs().predictor`. For I-JEPA, `p[0]` holds the predicted target tokens `[M, D]`.
    pub p: Vec<Tensor<2>>,
    /// Target-branch outputs `t_v [B, D]`, one per view, already detached; empty when
    /// `needs().target` is [`TargetBranch::None`]. For I-JEPA, `t[0]` holds the target
    /// encoder's tokens `[M, D]` at the predicted positions (before any normalisation).
    pub t: Vec<Tensor<2>>,
    /// Trainable prototypes `C [K, D]` when `needs().prototypes` is `Some(K)`.
    pub prototypes: Option<Tensor<2>>,
}

impl SslInputs {
    /// Two views' projections and nothing else (VICReg, Barlow Twins, NT-Xent, InfoNCE).
    pub fn pair(za: Tensor<2>, zb: Tensor<2>) -> Self {
        SslInputs {
            z: vec![za, zb],
            ..Default::default()
        }
    }
}

/// How the momentum `m_k` of an EMA target moves from step 0 to the last step `K`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MomentumSchedule {
    /// BYOL: `m_k = 1 − (1 − base)·(cos(π k / K) + 1) / 2` (from `base` up to 1).
    Cosine {
        /// Momentum at step 0 (BYOL: 0.996).
        base: f64,
    },
    /// I-JEPA: `m_k = start + (end − start)·k / K`.
    Linear {
        /// Momentum at step 0 (I-JEPA: 0.996).
        start: f64,
        /// Momentum at the last step (I-JEPA: 1.0).
        end: f64,
    },
}

impl MomentumSchedule {
    /// The momentum at step `k` of `total` steps (`k = total` gives the final value; a
    /// `total` of 0 gives the step-0 value).
    pub fn at(&self, k: usize, total: usize) -> f64 {
        let frac = if total == 0 {
            0.0
        } else {
            k.min(total) as f64 / total as f64
        };
        match *self {
            MomentumSchedule::Cosine { base } => {
                1.0 - (1.0 - base) * ((std::f64::consts::PI * frac).cos() + 1.0) / 2.0
            }
            MomentumSchedule::Linear { start, end } => start + (end - start) * frac,
        }
    }
}

/// Where the target outputs `t_v` come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetBranch {
    /// No target branch.
    None,
    /// The online network's own outputs behind a stop-gradient (SimSiam: `t_v = sg(z_v)`).
    StopGradient,
    /// A moving-average copy of the online encoder and projector, updated after every
    /// optimiser step with the momentum of the schedule.
    Ema(MomentumSchedule),
}

/// What a training loop must build for an objective.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SslNeeds {
    /// An online predictor `q` after the projector.
    pub predictor: bool,
    /// The target branch.
    pub target: TargetBranch,
    /// The number `K` of trainable prototypes (SwAV).
    pub prototypes: Option<usize>,
    /// Context/target block masking of token inputs instead of two augmented views (I-JEPA).
    pub masking: bool,
}

impl SslNeeds {
    /// Two views through the online network only.
    pub const PLAIN: SslNeeds = SslNeeds {
        predictor: false,
        target: TargetBranch::None,
        prototypes: None,
        masking: false,
    };
}

/// A joint-embedding objective.
pub trait SslObjective: Send + Sync {
    /// Short name (`vicreg`, `barlow-twins`, ...), as `ami ssl` spells it.
    fn name(&self) -> &'static str;

    /// What the training loop must build; by default two views through the online network.
    fn needs(&self) -> SslNeeds {
        SslNeeds::PLAIN
    }

    /// The loss on one batch.
    ///
    /// Errors ([`JepaError::Shape`]) when an input the objective needs is missing or the
    /// shapes do not agree.
    ///
    /// # Shapes
    /// as documented on [`SslInputs`] → total `[1]`, terms `[1]` each.
    fn loss(&self, inputs: SslInputs) -> Result<SslLoss, JepaError>;

    /// The anti-collapse part alone, for objectives that have one on a single batch of
    /// embeddings (VICReg); `None` for those whose mechanism needs two views or an
    /// architecture (predictor, EMA target, prototypes).
    fn regularizer(&self) -> Option<&dyn Regularizer> {
        None
    }
}

/// An anti-collapse regulariser on one batch of embeddings.
pub trait Regularizer: Send + Sync {
    /// The regulariser's weighted total and unweighted terms.
    ///
    /// # Shapes
    /// `z [B, D]` → total `[1]`, terms `[1]` each.
    fn regularize(&self, z: Tensor<2>) -> SslLoss;
}

/// The error for objective `name` finding fewer than `n` tensors in [`SslInputs`] field `field`.
pub(crate) fn missing(name: &str, field: &str, n: usize) -> JepaError {
    JepaError::Shape {
        what: format!("{name} inputs `{field}`"),
        got: vec![],
        expected: format!("at least {n} tensors"),
    }
}

/// The first `N` tensors of field `field` of objective `name`'s inputs.
pub(crate) fn first<const N: usize>(
    name: &str,
    field: &str,
    tensors: Vec<Tensor<2>>,
) -> Result<[Tensor<2>; N], JepaError> {
    let taken: Vec<_> = tensors.into_iter().take(N).collect();
    taken.try_into().map_err(|_| missing(name, field, N))
}

/// Fails unless input `field` of objective `name` has the shape `want` of input `of`.
pub(crate) fn same_shape(
    name: &str,
    field: &str,
    got: &Tensor<2>,
    want: [usize; 2],
    of: &str,
) -> Result<(), JepaError> {
    if got.dims() == want {
        return Ok(());
    }
    Err(JepaError::Shape {
        what: format!("{name} inputs `{field}`"),
        got: got.dims().to_vec(),
        expected: format!("{want:?} (the shape of `{of}`)"),
    })
}

/// Fails unless input `field` of objective `name` is `[N, D]` with `N ≥ min_rows` and `D ≥ 1`
/// (`why` says why it needs that many rows).
pub(crate) fn enough_rows(
    name: &str,
    field: &str,
    x: &Tensor<2>,
    min_rows: usize,
    why: &str,
) -> Result<(), JepaError> {
    let [n, d] = x.dims();
    if n >= min_rows && d >= 1 {
        return Ok(());
    }
    Err(JepaError::Shape {
        what: format!("{name} inputs `{field}`"),
        got: vec![n, d],
        expected: format!("[N, D] with N >= {min_rows} ({why}) and D >= 1"),
    })
}

/// Fails unless `value` is a finite number `> 0` (`field` names it).
pub(crate) fn positive(field: &str, value: f64) -> Result<(), JepaError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(JepaError::config(field, value, "a finite number > 0"))
    }
}

/// Fails unless `value` lies in `[lo, hi]` (`field` names it).
pub(crate) fn within(field: &str, value: f64, lo: f64, hi: f64) -> Result<(), JepaError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(JepaError::config(
            field,
            value,
            &format!("a number in [{lo}, {hi}]"),
        ))
    }
}

/// Rows divided by their l2 norm, clamped below at `min_norm` as the official codes do
/// (`F.normalize`: `x / max(‖x‖, eps)`; `tf.math.l2_normalize`: `x / sqrt(max(‖x‖², eps))`).
///
/// # Shapes
/// `x [N, D] -> [N, D]`
pub(crate) fn l2_normalize(x: Tensor<2>, min_norm: f64) -> Tensor<2> {
    let sq = x.clone().powi_scalar(2).sum_dim(1);
    x / sq.clamp_min(min_norm * min_norm).sqrt()
}

/// Row-wise cosines with each norm clamped below at `min_norm` ([`l2_normalize`]).
///
/// # Shapes
/// `a, b [N, D] -> [N, 1]`
pub(crate) fn row_cosine(a: Tensor<2>, b: Tensor<2>, min_norm: f64) -> Tensor<2> {
    (l2_normalize(a, min_norm) * l2_normalize(b, min_norm)).sum_dim(1)
}

/// The objectives by name, each with its official defaults.
pub const OBJECTIVE_NAMES: &[&str] = &[
    "vicreg",
    "barlow-twins",
    "byol",
    "simsiam",
    "swav",
    "nt-xent",
    "infonce",
    "ijepa",
];

/// The objective called `name` with its official defaults.
///
/// Errors ([`JepaError::InvalidConfig`]) on an unknown name, listing the known ones.
pub fn objective_by_name(name: &str) -> Result<Box<dyn SslObjective>, JepaError> {
    match name {
        "vicreg" => Ok(Box::new(Vicreg(Default::default()))),
        "barlow-twins" => Ok(Box::new(BarlowTwins(Default::default()))),
        "byol" => Ok(Box::new(Byol(Default::default()))),
        "simsiam" => Ok(Box::new(SimSiam)),
        "swav" => Ok(Box::new(Swav(Default::default()))),
        "nt-xent" => Ok(Box::new(NtXent(Default::default()))),
        "infonce" => Ok(Box::new(InfoNce(Default::default()))),
        "ijepa" => Ok(Box::new(Ijepa(Default::default()))),
        _ => Err(JepaError::config(
            "objective",
            name,
            &format!("one of {}", OBJECTIVE_NAMES.join(", ")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_momentum_goes_from_base_to_one() {
        let s = MomentumSchedule::Cosine { base: 0.996 };
        assert!((s.at(0, 100) - 0.996).abs() < 1e-15);
        assert!((s.at(50, 100) - 0.998).abs() < 1e-12);
        assert!((s.at(100, 100) - 1.0).abs() < 1e-15);
        assert!((s.at(0, 0) - 0.996).abs() < 1e-15);
    }

    #[test]
    fn linear_momentum_interpolates() {
        let s = MomentumSchedule::Linear {
            start: 0.99,
            end: 1.0,
        };
        assert!((s.at(25, 100) - 0.9925).abs() < 1e-12);
        assert!((s.at(200, 100) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn unknown_objective_names_the_known_ones() {
        let e = objective_by_name("simclr").err().unwrap().to_string();
        assert!(e.contains("simclr") && e.contains("vicreg"), "{e}");
        assert_eq!(objective_by_name("vicreg").unwrap().name(), "vicreg");
    }

    #[test]
    fn every_name_builds_the_objective_of_that_name() {
        for name in OBJECTIVE_NAMES {
            assert_eq!(objective_by_name(name).unwrap().name(), *name);
        }
        assert_eq!(OBJECTIVE_NAMES.len(), 8);
    }
}
