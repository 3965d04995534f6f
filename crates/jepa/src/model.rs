//! The JEPA world model: encoder, action-conditioned predictor and inverse-dynamics head.
//!
//! ```text
//!   o_t ──Enc──► s_t ──┐
//!                      ├─Pred(s_t, a_t)──► ŝ_{t+1}   energy = ‖ŝ_{t+1} − Enc(o_{t+1})‖²
//!   a_t ───────────────┘
//! ```
//! The predictor is residual: `Pred(s, a) = s + MLP([s, a/action_scale])`.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::JepaError;
use crate::mlp::Mlp;

/// Architecture of a [`Jepa`]. Observations are flat vectors (an image is flattened C·H·W).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JepaConfig {
    /// Length of a (flattened) observation.
    pub obs_dim: usize,
    /// Action dimension A.
    pub action_dim: usize,
    /// Representation dimension D.
    pub repr_dim: usize,
    /// Hidden widths of the encoder MLP.
    pub encoder_hidden: Vec<usize>,
    /// Hidden widths of the predictor MLP.
    pub predictor_hidden: Vec<usize>,
    /// Hidden widths of the inverse-dynamics head `[s_t, s_{t+1}] -> a_t`.
    pub idm_hidden: Vec<usize>,
    /// Per-feature observation mean used to normalise inputs (empty = 0).
    #[serde(default)]
    pub obs_mean: Vec<f32>,
    /// Per-feature observation scale used to normalise inputs (empty = 1).
    #[serde(default)]
    pub obs_std: Vec<f32>,
    /// Actions are divided by this before entering the predictor (the env's max step).
    pub action_scale: f32,
}

impl Default for JepaConfig {
    fn default() -> Self {
        JepaConfig {
            obs_dim: 2,
            action_dim: 2,
            repr_dim: 32,
            encoder_hidden: vec![128, 128],
            predictor_hidden: vec![256, 256],
            idm_hidden: vec![128],
            obs_mean: Vec::new(),
            obs_std: Vec::new(),
            action_scale: 1.0,
        }
    }
}

impl JepaConfig {
    /// Checks every field; the error names the field, its value and what was expected.
    pub fn validate(&self) -> Result<(), JepaError> {
        for (name, v) in [
            ("model.obs_dim", self.obs_dim),
            ("model.action_dim", self.action_dim),
            ("model.repr_dim", self.repr_dim),
        ] {
            if v == 0 {
                return Err(JepaError::config(name, v, "a positive integer"));
            }
        }
        for (name, widths) in [
            ("model.encoder_hidden", &self.encoder_hidden),
            ("model.predictor_hidden", &self.predictor_hidden),
            ("model.idm_hidden", &self.idm_hidden),
        ] {
            if widths.contains(&0) {
                return Err(JepaError::config(
                    name,
                    format!("{widths:?}"),
                    "positive widths",
                ));
            }
        }
        for (name, v) in [
            ("model.obs_mean", &self.obs_mean),
            ("model.obs_std", &self.obs_std),
        ] {
            if !v.is_empty() && v.len() != self.obs_dim {
                return Err(JepaError::config(
                    name,
                    format!("{} entries", v.len()),
                    "empty or obs_dim entries",
                ));
            }
        }
        if self.obs_std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(JepaError::config(
                "model.obs_std",
                "a non-positive entry",
                "all > 0",
            ));
        }
        if !(self.action_scale.is_finite() && self.action_scale > 0.0) {
            return Err(JepaError::config(
                "model.action_scale",
                self.action_scale,
                "> 0",
            ));
        }
        Ok(())
    }

    /// Builds the module on `device` (weights drawn from burn's seeded RNG for that device).
    pub fn init(&self, device: &Device) -> Result<Jepa, JepaError> {
        self.validate()?;
        let dims = |input: usize, hidden: &[usize], out: usize| {
            let mut d = vec![input];
            d.extend_from_slice(hidden);
            d.push(out);
            d
        };
        let d = self.repr_dim;
        Ok(Jepa {
            encoder: Mlp::new(&dims(self.obs_dim, &self.encoder_hidden, d), device),
            predictor: Mlp::new(
                &dims(d + self.action_dim, &self.predictor_hidden, d),
                device,
            ),
            idm: Mlp::new(&dims(2 * d, &self.idm_hidden, self.action_dim), device),
            norm: Normalisation::from_config(self),
        })
    }
}

