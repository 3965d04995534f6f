//! Uncertainty that can be checked: do the real futures fall inside the spread of the
//! predicted ones? (issue 11, "Planning under uncertainty", item 5.)
//!
//! **Sampling.** From `S` encoded real frames `s_t` and the real actions `a_t … a_{t+H−1}`,
//! `M` futures per start are drawn ancestrally from the world model:
//! `z_j ~ q(z | ŝ_j, a_j)` ([`WorldModel::latent_prior`]), `ŝ_{j+1} = f(ŝ_j, a_j, z_j)`
//! ([`WorldModel::step_latent`]), `ŝ_0 = s_t`, all `S·M` rows in one call per step. A
//! deterministic model gives `M` identical futures.
//!
//! **Interval.** For every horizon `h`, start and channel `c` (a representation dimension or
//! a readout feature), the central interval at level `1 − α` (90 %: α = 0.1) of the `M`
//! predictions `x_(1) ≤ … ≤ x_(M)` is `[x_(k), x_(M+1−k)]` with
//! `k = max(1, ⌊(M + 1)·α/2⌋)` ([`central_interval`]); bounds are inclusive. For `M`
//! exchangeable continuous draws and one more from the same law, the new draw falls inside
//! with probability `(M + 1 − 2k)/(M + 1)` (≥ 1 − α up to rounding: 59/65 ≈ 0.908 for
//! `M = 64`), so a model whose futures have the real law covers ≈ 90 %.
//!
//! **Coverage** at `h` is the fraction of (start, channel) pairs whose real value lies inside;
//! **spread** at `h` is the mean over them of the interval width divided by the channel's
//! standard deviation over real encodings (`scale`).
//!
//! **Calibration** (conformalised quantile regression, Romano, Patterson & Candès 2019): on a
//! calibration set of starts, disjoint from the measured ones, the score of a real value `y`
//! is `E = max(lo − y, y − hi)` (negative inside). Per horizon and channel, the margin `q̂` is
//! the `⌈(n + 1)(1 − α)⌉`-th smallest of the `n` scores (the largest when that exceeds `n`),
//! and the calibrated interval is `[lo − q̂, hi + q̂]`. If calibration and measured starts are
//! exchangeable, the calibrated coverage is ≥ 1 − α; a margin that is large against the raw
//! width says the sampled futures alone are too narrow.

use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{check_len, AgentError};
use crate::latent_paths::inverse_cdf;
use crate::world_model::WorldModel;

/// Settings of a coverage measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageConfig {
    /// Sampled futures `M` per start (default 64).
    pub samples: usize,
    /// Longest horizon `H` in planned steps (default 10; capped by the trajectory length).
    pub horizon: usize,
    /// Starts every `start_stride` steps along a trajectory (default 4).
    pub start_stride: usize,
    /// Nominal level `1 − α` of the central interval (default 0.9).
    pub level: f64,
    /// Seed of the latent draws (default 0).
    pub seed: u64,
}

impl Default for CoverageConfig {
    fn default() -> Self {
        CoverageConfig {
            samples: 64,
            horizon: 10,
            start_stride: 4,
            level: 0.9,
            seed: 0,
        }
    }
}

/// Predicted and real futures of `starts` starts over `horizon` steps, `channels` values each.
#[derive(Debug, Clone, PartialEq)]
pub struct Futures {
    /// Steps `H`.
    pub horizon: usize,
    /// Starts `S`.
    pub starts: usize,
    /// Samples `M` per start.
    pub samples: usize,
    /// Values `C` per state.
    pub channels: usize,
    /// `[H, S, M, C]`: sample `m` of start `s`, `h + 1` steps ahead.
    pub predicted: Vec<f32>,
    /// `[H, S, C]`: the real value `h + 1` steps ahead.
    pub real: Vec<f32>,
}

impl Futures {
    /// Checks the buffer lengths against the dimensions.
    pub fn new(
        (horizon, starts, samples, channels): (usize, usize, usize, usize),
        predicted: Vec<f32>,
        real: Vec<f32>,
    ) -> Result<Self, AgentError> {
        let n = horizon * starts * channels;
        check_len("predicted futures", &predicted, n * samples, || {
            format!("[H={horizon}, S={starts}, M={samples}, C={channels}]")
        })?;
        check_len("real futures", &real, n, || {
            format!("[H={horizon}, S={starts}, C={channels}]")
        })?;
        Ok(Futures {
            horizon,
            starts,
            samples,
            channels,
            predicted,
            real,
        })
    }

