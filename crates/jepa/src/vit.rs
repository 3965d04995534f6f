//! A small Vision Transformer and the I-JEPA predictor (Assran et al., CVPR 2023; the
//! `facebookresearch/ijepa` `vision_transformer.py` architecture at toy scale).
//!
//! **Encoder** [`Vit`]: an image `x [B, C, H, W]` is cut into `N = (H/p)·(W/p)` patches of
//! `p × p`, taken row-major (token `k = r·(W/p) + c`); each flattened patch
//! (`C·p·p` values, channel-major) is mapped by one linear layer to `D` dims (the
//! convolution with kernel = stride = `p` of the official code), a fixed 2-D sin-cos position
//! embedding is added, then only the kept tokens (I-JEPA's context; all of them for the
//! target encoder) go through pre-norm transformer blocks (`norm_first`, GELU MLP of width
//! `mlp_ratio·D`, no dropout) and a final LayerNorm.
//!
//! **Predictor** [`VitPredictor`]: the context tokens are embedded to the predictor width
//! `D_p` and get the predictor's position embedding; one mask token (trainable, `[D_p]`) plus
//! the position embedding of each target position is appended per target; both go through
//! the predictor's blocks and LayerNorm, and the outputs at the target positions are
//! projected back to `D`.
//!
//! **Position embedding** ([`sincos_2d`], the MAE/I-JEPA `get_2d_sincos_pos_embed`): for token
//! `(r, c)` and width `D` (a multiple of 4), the first `D/2` values encode the column `c` and
//! the last `D/2` the row `r`, each as `[sin(c·ω_0 … c·ω_{D/4−1}), cos(c·ω_0 …)]` with
//! `ω_i = 10000^{−i/(D/4)}`.
//!
//! The representation used for probing is the mean of the encoder's tokens over all
//! positions ([`Vit::pooled`]), as I-JEPA's linear probes read the average-pooled target
//! encoder.

use burn::module::{Module, Param};
use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::JepaError;

/// Architecture of the encoder and the predictor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitConfig {
    /// Image `[C, H, W]`; `H` and `W` multiples of `patch`.
    pub image: [usize; 3],
    /// Patch side `p`.
    pub patch: usize,
    /// Token width `D` (a multiple of 4 and of `heads`).
    pub dim: usize,
    /// Encoder blocks.
    pub depth: usize,
    /// Attention heads (encoder and predictor).
    pub heads: usize,
    /// MLP width as a multiple of the token width.
    pub mlp_ratio: usize,
    /// Predictor width `D_p` (a multiple of 4 and of `heads`).
    pub predictor_dim: usize,
    /// Predictor blocks.
    pub predictor_depth: usize,
}

impl Default for VitConfig {
    /// A toy ViT for 32 × 32 RGB images: 4 × 4 patches (64 tokens), width 64, 4 blocks,
    /// 4 heads; predictor width 32, 2 blocks.
    fn default() -> Self {
        VitConfig {
            image: [3, 32, 32],
            patch: 4,
            dim: 64,
            depth: 4,
            heads: 4,
            mlp_ratio: 2,
            predictor_dim: 32,
            predictor_depth: 2,
        }
    }
}

impl VitConfig {
    /// The token grid `[H/p, W/p]`.
    pub fn grid(&self) -> [usize; 2] {
        [self.image[1] / self.patch, self.image[2] / self.patch]
    }

    /// Number of tokens `N`.
    pub fn tokens(&self) -> usize {
        let [h, w] = self.grid();
        h * w
    }

    /// Checks every field; errors name the field and what was expected.
    pub fn validate(&self) -> Result<(), JepaError> {
        let [c, h, w] = self.image;
        if c == 0 || h == 0 || w == 0 {
            return Err(JepaError::config(
                "vit.image",
                format!("{:?}", self.image),
                "[C, H, W] all > 0",
            ));
        }
        if self.patch == 0 || h % self.patch != 0 || w % self.patch != 0 {
            return Err(JepaError::config(
                "vit.patch",
                self.patch,
                "a side > 0 that divides the image's height and width",
            ));
        }
        for (name, width) in [
            ("vit.dim", self.dim),
            ("vit.predictor_dim", self.predictor_dim),
        ] {
            if width == 0 || width % 4 != 0 || self.heads == 0 || width % self.heads != 0 {
                return Err(JepaError::config(
                    name,
                    width,
                    "a multiple of 4 and of vit.heads (> 0)",
                ));
            }
        }
        for (name, v) in [
            ("vit.depth", self.depth),
            ("vit.mlp_ratio", self.mlp_ratio),
            ("vit.predictor_depth", self.predictor_depth),
        ] {
            if v == 0 {
                return Err(JepaError::config(name, v, "an integer > 0"));
            }
        }
        Ok(())
    }

