//! Representation-conditioned time-stepping (issue 17, item 4): a small neural time-stepper
//! that predicts the next frame from past frames, with and without the frozen SSL
//! representation as conditioning, and the rollout error of both.
//!
//! **Fields.** Every frame is taken on the view's grid (every `view.x_stride`-th point, `X_c`
//! points) and multiplied by `view.scale` (the experiment's 1/RMS), in f32.
//!
//! **Stepper.** From the last `H = history` frames `u_{t−H}, …, u_{t−1}` the next frame is
//! `û_t = u_{t−1} + σ_Δ · f(u_{t−1}, δ_1, …, δ_{H−1}; r)` with `δ_k = (u_{t−k} − u_{t−k−1}) / σ_Δ`
//! the past increments and `σ_Δ` the RMS of the one-frame increment `u_t − u_{t−1}` over the
//! training targets (a fixed, linear re-parametrisation of the `H` frames so that every input
//! channel and the output are of order 1). `f` is [`StepperNet`]: `layers` 1-D convolutions
//! over `x` with circular padding (the equations are periodic), `channels` hidden channels,
//! GELU between them, the last convolution zero-initialised so that the untrained stepper is
//! the persistence predictor `û_t = u_{t−1}`.
//!
//! **Conditioning.** `r` is the frozen encoder's representation of the trajectory's
//! [`probe_view`](crate::views::probe_view) — its first `T_c = view.crop_frames` frames —
//! standardised per dimension with the mean and standard deviation over the training
//! trajectories. It enters every hidden layer by FiLM or as extra channels
//! ([`Conditioning`]). The encoder is not trained (its output is computed once, without
//! gradients).
//!
//! **No look-ahead.** Because `r` reads frames `0 … T_c − 1`, every predicted (and every
//! trained-on) frame has index `t ≥ t₀ = max(H, T_c)`: `r` is always computed from frames in
//! the past of the frame it helps predict. The unconditioned variant uses the same `t₀`, so
//! the two variants are trained on the same (trajectory, frame) pairs drawn by the same
//! random stream, for the same steps, from the same initial convolution weights; the
//! unconditioned network is the same network with the conditioner absent (not zeros).
//!
//! **Training.** One-step loss `mean((f − (u_t − u_{t−1}) / σ_Δ)²)`, i.e. the one-step MSE of
//! `û_t` in units of `σ_Δ²`, over batches of `(trajectory, t)` drawn uniformly from the
//! unlabelled trajectories and `t ∈ [t₀, T)`; AdamW with the cosine schedule
//! `η_s = η (ρ + (1 − ρ) · ½(1 + cos(π s / S)))` from `η = lr` to `ρη` (`ρ = final_lr_ratio`).
//!
//! **Evaluation.** On each test trajectory, the stepper starts from the true frames
//! `u_{t₀−H}, …, u_{t₀−1}` and is rolled out autoregressively (its own predictions become its
//! history) for `N` steps (`N = T − t₀` unless `horizon` is set). With `e_k = Σ_n ‖û_{t₀+k} −
//! u_{t₀+k}‖²` and `s_k = Σ_n ‖u_{t₀+k}‖²` summed over test trajectories `n` and grid points,
//! the rollout relative error is `Σ_k e_k / Σ_k s_k`, and `per_step[k] = e_k / s_k`.

mod net;
mod rollout;
mod train;

use ami_pde::Trajectory;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::encoder::PdeEncoder;
use crate::error::SslError;
use crate::views::ViewConfig;

pub use net::{circular_pad, Conditioner, Conditioning, NetShape, PeriodicConv1d, StepperNet};
pub use rollout::{persistence_error, rollout_error, RolloutError};
pub use train::{train_stepper, Stepper};

/// Settings of the time-stepper, its training and its rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestepConfig {
    /// Past frames `H` the stepper reads.
    pub history: usize,
    /// Hidden channels of the convolutions.
    pub channels: usize,
    /// Convolutions (≥ 2: at least one hidden layer for the conditioning to act on).
    pub layers: usize,
    /// Kernel size of every convolution (odd, at most the grid size).
    pub kernel: usize,
    /// Optimiser steps.
    pub steps: usize,
    /// `(trajectory, frame)` pairs per step.
    pub batch_size: usize,
    /// AdamW learning rate at the first step.
    pub lr: f64,
    /// Learning rate at the last step as a fraction of `lr` (cosine decay in between;
    /// 1 = constant).
    pub final_lr_ratio: f64,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Seed of the weights and of the batches.
    pub seed: u64,
    /// How the representation enters the conditioned variant.
    pub conditioning: Conditioning,
    /// Rollout steps (`None`: as many as the frames allow, `T − t₀`).
    pub horizon: Option<usize>,
}

