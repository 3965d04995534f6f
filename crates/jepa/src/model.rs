//! The JEPA world model: encoder, action-conditioned predictor and inverse-dynamics head.
//!
//! ```text
//!   o_t ──Enc──► s_t ──┐
//!                      ├─Pred(s_t, a_t)──► ŝ_{t+1}   energy = ‖ŝ_{t+1} − Enc(o_{t+1})‖²
//!   a_t ───────────────┘
//! ```
//! The predictor is residual: `Pred(s, a) = s + MLP([s, a/action_scale])`, or with a latent
//! variable ([`LatentConfig`]) `Pred(s, a, z) = s + MLP([s, a/action_scale, z])`. The encoder is an
//! MLP on the flattened observation, or for images a small strided conv net ([`ConvStack`])
//! followed by an MLP head, optionally after averaging the image over `pool × pool` blocks
//! (large frames such as PLDM's 65 × 65 on a CPU).

use burn::module::Module;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::conv::ConvStack;
use crate::error::JepaError;
use crate::latent::LatentConfig;
use crate::mlp::Mlp;

/// Which encoder architecture maps an observation to its representation.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EncoderKind {
    /// `conv` for image observations (`obs_shape = [C, H, W]`), `mlp` otherwise.
    #[default]
    Auto,
    /// MLP on the flattened observation.
    Mlp,
    /// Strided 3×3 conv net ([`ConvStack`]) + MLP head; needs `obs_shape = [C, H, W]`.
    Conv,
}

/// Architecture of a [`Jepa`]. Observations are flat vectors (an image is flattened C·H·W).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JepaConfig {
    /// Length of a (flattened) observation.
    pub obs_dim: usize,
    /// Shape of one observation: `[C, H, W]` for images, `[obs_dim]` (or empty) for vectors.
    #[serde(default)]
    pub obs_shape: Vec<usize>,
    /// Encoder architecture.
    #[serde(default)]
    pub encoder: EncoderKind,
    /// Output channels of the conv layers (conv encoder only), input first.
    #[serde(default = "default_conv_channels")]
    pub conv_channels: Vec<usize>,
    /// The conv encoder first averages the (normalised) image over `pool × pool` blocks
    /// (stride `pool`; a last partial row or column is dropped), so an `H × W` image enters the
    /// conv layers as `⌊H/pool⌋ × ⌊W/pool⌋` (1: no pooling). No parameters.
    #[serde(default = "one")]
    pub pool: usize,
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
    /// Latent variable of the predictor (default: none, a deterministic predictor; checkpoints
    /// written before latents existed load as deterministic).
    #[serde(default)]
    pub latent: LatentConfig,
    /// Number `r` of readout features the auxiliary head `g: s ↦ f̃` predicts (0: no head;
    /// see [`crate::objective`] `readout`). Checkpoints written before the head existed load
    /// without one.
    #[serde(default)]
    pub readout_dim: usize,
    /// Hidden widths of the readout head `g` (`repr_dim → hidden… → readout_dim`).
    #[serde(default = "default_readout_hidden")]
    pub readout_hidden: Vec<usize>,
    /// Per-feature mean of the readout targets, `f̃ = (f − mean) / std` (empty = 0).
    #[serde(default)]
    pub readout_mean: Vec<f32>,
    /// Per-feature scale of the readout targets (empty = 1; all entries > 0).
    #[serde(default)]
    pub readout_std: Vec<f32>,
    /// Hidden widths of the pixel decoder `dec: s ↦ õ` (`repr_dim → hidden… → obs_dim`, the
    /// normalised observation); `None`: no decoder (a JEPA). Only a reconstruction world model
    /// (`objective.reconstruction > 0`) has one. Checkpoints written before it load without.
    #[serde(default)]
    pub decoder_hidden: Option<Vec<usize>>,
}

fn default_readout_hidden() -> Vec<usize> {
    vec![128]
}

fn one() -> usize {
    1
}

fn default_conv_channels() -> Vec<usize> {
    vec![8, 16]
}

