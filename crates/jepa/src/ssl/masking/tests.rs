//! The sampler's invariants: sizes, rectangles, disjointness, truncation, determinism.

use super::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::BTreeSet;

fn masker(h: usize, w: usize) -> MultiBlockMasker {
    MultiBlockMasker::new(MultiBlockConfig::default(), h, w).unwrap()
}

/// `(rows, cols)` spanned by `tokens` on a grid of width `w`, if they fill that rectangle.
fn rectangle(tokens: &[usize], w: usize) -> Option<(usize, usize)> {
    let rows: BTreeSet<_> = tokens.iter().map(|t| t / w).collect();
    let cols: BTreeSet<_> = tokens.iter().map(|t| t % w).collect();
    let span = |s: &BTreeSet<usize>| s.last().unwrap() - s.first().unwrap() + 1;
    (span(&rows) * span(&cols) == tokens.len()).then(|| (span(&rows), span(&cols)))
}

/// 16×16 (ViT-H/14 at 224): the targets are rectangles of one size with a share in
/// [0.15, 0.2] (up to rounding), the context leaves out every target token, and everything is
/// sorted, in the grid, and of one length per kind.
#[test]
fn sizes_rectangles_and_disjointness_on_the_official_grid() {
    let m = masker(16, 16);
    for seed in 0..20 {
        let masks = m.sample(8, &mut StdRng::seed_from_u64(seed)).unwrap();
        assert_eq!((masks.context.len(), masks.targets.len()), (8, 8));
        let n_ctx = masks.context[0].len();
        let n_tgt = masks.targets[0][0].len();
        assert!(n_ctx > 10 && n_ctx < 256, "{n_ctx}");
        assert!((30..=60).contains(&n_tgt), "target size {n_tgt}");
        let mut shape = None;
        for (ctx, targets) in masks.context.iter().zip(&masks.targets) {
            assert_eq!(ctx.len(), n_ctx);
            assert!(ctx.windows(2).all(|p| p[0] < p[1]) && ctx.iter().all(|&i| i < 256));
            assert_eq!(targets.len(), 4);
            let mut union = BTreeSet::new();
            for t in targets {
                assert_eq!(t.len(), n_tgt);
                assert!(t.windows(2).all(|p| p[0] < p[1]));
                // Same-size blocks are never truncated: each is a whole h×w rectangle.
                let hw = rectangle(t, 16).expect("a target block is a rectangle");
                assert_eq!(*shape.get_or_insert(hw), hw, "one block size per batch");
                assert!(hw.0 < 16 && hw.1 < 16);
                union.extend(t.iter().copied());
            }
            assert!(ctx.iter().all(|i| !union.contains(i)), "seed {seed}");
        }
    }
}

/// Every list is the prefix of its untruncated version, cut at the batch's shortest.
#[test]
fn truncation_keeps_the_shortest_prefix() {
    let m = masker(14, 14);
    let mut cut_somewhere = false;
    for seed in 0..10 {
        let full = m.sample_full(6, &mut StdRng::seed_from_u64(seed)).unwrap();
        let cut = m.sample(6, &mut StdRng::seed_from_u64(seed)).unwrap();
        let keep = full.context.iter().map(Vec::len).min().unwrap();
        for (f, c) in full.context.iter().zip(&cut.context) {
            assert_eq!(c.len(), keep);
            assert_eq!(&f[..keep], &c[..]);
            cut_somewhere |= f.len() > keep;
        }
        assert_eq!(
            full.targets, cut.targets,
            "equal-size target blocks are not cut"
        );
    }
    assert!(
        cut_somewhere,
        "the contexts differ in length before truncation"
    );
}

#[test]
fn the_same_seed_gives_the_same_masks() {
    let m = masker(16, 16);
    let draw = |seed| m.sample(4, &mut StdRng::seed_from_u64(seed)).unwrap();
    assert_eq!(draw(7), draw(7));
    assert_ne!(draw(7), draw(8));
}

/// With overlap allowed the context is its whole (square) block.
#[test]
fn overlap_allowed_keeps_the_whole_context_block() {
    let cfg = MultiBlockConfig {
        allow_overlap: true,
        ..Default::default()
    };
    let m = MultiBlockMasker::new(cfg, 16, 16).unwrap();
    let masks = m.sample(3, &mut StdRng::seed_from_u64(1)).unwrap();
    for ctx in &masks.context {
        let (h, w) = rectangle(ctx, 16).expect("a rectangle");
        assert_eq!(h, w, "aspect 1");
        assert!(h * w >= 217, "scale >= 0.85 of 256 (rounded): {h}x{w}");
    }
}