    fn blocks(&self, width: usize, depth: usize, device: &Device) -> TransformerEncoder {
        TransformerEncoderConfig::new(width, self.mlp_ratio * width, self.heads, depth)
            .with_norm_first(true)
            .with_dropout(0.0)
            .init(device)
    }

    /// The encoder (context or target).
    pub fn init_encoder(&self, device: &Device) -> Result<Vit, JepaError> {
        self.validate()?;
        let [c, _, _] = self.image;
        Ok(Vit {
            patch_embed: LinearConfig::new(c * self.patch * self.patch, self.dim).init(device),
            blocks: self.blocks(self.dim, self.depth, device),
            norm: LayerNormConfig::new(self.dim).init(device),
            pos: sincos_2d(self.dim, self.grid()),
            image: self.image,
            patch: self.patch,
        })
    }

    /// The predictor.
    pub fn init_predictor(&self, device: &Device) -> Result<VitPredictor, JepaError> {
        self.validate()?;
        Ok(VitPredictor {
            embed: LinearConfig::new(self.dim, self.predictor_dim).init(device),
            mask_token: Param::from_tensor(Tensor::zeros([self.predictor_dim], device)),
            blocks: self.blocks(self.predictor_dim, self.predictor_depth, device),
            norm: LayerNormConfig::new(self.predictor_dim).init(device),
            proj: LinearConfig::new(self.predictor_dim, self.dim).init(device),
            pos: sincos_2d(self.predictor_dim, self.grid()),
        })
    }
}

/// The fixed 2-D sin-cos position embedding `[N · D]` (row-major tokens; module docs).
pub fn sincos_2d(dim: usize, [h, w]: [usize; 2]) -> Vec<f32> {
    let quarter = dim / 4;
    let omega: Vec<f64> = (0..quarter)
        .map(|i| 1.0 / 10000f64.powf(i as f64 / quarter as f64))
        .collect();
    let mut out = Vec::with_capacity(h * w * dim);
    for r in 0..h {
        for c in 0..w {
            for coord in [c as f64, r as f64] {
                out.extend(omega.iter().map(|o| (coord * o).sin() as f32));
                out.extend(omega.iter().map(|o| (coord * o).cos() as f32));
            }
        }
    }
    out
}

/// Cuts images into row-major flattened patches.
///
/// # Shapes
/// `x [B, C, H, W] -> [B, N, C·p·p]`
pub fn patchify(x: Tensor<4>, p: usize) -> Tensor<3> {
    let [b, c, h, w] = x.dims();
    let (gh, gw) = (h / p, w / p);
    x.reshape([b, c, gh, p, gw, p])
        .permute([0, 2, 4, 1, 3, 5])
        .reshape([b, gh * gw, c * p * p])
}

/// The rows `idx[b]` of every sample's tokens.
///
/// # Shapes
/// `tokens [B, N, D]`, `idx [B][K]` → `[B, K, D]`
pub fn gather_tokens(tokens: Tensor<3>, idx: &[Vec<usize>]) -> Tensor<3> {
    let [b, _, d] = tokens.dims();
    let k = idx.first().map_or(0, Vec::len);
    let flat: Vec<i64> = idx
        .iter()
        .flat_map(|row| row.iter().map(|&i| i as i64))
        .collect();
    let device = tokens.device();
    let index = Tensor::<2, Int>::from_data(TensorData::new(flat, [b, k]), &device)
        .unsqueeze_dim::<3>(2)
        .repeat_dim(2, d);
    tokens.gather(1, index)
}

fn pos_tensor(pos: &[f32], n: usize, d: usize, device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(pos.to_vec(), [1, n, d]), device)
}

/// The encoder (module docs).
#[derive(Module, Debug)]
pub struct Vit {
    /// Patch embedding `C·p·p → D`.
    pub patch_embed: Linear,
    /// Transformer blocks.
    pub blocks: TransformerEncoder,
    /// Final LayerNorm.
    pub norm: LayerNorm,
    #[module(skip)]
    pos: Vec<f32>,
    #[module(skip)]
    image: [usize; 3],
    #[module(skip)]
    patch: usize,
}

impl Vit {
    /// Tokens of the kept positions `keep[b]` (all positions when `None`).
    ///
    /// # Shapes
    /// `x [B, C, H, W]` → `[B, K, D]` (`K = N` without `keep`)
    pub fn forward(&self, x: Tensor<4>, keep: Option<&[Vec<usize>]>) -> Tensor<3> {
        let device = x.device();
        let tokens = self.patch_embed.forward(patchify(x, self.patch));
        let [_, n, d] = tokens.dims();
        let mut tokens = tokens + pos_tensor(&self.pos, n, d, &device);
        if let Some(keep) = keep {
            tokens = gather_tokens(tokens, keep);
        }
        self.norm
            .forward(self.blocks.forward(TransformerEncoderInput::new(tokens)))
    }