impl Default for JepaConfig {
    fn default() -> Self {
        JepaConfig {
            obs_dim: 2,
            obs_shape: Vec::new(),
            encoder: EncoderKind::Auto,
            conv_channels: default_conv_channels(),
            pool: 1,
            action_dim: 2,
            repr_dim: 32,
            encoder_hidden: vec![128, 128],
            predictor_hidden: vec![256, 256],
            idm_hidden: vec![128],
            obs_mean: Vec::new(),
            obs_std: Vec::new(),
            action_scale: 1.0,
            latent: LatentConfig::None,
            readout_dim: 0,
            readout_hidden: default_readout_hidden(),
            readout_mean: Vec::new(),
            readout_std: Vec::new(),
            decoder_hidden: None,
        }
    }
}

impl JepaConfig {
    /// The image shape `[C, H, W]` when the observations are images.
    pub fn image_shape(&self) -> Option<[usize; 3]> {
        match self.obs_shape[..] {
            [c, h, w] => Some([c, h, w]),
            _ => None,
        }
    }

    /// The shape `[C, ⌊H/pool⌋, ⌊W/pool⌋]` of an image `[C, H, W]` as the conv layers see it.
    pub fn pooled_shape(&self, [c, h, w]: [usize; 3]) -> [usize; 3] {
        let k = self.pool.max(1);
        [c, h / k, w / k]
    }

