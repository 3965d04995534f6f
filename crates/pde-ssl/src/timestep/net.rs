//! The time-stepper's network: periodic 1-D convolutions over `x` with GELU between them,
//! optionally conditioned on a representation by FiLM or by an additive shift.

use burn::module::Module;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// How the representation `r` enters each hidden layer `h_l = conv_l(h_{l−1})`
/// (`[B, C, X]`), before the GELU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conditioning {
    /// FiLM (Perez et al. 2018): `h_l ← (1 + γ_l(r)) ⊙ h_l + β_l(r)`, with `γ_l`, `β_l`
    /// linear maps `repr_dim → C`, broadcast over `x`.
    Film,
    /// Extra input channels: `r` mapped linearly to `C` channels that are constant in `x`.
    /// Convolving a channel that is constant in `x` gives a constant, so this is exactly the
    /// shift `h_l ← h_l + β_l(r)` (FiLM without the scale).
    Channels,
}

/// Circular padding of `p` points on each side of the last axis: `[…, x_{X−p}, …, x_{X−1}]`
/// before and `[x_0, …, x_{p−1}]` after (the field is periodic in `x`); `p ≤ X`.
///
/// # Shapes
/// `x [B, C, X] -> [B, C, X + 2p]`
pub fn circular_pad(x: Tensor<3>, p: usize) -> Tensor<3> {
    if p == 0 {
        return x;
    }
    let n = x.dims()[2];
    let left = x.clone().narrow(2, n - p, p);
    let right = x.clone().narrow(2, 0, p);
    Tensor::cat(vec![left, x, right], 2)
}

/// A convolution over a periodic axis: `y[o, i] = b_o + Σ_c Σ_k w[o, c, k] · x[c, (i + k − p) mod X]`
/// with `p = (K − 1) / 2` (odd kernel `K`; cross-correlation, as PyTorch's `Conv1d`).
#[derive(Module, Debug)]
pub struct PeriodicConv1d {
    /// The convolution without padding; weight `[C_out, C_in, K]`.
    pub conv: Conv1d,
}

impl PeriodicConv1d {
    /// A layer `c_in → c_out` of odd kernel size `kernel`, weights from `init`.
    pub fn new(c_in: usize, c_out: usize, kernel: usize, init: Initializer, d: &Device) -> Self {
        PeriodicConv1d {
            conv: Conv1dConfig::new(c_in, c_out, kernel)
                .with_initializer(init)
                .init(d),
        }
    }

    /// # Shapes
    /// `x [B, C_in, X] -> [B, C_out, X]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.conv
            .forward(circular_pad(x, (self.conv.kernel_size - 1) / 2))
    }
}

/// The linear maps `γ_l` (FiLM only) and `β_l` of each hidden layer; zero-initialised, so
/// that at initialisation the conditioned network computes the same function as the
/// unconditioned one.
#[derive(Module, Debug)]
pub struct Conditioner {
    /// `γ_l: repr_dim → C` (empty for [`Conditioning::Channels`]).
    pub scale: Vec<Linear>,
    /// `β_l: repr_dim → C`.
    pub shift: Vec<Linear>,
}

/// `layers` periodic convolutions: `in_channels → C → … → C → 1`, GELU after each hidden
/// one, and the optional [`Conditioner`].
#[derive(Module, Debug)]
pub struct StepperNet {
    /// The convolutions, input first (the last one zero-initialised: the untrained stepper is
    /// the persistence predictor).
    pub convs: Vec<PeriodicConv1d>,
    /// Present only for the conditioned variant.
    pub cond: Option<Conditioner>,
}

/// Sizes of a [`StepperNet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetShape {
    /// Input channels.
    pub in_channels: usize,
    /// Hidden channels `C`.
    pub channels: usize,
    /// Convolutions (≥ 2).
    pub layers: usize,
    /// Odd kernel size.
    pub kernel: usize,
}

