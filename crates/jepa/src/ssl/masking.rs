//! I-JEPA's multi-block masks on an `H×W` token grid (facebookresearch/ijepa
//! `src/masks/multiblock.py` with `configs/in1k_vith14_ep300.yaml`; REFERENCE.md §4).
//!
//! For each batch, one uniform draw `r` fixes the size of the target blocks and another the
//! size of the context block (block sizes are shared by the batch):
//!
//! ```text
//! s = s_min + r·(s_max − s_min),  a = a_min + r·(a_max − a_min)   (one r for both)
//! n = ⌊H·W·s⌋,  h = round(√(n·a)),  w = round(√(n/a)),  shrunk to h < H, w < W
//! ```
//!
//! (targets: scale (0.15, 0.2), aspect (0.75, 1.5); context: scale (0.85, 1), aspect 1;
//! `round` ties to even, as Python's). Then, per sample: 4 target blocks, each at a uniform
//! top-left corner (`top ∈ [0, H − h)`, `left ∈ [0, W − w)`); one context block likewise,
//! minus the union of the target blocks (`allow_overlap` false). A block with at most
//! `min_keep` (10) tokens left is redrawn; after 20 failed draws one target block fewer
//! constrains the context (so the context may then overlap the last targets, as in the
//! official code). Finally every context list and every target list of the batch is
//! truncated to the shortest of its kind (the lists hold indices `row·W + col` in ascending
//! order, so truncation keeps the first rows of a block).
//!
//! Randomness comes from the caller's [`rand::Rng`] (the official code seeds a
//! `torch.Generator` per batch; the draws are the same in kind, not in value).

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::JepaError;

/// Failed draws of one block before one constraint fewer is used (the official `timeout`).
const TIMEOUT: usize = 20;

/// The mask sampler's settings (official I-JEPA values).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MultiBlockConfig {
    /// Range of the context block's share of the grid (0.85, 1.0).
    pub context_scale: (f64, f64),
    /// Range of each target block's share of the grid (0.15, 0.2).
    pub target_scale: (f64, f64),
    /// Range of the target blocks' aspect ratio `h/w` (0.75, 1.5).
    pub target_aspect: (f64, f64),
    /// Number of target blocks per sample (4).
    pub targets: usize,
    /// A block must keep more than this many tokens (10).
    pub min_keep: usize,
    /// Whether the context may overlap the targets (false).
    pub allow_overlap: bool,
}

impl Default for MultiBlockConfig {
    fn default() -> Self {
        MultiBlockConfig {
            context_scale: (0.85, 1.0),
            target_scale: (0.15, 0.2),
            target_aspect: (0.75, 1.5),
            targets: 4,
            min_keep: 10,
            allow_overlap: false,
        }
    }
}

/// One batch of masks.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockMasks {
    /// Per sample, the context tokens (`row·W + col`, ascending), all of one length.
    pub context: Vec<Vec<usize>>,
    /// Per sample, per target block, its tokens (ascending), all of one length.
    pub targets: Vec<Vec<Vec<usize>>>,
}

/// Samples [`BlockMasks`] on an `H×W` grid.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiBlockMasker {
    config: MultiBlockConfig,
    height: usize,
    width: usize,
}

fn range(field: &str, (lo, hi): (f64, f64), max: f64) -> Result<(), JepaError> {
    if lo > 0.0 && lo <= hi && hi <= max {
        Ok(())
    } else {
        Err(JepaError::config(
            field,
            format!("({lo}, {hi})"),
            &format!("0 < low <= high <= {max}"),
        ))
    }
}

impl MultiBlockMasker {
    /// A sampler for an `height × width` grid.
    ///
    /// Errors ([`JepaError::InvalidConfig`]) on a grid smaller than 2×2, scale ranges outside
    /// `(0, 1]`, aspect ranges outside `(0, ∞)`, or no target block.
    pub fn new(config: MultiBlockConfig, height: usize, width: usize) -> Result<Self, JepaError> {
        if height < 2 || width < 2 {
            return Err(JepaError::config(
                "masking grid",
                format!("{height}x{width}"),
                "at least 2x2 tokens (blocks are smaller than the grid)",
            ));
        }
        range("masking.context_scale", config.context_scale, 1.0)?;
        range("masking.target_scale", config.target_scale, 1.0)?;
        range("masking.target_aspect", config.target_aspect, f64::MAX)?;
        if config.targets == 0 {
            return Err(JepaError::config("masking.targets", 0, "at least 1"));
        }
        Ok(MultiBlockMasker {
            config,
            height,
            width,
        })
    }