    /// The same futures seen through `map`, which turns `rows` states `[rows, C]` into
    /// `[rows, C']` (e.g. a readout of features).
    pub fn map(
        &self,
        map: impl Fn(&[f32], usize) -> Result<Vec<f32>, AgentError>,
    ) -> Result<Futures, AgentError> {
        let rows = self.horizon * self.starts;
        let predicted = map(&self.predicted, rows * self.samples)?;
        let real = map(&self.real, rows)?;
        let c = real.len() / rows.max(1);
        Futures::new(
            (self.horizon, self.starts, self.samples, c),
            predicted,
            real,
        )
    }

    /// The futures of channel `c` alone.
    pub fn channel(&self, c: usize) -> Result<Futures, AgentError> {
        let k = self.channels;
        self.map(|x, _| Ok(x.iter().skip(c).step_by(k).copied().collect()))
    }

    /// Central intervals at `level` ([`central_interval`]) of every (step, start, channel).
    pub fn intervals(&self, level: f64) -> Intervals {
        let (m, c) = (self.samples, self.channels);
        let n = self.horizon * self.starts;
        let (mut lo, mut hi) = (Vec::with_capacity(n * c), Vec::with_capacity(n * c));
        let mut column = vec![0.0f32; m];
        for block in self.predicted.chunks_exact((m * c).max(1)).take(n) {
            for j in 0..c {
                for (v, row) in column.iter_mut().zip(block.chunks_exact(c)) {
                    *v = row[j];
                }
                column.sort_by(f32::total_cmp);
                let (l, h) = central_interval(&column, level);
                lo.push(l);
                hi.push(h);
            }
        }
        Intervals { lo, hi }
    }
}

/// Lower and upper bounds `[H, S, C]` of central intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct Intervals {
    /// Lower bounds.
    pub lo: Vec<f32>,
    /// Upper bounds.
    pub hi: Vec<f32>,
}

/// The central interval at `level` of ascending `sorted` values `x_(1) ≤ … ≤ x_(M)`:
/// `(x_(k), x_(M+1−k))` with `k = max(1, ⌊(M + 1)(1 − level)/2⌋)` (see the module docs);
/// NaN bounds when empty.
pub fn central_interval(sorted: &[f32], level: f64) -> (f32, f32) {
    let m = sorted.len();
    if m == 0 {
        return (f32::NAN, f32::NAN);
    }
    let k = (((m + 1) as f64 * (1.0 - level) / 2.0).floor() as usize).clamp(1, m.div_ceil(2));
    (sorted[k - 1], sorted[m - k])
}

/// Coverage and spread per horizon (index `h − 1`), raw and calibrated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageCurve {
    /// Fraction of real values inside the central interval of the samples.
    pub raw: Vec<f64>,
    /// The same inside the conformally widened interval.
    pub calibrated: Vec<f64>,
    /// Mean raw interval width over the channel's standard deviation.
    pub spread_raw: Vec<f64>,
    /// Mean calibrated interval width over the channel's standard deviation.
    pub spread_calibrated: Vec<f64>,
}