    /// The encoder actually built: `Auto` resolved from `obs_shape`.
    pub fn resolved_encoder(&self) -> EncoderKind {
        match (self.encoder, self.image_shape()) {
            (EncoderKind::Auto, Some(_)) => EncoderKind::Conv,
            (EncoderKind::Auto, None) => EncoderKind::Mlp,
            (kind, _) => kind,
        }
    }

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
            ("model.readout_hidden", &self.readout_hidden),
            (
                "model.decoder_hidden",
                self.decoder_hidden.as_ref().unwrap_or(&Vec::new()),
            ),
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
        if !self.obs_shape.is_empty() && self.obs_shape.iter().product::<usize>() != self.obs_dim {
            return Err(JepaError::config(
                "model.obs_shape",
                format!("{:?}", self.obs_shape),
                &format!("a shape with obs_dim = {} elements", self.obs_dim),
            ));
        }
        if self.resolved_encoder() == EncoderKind::Conv {
            if self.image_shape().is_none() {
                return Err(JepaError::config(
                    "model.encoder",
                    format!("conv with obs_shape {:?}", self.obs_shape),
                    "image observations [C, H, W] (use `mlp` for state observations)",
                ));
            }
            if self.conv_channels.is_empty() || self.conv_channels.contains(&0) {
                return Err(JepaError::config(
                    "model.conv_channels",
                    format!("{:?}", self.conv_channels),
                    "at least one positive channel count",
                ));
            }
            if let Some([_, h, w]) = self.image_shape() {
                if self.pool == 0 || self.pool > h.min(w) {
                    return Err(JepaError::config(
                        "model.pool",
                        self.pool,
                        &format!("an integer in [1, {}] (the image's smaller side)", h.min(w)),
                    ));
                }
            }
        }
        if self.obs_std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(JepaError::config(
                "model.obs_std",
                "a non-positive entry",
                "all > 0",
            ));
        }
        for (name, v) in [
            ("model.readout_mean", &self.readout_mean),
            ("model.readout_std", &self.readout_std),
        ] {
            if !v.is_empty() && v.len() != self.readout_dim {
                return Err(JepaError::config(
                    name,
                    format!("{} entries", v.len()),
                    &format!("empty or readout_dim = {} entries", self.readout_dim),
                ));
            }
        }
        if self
            .readout_std
            .iter()
            .any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err(JepaError::config(
                "model.readout_std",
                "a non-positive entry",
                "all > 0",
            ));
        }
        self.latent.validate()?;
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
        let (conv, head_in) = match (self.resolved_encoder(), self.image_shape()) {
            (EncoderKind::Conv, Some(shape)) => (
                Some(ConvStack::new(shape[0], &self.conv_channels, device)),
                ConvStack::out_features(&self.conv_channels, self.pooled_shape(shape)),
            ),
            _ => (None, self.obs_dim),
        };
        let z = self.latent.input_dim();
        let prior = match &self.latent {
            LatentConfig::None => None,
            LatentConfig::Discrete { k, prior_hidden } => Some(Mlp::new(
                &dims(d + self.action_dim, prior_hidden, *k),
                device,
            )),
        };
        Ok(Jepa {
            conv,
            encoder: Mlp::new(&dims(head_in, &self.encoder_hidden, d), device),
            predictor: Mlp::new(
                &dims(d + self.action_dim + z, &self.predictor_hidden, d),
                device,
            ),
            idm: Mlp::new(&dims(2 * d, &self.idm_hidden, self.action_dim), device),
            prior,
            readout: (self.readout_dim > 0)
                .then(|| Mlp::new(&dims(d, &self.readout_hidden, self.readout_dim), device)),
            decoder: self
                .decoder_hidden
                .as_ref()
                .map(|h| Mlp::new(&dims(d, h, self.obs_dim), device)),
            readout_norm: ReadoutNorm::from_config(self),
            norm: Normalisation::from_config(self),
            image_shape: self.image_shape(),
            pool: self.pool.max(1),
            latent_count: self.latent.count(),
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

/// `(mean, 1/std)` of `n` features from a config's `mean` and `std` (empty: 0 and 1).
fn standardisation(mean: &[f32], std: &[f32], n: usize) -> (Vec<f32>, Vec<f32>) {
    let mean = if mean.is_empty() {
        vec![0.0; n]
    } else {
        mean.to_vec()
    };
    let inv_std = if std.is_empty() {
        vec![1.0; n]
    } else {
        std.iter().map(|s| 1.0 / s).collect()
    };
    (mean, inv_std)
}

impl JepaConfig {
    /// The observations' standardisation `õ = (o − mean) · inv_std` as `(mean, inv_std)`, one
    /// entry per feature (`obs_mean` / `obs_std`; empty: 0 and 1).
    pub fn obs_standardisation(&self) -> (Vec<f32>, Vec<f32>) {
        standardisation(&self.obs_mean, &self.obs_std, self.obs_dim)
    }

    /// The readout targets' standardisation `f̃ = (f − mean) · inv_std` as `(mean, inv_std)`
    /// (`readout_mean` / `readout_std`; empty: 0 and 1).
    pub fn readout_standardisation(&self) -> (Vec<f32>, Vec<f32>) {
        standardisation(&self.readout_mean, &self.readout_std, self.readout_dim)
    }
}

impl Normalisation {
    fn from_config(cfg: &JepaConfig) -> Self {
        let (mean, inv_std) = cfg.obs_standardisation();
        Normalisation {
            mean,
            inv_std,
            inv_action_scale: 1.0 / cfg.action_scale,
        }
    }
}

/// Standardisation of the readout targets, `f̃ = (f − mean) / std`, kept outside the parameters.
#[derive(Debug, Clone, Default)]
pub struct ReadoutNorm {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
}

impl ReadoutNorm {
    fn from_config(cfg: &JepaConfig) -> Self {
        let (mean, inv_std) = cfg.readout_standardisation();
        ReadoutNorm { mean, inv_std }
    }
}

/// Encoder + residual predictor + inverse-dynamics head.
#[derive(Module, Debug)]
pub struct Jepa {
    /// Convolutional trunk of the encoder (conv encoder only).
    pub conv: Option<ConvStack>,
    /// `Enc: o -> s` (MLP encoder), or the MLP head after [`Jepa::conv`].
    pub encoder: Mlp,
    /// `MLP` inside `Pred(s, a) = s + MLP([s, a])` (input `[s, a, z]` with a latent).
    pub predictor: Mlp,
    /// Inverse dynamics `[s_t, s_{t+1}] -> a_t` (training signal only).
    pub idm: Mlp,
    /// Prior `q(z | s, a)`: `[s, a/action_scale] -> k` logits (discrete latent only).
    pub prior: Option<Mlp>,
    /// Auxiliary readout head `g: s -> f̃` (standardised readout features; only when
    /// `readout_dim > 0`).
    pub readout: Option<Mlp>,
    /// Pixel decoder `dec: s -> õ` of a reconstruction world model (normalised
    /// observations; only with `decoder_hidden`).
    pub decoder: Option<Mlp>,
    #[module(skip)]
    readout_norm: ReadoutNorm,
    #[module(skip)]
    norm: Normalisation,
    #[module(skip)]
    image_shape: Option<[usize; 3]>,
    /// Average-pooling factor before the conv layers (1: none).
    #[module(skip)]
    pool: usize,
    /// Number of values of the discrete latent (1: deterministic predictor).
    #[module(skip)]
    latent_count: usize,
}

impl Jepa {
    /// Normalises raw observations, `õ = (o − mean) / std` (what the encoder reads and what a
    /// decoder reconstructs).
    ///
    /// # Shapes
    /// `obs [..., obs_dim] -> [..., obs_dim]`
    pub fn normalise<const N: usize>(&self, obs: Tensor<N>) -> Tensor<N> {
        let device = obs.device();
        let mut shape = [1usize; N];
        shape[N - 1] = self.norm.mean.len();
        let mean = Tensor::<N>::from_data(TensorData::new(self.norm.mean.clone(), shape), &device);
        let inv =
            Tensor::<N>::from_data(TensorData::new(self.norm.inv_std.clone(), shape), &device);
        (obs - mean) * inv
    }

    /// The decoder's reconstruction `dec(s)` of the normalised observation. A model without a
    /// decoder: [`JepaError::InvalidConfig`] naming `model.decoder_hidden`.
    ///
    /// # Shapes
    /// `s [..., D] -> [..., obs_dim]`
    pub fn decode<const N: usize>(&self, s: Tensor<N>) -> Result<Tensor<N>, JepaError> {
        let dec = self.decoder.as_ref().ok_or_else(|| {
            JepaError::config(
                "model.decoder_hidden",
                "none",
                "hidden widths of a pixel decoder (a reconstruction world model)",
            )
        })?;
        Ok(dec.forward(s))
    }

    /// Encodes raw observations.
    ///
    /// # Shapes
    /// `obs [..., obs_dim] -> s [..., D]`
    pub fn encode<const N: usize>(&self, obs: Tensor<N>) -> Tensor<N> {
        let x = self.normalise(obs);
        match (&self.conv, self.image_shape) {
            (Some(conv), Some([c, h, w])) => {
                let dims = x.dims();
                let rows: usize = dims[..N - 1].iter().product();
                let mut image = x.reshape([rows, c, h, w]);
                if self.pool > 1 {
                    image = avg_pool2d(image, AvgPoolOptions::new([self.pool, self.pool]));
                }
                let features = conv.forward(image);
                let s = self.encoder.forward(features);
                let mut out = dims;
                out[N - 1] = s.dims()[1];
                s.reshape(out)
            }
            _ => self.encoder.forward(x),
        }
    }

    /// One predictor step `ŝ' = s + MLP([s, a / action_scale])`. A latent model predicts its
    /// branch `z = 0` ([`Self::predict_latent`] with `e_0`).
    ///
    /// # Shapes
    /// `s [..., D], a [..., A] -> [..., D]`
    pub fn predict<const N: usize>(&self, s: Tensor<N>, a: Tensor<N>) -> Tensor<N> {
        if self.latent_count > 1 {
            let z = self.one_hot_like(&s, 0);
            return self.predict_latent(s, a, z);
        }
        let a = a.mul_scalar(self.norm.inv_action_scale);
        let x = Tensor::cat(vec![s.clone(), a], N - 1);
        s + self.predictor.forward(x)
    }

    /// One predictor step with a latent, `ŝ' = Pred(s, a, z) = s + MLP([s, a / action_scale,
    /// z])`; for a discrete latent `z` is one-hot (`e_j` for branch `j`).
    ///
    /// # Shapes
    /// `s [..., D], a [..., A], z [..., k] -> [..., D]`
    pub fn predict_latent<const N: usize>(
        &self,
        s: Tensor<N>,
        a: Tensor<N>,
        z: Tensor<N>,
    ) -> Tensor<N> {
        let a = a.mul_scalar(self.norm.inv_action_scale);
        let x = Tensor::cat(vec![s.clone(), a, z], N - 1);
        s + self.predictor.forward(x)
    }

    /// Number of values of the discrete latent `z` (1 for a deterministic predictor).
    pub fn latent_count(&self) -> usize {
        self.latent_count
    }

    /// `q(z | s, a) = softmax(prior([s, a / action_scale]))`, the probability of each branch.
    /// A deterministic model has no prior: [`JepaError::InvalidConfig`] naming `model.latent`.
    ///
    /// # Shapes
    /// `s [..., D], a [..., A] -> probs [..., k]`
    pub fn latent_prior<const N: usize>(
        &self,
        s: Tensor<N>,
        a: Tensor<N>,
    ) -> Result<Tensor<N>, JepaError> {
        let logits = self.latent_prior_logits(s, a)?;
        Ok(burn::tensor::activation::softmax(logits, N - 1))
    }

    /// The prior's logits (before the softmax of [`Self::latent_prior`]).
    ///
    /// # Shapes
    /// `s [..., D], a [..., A] -> [..., k]`
    pub fn latent_prior_logits<const N: usize>(
        &self,
        s: Tensor<N>,
        a: Tensor<N>,
    ) -> Result<Tensor<N>, JepaError> {
        let prior = self.prior.as_ref().ok_or_else(|| {
            JepaError::config(
                "model.latent",
                "none",
                "a latent model (`latent = { kind = \"discrete\", k = ... }`) for a prior q(z | s, a)",
            )
        })?;
        let a = a.mul_scalar(self.norm.inv_action_scale);
        Ok(prior.forward(Tensor::cat(vec![s, a], N - 1)))
    }

    /// The readout head's prediction `g(s)` of the standardised features `f̃`. A model without
    /// a head: [`JepaError::InvalidConfig`] naming `model.readout_dim`.
    ///
    /// # Shapes
    /// `s [..., D] -> [..., r]`
    pub fn readout_standardised<const N: usize>(
        &self,
        s: Tensor<N>,
    ) -> Result<Tensor<N>, JepaError> {
        let head = self.readout.as_ref().ok_or_else(|| {
            JepaError::config(
                "model.readout_dim",
                0,
                "> 0 for a readout head (set `objective.readout` > 0)",
            )
        })?;
        Ok(head.forward(s))
    }

    /// The readout head's prediction in the features' own units, `g(s)·std + mean`.
    ///
    /// # Shapes
    /// `s [..., D] -> [..., r]`
    pub fn readout<const N: usize>(&self, s: Tensor<N>) -> Result<Tensor<N>, JepaError> {
        let g = self.readout_standardised(s)?;
        let device = g.device();
        let mut shape = [1usize; N];
        shape[N - 1] = self.readout_norm.mean.len();
        let mean = Tensor::<N>::from_data(
            TensorData::new(self.readout_norm.mean.clone(), shape),
            &device,
        );
        let std: Vec<f32> = self.readout_norm.inv_std.iter().map(|v| 1.0 / v).collect();
        let std = Tensor::<N>::from_data(TensorData::new(std, shape), &device);
        Ok(g * std + mean)
    }

    /// Standardises raw readout features, `f̃ = (f − mean) / std`.
    ///
    /// # Shapes
    /// `f [..., r] -> [..., r]`
    pub fn standardise_readout<const N: usize>(&self, f: Tensor<N>) -> Tensor<N> {
        let device = f.device();
        let mut shape = [1usize; N];
        shape[N - 1] = self.readout_norm.mean.len();
        let mean = Tensor::<N>::from_data(
            TensorData::new(self.readout_norm.mean.clone(), shape),
            &device,
        );
        let inv = Tensor::<N>::from_data(
            TensorData::new(self.readout_norm.inv_std.clone(), shape),
            &device,
        );
        (f - mean) * inv
    }

    /// `e_index` of width `k`, one per row of `like` (`[..., D] -> [..., k]`).
    fn one_hot_like<const N: usize>(&self, like: &Tensor<N>, index: usize) -> Tensor<N> {
        let k = self.latent_count;
        let mut shape = like.dims();
        shape[N - 1] = k;
        let rows: usize = shape[..N - 1].iter().product();
        let mut data = vec![0f32; rows * k];
        let index = index.min(k - 1);
        data.chunks_exact_mut(k).for_each(|row| row[index] = 1.0);
        Tensor::from_data(TensorData::new(data, shape), &like.device())
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
