//! The PLDM training objective for an action-conditioned JEPA (Sobal et al. 2025; REFERENCE.md §1):
//!
//! with `s_t = Enc(o_t)`, `ŝ_0 = s_0`, `ŝ_{t+1} = Pred(ŝ_t, a_t)` rolled out for k steps,
//!
//! ```text
//! L = α·prediction + β·variance + γ·covariance + δ·time_smoothness + ω·inverse_dynamics
//! prediction       = mean_{t=1..k} mean_{b,d} (ŝ_t − s_t)²
//! variance         = mean_{t=0..k} v(s_t)        (VICReg hinge on the batch std, γ = 1)
//! covariance       = mean_{t=0..k} c(s_t)        (VICReg off-diagonal covariance / D)
//! time_smoothness  = mean_{t=0..k−1} mean_{b,d} (s_{t+1} − s_t)²
//! inverse_dynamics = mean_{t=0..k−1} mean_{b,a} (IDM(s_t, s_{t+1}) − a_t/action_scale)²
//! ```
//! The targets `s_t` are not stop-gradient: the variance/covariance terms prevent collapse.
//!
//! **Latent-variable predictor** ([`crate::latent`], `model.latent = { kind = "discrete", k }`):
//! every predicted step infers its latent by minimising the energy against that step's target,
//! and the rollout continues from the chosen branch:
//!
//! ```text
//! z*_t   = argmin_{j<k} E_j,   E_j = mean_d (Pred(ŝ_t, a_t, e_j) − s_{t+1})²   (all k branches
//!                                       in one batched forward; the choice is not differentiated)
//! ŝ_{t+1} = Pred(ŝ_t, a_t, e_{z*_t})
//! prediction   = mean_{t=1..k} mean_{b,d} (ŝ_t − s_t)² = mean_t mean_b min_j E_j   (F∞ = min_z E)
//! latent_prior = mean_{t,b} −log q(z*_t | sg(ŝ_t), a_t)                           (weight λ_q)
//! ```
//! The gradient of `prediction` flows through the chosen branch only (`∂ min_j E_j = ∂E_{z*}`
//! almost everywhere). The prior head `q(z | s, a)` is trained by cross-entropy on `z*` with
//! its inputs detached (`sg`), so it does not shape the world model. The other terms are as
//! above. How often each `z` is chosen is reported ([`LossTensors::latent_counts`]) so that an
//! unused latent is visible.
//!
//! **Auxiliary readout** (`objective.readout = ρ > 0`, off by default): a small head
//! `g: s ↦ f̃` (MLP `D → 128 → r`, [`crate::model::Jepa::readout`]) predicts per-step features
//! `f_t ∈ ℝ^r` that the data logged next to each observation (for the highway env the safety
//! readout `[y, v, crashed, clearance]`), standardised with the training data's moments,
//! `f̃ = (f − mean) / std`:
//!
//! ```text
//! readout = mean_{t=0..k} mean_{b,j} (g(s_t) − f̃_t)²  +  mean_{t=1..k} mean_{b,j} (g(ŝ_t) − f̃_t)²
//! L      += ρ · readout
//! ```
//! Neither `s_t` nor `ŝ_t` is detached: the gradient reaches the encoder and the predictor, so
//! the representation is shaped to keep what the feature needs (the self-supervised terms alone
//! may drop it, e.g. the other cars' positions that a clearance depends on), and the predicted
//! term keeps the feature readable from imagined states, where a planner's guardrail reads it.
//! Design choice: the supervision is a *logged safety signal* of the environment (labels
//! recorded with the data), never a reward — the model still learns no value of its own, and
//! with `ρ = 0` (the default) no head is trained and the loss is exactly the one above.
//!
//! They are the [`Regularizer`] of an SSL objective (by default [`Vicreg`] with `μ = β`,
//! `ν = γ`), applied to `s_t` at every step and averaged over `t` term by term; another
//! objective's regulariser brings its own terms ([`jepa_loss_with`]).

use burn::tensor::activation::log_softmax;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::JepaError;
use crate::latent::{choose_branch, enumerate_one_hot};
use crate::model::Jepa;
use crate::ssl::{Regularizer, Vicreg};
use crate::vicreg::VicregConfig;

