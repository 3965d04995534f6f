//! The encoder of a space-time field: strided 3×3 convolutions over the `[T, X]` window
//! (one channel) followed by an MLP to the representation, and VICReg's expander.

use ami_jepa::conv::ConvStack;
use ami_jepa::mlp::Mlp;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

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
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            channels: vec![8, 16, 32, 32],
            hidden: 128,
            repr_dim: 64,
            expander: vec![128, 128],
        }
    }
}

/// Conv trunk + MLP head: `[B, 1, T, X] → [B, repr_dim]`.
#[derive(Module, Debug)]
pub struct PdeEncoder {
    /// The convolutions.
    pub conv: ConvStack,
    /// The head.
    pub head: Mlp,
}

impl PdeEncoder {
    /// An encoder for windows of shape `[t, x]`.
    pub fn new(cfg: &EncoderConfig, [t, x]: [usize; 2], device: &Device) -> Self {
        let flat = ConvStack::out_features(&cfg.channels, [1, t, x]);
        PdeEncoder {
            conv: ConvStack::new(1, &cfg.channels, device),
            head: Mlp::new(&[flat, cfg.hidden, cfg.repr_dim], device),
        }
    }

    /// # Shapes
    /// `x [B, 1, T, X] -> [B, repr_dim]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.conv.forward(x))
    }
}