    /// The representation for probing: the mean of all tokens.
    ///
    /// # Shapes
    /// `x [B, C, H, W]` → `[B, D]`
    pub fn pooled(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward(x, None).mean_dim(1).squeeze_dim(1)
    }

    /// The image shape `[C, H, W]` it reads.
    pub fn image(&self) -> [usize; 3] {
        self.image
    }
}

/// The I-JEPA predictor (module docs).
#[derive(Module, Debug)]
pub struct VitPredictor {
    /// Context embedding `D → D_p`.
    pub embed: Linear,
    /// The mask token `[D_p]`.
    pub mask_token: Param<Tensor<1>>,
    /// Transformer blocks.
    pub blocks: TransformerEncoder,
    /// Final LayerNorm.
    pub norm: LayerNorm,
    /// Output projection `D_p → D`.
    pub proj: Linear,
    #[module(skip)]
    pos: Vec<f32>,
}

impl VitPredictor {
    /// Predicts the tokens at `target[b]` from the context tokens at `context[b]`.
    ///
    /// # Shapes
    /// `ctx [B, K_c, D]`, `context [B][K_c]`, `target [B][K_t]` → `[B, K_t, D]`
    pub fn forward(
        &self,
        ctx: Tensor<3>,
        context: &[Vec<usize>],
        target: &[Vec<usize>],
    ) -> Tensor<3> {
        let device = ctx.device();
        let dp = self.mask_token.dims()[0];
        let n = self.pos.len() / dp;
        let b = ctx.dims()[0];
        let pos = pos_tensor(&self.pos, n, dp, &device).repeat_dim(0, b);
        let x = self.embed.forward(ctx) + gather_tokens(pos.clone(), context);
        let kt = target.first().map_or(0, Vec::len);
        let masks = self
            .mask_token
            .val()
            .reshape([1, 1, dp])
            .repeat_dim(0, b)
            .repeat_dim(1, kt)
            + gather_tokens(pos, target);
        let kc = x.dims()[1];
        let out = self.norm.forward(
            self.blocks
                .forward(TransformerEncoderInput::new(Tensor::cat(vec![x, masks], 1))),
        );
        self.proj.forward(out.narrow(1, kc, kt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Device {
        Device::flex()
    }

    /// 8 × 8 grey images in 2 × 2 patches (16 tokens), one block each.
    fn tiny() -> VitConfig {
        VitConfig {
            image: [1, 8, 8],
            patch: 2,
            dim: 16,
            depth: 1,
            heads: 2,
            mlp_ratio: 2,
            predictor_dim: 8,
            predictor_depth: 1,
        }
    }

    fn values<const N: usize>(t: Tensor<N>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn patches_are_row_major_and_channel_major_inside() {
        // x[b, c, i, j] = 1000b + 100c + 10i + j, 2 channels, 4 × 4, patches of 2.
        let mut v = Vec::new();
        for b in 0..2 {
            for c in 0..2 {
                for i in 0..4 {
                    for j in 0..4 {
                        v.push((1000 * b + 100 * c + 10 * i + j) as f32);
                    }
                }
            }
        }
        let x = Tensor::<4>::from_data(TensorData::new(v, [2, 2, 4, 4]), &dev());
        let p = patchify(x, 2);
        assert_eq!(p.dims(), [2, 4, 8]);
        let p = values(p);
        // Sample 1, token 1 (row 0, column 1): channel 0 then 1, each rows 0–1 × cols 2–3.
        let token = &p[(4 + 1) * 8..(4 + 2) * 8];
        assert_eq!(
            token,
            &[1002., 1003., 1012., 1013., 1102., 1103., 1112., 1113.]
        );
        // Token 2 of sample 0 is row 1, column 0: pixels (2..4) × (0..2).
        assert_eq!(&p[2 * 8..2 * 8 + 4], &[20., 21., 30., 31.]);
    }

    #[test]
    fn sincos_embedding_by_hand() {
        // D = 8: quarter 2, ω = [1, 1/100]; token (r, c) = (1, 2) of a 2 × 3 grid is k = 5.
        let e = sincos_2d(8, [2, 3]);
        assert_eq!(e.len(), 6 * 8);
        let t = &e[5 * 8..6 * 8];
        let want = [
            2f64.sin(),
            0.02f64.sin(),
            2f64.cos(),
            0.02f64.cos(),
            1f64.sin(),
            0.01f64.sin(),
            1f64.cos(),
            0.01f64.cos(),
        ];
        for (a, b) in t.iter().zip(want) {
            assert!((f64::from(*a) - b).abs() < 1e-6, "{t:?}");
        }
    }

    #[test]
    fn gather_picks_each_samples_rows() {
        let v: Vec<f32> = (0..2 * 3 * 2).map(|x| x as f32).collect();
        let t = Tensor::<3>::from_data(TensorData::new(v, [2, 3, 2]), &dev());
        let g = gather_tokens(t, &[vec![2, 0], vec![1, 1]]);
        assert_eq!(g.dims(), [2, 2, 2]);
        assert_eq!(values(g), vec![4., 5., 0., 1., 8., 9., 8., 9.]);
    }

    #[test]
    fn shapes_of_encoder_and_predictor() {
        let cfg = tiny();
        let enc = cfg.init_encoder(&dev()).unwrap();
        let pred = cfg.init_predictor(&dev()).unwrap();
        let x = Tensor::<4>::ones([3, 1, 8, 8], &dev());
        assert_eq!(enc.forward(x.clone(), None).dims(), [3, 16, 16]);
        let ctx_idx = vec![vec![0, 1, 2, 5, 9]; 3];
        let tgt_idx = vec![vec![3, 4, 7]; 3];
        let ctx = enc.forward(x.clone(), Some(&ctx_idx));
        assert_eq!(ctx.dims(), [3, 5, 16]);
        let out = pred.forward(ctx, &ctx_idx, &tgt_idx);
        assert_eq!(out.dims(), [3, 3, 16]);
        assert!(values(out).iter().all(|v| v.is_finite()));
        assert_eq!(enc.pooled(x).dims(), [3, 16]);
    }

    #[test]
    fn every_weight_is_written_under_its_path() {
        let enc = tiny().init_encoder(&dev()).unwrap();
        let t = crate::checkpoint::module_tensors("vit", &enc);
        let find = |name: &str| t.iter().find(|(n, _, _)| n == name);
        let (_, shape, stored) = find("vit.patch_embed.weight").expect("patch embedding");
        assert_eq!(shape, &vec![4, 16]);
        assert_eq!(stored, &values(enc.patch_embed.weight.val()));
        assert!(find("vit.norm.gamma").is_some(), "{:?}", names(&t));
        let params: usize = t.iter().map(|(_, s, _)| s.iter().product::<usize>()).sum();
        assert_eq!(params, enc.num_params());
        let mut unique = names(&t);
        unique.dedup();
        assert_eq!(unique.len(), t.len(), "names repeat: {:?}", names(&t));
    }

    fn names(t: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<String> {
        let mut n: Vec<String> = t.iter().map(|(n, _, _)| n.clone()).collect();
        n.sort();
        n
    }

    #[test]
    fn the_encoder_sees_position_and_content() {
        // Moving a bright patch changes the pooled representation (position embedding and
        // attention make the tokens position-aware even after pooling).
        let cfg = tiny();
        let enc = cfg.init_encoder(&dev()).unwrap();
        let img = |i: usize| {
            let mut v = vec![0f32; 64];
            v[i] = 1.0;
            Tensor::<4>::from_data(TensorData::new(v, [1, 1, 8, 8]), &dev())
        };
        let (a, b) = (values(enc.pooled(img(0))), values(enc.pooled(img(63))));
        assert!(a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-4));
    }

    #[test]
    fn gradients_reach_the_mask_token_and_the_patch_embedding() {
        let ad = dev().autodiff();
        let cfg = tiny();
        let enc = cfg.init_encoder(&ad).unwrap();
        let pred = cfg.init_predictor(&ad).unwrap();
        let v: Vec<f32> = (0..2 * 64).map(|i| ((i * 37) % 11) as f32 / 11.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(v, [2, 1, 8, 8]), &ad);
        let ctx_idx = vec![vec![0, 5, 10], vec![1, 6, 11]];
        let tgt_idx = vec![vec![15, 3], vec![2, 14]];
        let out = pred.forward(enc.forward(x, Some(&ctx_idx)), &ctx_idx, &tgt_idx);
        let grads = out.powi_scalar(2).sum().backward();
        let norm = |g: Option<Tensor<1>>| values(g.unwrap().abs().sum())[0];
        let g_mask = pred.mask_token.val().grad(&grads).map(|g| g.reshape([-1]));
        let g_patch = enc
            .patch_embed
            .weight
            .val()
            .grad(&grads)
            .map(|g| g.reshape([-1]));
        assert!(norm(g_mask) > 0.0);
        assert!(norm(g_patch) > 0.0);
    }

    #[test]
    fn bad_configs_name_the_field() {
        let bad = VitConfig {
            patch: 5,
            ..VitConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("vit.patch"));
        let bad = VitConfig {
            dim: 30,
            ..VitConfig::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("vit.dim"));
        let bad = VitConfig {
            depth: 0,
            ..VitConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("vit.depth"));
        VitConfig::default().validate().unwrap();
    }
}
