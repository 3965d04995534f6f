//! The encoder of a space-time field `[T, X]` (one channel) and VICReg's expander.
//!
//! Two trunks ([`EncoderConfig::trunk`]):
//! * [`Trunk::Flatten`] — strided 3×3 convolutions with zero padding, the feature map
//!   flattened into an MLP (the pixel encoder of the world models, [`ConvStack`]);
//! * [`Trunk::PeriodicPool`] — strided 3×3 convolutions with **circular** padding along x (the
//!   PDEs are periodic) and zero padding along t, then the mean over all positions
//!   `h = (1/(T_L X_L)) Σ_{t,x} φ(u)[:, t, x]` into the MLP. A periodic shift of the input by
//!   a multiple of `2^L` grid points permutes the positions of the last map, so the mean is
//!   exactly invariant to it (and nearly so to any shift): the space translation is built in
//!   rather than learned.

use ami_jepa::conv::ConvStack;
use ami_jepa::mlp::Mlp;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// How the convolutions' map becomes one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trunk {
    /// Zero-padded convolutions, flattened.
    Flatten,
    /// Circular padding in x, mean over positions.
    PeriodicPool,
}

/// Sizes of the encoder and the expander.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    /// Output channels of each strided convolution.
    pub channels: Vec<usize>,
    /// Hidden width of the MLP head.
    pub hidden: usize,
    /// Representation size (what the probe reads).
    pub repr_dim: usize,
    /// Expander widths after the representation (VICReg's projector).
    pub expander: Vec<usize>,
    /// The trunk.
    pub trunk: Trunk,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            channels: vec![16, 32, 64, 64],
            hidden: 128,
            repr_dim: 64,
            expander: vec![128, 128],
            trunk: Trunk::PeriodicPool,
        }
    }
}

/// Strided 3×3 convolutions, circular in x, zero-padded in t, ReLU after each, mean over
/// positions, batch-normalised: `[B, 1, T, X] → [B, C_L]`.
#[derive(Module, Debug)]
pub struct PeriodicConv {
    /// The convolutions, input first (padding 1 in t, none in x: x is padded circularly).
    pub layers: Vec<Conv2d>,
    /// Batch normalisation of the pooled features (batch statistics in training, running
    /// statistics in inference): position means of ReLU maps share a large common part, which
    /// would otherwise leave the head with inputs of tiny spread.
    pub norm: BatchNorm,
}

impl PeriodicConv {
    /// The stack with the given output channels.
    pub fn new(channels: &[usize], device: &Device) -> Self {
        let mut c_in = 1;
        let layers = channels
            .iter()
            .map(|&c_out| {
                let layer = Conv2dConfig::new([c_in, c_out], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 0, 1, 0))
                    .init(device);
                c_in = c_out;
                layer
            })
            .collect();
        let c = channels.last().copied().unwrap_or(1);
        PeriodicConv {
            layers,
            norm: BatchNormConfig::new(c).init(device),
        }
    }

    /// # Shapes
    /// `x [B, C, T, X] -> [B, C_L]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut h = x;
        for layer in &self.layers {
            h = relu(layer.forward(circular_pad_x(h)));
        }
        let [b, c, _, _] = h.dims();
        self.norm.forward(h.mean_dims(&[2, 3]).reshape([b, c]))
    }
}

/// Pads the last axis by one column on each side from the opposite end:
/// `[…, X] → […, X + 2]` with `out[0] = in[X−1]`, `out[X+1] = in[0]`.
pub fn circular_pad_x(h: Tensor<4>) -> Tensor<4> {
    let w = h.dims()[3];
    let left = h.clone().narrow(3, w - 1, 1);
    let right = h.clone().narrow(3, 0, 1);
    Tensor::cat(vec![left, h, right], 3)
}

/// The trunk module of a [`PdeEncoder`] (one per encoder, so the size difference between the
/// variants costs nothing; burn modules cannot be boxed).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum TrunkModule {
    /// [`Trunk::Flatten`].
    Flatten(ConvStack),
    /// [`Trunk::PeriodicPool`].
    PeriodicPool(PeriodicConv),
}

/// Conv trunk + MLP head: `[B, 1, T, X] → [B, repr_dim]`.
#[derive(Module, Debug)]
pub struct PdeEncoder {
    /// The convolutions.
    pub trunk: TrunkModule,
    /// The head.
    pub head: Mlp,
}

impl PdeEncoder {
    /// An encoder for windows of shape `[t, x]`.
    pub fn new(cfg: &EncoderConfig, [t, x]: [usize; 2], device: &Device) -> Self {
        let (trunk, features) = match cfg.trunk {
            Trunk::Flatten => (
                TrunkModule::Flatten(ConvStack::new(1, &cfg.channels, device)),
                ConvStack::out_features(&cfg.channels, [1, t, x]),
            ),
            Trunk::PeriodicPool => (
                TrunkModule::PeriodicPool(PeriodicConv::new(&cfg.channels, device)),
                cfg.channels.last().copied().unwrap_or(1),
            ),
        };
        PdeEncoder {
            trunk,
            head: Mlp::new(&[features, cfg.hidden, cfg.repr_dim], device),
        }
    }

    /// # Shapes
    /// `x [B, 1, T, X] -> [B, repr_dim]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let h = match &self.trunk {
            TrunkModule::Flatten(c) => c.forward(x),
            TrunkModule::PeriodicPool(p) => p.forward(x),
        };
        self.head.forward(h)
    }
}
