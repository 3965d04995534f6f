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
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::dataset::ImageSet;
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

/// Per-channel pixel standardisation `x'_c = (x_c − μ_c)/σ_c` with the training images'
/// statistics (I-JEPA's input pipeline normalises with its data set's channel statistics; on
/// the procedural shapes, pixels have std ≈ 0.15, so without it the patch contents are small
/// next to the position embedding).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelNorm {
    /// `μ_c`.
    pub mean: Vec<f32>,
    /// `σ_c` (at least 1e-6).
    pub std: Vec<f32>,
}

impl ChannelNorm {
    /// Mean and standard deviation per channel over every pixel of the images `idx`
    /// (accumulated in f64).
    pub fn fit(data: &ImageSet, idx: &[usize]) -> Self {
        let [c, h, w] = data.shape;
        let (mut sum, mut sq) = (vec![0f64; c], vec![0f64; c]);
        for &i in idx {
            for (k, plane) in data.image(i).chunks(h * w).enumerate() {
                for &v in plane {
                    sum[k] += f64::from(v);
                    sq[k] += f64::from(v) * f64::from(v);
                }
            }
        }
        let n = (idx.len() * h * w).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        ChannelNorm {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: sq
                .iter()
                .zip(&mean)
                .map(|(q, m)| ((q / n - m * m).max(0.0).sqrt() as f32).max(1e-6))
                .collect(),
        }
    }

    /// Standardises flat images `[B·C·H·W]` in place.
    pub fn apply(&self, x: &mut [f32], plane: usize) {
        let c = self.mean.len();
        for (k, p) in x.chunks_mut(plane).enumerate() {
            let (m, s) = (self.mean[k % c], self.std[k % c]);
            p.iter_mut().for_each(|v| *v = (*v - m) / s);
        }
    }

    /// Standardises a batch.
    ///
    /// # Shapes
    /// `x [B, C, H, W] -> [B, C, H, W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = self.mean.len();
        let device = x.device();
        let t =
            |v: &[f32]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, c, 1, 1]), &device);
        (x - t(&self.mean)) / t(&self.std)
    }
}

/// A ViT that standardises its input first ([`ChannelNorm`]).
#[derive(Module, Debug)]
pub struct NormedVit {
    /// The transformer.
    pub vit: Vit,
    #[module(skip)]
    /// The input standardisation.
    pub norm: ChannelNorm,
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
    /// A Vision Transformer on standardised pixels.
    Vit(NormedVit),
}

impl Backbone {
    /// # Shapes
    /// `x [B, C, H, W] -> h [B, D_h]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self {
            Backbone::Conv(e) => e.forward(x),
            Backbone::Vit(v) => v.vit.pooled(v.norm.forward(x)),
        }
    }

    /// `(name, shape, values)` of every weight, for `encoder.safetensors`: the conv encoder in
    /// PyTorch layout ([`encoder_tensors`]); the ViT under `vit.…` in burn's layout
    /// ([`ami_jepa::checkpoint::module_tensors`]).
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        match self {
            Backbone::Conv(e) => encoder_tensors(e),
            Backbone::Vit(v) => {
                let mut t = ami_jepa::checkpoint::module_tensors("vit", &v.vit);
                let c = v.norm.mean.len();
                t.push(("pixel_mean".into(), vec![c], v.norm.mean.clone()));
                t.push(("pixel_std".into(), vec![c], v.norm.std.clone()));
                t
            }
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
    /// The ViT (its `image` is the data's shape) and its input standardisation.
    Vit(VitConfig, ChannelNorm),
}

impl Arch {
    /// Checks the ViT's sizes ([`VitConfig::validate`]: the error names the field); the conv
    /// encoder's are checked with the rest of the settings.
    pub fn validate(&self) -> Result<(), SslError> {
        if let Arch::Vit(v, _) = self {
            v.validate()?;
        }
        Ok(())
    }

    /// A backbone on `device` whose weights depend on `seed` alone ([`seeded`]).
    ///
    /// Errors ([`SslError::Jepa`]) when the ViT's sizes do not fit (the field is named).
    pub fn seeded(&self, device: &Device, seed: u64) -> Result<Backbone, SslError> {
        self.validate()?;
        seeded(device, seed, |d| self.build(d)).ok_or_else(unbuildable)
    }

    /// A fresh backbone (`None` only for a ViT config that fails [`Arch::validate`]).
    pub fn build(&self, device: &Device) -> Option<Backbone> {
        Some(match self {
            Arch::Conv { cfg, shape } => Backbone::Conv(ImageEncoder::new(cfg, *shape, device)),
            Arch::Vit(v, norm) => Backbone::Vit(NormedVit {
                vit: v.init_encoder(device).ok()?,
                norm: norm.clone(),
            }),
        })
    }

    /// The representation size `D_h`.
    pub fn dim(&self) -> usize {
        match self {
            Arch::Conv { cfg, .. } => cfg.repr_dim,
            Arch::Vit(v, _) => v.dim,
        }
    }

    /// `"conv"` or `"vit"`, for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Arch::Conv { .. } => "conv",
            Arch::Vit(..) => "vit",
        }
    }
}

/// The error for a module whose build failed after its settings were validated (a
/// [`VitConfig`] that passed [`VitConfig::validate`] always builds).
pub(crate) fn unbuildable() -> SslError {
    SslError::config("vit", "", "a valid ViT")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_norm_standardises_each_channel_of_the_fitted_images() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.npz");
        ami_envs::ShapesConfig::default()
            .generate(5, 2)
            .unwrap()
            .save(&p)
            .unwrap();
        let data = ImageSet::load(&p).unwrap();
        let idx = [0, 2, 3];
        let norm = ChannelNorm::fit(&data, &idx);
        let mut x: Vec<f32> = idx.iter().flat_map(|&i| data.image(i).to_vec()).collect();
        let raw = x.clone();
        norm.apply(&mut x, 1024);
        for c in 0..3 {
            let vals: Vec<f64> = x
                .chunks(1024)
                .enumerate()
                .filter(|(k, _)| k % 3 == c)
                .flat_map(|(_, p)| p.iter().map(|&v| f64::from(v)))
                .collect();
            let n = vals.len() as f64;
            let mean = vals.iter().sum::<f64>() / n;
            let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            assert!(
                mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
                "{c}: {mean} {var}"
            );
        }
        // The tensor path gives the same values.
        let t = Tensor::<4>::from_data(TensorData::new(raw, [3, 3, 32, 32]), &Device::flex());
        let y = norm.forward(t).into_data().try_to_vec::<f32>().unwrap();
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}