    /// The block size `(h, w)` for one uniform draw (`_sample_block_size`).
    fn block_size(&self, r: f64, scale: (f64, f64), aspect: (f64, f64)) -> (usize, usize) {
        let s = scale.0 + r * (scale.1 - scale.0);
        let n = ((self.height * self.width) as f64 * s).floor();
        let a = aspect.0 + r * (aspect.1 - aspect.0);
        let h = ((n * a).sqrt().round_ties_even() as usize).min(self.height - 1);
        let w = ((n / a).sqrt().round_ties_even() as usize).min(self.width - 1);
        (h, w)
    }

    /// Fails unless a `h × w` block keeps more than `min_keep` tokens (else no draw succeeds).
    fn feasible(&self, (h, w): (usize, usize), which: &str) -> Result<(), JepaError> {
        if h * w > self.config.min_keep {
            return Ok(());
        }
        Err(JepaError::config(
            "masking.min_keep",
            self.config.min_keep,
            &format!(
                "fewer than the {h}x{w} = {} tokens of a {which} block on the {}x{} grid \
                 (lower min_keep or raise the {which} scale)",
                h * w,
                self.height,
                self.width
            ),
        ))
    }

    /// One block of size `(h, w)` kept where the first `regions.len() − tries` acceptable
    /// regions allow (`_sample_block_mask`): its tokens and the complement of the whole block.
    fn block(
        &self,
        (h, w): (usize, usize),
        regions: &[Vec<bool>],
        rng: &mut impl Rng,
    ) -> (Vec<usize>, Vec<bool>) {
        let (mut tries, mut timeout) = (0, TIMEOUT);
        loop {
            let top = rng.gen_range(0..self.height - h);
            let left = rng.gen_range(0..self.width - w);
            let active = &regions[..regions.len().saturating_sub(tries)];
            let tokens: Vec<usize> = (top..top + h)
                .flat_map(|r| (left..left + w).map(move |c| r * self.width + c))
                .filter(|&i| active.iter().all(|region| region[i]))
                .collect();
            if tokens.len() > self.config.min_keep {
                let mut complement = vec![true; self.height * self.width];
                for r in top..top + h {
                    complement[r * self.width + left..r * self.width + left + w].fill(false);
                }
                return (tokens, complement);
            }
            timeout -= 1;
            if timeout == 0 {
                tries += 1;
                timeout = TIMEOUT;
            }
        }
    }

    /// The masks of a batch before truncation.
    fn sample_full(&self, batch: usize, rng: &mut impl Rng) -> Result<BlockMasks, JepaError> {
        let c = &self.config;
        let target_size = self.block_size(rng.gen(), c.target_scale, c.target_aspect);
        let context_size = self.block_size(rng.gen(), c.context_scale, (1.0, 1.0));
        self.feasible(target_size, "target")?;
        self.feasible(context_size, "context")?;
        let mut masks = BlockMasks {
            context: Vec::with_capacity(batch),
            targets: Vec::with_capacity(batch),
        };
        for _ in 0..batch {
            let (targets, complements): (Vec<_>, Vec<_>) = (0..c.targets)
                .map(|_| self.block(target_size, &[], rng))
                .unzip();
            let regions = if c.allow_overlap {
                &[][..]
            } else {
                &complements
            };
            masks.context.push(self.block(context_size, regions, rng).0);
            masks.targets.push(targets);
        }
        Ok(masks)
    }

    /// The masks of a batch of `batch` samples.
    ///
    /// Errors ([`JepaError::InvalidConfig`]) when the drawn block size cannot keep more than
    /// `min_keep` tokens (a small grid: lower `min_keep`).
    pub fn sample(&self, batch: usize, rng: &mut impl Rng) -> Result<BlockMasks, JepaError> {
        let mut masks = self.sample_full(batch, rng)?;
        let shortest = |lens: &mut dyn Iterator<Item = usize>| lens.min().unwrap_or(0);
        let keep = shortest(&mut masks.context.iter().map(Vec::len));
        masks.context.iter_mut().for_each(|m| m.truncate(keep));
        let keep = shortest(&mut masks.targets.iter().flatten().map(Vec::len));
        masks
            .targets
            .iter_mut()
            .flatten()
            .for_each(|m| m.truncate(keep));
        Ok(masks)
    }
}

#[cfg(test)]
mod tests;
