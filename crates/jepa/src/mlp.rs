//! Multi-layer perceptron: the building block of MLP encoders, predictors and heads.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// `x ↦ W_L(relu(… relu(W_1 x + b_1) …)) + b_L`: ReLU between layers, none after the last.
///
/// Parameter names are `layers.{i}.weight` (burn layout `[in, out]`) and `layers.{i}.bias`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The affine layers, input first.
    pub layers: Vec<Linear>,
}

impl Mlp {
    /// Builds an MLP with layer widths `dims = [in, hidden…, out]` (at least two entries).
    pub fn new(dims: &[usize], device: &Device) -> Self {
        let layers = dims
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Mlp { layers }
    }

    /// Applies the network to the last dimension.
    ///
    /// # Shapes
    /// `x [..., in] -> [..., out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let last = self.layers.len().saturating_sub(1);
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = relu(h);
            }
        }
        h
    }
}