impl Default for TimestepConfig {
    fn default() -> Self {
        TimestepConfig {
            history: 4,
            channels: 32,
            layers: 4,
            kernel: 5,
            steps: 2000,
            batch_size: 32,
            lr: 1e-3,
            final_lr_ratio: 0.1,
            weight_decay: 1e-5,
            seed: 0,
            conditioning: Conditioning::Film,
            horizon: None,
        }
    }
}

impl TimestepConfig {
    /// The first predicted frame `t₀ = max(H, T_c)`, and the rollout length, after checking
    /// every setting against trajectories of `frames × grid`.
    pub fn check(
        &self,
        view: &ViewConfig,
        frames: usize,
        grid: usize,
    ) -> Result<(usize, usize), SslError> {
        let [crop, x] = view.shape(frames, grid)?;
        if self.history < 1 {
            return Err(SslError::config("history", self.history, "at least 1"));
        }
        let start = self.history.max(crop);
        if start >= frames {
            return Err(SslError::config(
                "history",
                self.history,
                format!(
                    "max(history, view.crop_frames = {crop}) below the trajectories' {frames} frames"
                ),
            ));
        }
        if self.channels < 1 {
            return Err(SslError::config("channels", self.channels, "at least 1"));
        }
        if self.layers < 2 {
            return Err(SslError::config("layers", self.layers, "at least 2"));
        }
        if self.kernel.is_multiple_of(2) || self.kernel > x {
            return Err(SslError::config(
                "kernel",
                self.kernel,
                format!("odd and at most the grid's {x} points"),
            ));
        }
        if self.batch_size < 1 {
            return Err(SslError::config(
                "batch_size",
                self.batch_size,
                "at least 1",
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(SslError::config("lr", self.lr, "a positive number"));
        }
        if !(0.0..=1.0).contains(&self.final_lr_ratio) {
            return Err(SslError::config(
                "final_lr_ratio",
                self.final_lr_ratio,
                "between 0 and 1",
            ));
        }
        let available = frames - start;
        match self.horizon {
            None => Ok((start, available)),
            Some(n) if (1..=available).contains(&n) => Ok((start, n)),
            Some(n) => Err(SslError::config(
                "horizon",
                n,
                format!("between 1 and the {available} frames after t₀ = {start}"),
            )),
        }
    }
}

/// Rollout errors of the two variants and of persistence on one test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeSteppingResult {
    /// The stepper conditioned on the frozen representation.
    pub with_repr: RolloutError,
    /// The same stepper without the conditioning.
    pub without_repr: RolloutError,
    /// `û_{t₀+k} = u_{t₀−1}` (the stepper's initialisation).
    pub persistence: RolloutError,
    /// First predicted frame `t₀`.
    pub start: usize,
    /// Wall-clock seconds of both trainings and all rollouts.
    pub seconds: f64,
}

/// Trains both variants on `train` and rolls them out on `test`; `log` gets progress lines.
pub fn compare(
    train: &[Trajectory],
    test: &[Trajectory],
    cfg: &TimestepConfig,
    view: &ViewConfig,
    encoder: &PdeEncoder,
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<TimeSteppingResult, SslError> {
    let clock = std::time::Instant::now();
    let mut errors = vec![];
    for (name, enc) in [("without repr", None), ("with repr", Some(encoder))] {
        let t = std::time::Instant::now();
        let mut last = f64::NAN;
        let stepper = train_stepper(train, cfg, view, enc, device, &mut |step, loss| {
            last = loss;
            if step % 100 == 0 {
                log(&format!(
                    "  stepper ({name}) step {step}: one-step loss {loss:.4}"
                ));
            }
        })?;
        let err = rollout_error(&stepper, test, cfg, view, enc, device)?;
        log(&format!(
            "stepper ({name}) trained in {:.1} s, final one-step loss {last:.4}; rollout relative error {:.4}",
            t.elapsed().as_secs_f64(),
            err.total
        ));
        errors.push(err);
    }
    let with_repr = errors.pop().unwrap_or_default();
    let without_repr = errors.pop().unwrap_or_default();
    let persistence = persistence_error(test, cfg, view)?;
    let first = test
        .first()
        .ok_or_else(|| SslError::config("test", 0, "at least one trajectory"))?;
    Ok(TimeSteppingResult {
        with_repr,
        without_repr,
        persistence,
        start: cfg.check(view, first.frames, first.grid)?.0,
        seconds: clock.elapsed().as_secs_f64(),
    })
}
