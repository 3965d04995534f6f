//! Autoregressive rollouts and their relative error (definition in [`crate::timestep`]).

use std::ops::Range;

use ami_pde::Trajectory;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::train::{fields, representations, Fields, Stepper};
use super::TimestepConfig;
use crate::encoder::PdeEncoder;
use crate::error::SslError;
use crate::views::ViewConfig;

/// Test trajectories rolled out together.
const CHUNK: usize = 64;

/// Relative error of a rollout: `total = Σ_k e_k / Σ_k s_k`, `per_step[k] = e_k / s_k`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RolloutError {
    /// Over the whole rollout.
    pub total: f64,
    /// At each step `k = 0 … N − 1` (frame `t₀ + k`).
    pub per_step: Vec<f64>,
}

/// Rolls `next` out from the true frames `t₀ − H … t₀ − 1` of every trajectory for `horizon`
/// steps; `next(indices, windows [B · H · X]) -> [B · X]` predicts the next frame of each
/// window.
fn accumulate(
    f: &Fields,
    (start, horizon): (usize, usize),
    h: usize,
    mut next: impl FnMut(Range<usize>, &[f32]) -> Vec<f32>,
) -> Result<RolloutError, SslError> {
    let x = f.x;
    let (mut e, mut s) = (vec![0.0; horizon], vec![0.0; horizon]);
    for lo in (0..f.u.len()).step_by(CHUNK) {
        let idx = lo..(lo + CHUNK).min(f.u.len());
        let mut win: Vec<f32> = idx
            .clone()
            .flat_map(|i| f.u[i][(start - h) * x..start * x].iter().copied())
            .collect();
        for k in 0..horizon {
            let pred = next(idx.clone(), &win);
            if pred.len() != idx.len() * x || pred.iter().any(|v| !v.is_finite()) {
                return Err(SslError::NonFinite {
                    what: "rollout prediction".into(),
                    step: k,
                });
            }
            let t = start + k;
            for (b, i) in idx.clone().enumerate() {
                let truth = &f.u[i][t * x..(t + 1) * x];
                for (p, u) in pred[b * x..(b + 1) * x].iter().zip(truth) {
                    e[k] += f64::from(p - u).powi(2);
                    s[k] += f64::from(*u).powi(2);
                }
            }
            win = win
                .chunks(h * x)
                .zip(pred.chunks(x))
                .flat_map(|(w, p)| w[x..].iter().chain(p).copied())
                .collect();
        }
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { a };
    Ok(RolloutError {
        total: ratio(e.iter().sum(), s.iter().sum()),
        per_step: e.iter().zip(&s).map(|(a, b)| ratio(*a, *b)).collect(),
    })
}

/// The stepper's rollout error on `test`; `encoder` must be the one it was trained with
/// (`None` for the unconditioned variant).
pub fn rollout_error(
    stepper: &Stepper,
    test: &[Trajectory],
    cfg: &TimestepConfig,
    view: &ViewConfig,
    encoder: Option<&PdeEncoder>,
    device: &Device,
) -> Result<RolloutError, SslError> {
    let f = fields(test, view)?;
    let span = cfg.check(view, f.frames, f.grid)?;
    if stepper.history != cfg.history {
        return Err(SslError::config(
            "history",
            cfg.history,
            format!("the stepper's {}", stepper.history),
        ));
    }
    let reprs = match (encoder, &stepper.repr_norm) {
        (Some(e), Some(norm)) => Some(representations(e, test, view, Some(norm), device)?.0),
        (None, None) => None,
        (e, _) => {
            return Err(SslError::config(
                "encoder",
                if e.is_some() { "given" } else { "none" },
                "an encoder exactly when the stepper was trained with one",
            ))
        }
    };
    let dim = reprs.as_ref().map_or(0, |r| r.len() / test.len());
    accumulate(&f, span, cfg.history, |idx, win| {
        let r = reprs.as_ref().map(|r| &r[idx.start * dim..idx.end * dim]);
        stepper.predict(win, r, f.x, device)
    })
}

/// The persistence predictor `û_{t₀+k} = u_{t₀−1}` on the same frames as [`rollout_error`].
pub fn persistence_error(
    test: &[Trajectory],
    cfg: &TimestepConfig,
    view: &ViewConfig,
) -> Result<RolloutError, SslError> {
    let f = fields(test, view)?;
    let span = cfg.check(view, f.frames, f.grid)?;
    let (h, x) = (cfg.history, f.x);
    accumulate(&f, span, h, |_, win| {
        win.chunks(h * x)
            .flat_map(|w| w[(h - 1) * x..].iter().copied())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::super::{compare, train_stepper, Conditioning};
    use super::*;
    use crate::encoder::EncoderConfig;
    use crate::pretrain::seeded;
    use ami_pde::{Equation, PdeConfig, PdeDataset};

    fn view() -> ViewConfig {
        ViewConfig {
            crop_frames: 6,
            x_stride: 1,
            scale: 2.0,
            ..ViewConfig::default()
        }
    }

    fn tiny_cfg() -> TimestepConfig {
        TimestepConfig {
            history: 3,
            channels: 16,
            layers: 3,
            kernel: 5,
            steps: 150,
            batch_size: 16,
            lr: 2e-3,
            ..TimestepConfig::default()
        }
    }

    /// `u(x, t_k) = a_k g(x)` on 16 points, 10 frames.
    fn separable(a: impl Fn(usize) -> f64) -> Trajectory {
        let (frames, grid) = (10, 16);
        let g = |j: usize| (j as f64 * 0.4).sin() + 0.3;
        Trajectory {
            equation: Equation::Burgers,
            coef: 0.1,
            length: 1.0,
            frame_dt: 0.1,
            t0: 0.0,
            frames,
            grid,
            u: (0..frames * grid)
                .map(|i| a(i / grid) * g(i % grid))
                .collect(),
        }
    }

    fn burgers(n: usize, seed: u64) -> Vec<Trajectory> {
        let cfg = PdeConfig {
            grid: 64,
            dt: 0.01,
            save_every: 8,
            frames: 12,
            coef_min: 0.05,
            coef_max: 0.3,
            ..PdeConfig::default_for(Equation::Burgers)
        };
        let ds = PdeDataset::generate(&cfg, n, seed, 2, &|_| {}).unwrap();
        (0..n).map(|i| ds.trajectory(i)).collect()
    }

    #[test]
    fn persistence_error_matches_the_hand_computed_ratio() {
        // u_t = (t + 1) g: persistence predicts t₀ g at every step, so
        // e_k / s_k = ((k + 1) / (t₀ + k + 1))² and the total is Σ(k+1)² / Σ(t₀+k+1)².
        let data = vec![separable(|t| t as f64 + 1.0); 2];
        let err = persistence_error(&data, &tiny_cfg(), &view()).unwrap();
        let t0 = 6.0;
        assert_eq!(err.per_step.len(), 4);
        for (k, e) in err.per_step.iter().enumerate() {
            let want = ((k as f64 + 1.0) / (t0 + k as f64 + 1.0)).powi(2);
            assert!((e - want).abs() < 1e-6, "step {k}: {e} vs {want}");
        }
        let num: f64 = (1..=4).map(|k| (k * k) as f64).sum();
        let den: f64 = (0..4).map(|k| (t0 + k as f64 + 1.0).powi(2)).sum();
        assert!((err.total - num / den).abs() < 1e-6);
    }

    #[test]
    fn a_stepper_that_learned_the_exact_dynamics_has_zero_error() {
        // Steady data: the target increment is 0, the zero-initialised output stays 0.
        let data = vec![separable(|_| 1.5); 4];
        let cfg = TimestepConfig {
            steps: 5,
            ..tiny_cfg()
        };
        let s = train_stepper(&data, &cfg, &view(), None, &Device::flex(), &mut |_, _| {}).unwrap();
        let err = rollout_error(&s, &data, &cfg, &view(), None, &Device::flex()).unwrap();
        assert_eq!(err.total, 0.0);
        assert!(err.per_step.iter().all(|e| *e == 0.0));
    }

    #[test]
    fn a_trained_stepper_beats_persistence_on_burgers() {
        let (train, test) = (burgers(48, 1), burgers(8, 2));
        let (cfg, view) = (tiny_cfg(), view());
        let device = Device::flex();
        let mut losses = vec![];
        let s = train_stepper(&train, &cfg, &view, None, &device, &mut |_, l| {
            losses.push(l)
        })
        .unwrap();
        let model = rollout_error(&s, &test, &cfg, &view, None, &device).unwrap();
        let base = persistence_error(&test, &cfg, &view).unwrap();
        assert!(
            model.total < 0.25 * base.total,
            "stepper {} vs persistence {}",
            model.total,
            base.total
        );
        assert!(losses[losses.len() - 1] < 0.5 * losses[0], "{losses:?}");
    }

    #[test]
    fn same_seed_gives_the_same_error_bits_and_the_encoder_must_match() {
        let (train, test) = (burgers(16, 3), burgers(4, 4));
        let view = view();
        let device = Device::flex();
        let enc_cfg = EncoderConfig {
            channels: vec![4],
            hidden: 16,
            repr_dim: 8,
            expander: vec![],
            trunk: crate::encoder::Trunk::PeriodicPool,
        };
        let enc = seeded(&device, 9, |d| PdeEncoder::new(&enc_cfg, [6, 64], d));
        let cfg = TimestepConfig {
            steps: 20,
            conditioning: Conditioning::Channels,
            ..tiny_cfg()
        };
        let run = || {
            let s = train_stepper(&train, &cfg, &view, Some(&enc), &device, &mut |_, _| {})?;
            rollout_error(&s, &test, &cfg, &view, Some(&enc), &device)
        };
        let (a, b) = (run().unwrap(), run().unwrap());
        assert_eq!(a.total.to_bits(), b.total.to_bits());
        assert_eq!(a.per_step, b.per_step);
        let s = train_stepper(&train, &cfg, &view, Some(&enc), &device, &mut |_, _| {}).unwrap();
        let msg = rollout_error(&s, &test, &cfg, &view, None, &device)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`encoder`"), "{msg}");
    }

    #[test]
    fn compare_rolls_both_variants_out_on_the_persistence_frames() {
        let (train, test) = (burgers(16, 5), burgers(4, 6));
        let (view, device) = (view(), Device::flex());
        let enc_cfg = EncoderConfig {
            channels: vec![4],
            hidden: 16,
            repr_dim: 8,
            expander: vec![],
            trunk: crate::encoder::Trunk::PeriodicPool,
        };
        let enc = seeded(&device, 1, |d| PdeEncoder::new(&enc_cfg, [6, 64], d));
        let cfg = TimestepConfig {
            steps: 30,
            ..tiny_cfg()
        };
        let r = compare(&train, &test, &cfg, &view, &enc, &device, &mut |_| {}).unwrap();
        assert_eq!(r.start, 6);
        assert_eq!(
            r.persistence,
            persistence_error(&test, &cfg, &view).unwrap()
        );
        for e in [&r.with_repr, &r.without_repr] {
            assert_eq!(e.per_step.len(), 6);
            assert!(
                e.total < r.persistence.total,
                "{e:?} vs {:?}",
                r.persistence
            );
        }
        assert_ne!(r.with_repr, r.without_repr);
    }

    #[test]
    fn bad_settings_name_their_key_and_nan_is_a_typed_error() {
        let data = vec![separable(|t| t as f64); 2];
        let device = Device::flex();
        let cases: Vec<(&str, TimestepConfig)> = vec![
            (
                "history",
                TimestepConfig {
                    history: 10,
                    ..tiny_cfg()
                },
            ),
            (
                "history",
                TimestepConfig {
                    history: 0,
                    ..tiny_cfg()
                },
            ),
            (
                "channels",
                TimestepConfig {
                    channels: 0,
                    ..tiny_cfg()
                },
            ),
            (
                "layers",
                TimestepConfig {
                    layers: 1,
                    ..tiny_cfg()
                },
            ),
            (
                "kernel",
                TimestepConfig {
                    kernel: 4,
                    ..tiny_cfg()
                },
            ),
            (
                "kernel",
                TimestepConfig {
                    kernel: 17,
                    ..tiny_cfg()
                },
            ),
            (
                "batch_size",
                TimestepConfig {
                    batch_size: 0,
                    ..tiny_cfg()
                },
            ),
            (
                "lr",
                TimestepConfig {
                    lr: f64::NAN,
                    ..tiny_cfg()
                },
            ),
            (
                "horizon",
                TimestepConfig {
                    horizon: Some(5),
                    ..tiny_cfg()
                },
            ),
            (
                "horizon",
                TimestepConfig {
                    horizon: Some(0),
                    ..tiny_cfg()
                },
            ),
        ];
        for (key, cfg) in cases {
            let msg = train_stepper(&data, &cfg, &view(), None, &device, &mut |_, _| {})
                .unwrap_err()
                .to_string();
            assert!(msg.contains(&format!("`{key}`")), "{key}: {msg}");
        }
        let mut nan = separable(|t| t as f64);
        nan.u[100] = f64::NAN;
        let err = train_stepper(&[nan], &tiny_cfg(), &view(), None, &device, &mut |_, _| {});
        assert!(
            matches!(err, Err(SslError::NonFinite { step: 0, .. })),
            "{err:?}"
        );
        let msg = persistence_error(&[], &tiny_cfg(), &view())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`data`"), "{msg}");
    }
}
