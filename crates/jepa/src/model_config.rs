//! The user's `[model]` section and the statistics derived from the data, kept apart: the
//! user's configuration is input only; [`JepaConfig`] (what a checkpoint stores) is built from
//! both when training starts.

use serde::{Deserialize, Serialize};

use crate::batcher::Trajectories;
use crate::latent::LatentConfig;
use crate::model::{EncoderKind, JepaConfig};

/// Architecture choices of the `[model]` section (no data-derived values).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Encoder architecture (`auto`: conv for image observations, MLP otherwise).
    pub encoder: EncoderKind,
    /// Output channels of the conv layers (conv encoder only).
    pub conv_channels: Vec<usize>,
    /// Average-pooling factor applied to images before the conv layers (conv encoder only;
    /// default 1: none; e.g. 4 turns PLDM's 65 × 65 frames into 16 × 16).
    pub pool: usize,
    /// Representation dimension D.
    pub repr_dim: usize,
    /// Hidden widths of the encoder MLP.
    pub encoder_hidden: Vec<usize>,
    /// Hidden widths of the predictor MLP.
    pub predictor_hidden: Vec<usize>,
    /// Hidden widths of the inverse-dynamics head.
    pub idm_hidden: Vec<usize>,
    /// Latent variable of the predictor `Pred(s, a, z)` ([`LatentConfig`]; default none).
    pub latent: LatentConfig,
    /// A pixel decoder `s ↦ õ` (a reconstruction world model; needed when
    /// `objective.reconstruction > 0`; default false: a JEPA has none).
    pub decoder: bool,
    /// Hidden widths of the decoder when there is one.
    pub decoder_hidden: Vec<usize>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        let j = JepaConfig::default();
        ModelConfig {
            encoder: j.encoder,
            conv_channels: j.conv_channels,
            pool: j.pool,
            repr_dim: j.repr_dim,
            encoder_hidden: j.encoder_hidden,
            predictor_hidden: j.predictor_hidden,
            idm_hidden: j.idm_hidden,
            latent: j.latent,
            decoder: false,
            decoder_hidden: vec![256],
        }
    }
}

/// What training reads off the data and the environment (never written into the user's
/// configuration; stored in the checkpoint as part of [`JepaConfig`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DataStats {
    /// Shape of one observation.
    pub obs_shape: Vec<usize>,
    /// Action dimension A.
    pub action_dim: usize,
    /// Per-feature observation mean over the dataset.
    pub obs_mean: Vec<f32>,
    /// Per-feature observation standard deviation over the dataset.
    pub obs_std: Vec<f32>,
    /// Actions are divided by this before entering the predictor (the env's action bound).
    pub action_scale: f32,
    /// Per-feature mean of the data's readout targets (empty without targets; its length is
    /// the model's `readout_dim`).
    #[serde(default)]
    pub readout_mean: Vec<f32>,
    /// Per-feature standard deviation of the data's readout targets (empty without targets).
    #[serde(default)]
    pub readout_std: Vec<f32>,
}

impl DataStats {
    /// The statistics of `data` (observations of shape `obs_shape`, and its readout targets
    /// when it has any), with the environment's action bound as the action scale.
    pub fn of(data: &Trajectories, obs_shape: &[usize], action_scale: f32) -> Self {
        let (obs_mean, obs_std) = data.obs_moments();
        let (readout_mean, readout_std) = data.readout_moments();
        DataStats {
            readout_mean,
            readout_std,
            obs_shape: obs_shape.to_vec(),
            action_dim: data.action_dim,
            obs_mean,
            obs_std,
            action_scale,
        }
    }
}

impl JepaConfig {
    /// The full architecture from the user's choices and the data's statistics.
    pub fn from_parts(model: &ModelConfig, stats: &DataStats) -> Self {
        JepaConfig {
            obs_dim: stats.obs_shape.iter().product(),
            obs_shape: stats.obs_shape.clone(),
            encoder: model.encoder,
            conv_channels: model.conv_channels.clone(),
            pool: model.pool,
            action_dim: stats.action_dim,
            repr_dim: model.repr_dim,
            encoder_hidden: model.encoder_hidden.clone(),
            predictor_hidden: model.predictor_hidden.clone(),
            idm_hidden: model.idm_hidden.clone(),
            obs_mean: stats.obs_mean.clone(),
            obs_std: stats.obs_std.clone(),
            action_scale: stats.action_scale,
            latent: model.latent.clone(),
            readout_dim: stats.readout_mean.len(),
            readout_hidden: JepaConfig::default().readout_hidden,
            readout_mean: stats.readout_mean.clone(),
            readout_std: stats.readout_std.clone(),
            decoder_hidden: model.decoder.then(|| model.decoder_hidden.clone()),
        }
    }
}