/// Affine input normalisation `(o − mean) / std` and action scaling, kept outside the parameters.
#[derive(Debug, Clone)]
pub struct Normalisation {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    inv_action_scale: f32,
}

impl Normalisation {
    fn from_config(cfg: &JepaConfig) -> Self {
        let mean = if cfg.obs_mean.is_empty() {
            vec![0.0; cfg.obs_dim]
        } else {
            cfg.obs_mean.clone()
        };
        let inv_std = if cfg.obs_std.is_empty() {
            vec![1.0; cfg.obs_dim]
        } else {
            cfg.obs_std.iter().map(|s| 1.0 / s).collect()
        };
        Normalisation {
            mean,
            inv_std,
            inv_action_scale: 1.0 / cfg.action_scale,
        }
    }
}

/// Encoder + residual predictor + inverse-dynamics head.
#[derive(Module, Debug)]
pub struct Jepa {
    /// `Enc: o -> s`.
    pub encoder: Mlp,
    /// `MLP` inside `Pred(s, a) = s + MLP([s, a])`.
    pub predictor: Mlp,
    /// Inverse dynamics `[s_t, s_{t+1}] -> a_t` (training signal only).
    pub idm: Mlp,
    #[module(skip)]
    norm: Normalisation,
}

impl Jepa {
    /// Encodes raw observations.
    ///
    /// # Shapes
    /// `obs [..., obs_dim] -> s [..., D]`
    pub fn encode<const N: usize>(&self, obs: Tensor<N>) -> Tensor<N> {
        let device = obs.device();
        let mut shape = [1usize; N];
        shape[N - 1] = self.norm.mean.len();
        let mean = Tensor::<N>::from_data(TensorData::new(self.norm.mean.clone(), shape), &device);
        let inv =
            Tensor::<N>::from_data(TensorData::new(self.norm.inv_std.clone(), shape), &device);
        self.encoder.forward((obs - mean) * inv)
    }

    /// One predictor step `ŝ' = s + MLP([s, a / action_scale])`.
    ///
    /// # Shapes
    /// `s [..., D], a [..., A] -> [..., D]`
    pub fn predict<const N: usize>(&self, s: Tensor<N>, a: Tensor<N>) -> Tensor<N> {
        let a = a.mul_scalar(self.norm.inv_action_scale);
        let x = Tensor::cat(vec![s.clone(), a], N - 1);
        s + self.predictor.forward(x)
    }

    /// Inverse dynamics prediction of the (scaled) action between two representations.
    ///
    /// # Shapes
    /// `s, s_next [..., D] -> [..., A]` (in units of `action_scale`)
    pub fn inverse_dynamics<const N: usize>(&self, s: Tensor<N>, s_next: Tensor<N>) -> Tensor<N> {
        self.idm.forward(Tensor::cat(vec![s, s_next], N - 1))
    }

    /// Multiplier that maps raw actions into predictor units.
    pub fn inv_action_scale(&self) -> f32 {
        self.norm.inv_action_scale
    }

    /// Rolls the predictor forward from `s0` along `actions`, returning every predicted state.
    ///
    /// # Shapes
    /// `s0 [N, D], actions [N, H, A] -> states [N, H, D]`
    pub fn rollout(&self, s0: Tensor<2>, actions: Tensor<3>) -> Tensor<3> {
        let [n, h, a] = actions.dims();
        let mut s = s0;
        let mut out = Vec::with_capacity(h);
        for t in 0..h {
            let at = actions.clone().narrow(1, t, 1).reshape([n, a]);
            s = self.predict(s, at);
            out.push(s.clone());
        }
        Tensor::stack(out, 1)
    }
}