impl StepperNet {
    /// Builds the convolutions first and the conditioner after them, so that for one seed the
    /// convolutions of both variants get the same initial weights.
    pub fn new(s: NetShape, cond: Option<(Conditioning, usize)>, d: &Device) -> Self {
        let convs = (0..s.layers)
            .map(|l| {
                let c_in = if l == 0 { s.in_channels } else { s.channels };
                if l + 1 == s.layers {
                    PeriodicConv1d::new(c_in, 1, s.kernel, Initializer::Zeros, d)
                } else {
                    let init = Conv1dConfig::new(1, 1, 1).initializer;
                    PeriodicConv1d::new(c_in, s.channels, s.kernel, init, d)
                }
            })
            .collect();
        let linear = |repr: usize| {
            (0..s.layers - 1)
                .map(|_| {
                    LinearConfig::new(repr, s.channels)
                        .with_initializer(Initializer::Zeros)
                        .init(d)
                })
                .collect::<Vec<_>>()
        };
        let cond = cond.map(|(kind, repr)| Conditioner {
            scale: match kind {
                Conditioning::Film => linear(repr),
                Conditioning::Channels => vec![],
            },
            shift: linear(repr),
        });
        StepperNet { convs, cond }
    }

    /// The network's output `f` (the scaled increment, see [`crate::timestep`]).
    ///
    /// # Shapes
    /// `x [B, in_channels, X]`, `r [B, repr_dim]` (ignored without a conditioner)
    /// `-> [B, 1, X]`
    pub fn forward(&self, x: Tensor<3>, r: Option<Tensor<2>>) -> Tensor<3> {
        let last = self.convs.len() - 1;
        let mut h = x;
        for (l, conv) in self.convs.iter().enumerate() {
            h = conv.forward(h);
            if l == last {
                break;
            }
            if let (Some(c), Some(r)) = (&self.cond, &r) {
                if let Some(g) = c.scale.get(l) {
                    h = h.clone() + h * g.forward(r.clone()).unsqueeze_dim::<3>(2);
                }
                h = h + c.shift[l].forward(r.clone()).unsqueeze_dim::<3>(2);
            }
            h = gelu(h);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pretrain::seeded;
    use burn::tensor::TensorData;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
        let v = t.into_data().try_to_vec::<f32>().unwrap();
        v.into_iter().map(f64::from).collect()
    }

    #[test]
    fn circular_padding_gives_the_periodic_convolution() {
        let device = Device::flex();
        let (c_in, c_out, k, n) = (2, 3, 5, 7);
        let conv = seeded(&device, 3, |d| {
            let init = Conv1dConfig::new(1, 1, 1).initializer;
            PeriodicConv1d::new(c_in, c_out, k, init, d)
        });
        let x: Vec<f32> = (0..c_in * n).map(|i| ((i * 7 % 11) as f32) - 5.0).collect();
        let y = values(conv.forward(Tensor::from_data(
            TensorData::new(x.clone(), [1, c_in, n]),
            &device,
        )));
        let w = values(conv.conv.weight.val());
        let b = values(conv.conv.bias.as_ref().unwrap().val());
        let p = (k - 1) / 2;
        for o in 0..c_out {
            for i in 0..n {
                let mut s = b[o];
                for c in 0..c_in {
                    for j in 0..k {
                        let src = (i + n + j - p) % n;
                        s += w[(o * c_in + c) * k + j] * f64::from(x[c * n + src]);
                    }
                }
                let got = y[o * n + i];
                assert!((got - s).abs() < 1e-4, "o {o} i {i}: {got} vs {s}");
            }
        }
    }

    #[test]
    fn untrained_nets_are_persistence_and_share_the_conv_weights() {
        let device = Device::flex();
        let s = NetShape {
            in_channels: 2,
            channels: 4,
            layers: 3,
            kernel: 3,
        };
        let plain = seeded(&device, 5, |d| StepperNet::new(s, None, d));
        let film = seeded(&device, 5, |d| {
            StepperNet::new(s, Some((Conditioning::Film, 6)), d)
        });
        let x = Tensor::<3>::random(
            [2, 2, 8],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let r = Tensor::<2>::ones([2, 6], &device);
        assert!(values(plain.forward(x.clone(), None))
            .iter()
            .all(|v| *v == 0.0));
        let w_plain = values(plain.convs[0].conv.weight.val());
        let w_film = values(film.convs[0].conv.weight.val());
        assert_eq!(w_plain, w_film);
        assert!(values(film.forward(x, Some(r))).iter().all(|v| *v == 0.0));
    }
}
