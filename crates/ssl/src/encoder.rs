//! The small conv encoder `f` and the projector `g` of the online network.
//!
//! `f`: strided 3×3 convolutions with ReLU ([`ConvStack`], each halving the side), flattened,
//! then a head `features → hidden → repr_dim`: `h = f(x)` is the representation the probes
//! read. `g`: `repr_dim → projector…`: `z = g(h)` is what the SSL loss sees (VICReg's
//! "expander"). Head and projector are [`BnMlp`]s — Linear, BatchNorm, ReLU between layers,
//! a plain linear output — as in VICReg's expander: without the normalisation the
//! representation of this small net collapsed to an effective rank of ≈ 3 of 128 within 100
//! steps (measured on `shapes`).

use ami_jepa::conv::ConvStack;
use ami_jepa::vit::{Vit, VitConfig};
use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::SslError;

/// Sizes of the encoder, projector and (when an objective asks for one) predictor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    /// Output channels of the strided convolutions (default 32, 64, 128).
    pub channels: Vec<usize>,
    /// Hidden width of the head (default 256).
    pub hidden: usize,
    /// Representation size `D_h` (default 128).
    pub repr_dim: usize,
    /// Projector widths after the representation (default 256, 256).
    pub projector: Vec<usize>,
    /// Hidden width of the predictor `q: D_z → hidden → D_z` (default 256).
    pub predictor_hidden: usize,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            channels: vec![32, 64, 128],
            hidden: 256,
            repr_dim: 128,
            projector: vec![256, 256],
            predictor_hidden: 256,
        }
    }
}

impl EncoderConfig {
    /// Checks the sizes; the error names the key (`encoder.…`).
    pub fn validate(&self) -> Result<(), SslError> {
        let pos = |k: &str, v: usize| {
            if (1..=4096).contains(&v) {
                Ok(())
            } else {
                Err(SslError::config(format!("encoder.{k}"), v, "1 to 4096"))
            }
        };
        if self.channels.is_empty() || self.channels.len() > 6 {
            return Err(SslError::config(
                "encoder.channels",
                format!("{:?}", self.channels),
                "1 to 6 layers",
            ));
        }
        for &c in self.channels.iter().chain(&self.projector) {
            pos("channels/projector", c)?;
        }
        if self.projector.is_empty() {
            return Err(SslError::config(
                "encoder.projector",
                "[]",
                "at least one layer",
            ));
        }
        pos("hidden", self.hidden)?;
        pos("repr_dim", self.repr_dim)?;
        pos("predictor_hidden", self.predictor_hidden)
    }

    /// Width `D_z` of the projector's output.
    pub fn proj_dim(&self) -> usize {
        self.projector.last().copied().unwrap_or(self.repr_dim)
    }
}

/// `x ↦ W_L(relu(BN(… relu(BN(W_1 x + b_1)) …))) + b_L`: batch normalisation (batch
/// statistics in training, running statistics once `valid()`) and ReLU between layers.
///
/// Parameter names `layers.{i}.weight` `[in, out]`, `layers.{i}.bias`, `norms.{i}.gamma`,
/// `norms.{i}.beta`.
#[derive(Module, Debug)]
pub struct BnMlp {
    /// The affine layers, input first.
    pub layers: Vec<Linear>,
    /// One normalisation after each layer but the last.
    pub norms: Vec<BatchNorm>,
}

impl BnMlp {
    /// Widths `dims = [in, hidden…, out]` (at least two entries).
    pub fn new(dims: &[usize], device: &Device) -> Self {
        let layers: Vec<Linear> = dims
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        let norms = dims[1..dims.len() - 1]
            .iter()
            .map(|&d| BatchNormConfig::new(d).init(device))
            .collect();
        BnMlp { layers, norms }
    }

    /// # Shapes
    /// `x [B, in] -> [B, out]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if let Some(norm) = self.norms.get(i) {
                h = relu(norm.forward(h));
            }
        }
        h
    }
}

/// Conv trunk + head: `[B, C, H, W] → [B, repr_dim]`.
#[derive(Module, Debug)]
pub struct ImageEncoder {
    /// The convolutions.
    pub conv: ConvStack,
    /// The head.
    pub head: BnMlp,
}

impl ImageEncoder {
    /// An encoder for images of shape `[C, H, W]`.
    pub fn new(cfg: &EncoderConfig, shape: [usize; 3], device: &Device) -> Self {
        let features = ConvStack::out_features(&cfg.channels, shape);
        ImageEncoder {
            conv: ConvStack::new(shape[0], &cfg.channels, device),
            head: BnMlp::new(&[features, cfg.hidden, cfg.repr_dim], device),
        }
    }

    /// # Shapes
    /// `x [B, C, H, W] -> h [B, repr_dim]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.conv.forward(x))
    }
}

/// The encoder whose representation the probes read: the conv [`ImageEncoder`] of the
/// two-view objectives, or the [`Vit`] of the masked ones (I-JEPA), whose representation is
/// the mean of its tokens ([`Vit::pooled`]).
// One or two live per run: the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Backbone {
    /// Strided convolutions and a BatchNorm head.
    Conv(ImageEncoder),
    /// A Vision Transformer.
    Vit(Vit),
}