/// Weights of the loss terms.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveConfig {
    /// α, multi-step prediction error.
    pub prediction: f32,
    /// β, VICReg variance hinge.
    pub variance: f32,
    /// γ, VICReg covariance.
    pub covariance: f32,
    /// δ, temporal smoothness of consecutive representations.
    pub time_smoothness: f32,
    /// ω, inverse-dynamics head error.
    pub inverse_dynamics: f32,
    /// λ_q, cross-entropy of the latent prior `q(z | s, a)` on the inferred `z*` (latent
    /// models only; the prior's inputs are detached, so this only sets its learning speed).
    #[serde(default = "default_latent_prior")]
    pub latent_prior: f32,
    /// ρ, auxiliary readout error of the head `g(s) ≈ f̃` on encoded and predicted states (see
    /// the module docs; 0 = off, the default; needs per-step readout targets in the data and a
    /// model with `readout_dim > 0`).
    #[serde(default)]
    pub readout: f32,
    /// η, pixel reconstruction error of a reconstruction world model (0 = off, the default, a
    /// JEPA): `mean_t ‖dec(s_t) − õ_t‖² + mean_{t≥1} ‖dec(ŝ_t) − õ_t‖²` (per-pixel means of the
    /// normalised observation `õ`; needs a model with a decoder, `model.decoder = true`).
    #[serde(default)]
    pub reconstruction: f32,
}

fn default_latent_prior() -> f32 {
    1.0
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        ObjectiveConfig {
            prediction: 1.0,
            variance: 1.0,
            covariance: 0.04,
            time_smoothness: 0.1,
            inverse_dynamics: 1.0,
            latent_prior: default_latent_prior(),
            readout: 0.0,
            reconstruction: 0.0,
        }
    }
}

impl ObjectiveConfig {
    /// The default regulariser: VICReg's variance (weight β) and covariance (weight γ) terms.
    pub fn regularizer(&self) -> Vicreg {
        Vicreg(VicregConfig {
            sim_coeff: 0.0,
            std_coeff: self.variance,
            cov_coeff: self.covariance,
            gamma: 1.0,
        })
    }

    /// Every weight must be finite and non-negative.
    pub fn validate(&self) -> Result<(), JepaError> {
        for (name, v) in [
            ("objective.prediction", self.prediction),
            ("objective.variance", self.variance),
            ("objective.covariance", self.covariance),
            ("objective.time_smoothness", self.time_smoothness),
            ("objective.inverse_dynamics", self.inverse_dynamics),
            ("objective.latent_prior", self.latent_prior),
            ("objective.readout", self.readout),
            ("objective.reconstruction", self.reconstruction),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(JepaError::config(name, v, "a finite value >= 0"));
            }
        }
        Ok(())
    }
}