/// Coverage of `futures` on the starts `measured`, raw and calibrated on the starts
/// `calibration` (see the module docs); `scale [C]` divides the widths. The two sets of starts
/// must not overlap ([`AgentError::InvalidConfig`] otherwise).
pub fn measure(
    futures: &Futures,
    scale: &[f32],
    (calibration, measured): (&[usize], &[usize]),
    level: f64,
) -> Result<CoverageCurve, AgentError> {
    check_len("coverage scale", scale, futures.channels, || {
        format!("[C={}]", futures.channels)
    })?;
    if let Some(s) = calibration.iter().find(|s| measured.contains(s)) {
        return Err(AgentError::config(
            "coverage starts",
            s,
            "calibration and measured starts to be disjoint",
        ));
    }
    if let Some(s) = calibration
        .iter()
        .chain(measured)
        .find(|&&s| s >= futures.starts)
    {
        return Err(AgentError::shape("coverage start", *s, "< S"));
    }
    let iv = futures.intervals(level);
    let zeros = vec![0.0f32; futures.horizon * futures.channels];
    let margins = conformal_margins(futures, &iv, calibration, level);
    let stats = |m: &[f32]| -> Vec<(f64, f64)> {
        (0..futures.horizon)
            .map(|h| {
                hits_and_width(
                    futures,
                    &iv,
                    h,
                    measured,
                    (&m[h * futures.channels..], scale),
                )
            })
            .collect()
    };
    let (raw, cal) = (stats(&zeros), stats(&margins));
    Ok(CoverageCurve {
        raw: raw.iter().map(|r| r.0).collect(),
        calibrated: cal.iter().map(|r| r.0).collect(),
        spread_raw: raw.iter().map(|r| r.1).collect(),
        spread_calibrated: cal.iter().map(|r| r.1).collect(),
    })
}

/// At step index `h`, over `starts` and every channel: the fraction of real values inside
/// `[lo − q̂_c, hi + q̂_c]` and the mean of `max(0, width)/scale_c`.
fn hits_and_width(
    f: &Futures,
    iv: &Intervals,
    h: usize,
    starts: &[usize],
    (margin, scale): (&[f32], &[f32]),
) -> (f64, f64) {
    let (mut hits, mut width) = (0usize, 0.0f64);
    for &s in starts {
        for c in 0..f.channels {
            let i = (h * f.starts + s) * f.channels + c;
            let (lo, hi) = (iv.lo[i] - margin[c], iv.hi[i] + margin[c]);
            hits += usize::from(lo <= f.real[i] && f.real[i] <= hi);
            width += f64::from((hi - lo).max(0.0) / scale[c].max(f32::EPSILON));
        }
    }
    let n = (starts.len() * f.channels).max(1) as f64;
    (hits as f64 / n, width / n)
}

/// Conformal margins `q̂ [H, C]` from the scores `max(lo − y, y − hi)` of the starts
/// `calibration` (0 without calibration starts).
pub fn conformal_margins(
    f: &Futures,
    iv: &Intervals,
    calibration: &[usize],
    level: f64,
) -> Vec<f32> {
    let n = calibration.len();
    let rank = (((n + 1) as f64 * level).ceil() as usize).clamp(1, n.max(1));
    let mut out = Vec::with_capacity(f.horizon * f.channels);
    let mut scores = Vec::with_capacity(n);
    for h in 0..f.horizon {
        for c in 0..f.channels {
            scores.clear();
            scores.extend(calibration.iter().map(|&s| {
                let i = (h * f.starts + s) * f.channels + c;
                (iv.lo[i] - f.real[i]).max(f.real[i] - iv.hi[i])
            }));
            scores.sort_by(f32::total_cmp);
            out.push(scores.get(rank - 1).copied().unwrap_or(0.0));
        }
    }
    out
}

