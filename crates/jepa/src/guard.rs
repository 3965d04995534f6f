//! The divergence guard of training: the rules that declare a run diverged, and the state the
//! rules carry from step to step (saved in every checkpoint, so that a resumed run continues
//! exactly).
//!
//! A run has **diverged** when
//!
//! * **non-finite**: the loss of a step is NaN or infinite ([`crate::Trainer::train_step`]
//!   fails before updating), or a parameter is after an update. The driver checks the
//!   parameters ([`crate::Trainer::check_finite`]) on every logging step and before every
//!   checkpoint; the loss is checked on every step;
//! * **explosion**: the loss of a step exceeds `max_loss_ratio` times the loss of the run's
//!   first step (finite, but the weights have blown up: an absurd learning rate trains to
//!   losses of 1e19–1e31 without a NaN, and such a model makes the planner's costs NaN);
//! * **collapse**: on `patience` consecutive logged checks at steps `>= check_after`, the
//!   representation's mean per-dimension standard deviation is below `min_std` or its
//!   effective rank is below `min_effective_rank` ([`crate::diagnostics`]). A check that
//!   passes resets the count; checks before `check_after` are not counted (a fresh encoder's
//!   outputs have a std of ≈ 0.01 until the variance term has pushed it up).
//!
//! What happens then is the driver's choice, [`OnDivergence`]: stop, or roll back to the last
//! good checkpoint with the learning rate scaled by `lr_factor` (at most `max_rollbacks`
//! times), which [`GuardState::lr_scale`] records.
//!
//! **Defaults and why.** Healthy two-rooms runs (presets `tiny` for 800 steps, `check`,
//! `default` for 1500 steps) logged, from step 200 on, a mean std of at least 0.67, 0.84 and
//! 0.90 and an effective rank of at least 4.4, 6.0 and 8.9 (of 32 dimensions); before
//! step 100 the std is still rising from ≈ 0.01 through 0.5 while the learning rate warms up
//! (100 steps). Other healthy runs sit lower: highway with a 128-D representation 0.29, and a
//! two-rooms run with distractors and `objective.prediction = 5` (0.90 success) 0.087 with a
//! rank of 2.7. A run whose variance, covariance and inverse-dynamics weights are 0 collapses
//! to a std of ≈ 0.0015. So the checks start at step 200, twice the warm-up, and fire below a
//! std of 0.02 (a quarter of the lowest healthy value seen, 13 times the collapsed one) or a
//! rank of 1.5 (1 is every representation on one line), three
//! logged checks in a row so that one unlucky batch does not stop a run. The largest loss of
//! those healthy runs was 1.01, 1.00 and 1.00 times their first (1.56 with a learning rate
//! just below the unstable ones, 0.3125 on `tiny`); the exploded runs reached 1e19 or more
//! times it within 30 steps. So a loss 1e4 times the first counts as an explosion.

use serde::{Deserialize, Serialize};

use crate::diagnostics::Collapse;
use crate::error::JepaError;

/// What the driver does when the run diverges (`guard.on_divergence`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDivergence {
    /// Stop with an error naming what diverged; the last good checkpoint stays as it is.
    #[default]
    Stop,
    /// Reload the last good checkpoint (or the initial weights), scale the learning rate by
    /// `lr_factor` and continue; stop after `max_rollbacks`.
    Rollback,
}

impl OnDivergence {
    /// The configured name.
    pub fn name(self) -> &'static str {
        match self {
            OnDivergence::Stop => "stop",
            OnDivergence::Rollback => "rollback",
        }
    }
}

/// `[guard]`: the thresholds of the divergence rules and what to do when one fires (module
/// docs give the reasoning behind the defaults).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GuardConfig {
    /// `"stop"` (default) or `"rollback"`.
    pub on_divergence: OnDivergence,
    /// Collapse when the mean per-dimension std of `s_0` is below this (default 0.02).
    pub min_std: f64,
    /// Collapse when the effective rank of `s_0` is below this (default 1.5).
    pub min_effective_rank: f64,
    /// Logged checks in a row that must fail before the run counts as collapsed (default 3).
    pub patience: usize,
    /// Collapse checks start at this step (default 200).
    pub check_after: usize,
    /// Explosion when a step's loss exceeds this times the first step's loss (default 1e4;
    /// 0: off).
    pub max_loss_ratio: f64,
    /// Each rollback multiplies the learning rate by this, in (0, 1) (default 0.5).
    pub lr_factor: f64,
    /// Rollbacks allowed in one run; the next divergence stops it (default 3).
    pub max_rollbacks: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            on_divergence: OnDivergence::Stop,
            min_std: 0.02,
            min_effective_rank: 1.5,
            patience: 3,
            check_after: 200,
            max_loss_ratio: 1e4,
            lr_factor: 0.5,
            max_rollbacks: 3,
        }
    }
}

impl GuardConfig {
    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<(), JepaError> {
        for (field, v) in [
            ("guard.min_std", self.min_std),
            ("guard.min_effective_rank", self.min_effective_rank),
            ("guard.max_loss_ratio", self.max_loss_ratio),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(JepaError::config(field, v, "a finite value >= 0 (0: off)"));
            }
        }
        if self.patience == 0 {
            return Err(JepaError::config("guard.patience", 0, ">= 1"));
        }
        if !(self.lr_factor > 0.0 && self.lr_factor < 1.0) {
            return Err(JepaError::config(
                "guard.lr_factor",
                self.lr_factor,
                "in (0, 1): a rollback must lower the learning rate",
            ));
        }
        Ok(())
    }

    /// The first collapse threshold `c` falls below, as `(what, value, threshold)`, or
    /// `None` if `c` passes. The std is tested before the rank.
    pub fn below(&self, c: &Collapse) -> Option<(&'static str, f64, f64)> {
        let (std, rank) = (widen(c.mean_std), widen(c.effective_rank));
        if std < self.min_std {
            Some(("mean_std", std, self.min_std))
        } else if rank < self.min_effective_rank {
            Some(("effective_rank", rank, self.min_effective_rank))
        } else {
            None
        }
    }
}

