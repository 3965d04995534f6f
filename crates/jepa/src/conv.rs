//! Convolutional trunk of the pixel encoder.
//!
//! Each layer is a 3×3 convolution with stride 2 and padding 1 followed by a ReLU, so every
//! layer halves the spatial size (rounding up): `H_out = ⌈H_in / 2⌉`. The output feature map
//! is flattened (channel-major, as `torch.flatten(x, 1)` does) and passed to the encoder's MLP
//! head. This is the small strided conv net PLDM and DINO-WM use for low-resolution frames,
//! without normalisation layers.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Kernel size, stride and padding of every layer.
const KERNEL: usize = 3;
const STRIDE: usize = 2;
const PADDING: usize = 1;

/// Spatial size after one layer: `⌊(n + 2p − k) / s⌋ + 1` (= `⌈n / 2⌉` here).
pub fn conv_out_size(n: usize) -> usize {
    (n + 2 * PADDING).saturating_sub(KERNEL) / STRIDE + 1
}

/// A stack of strided 3×3 convolutions with ReLU after each.
///
/// Parameter names are `layers.{i}.weight` `[C_out, C_in, 3, 3]` (the PyTorch `nn.Conv2d`
/// layout) and `layers.{i}.bias` `[C_out]`.
#[derive(Module, Debug)]
pub struct ConvStack {
    /// The convolutions, input first.
    pub layers: Vec<Conv2d>,
}

impl ConvStack {
    /// Builds the stack for `in_channels` input channels and the given output channels.
    pub fn new(in_channels: usize, channels: &[usize], device: &Device) -> Self {
        let mut c_in = in_channels;
        let layers = channels
            .iter()
            .map(|&c_out| {
                let layer = Conv2dConfig::new([c_in, c_out], [KERNEL, KERNEL])
                    .with_stride([STRIDE, STRIDE])
                    .with_padding(PaddingConfig2d::Explicit(
                        PADDING, PADDING, PADDING, PADDING,
                    ))
                    .init(device);
                c_in = c_out;
                layer
            })
            .collect();
        ConvStack { layers }
    }

    /// Number of flattened output features for an input of shape `[C, H, W]`.
    pub fn out_features(channels: &[usize], input: [usize; 3]) -> usize {
        let [c, mut h, mut w] = input;
        for _ in channels {
            h = conv_out_size(h);
            w = conv_out_size(w);
        }
        channels.last().copied().unwrap_or(c) * h * w
    }

    /// Applies the convolutions and flattens the result.
    ///
    /// # Shapes
    /// `x [M, C, H, W] -> [M, C_L · H_L · W_L]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut h = x;
        for layer in &self.layers {
            h = relu(layer.forward(h));
        }
        let [m, c, hh, ww] = h.dims();
        h.reshape([m, c * hh * ww])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_size_halves_rounding_up() {
        assert_eq!(conv_out_size(16), 8);
        assert_eq!(conv_out_size(8), 4);
        assert_eq!(conv_out_size(5), 3);
        assert_eq!(conv_out_size(1), 1);
        assert_eq!(ConvStack::out_features(&[16, 32], [2, 16, 16]), 32 * 4 * 4);
        assert_eq!(ConvStack::out_features(&[8, 8, 4], [2, 32, 32]), 4 * 4 * 4);
    }

    #[test]
    fn forward_shape_matches_out_features() {
        let device = Device::default();
        let stack = ConvStack::new(2, &[4, 6], &device);
        let x = Tensor::<4>::ones([3, 2, 9, 7], &device);
        let y = stack.forward(x);
        assert_eq!(y.dims(), [3, ConvStack::out_features(&[4, 6], [2, 9, 7])]);
    }

    /// One layer against a hand-computed convolution: all-ones input and weights, zero bias.
    /// Output pixel (i, j) sums the 3×3 window at (2i−1.., 2j−1..) inside the padded input,
    /// times C_in.
    #[test]
    fn forward_matches_hand_computed_window_sums() {
        let device = Device::default();
        let mut stack = ConvStack::new(2, &[1], &device);
        let layer = &mut stack.layers[0];
        layer.weight = layer.weight.clone().map(|w| w.ones_like());
        layer.bias = layer.bias.clone().map(|b| b.map(|b| b.zeros_like()));
        let y = stack.forward(Tensor::<4>::ones([1, 2, 4, 4], &device));
        let v = y.into_data().try_to_vec::<f32>().unwrap_or_default();
        // Rows/cols of the 4×4 input covered by each output window: {0,1}, {1,2,3}.
        let counts = [2.0f32, 3.0];
        let expected: Vec<f32> = (0..2)
            .flat_map(|i| (0..2).map(move |j| 2.0 * counts[i] * counts[j]))
            .collect();
        assert_eq!(v, expected);
    }
}