/// Draws `m` futures of `h` steps from each of `s` starts by ancestral sampling (module docs).
///
/// # Shapes
/// `starts [S, D]`, `actions [S, H, A]` → `[H, S, M, D]`.
pub fn sample_futures(
    model: &dyn WorldModel,
    starts: &[f32],
    actions: &[f32],
    (s, h, m): (usize, usize, usize),
    rng: &mut StdRng,
) -> Result<Vec<f32>, AgentError> {
    let (d, a, k) = (model.state_dim(), model.action_dim(), model.latent_count());
    check_len("coverage starts", starts, s * d, || {
        format!("[S={s}, D={d}]")
    })?;
    check_len("coverage actions", actions, s * h * a, || {
        format!("[S={s}, H={h}, A={a}]")
    })?;
    let rows = s * m;
    let mut states: Vec<f32> = starts
        .chunks_exact(d)
        .flat_map(|s0| s0.iter().copied().cycle().take(m * d))
        .collect();
    let mut out = Vec::with_capacity(h * rows * d);
    let mut step_actions = Vec::with_capacity(rows * a);
    let mut latents = vec![0u32; rows];
    for j in 0..h {
        step_actions.clear();
        for i in 0..s {
            let a_j = &actions[(i * h + j) * a..(i * h + j + 1) * a];
            for _ in 0..m {
                step_actions.extend_from_slice(a_j);
            }
        }
        if k > 1 {
            let prior = model.latent_prior(&states, &step_actions, rows)?;
            for (z, p) in latents.iter_mut().zip(prior.chunks_exact(k)) {
                *z = inverse_cdf(p, rng.gen::<f32>()) as u32;
            }
        }
        states = model.step_latent(&states, &step_actions, &latents, rows)?;
        out.extend_from_slice(&states);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::world_model::{check_latents, check_rollout_inputs, LinearWorldModel};

    /// `D = 2`, `A = 1`: `s'_0 = s_0 + a ± c` (branch 0: `+c`, prior `p0`), `s'_1 = s_1 + a`.
    struct TwoBranches {
        c: f32,
        p0: f32,
    }

    impl WorldModel for TwoBranches {
        fn state_dim(&self) -> usize {
            2
        }
        fn action_dim(&self) -> usize {
            1
        }
        fn latent_count(&self) -> usize {
            2
        }
        fn rollout(
            &self,
            s0: &[f32],
            a: &[f32],
            n: usize,
            h: usize,
        ) -> Result<Vec<f32>, AgentError> {
            self.rollout_latent(s0, a, &vec![0; n * h], n, h)
        }
        fn rollout_latent(
            &self,
            s0: &[f32],
            actions: &[f32],
            latents: &[u32],
            n: usize,
            h: usize,
        ) -> Result<Vec<f32>, AgentError> {
            check_rollout_inputs(self, s0, actions, n, h)?;
            check_latents(latents, n, h, 2)?;
            let mut out = Vec::new();
            for i in 0..n {
                let mut s = [s0[0], s0[1]];
                for t in 0..h {
                    let sign = if latents[i * h + t] == 0 { 1.0 } else { -1.0 };
                    s = [
                        s[0] + actions[i * h + t] + sign * self.c,
                        s[1] + actions[i * h + t],
                    ];
                    out.extend(s);
                }
            }
            Ok(out)
        }
        fn latent_prior(&self, _: &[f32], _: &[f32], n: usize) -> Result<Vec<f32>, AgentError> {
            Ok([self.p0, 1.0 - self.p0].repeat(n))
        }
    }

    #[test]
    fn central_interval_takes_the_kth_order_statistics() {
        let v: Vec<f32> = (1..=64).map(|x| x as f32).collect();
        // k = ⌊65 · 0.05⌋ = 3: the 3rd smallest and the 3rd largest.
        assert_eq!(central_interval(&v, 0.9), (3.0, 62.0));
        assert_eq!(central_interval(&v[..20], 0.9), (1.0, 20.0));
        assert_eq!(central_interval(&v[..9], 0.5), (2.0, 8.0));
        assert_eq!(central_interval(&[5.0], 0.9), (5.0, 5.0));
        assert!(central_interval(&[], 0.9).0.is_nan());
    }

    /// Two equally likely branches `±c`; real offsets chosen by hand, so the answer is known.
    #[test]
    fn two_branch_coverage_and_calibration_are_exact() {
        let (c, s, h, m) = (0.5f32, 8usize, 2usize, 64usize);
        let model = TwoBranches { c, p0: 0.5 };
        let starts: Vec<f32> = (0..s).flat_map(|i| [i as f32, 0.0]).collect();
        let actions = vec![1.0; s * h];
        let mut rng = StdRng::seed_from_u64(0);
        let pred = sample_futures(&model, &starts, &actions, (s, h, m), &mut rng).unwrap();
        // Real offsets of dimension 0 in units of c: inside [−c, c] at step 1 for half of the
        // starts, inside [−2c, 2c] at step 2 for three quarters; dimension 1 is exact.
        let (off1, off2) = ([1.0, -1.0, 3.0, -3.0], [2.0, 0.0, -2.0, 6.0]);
        let mut real = Vec::new();
        for (step, off) in [(1.0, off1), (2.0, off2)] {
            for i in 0..s {
                real.extend([i as f32 + step + off[i % 4] * c, step]);
            }
        }
        let f = Futures::new((h, s, m, 2), pred, real).unwrap();
        let (cal, test) = ([0, 1, 2, 3], [4, 5, 6, 7]);
        let curve = measure(&f, &[1.0, 1.0], (&cal, &test), 0.9).unwrap();
        assert_eq!(curve.raw, vec![0.75, 0.875]);
        // Widths 2c and 4c on dimension 0, 0 on dimension 1.
        assert_eq!(curve.spread_raw, vec![f64::from(c), f64::from(2.0 * c)]);
        // Margins: the largest calibration score, 2c at step 1 and 4c at step 2.
        assert_eq!(curve.calibrated, vec![1.0, 1.0]);
        assert_eq!(
            curve.spread_calibrated,
            vec![f64::from(3.0 * c), f64::from(6.0 * c)]
        );
    }

    #[test]
    fn a_deterministic_model_gives_one_future_and_zero_width() {
        let model = LinearWorldModel::point_mass(2).unwrap();
        let (s, h, m) = (3, 4, 5);
        let starts: Vec<f32> = (0..s * 2).map(|x| x as f32).collect();
        // Multiples of 1/4: every sum below is exact in f32.
        let actions: Vec<f32> = (0..s * h * 2).map(|x| 0.25 * x as f32).collect();
        let mut rng = StdRng::seed_from_u64(1);
        let pred = sample_futures(&model, &starts, &actions, (s, h, m), &mut rng).unwrap();
        let mut real = vec![0.0; h * s * 2];
        for i in 0..s {
            let path = model
                .rollout(
                    &starts[i * 2..i * 2 + 2],
                    &actions[i * h * 2..(i + 1) * h * 2],
                    1,
                    h,
                )
                .unwrap();
            for j in 0..h {
                let want = &path[j * 2..j * 2 + 2];
                real[(j * s + i) * 2..(j * s + i) * 2 + 2].copy_from_slice(want);
                for k in 0..m {
                    let got = &pred[((j * s + i) * m + k) * 2..][..2];
                    assert_eq!(got, want, "start {i} step {j} sample {k}");
                }
            }
        }
        let f = Futures::new((h, s, m, 2), pred.clone(), real.clone()).unwrap();
        let curve = measure(&f, &[1.0, 1.0], (&[0], &[1, 2]), 0.9).unwrap();
        assert_eq!(curve.raw, vec![1.0; h]);
        assert_eq!(curve.spread_raw, vec![0.0; h]);
        let shifted: Vec<f32> = real.iter().map(|x| x + 0.25).collect();
        let f = Futures::new((h, s, m, 2), pred, shifted).unwrap();
        let curve = measure(&f, &[1.0, 1.0], (&[0], &[1, 2]), 0.9).unwrap();
        assert_eq!(curve.raw, vec![0.0; h]);
        // One calibration start: its score 0.25 is the margin, and covers the others.
        assert_eq!(curve.calibrated, vec![1.0; h]);
    }

    #[test]
    fn samples_follow_the_prior() {
        let model = TwoBranches { c: 1.0, p0: 0.75 };
        let m = 4000;
        let mut rng = StdRng::seed_from_u64(2);
        let pred = sample_futures(&model, &[0.0, 0.0], &[0.0], (1, 1, m), &mut rng).unwrap();
        let up = pred.chunks_exact(2).filter(|s| s[0] > 0.0).count() as f64 / m as f64;
        assert!((up - 0.75).abs() < 0.03, "branch 0 drawn {up} of the time");
        assert_eq!(inverse_cdf(&[0.2, 0.3, 0.5], 0.0), 0);
        assert_eq!(inverse_cdf(&[0.2, 0.3, 0.5], 0.45), 1);
        assert_eq!(inverse_cdf(&[0.2, 0.3, 0.5], 0.9999), 2);
    }

    #[test]
    fn calibration_and_measured_starts_must_be_disjoint() {
        let f = Futures::new((1, 3, 1, 1), vec![0.0; 3], vec![0.0; 3]).unwrap();
        let err = measure(&f, &[1.0], (&[0, 1], &[1, 2]), 0.9).unwrap_err();
        assert!(err.to_string().contains("disjoint"), "{err}");
        assert!(measure(&f, &[1.0], (&[0], &[3]), 0.9).is_err());
        assert!(Futures::new((1, 3, 2, 1), vec![0.0; 3], vec![0.0; 3]).is_err());
    }
}