/// `x` as the `f64` with the same shortest decimal form (`0.1f32` → `0.1`, not
/// `0.10000000149011612`), so that records read as the values logged.
fn widen(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// What the guard carries between steps; part of every checkpoint.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GuardState {
    /// The scheduled learning rate is multiplied by this (`lr_factor^rollbacks`; 1 at first).
    /// Written as a decimal string (`"0.010000000000000002"`): serde_json's default float
    /// parser can be one ulp off on 17-digit numbers, and a resumed run must continue exactly.
    #[serde(with = "exact_f64")]
    pub lr_scale: f64,
    /// Rollbacks taken so far.
    pub rollbacks: usize,
    /// Consecutive failed collapse checks so far.
    pub collapse_streak: usize,
    /// The loss of the run's first step (the reference of the explosion rule; for a checkpoint
    /// written before the rule existed, the first step after the resume).
    pub first_loss: Option<f32>,
}

impl Default for GuardState {
    fn default() -> Self {
        GuardState {
            lr_scale: 1.0,
            rollbacks: 0,
            collapse_streak: 0,
            first_loss: None,
        }
    }
}

impl GuardState {
    /// Applies the collapse rule to the check logged at `step` (module docs): returns the
    /// divergence when this is the `patience`-th failed check in a row at or after
    /// `check_after`.
    pub fn check_collapse(
        &mut self,
        cfg: &GuardConfig,
        step: usize,
        c: &Collapse,
    ) -> Option<Divergence> {
        if step < cfg.check_after {
            return None;
        }
        let Some((what, value, threshold)) = cfg.below(c) else {
            self.collapse_streak = 0;
            return None;
        };
        self.collapse_streak += 1;
        (self.collapse_streak >= cfg.patience).then(|| Divergence {
            step,
            kind: DivergenceKind::Collapse,
            what: what.to_string(),
            value: Some(value),
            threshold: Some(threshold),
            checks: self.collapse_streak,
        })
    }
}

impl GuardState {
    /// Applies the explosion rule to the loss of `step` (module docs); the first loss seen
    /// becomes the reference.
    pub fn check_loss(&mut self, cfg: &GuardConfig, step: usize, loss: f32) -> Option<Divergence> {
        let first = widen(*self.first_loss.get_or_insert(loss));
        let (loss, limit) = (widen(loss), cfg.max_loss_ratio * first.abs());
        (cfg.max_loss_ratio > 0.0 && loss > limit).then(|| Divergence {
            step,
            kind: DivergenceKind::Explosion,
            what: "loss".into(),
            value: Some(loss),
            threshold: Some(limit),
            checks: 0,
        })
    }
}

/// serde of an `f64` as its shortest decimal string, read back exactly by `str::parse`
/// (a JSON number is read too).
mod exact_f64 {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Number(f64),
        }
        match Repr::deserialize(d)? {
            Repr::Text(t) => t.parse().map_err(D::Error::custom),
            Repr::Number(n) => Ok(n),
        }
    }
}

/// Which rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DivergenceKind {
    /// NaN or infinity in the loss or a parameter.
    NonFinite,
    /// The representation collapsed.
    Collapse,
    /// The loss grew far beyond its first value.
    Explosion,
}

/// A diagnosis: what diverged, at which step, by how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// The step at which it was detected (for a parameter: the step whose update made it
    /// non-finite).
    pub step: usize,
    /// Which rule.
    pub kind: DivergenceKind,
    /// `loss`, `parameter `NAME``, `mean_std` or `effective_rank`.
    pub what: String,
    /// The collapse statistic's or the loss's value (`None` for a non-finite quantity).
    pub value: Option<f64>,
    /// The threshold it fell below (`None` for a non-finite quantity).
    pub threshold: Option<f64>,
    /// Failed checks in a row (collapse; 0 otherwise).
    pub checks: usize,
}

impl Divergence {
    /// A NaN or infinity in `what` at `step`.
    pub fn non_finite(step: usize, what: impl Into<String>) -> Self {
        Divergence {
            step,
            kind: DivergenceKind::NonFinite,
            what: what.into(),
            value: None,
            threshold: None,
            checks: 0,
        }
    }

    /// The diagnosis of a training error, if it is one ([`JepaError::NonFinite`]).
    pub fn from_error(e: &JepaError) -> Option<Self> {
        match e {
            JepaError::NonFinite { step, what } => Some(Divergence::non_finite(*step, what)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.kind, self.value, self.threshold) {
            (DivergenceKind::Collapse, Some(v), Some(t)) => {
                let key = match self.what.as_str() {
                    "mean_std" => "guard.min_std",
                    _ => "guard.min_effective_rank",
                };
                write!(
                    f,
                    "representation collapse: {} = {v:.4} < {key} = {t} on {} logged checks \
                     in a row",
                    self.what, self.checks
                )
            }
            (DivergenceKind::Explosion, Some(v), Some(t)) => write!(
                f,
                "loss explosion: {} = {v:.3e} > guard.max_loss_ratio × the first step's loss = \
                 {t:.3e}",
                self.what
            ),
            _ => write!(f, "{} is not finite (NaN or infinite)", self.what),
        }
    }
}

#[cfg(test)]
mod tests;