/// Python's `round` (ties to even) and the shrink below the grid size.
#[test]
fn block_sizes_follow_the_official_arithmetic() {
    let m = masker(16, 16);
    // r = 0: n = ⌊256·0.15⌋ = 38, a = 0.75: h = round(√28.5) = 5, w = round(√50.67) = 7.
    assert_eq!(m.block_size(0.0, (0.15, 0.2), (0.75, 1.5)), (5, 7));
    // r = 1: n = 256·1 → h = w = 16, shrunk to 15.
    assert_eq!(m.block_size(1.0, (0.85, 1.0), (1.0, 1.0)), (15, 15));
    // n = ⌊4·4·0.5625⌋ = 9 → 3×3 on a 4×4 grid; n·a = 6.25 → √ = 2.5 rounds to 2.
    let small = masker(4, 4);
    assert_eq!(small.block_size(0.0, (0.5625, 0.5625), (1.0, 1.0)), (3, 3));
    assert_eq!(
        small
            .block_size(0.0, (0.5625, 0.5625), (6.25 / 9.0, 6.25 / 9.0))
            .0,
        2
    );
    // r = 0.5: s = 0.175, n = ⌊44.8⌋ = 44, a = 1.125: h = round(√49.5) = 7, w = round(√39.1) = 6.
    assert_eq!(m.block_size(0.5, (0.15, 0.2), (0.75, 1.5)), (7, 6));
}

/// A block must keep more than `min_keep` tokens: 5×7 = 35 blocks work with 34, not 35.
#[test]
fn min_keep_is_a_strict_bound() {
    let fixed = |min_keep| MultiBlockConfig {
        target_scale: (0.15, 0.15),
        target_aspect: (0.75, 0.75),
        min_keep,
        ..Default::default()
    };
    let rng = &mut StdRng::seed_from_u64(2);
    let m = MultiBlockMasker::new(fixed(34), 16, 16).unwrap();
    assert_eq!(m.sample(2, rng).unwrap().targets[0][0].len(), 35);
    let m = MultiBlockMasker::new(fixed(35), 16, 16).unwrap();
    let e = m.sample(2, rng).unwrap_err().to_string();
    assert!(e.contains("5x7 = 35 tokens of a target block"), "{e}");
}

/// Where the targets leave too little of the context block, the official rule drops one
/// target constraint after every 20 failed draws: sampling ends, every context keeps more
/// than `min_keep` tokens, and some contexts then overlap a target.
#[test]
fn crowded_grids_relax_the_context_constraint() {
    let cfg = MultiBlockConfig {
        context_scale: (0.5, 0.5),
        target_scale: (0.25, 0.25),
        target_aspect: (1.0, 1.0),
        min_keep: 15,
        ..Default::default()
    };
    let m = MultiBlockMasker::new(cfg, 8, 8).unwrap();
    let mut overlapped = false;
    for seed in 0..5 {
        let masks = m.sample_full(6, &mut StdRng::seed_from_u64(seed)).unwrap();
        for (ctx, targets) in masks.context.iter().zip(&masks.targets) {
            assert!(ctx.len() > 15);
            let union: BTreeSet<_> = targets.iter().flatten().copied().collect();
            overlapped |= ctx.iter().any(|i| union.contains(i));
        }
    }
    assert!(overlapped, "the relaxation was exercised");
}

#[test]
fn impossible_settings_are_errors() {
    let e = masker(4, 4)
        .sample(2, &mut StdRng::seed_from_u64(0))
        .unwrap_err();
    assert!(e.to_string().contains("masking.min_keep"), "{e}");
    let cfg = MultiBlockConfig {
        min_keep: 1,
        ..Default::default()
    };
    let m = MultiBlockMasker::new(cfg, 6, 6).unwrap();
    let masks = m.sample(5, &mut StdRng::seed_from_u64(3)).unwrap();
    assert!(masks.context[0].len() > 1);
    assert!(MultiBlockMasker::new(MultiBlockConfig::default(), 1, 8).is_err());
    for cfg in [
        MultiBlockConfig {
            target_scale: (0.3, 0.2),
            ..Default::default()
        },
        MultiBlockConfig {
            context_scale: (0.5, 1.2),
            ..Default::default()
        },
        MultiBlockConfig {
            target_aspect: (0.0, 1.0),
            ..Default::default()
        },
        MultiBlockConfig {
            targets: 0,
            ..Default::default()
        },
    ] {
        assert!(MultiBlockMasker::new(cfg, 16, 16).is_err());
    }
}