/// The loss and its separate (unweighted) terms, as tensors.
pub struct LossTensors {
    /// Weighted total.
    pub total: Tensor<1>,
    /// Unweighted terms by name: `prediction`, the regulariser's terms, `time_smoothness`,
    /// `inverse_dynamics`, for a latent model `latent_prior`, and with `objective.readout > 0`
    /// `readout`.
    pub terms: Vec<(&'static str, Tensor<1>)>,
    /// The encoder outputs `s [B, k+1, D]` (for diagnostics).
    pub representations: Tensor<3>,
    /// How many (sample, step) pairs chose each value of the discrete latent (empty for a
    /// deterministic predictor).
    pub latent_counts: Vec<usize>,
}

/// Computes the objective on one batch of windows with the default regulariser
/// ([`ObjectiveConfig::regularizer`]): the terms are `prediction`, `variance`, `covariance`,
/// `time_smoothness`, `inverse_dynamics`.
///
/// # Shapes
/// `obs [B, k+1, obs_dim]`, `actions [B, k, A]`
pub fn jepa_loss(
    model: &Jepa,
    obs: Tensor<3>,
    actions: Tensor<3>,
    cfg: &ObjectiveConfig,
) -> LossTensors {
    jepa_loss_with(model, obs, actions, cfg, &cfg.regularizer())
}

/// The objective with any [`Regularizer`] on `s_t` (its weights are its own;
/// `cfg.variance` and `cfg.covariance` are not used).
///
/// # Shapes
/// `obs [B, k+1, obs_dim]`, `actions [B, k, A]`
pub fn jepa_loss_with(
    model: &Jepa,
    obs: Tensor<3>,
    actions: Tensor<3>,
    cfg: &ObjectiveConfig,
    regularizer: &dyn Regularizer,
) -> LossTensors {
    loss_impl(model, obs, actions, None, cfg, regularizer)
}

/// The objective with the auxiliary readout term when `cfg.readout > 0` (otherwise exactly
/// [`jepa_loss`]; `readout` is then ignored and may be `None`).
///
/// Errors ([`JepaError::InvalidConfig`]) when `cfg.readout > 0` and the model has no readout
/// head (`model.readout_dim`), the targets are missing (`data.readout`), or their shape does not
/// match (`[B, k+1, readout_dim]`).
///
/// # Shapes
/// `obs [B, k+1, obs_dim]`, `actions [B, k, A]`, `readout [B, k+1, r]` (raw features `f`)
pub fn jepa_loss_readout(
    model: &Jepa,
    obs: Tensor<3>,
    actions: Tensor<3>,
    readout: Option<Tensor<3>>,
    cfg: &ObjectiveConfig,
) -> Result<LossTensors, JepaError> {
    if cfg.reconstruction > 0.0 && model.decoder.is_none() {
        return Err(JepaError::config(
            "model.decoder",
            false,
            "true when objective.reconstruction > 0 (a pixel decoder)",
        ));
    }
    if cfg.readout <= 0.0 {
        return Ok(jepa_loss(model, obs, actions, cfg));
    }
    let Some(r_dim) = model.readout.as_ref().and_then(|h| h.layers.last()) else {
        return Err(JepaError::config(
            "model.readout_dim",
            0,
            "> 0 when objective.readout > 0 (a readout head)",
        ));
    };
    let r_dim = r_dim.weight.val().dims()[1];
    let Some(targets) = readout else {
        return Err(JepaError::config(
            "data.readout",
            "none",
            "per-step readout targets when objective.readout > 0",
        ));
    };
    let [b, k1, _] = obs.dims();
    if targets.dims() != [b, k1, r_dim] {
        return Err(JepaError::config(
            "data.readout",
            format!("shape {:?}", targets.dims()),
            &format!("[{b}, {k1}, {r_dim}] (batch, k+1, model.readout_dim)"),
        ));
    }
    let regularizer = cfg.regularizer();
    Ok(loss_impl(
        model,
        obs,
        actions,
        Some(targets),
        cfg,
        &regularizer,
    ))
}

fn loss_impl(
    model: &Jepa,
    obs: Tensor<3>,
    actions: Tensor<3>,
    readout: Option<Tensor<3>>,
    cfg: &ObjectiveConfig,
    regularizer: &dyn Regularizer,
) -> LossTensors {
    let [b, k1, _] = obs.dims();
    let k = k1 - 1;
    let s = model.encode(obs.clone());
    let d = s.dims()[2];
    let a_dim = actions.dims()[2];
    let step = |t: usize| s.clone().narrow(1, t, 1).reshape([b, d]);
    let act = |t: usize| actions.clone().narrow(1, t, 1).reshape([b, a_dim]);

    let recon = cfg.reconstruction > 0.0 && model.decoder.is_some() && k > 0;
    let mut pred = step(0);
    let mut prediction = Vec::with_capacity(k);
    let mut latent = LatentRollout::new(model.latent_count());
    let mut predicted = Vec::new();
    for t in 0..k {
        pred = if latent.counts.len() > 1 {
            latent.step(model, pred, act(t), step(t + 1))
        } else {
            model.predict(pred, act(t))
        };
        prediction.push((pred.clone() - step(t + 1)).powi_scalar(2).mean());
        if readout.is_some() || recon {
            predicted.push(pred.clone());
        }
    }
    let prediction = Tensor::cat(prediction, 0).mean();
    // The regulariser on every step, averaged over t (total and each term).
    let regs: Vec<_> = (0..=k).map(|t| regularizer.regularize(step(t))).collect();
    let reg_total = Tensor::cat(regs.iter().map(|r| r.total.clone()).collect(), 0).mean();
    let reg_terms: Vec<(&'static str, Tensor<1>)> = regs[0]
        .terms
        .iter()
        .enumerate()
        .map(|(j, (name, _))| {
            let per_step = regs.iter().map(|r| r.terms[j].1.clone()).collect();
            (*name, Tensor::cat(per_step, 0).mean())
        })
        .collect();

    let now = s.clone().narrow(1, 0, k);
    let next = s.clone().narrow(1, 1, k);
    let smooth = (next.clone() - now.clone()).powi_scalar(2).mean();
    let target = actions.mul_scalar(model.inv_action_scale());
    let idm = (model.inverse_dynamics(now, next) - target)
        .powi_scalar(2)
        .mean();

    let mut total = prediction.clone().mul_scalar(cfg.prediction)
        + reg_total
        + smooth.clone().mul_scalar(cfg.time_smoothness)
        + idm.clone().mul_scalar(cfg.inverse_dynamics);
    let mut terms = vec![("prediction", prediction)];
    terms.extend(reg_terms);
    terms.push(("time_smoothness", smooth));
    terms.push(("inverse_dynamics", idm));
    if !latent.prior_ce.is_empty() {
        let ce = Tensor::cat(latent.prior_ce, 0).mean();
        total = total + ce.clone().mul_scalar(cfg.latent_prior);
        terms.push(("latent_prior", ce));
    }
    if recon {
        // Reconstruct every encoded frame and every predicted one (the decoder exists).
        let target = model.normalise(obs);
        let enc = model
            .decode(s.clone())
            .map(|x| (x - target.clone()).powi_scalar(2).mean());
        let imagined = model
            .decode(Tensor::stack(predicted.clone(), 1))
            .map(|x| (x - target.narrow(1, 1, k)).powi_scalar(2).mean());
        if let (Ok(e), Ok(p)) = (enc, imagined) {
            let term = e + p;
            total = total + term.clone().mul_scalar(cfg.reconstruction);
            terms.push(("reconstruction", term));
        }
    }
    if let Some(targets) = readout {
        // Both parts of the readout term; `readout` is only `Some` when the head exists.
        let targets = model.standardise_readout(targets);
        let err = |g: Result<Tensor<3>, JepaError>, f: Tensor<3>| {
            g.map(|g| (g - f).powi_scalar(2).mean()).ok()
        };
        let enc = err(model.readout_standardised(s.clone()), targets.clone());
        let imagined = (!predicted.is_empty())
            .then(|| {
                err(
                    model.readout_standardised(Tensor::stack(predicted, 1)),
                    targets.narrow(1, 1, k),
                )
            })
            .flatten();
        let term = match (enc, imagined) {
            (Some(e), Some(p)) => Some(e + p),
            (e, p) => e.or(p),
        };
        if let Some(term) = term {
            total = total + term.clone().mul_scalar(cfg.readout);
            terms.push(("readout", term));
        }
    }
    LossTensors {
        total,
        terms,
        representations: s,
        latent_counts: if latent.counts.len() > 1 {
            latent.counts
        } else {
            Vec::new()
        },
    }
}

/// The latent part of the open-loop rollout: per step, `z*` by enumeration and the prior's
/// cross-entropy on it.
struct LatentRollout {
    /// Choices of each value so far (length k).
    counts: Vec<usize>,
    /// `mean_b −log q(z*_t | sg(ŝ_t), a_t)` per step.
    prior_ce: Vec<Tensor<1>>,
}

impl LatentRollout {
    fn new(k: usize) -> Self {
        LatentRollout {
            counts: vec![0; k],
            prior_ce: Vec::new(),
        }
    }

    /// `ŝ_{t+1} = Pred(ŝ_t, a_t, e_{z*})` with `z* = argmin_j ‖Pred(ŝ_t, a_t, e_j) − s_{t+1}‖²`.
    ///
    /// # Shapes
    /// `pred [B, D]`, `a [B, A]`, `target [B, D]` → `[B, D]`
    fn step(
        &mut self,
        model: &Jepa,
        pred: Tensor<2>,
        a: Tensor<2>,
        target: Tensor<2>,
    ) -> Tensor<2> {
        let k = self.counts.len();
        let ([b, d], a_dim) = (pred.dims(), a.dims()[1]);
        let rep =
            |x: Tensor<2>, w: usize| x.unsqueeze_dim::<3>(1).repeat_dim(1, k).reshape([b * k, w]);
        let z = enumerate_one_hot(b, k, &pred.device());
        let branches = model
            .predict_latent(rep(pred.clone(), d), rep(a.clone(), a_dim), z)
            .reshape([b, k, d]);
        let (chosen, z_star, _) = choose_branch(branches, target);
        if let Ok(logits) = model.latent_prior_logits(pred.detach(), a) {
            let picked = log_softmax(logits, 1).gather(1, z_star.clone().reshape([b, 1]));
            self.prior_ce.push(picked.mean().neg());
        }
        if let Ok(z) = z_star.into_data().convert::<i64>().try_to_vec::<i64>() {
            for j in z {
                if let Some(c) = self.counts.get_mut(j as usize) {
                    *c += 1;
                }
            }
        }
        chosen
    }
}