impl Backbone {
    /// # Shapes
    /// `x [B, C, H, W] -> h [B, D_h]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Backbone::Conv(e) => e.forward(x),
            Backbone::Vit(v) => v.pooled(x),
        }
    }

    /// `(name, shape, values)` of every weight, for `encoder.safetensors`: the conv encoder in
    /// PyTorch layout ([`encoder_tensors`]); the ViT under `vit.…` in burn's layout
    /// ([`ami_jepa::checkpoint::module_tensors`]).
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        match self {
            Backbone::Conv(e) => encoder_tensors(e),
            Backbone::Vit(v) => ami_jepa::checkpoint::module_tensors("vit", v),
        }
    }
}

/// Which [`Backbone`] to build, with its sizes.
#[derive(Debug, Clone, PartialEq)]
pub enum Arch {
    /// The conv encoder for images of `shape`.
    Conv {
        /// Sizes.
        cfg: EncoderConfig,
        /// `[C, H, W]`.
        shape: [usize; 3],
    },
    /// The ViT (its `image` is the data's shape).
    Vit(VitConfig),
}

impl Arch {
    /// A backbone on `device` whose weights depend on `seed` alone ([`seeded`]).
    ///
    /// Errors ([`SslError::Jepa`]) when the ViT's sizes do not fit (the field is named).
    pub fn seeded(&self, device: &Device, seed: u64) -> Result<Backbone, SslError> {
        if let Arch::Vit(v) = self {
            v.validate()?;
        }
        seeded(device, seed, |d| self.build(d))
            .ok_or_else(|| SslError::config("vit", "", "a valid ViT"))
    }

    /// A fresh backbone (`None` only for a ViT config that fails validation).
    pub fn build(&self, device: &Device) -> Option<Backbone> {
        Some(match self {
            Arch::Conv { cfg, shape } => Backbone::Conv(ImageEncoder::new(cfg, *shape, device)),
            Arch::Vit(v) => Backbone::Vit(v.init_encoder(device).ok()?),
        })
    }

    /// The representation size `D_h`.
    pub fn dim(&self) -> usize {
        match self {
            Arch::Conv { cfg, .. } => cfg.repr_dim,
            Arch::Vit(v) => v.dim,
        }
    }

    /// `"conv"` or `"vit"`, for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Arch::Conv { .. } => "conv",
            Arch::Vit(_) => "vit",
        }
    }
}

/// Encoder then projector (the online network, and the layout of an EMA target).
#[derive(Module, Debug)]
pub struct Online {
    /// `f`.
    pub encoder: ImageEncoder,
    /// `g`.
    pub projector: BnMlp,
}

impl Online {
    /// Encoder and projector for images of shape `[C, H, W]`.
    pub fn new(cfg: &EncoderConfig, shape: [usize; 3], device: &Device) -> Self {
        let mut dims = vec![cfg.repr_dim];
        dims.extend(&cfg.projector);
        Online {
            encoder: ImageEncoder::new(cfg, shape, device),
            projector: BnMlp::new(&dims, device),
        }
    }

    /// # Shapes
    /// `x [B, C, H, W] -> z [B, D_z]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.projector.forward(self.encoder.forward(x))
    }
}

/// Builds a module on `device` with burn's RNG seeded by `seed`, drawing every weight (the
/// workspace's one seeded initialisation, [`ami_jepa::train::seeded_module`]).
pub use ami_jepa::train::seeded_module as seeded;

/// `(name, shape, values)` of the encoder's weights in PyTorch layout (`conv.layers.{i}.…`
/// `[C_out, C_in, 3, 3]`, `head.layers.{i}.weight` `[out, in]`, `head.layers.{i}.bias`,
/// `head.norms.{i}.{weight, bias, running_mean, running_var}` as `nn.BatchNorm1d` names
/// them), for a safetensors file.
pub fn encoder_tensors(e: &ImageEncoder) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut t = ami_jepa::checkpoint::conv_tensors("conv", &e.conv);
    let flat = |x: Tensor<1>| x.into_data().try_to_vec::<f32>().unwrap_or_default();
    for (i, l) in e.head.layers.iter().enumerate() {
        let w = l.weight.val();
        let [din, dout] = w.dims();
        t.push((
            format!("head.layers.{i}.weight"),
            vec![dout, din],
            flat(w.transpose().reshape([din * dout])),
        ));
        if let Some(b) = &l.bias {
            t.push((format!("head.layers.{i}.bias"), vec![dout], flat(b.val())));
        }
    }
    for (i, n) in e.head.norms.iter().enumerate() {
        let d = n.gamma.val().dims()[0];
        for (name, v) in [
            ("weight", n.gamma.val()),
            ("bias", n.beta.val()),
            ("running_mean", n.running_mean.value()),
            ("running_var", n.running_var.value()),
        ] {
            t.push((format!("head.norms.{i}.{name}"), vec![d], flat(v)));
        }
    }
    t
}
