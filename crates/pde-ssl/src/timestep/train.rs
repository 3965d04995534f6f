//! Training the time-stepper: the fields on the view's grid, the standardised frozen
//! representation, and the AdamW loop on the one-step loss (definitions in
//! [`crate::timestep`]).

use ami_pde::dataset::Rng;
use ami_pde::Trajectory;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};

use super::net::{NetShape, StepperNet};
use super::TimestepConfig;
use crate::encoder::PdeEncoder;
use crate::error::SslError;
use crate::pretrain::{scalar, seeded};
use crate::probe::features;
use crate::views::{decimate, ViewConfig};

/// A trained time-stepper.
#[derive(Debug)]
pub struct Stepper {
    /// The network `f` (without autodiff).
    pub net: StepperNet,
    /// Past frames `H` it reads.
    pub history: usize,
    /// `σ_Δ`: RMS of the one-frame increment over the training targets (scaled units).
    pub delta_rms: f64,
    /// Standardisation of the representation (`None`: the unconditioned variant).
    pub repr_norm: Option<ReprNorm>,
}

/// Per-dimension mean and standard deviation of the representation over the training set;
/// the network reads `(r − mean) / std`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReprNorm {
    /// Means.
    pub mean: Vec<f64>,
    /// Standard deviations (1 where the dimension is constant).
    pub std: Vec<f64>,
}

impl ReprNorm {
    fn fit(r: &[Vec<f64>]) -> ReprNorm {
        let (n, d) = (r.len() as f64, r[0].len());
        let mean: Vec<f64> = (0..d)
            .map(|j| r.iter().map(|v| v[j]).sum::<f64>() / n)
            .collect();
        let std = (0..d)
            .map(|j| {
                let var = r.iter().map(|v| (v[j] - mean[j]).powi(2)).sum::<f64>() / n;
                if var > 1e-12 {
                    var.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        ReprNorm { mean, std }
    }

    /// `(r − mean) / std`, flattened `[N · D]`.
    fn apply(&self, r: &[Vec<f64>]) -> Vec<f32> {
        r.iter()
            .flat_map(|v| {
                v.iter()
                    .zip(self.mean.iter().zip(&self.std))
                    .map(|(x, (m, s))| ((x - m) / s) as f32)
            })
            .collect()
    }
}

/// Trajectories on the view's grid, scaled: `u[n]` is `[T · X_c]`.
pub(crate) struct Fields {
    pub frames: usize,
    pub grid: usize,
    pub x: usize,
    pub u: Vec<Vec<f32>>,
}

pub(crate) fn fields(data: &[Trajectory], view: &ViewConfig) -> Result<Fields, SslError> {
    let first = data
        .first()
        .ok_or_else(|| SslError::config("data", 0, "at least one trajectory"))?;
    if let Some(t) = data
        .iter()
        .find(|t| (t.frames, t.grid) != (first.frames, first.grid))
    {
        return Err(SslError::config(
            "data",
            format!("a trajectory of {} × {}", t.frames, t.grid),
            format!(
                "every trajectory {} frames × {} points",
                first.frames, first.grid
            ),
        ));
    }
    let [_, x] = view.shape(first.frames, first.grid)?;
    Ok(Fields {
        frames: first.frames,
        grid: first.grid,
        x,
        u: data
            .iter()
            .map(|t| decimate(t, view.x_stride, view.scale))
            .collect(),
    })
}

/// The standardised representations `[N · D]` of `data` under the frozen `encoder`, with the
/// standardisation (fitted here when `norm` is `None`).
pub(crate) fn representations(
    encoder: &PdeEncoder,
    data: &[Trajectory],
    view: &ViewConfig,
    norm: Option<&ReprNorm>,
    device: &Device,
) -> Result<(Vec<f32>, ReprNorm), SslError> {
    let feats = features(encoder, data, view, device)?;
    let norm = norm.cloned().unwrap_or_else(|| ReprNorm::fit(&feats));
    Ok((norm.apply(&feats), norm))
}

/// Appends the network input of one window `[H · X]` (frames `u_{t−H} … u_{t−1}`):
/// channel 0 is `u_{t−1}`, channel `k ≥ 1` is `(u_{t−k} − u_{t−k−1}) / σ_Δ`.
fn push_input(out: &mut Vec<f32>, window: &[f32], h: usize, x: usize, inv_delta: f32) {
    out.extend_from_slice(&window[(h - 1) * x..h * x]);
    for k in 1..h {
        let newer = &window[(h - k) * x..(h - k + 1) * x];
        let older = &window[(h - k - 1) * x..(h - k) * x];
        out.extend(newer.iter().zip(older).map(|(a, b)| (a - b) * inv_delta));
    }
}

impl Stepper {
    /// The next frame `û_t = u_{t−1} + σ_Δ f` of each window.
    ///
    /// # Shapes
    /// `windows [B · H · X]`, `reprs [B · D]` (standardised) `-> [B · X]`
    pub fn predict(
        &self,
        windows: &[f32],
        reprs: Option<&[f32]>,
        x: usize,
        device: &Device,
    ) -> Vec<f32> {
        let h = self.history;
        let b = windows.len() / (h * x);
        let mut xs = Vec::with_capacity(windows.len());
        for w in windows.chunks(h * x) {
            push_input(&mut xs, w, h, x, (1.0 / self.delta_rms) as f32);
        }
        let input = Tensor::<3>::from_data(TensorData::new(xs, [b, h, x]), device);
        let r = reprs
            .map(|r| Tensor::<2>::from_data(TensorData::new(r.to_vec(), [b, r.len() / b]), device));
        let f = self
            .net
            .forward(input, r)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        let sigma = self.delta_rms as f32;
        windows
            .chunks(h * x)
            .zip(f.chunks(x))
            .flat_map(|(w, d)| {
                w[(h - 1) * x..]
                    .iter()
                    .zip(d)
                    .map(move |(u, d)| u + sigma * d)
            })
            .collect()
    }
}

/// Trains a stepper on the unlabelled `data`, conditioned on `encoder`'s representation when
/// one is given; `log(step, loss)` after each step.
pub fn train_stepper(
    data: &[Trajectory],
    cfg: &TimestepConfig,
    view: &ViewConfig,
    encoder: Option<&PdeEncoder>,
    device: &Device,
    log: &mut dyn FnMut(usize, f64),
) -> Result<Stepper, SslError> {
    let f = fields(data, view)?;
    let (start, _) = cfg.check(view, f.frames, f.grid)?;
    let (h, x) = (cfg.history, f.x);
    let (mut s2, mut count) = (0.0, 0usize);
    for u in &f.u {
        for t in start..f.frames {
            let (new, old) = (&u[t * x..(t + 1) * x], &u[(t - 1) * x..t * x]);
            s2 += new
                .iter()
                .zip(old)
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum::<f64>();
            count += x;
        }
    }
    let delta_rms = (s2 / count as f64).sqrt().max(1e-6);
    let inv = (1.0 / delta_rms) as f32;
    let reprs = match encoder {
        Some(e) => Some(representations(e, data, view, None, device)?),
        None => None,
    };
    let dim = reprs.as_ref().map(|(r, _)| r.len() / data.len());
    let shape = NetShape {
        in_channels: h,
        channels: cfg.channels,
        layers: cfg.layers,
        kernel: cfg.kernel,
    };
    let ad = device.clone().autodiff();
    let mut model = seeded(&ad, cfg.seed, |d| {
        StepperNet::new(shape, dim.map(|r| (cfg.conditioning, r)), d)
    });
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay)
        .init();
    let mut rng = Rng::stream(cfg.seed, 0x7473);
    let pick = |rng: &mut Rng, n: usize| ((rng.uniform() * n as f64) as usize).min(n - 1);
    let b = cfg.batch_size;
    for step in 0..cfg.steps {
        let (mut xs, mut ys, mut rs) = (vec![], vec![], vec![]);
        for _ in 0..b {
            let i = pick(&mut rng, data.len());
            let t = start + pick(&mut rng, f.frames - start);
            let u = &f.u[i];
            push_input(&mut xs, &u[(t - h) * x..t * x], h, x, inv);
            let (new, old) = (&u[t * x..(t + 1) * x], &u[(t - 1) * x..t * x]);
            ys.extend(new.iter().zip(old).map(|(a, b)| (a - b) * inv));
            if let (Some((r, _)), Some(d)) = (&reprs, dim) {
                rs.extend_from_slice(&r[i * d..(i + 1) * d]);
            }
        }
        let input = Tensor::<3>::from_data(TensorData::new(xs, [b, h, x]), &ad);
        let r = dim.map(|d| Tensor::<2>::from_data(TensorData::new(rs, [b, d]), &ad));
        let target = Tensor::<3>::from_data(TensorData::new(ys, [b, 1, x]), &ad);
        let loss = (model.forward(input, r) - target).powi_scalar(2).mean();
        let value = scalar(&loss);
        if !value.is_finite() {
            return Err(SslError::NonFinite {
                what: "time-stepper one-step loss".into(),
                step,
            });
        }
        log(step, value);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = crate::pretrain::cosine_lr(cfg.lr, cfg.final_lr_ratio, step, cfg.steps);
        model = optim.step(lr, model, grads);
    }
    Ok(Stepper {
        net: model.valid(),
        history: h,
        delta_rms,
        repr_norm: reprs.map(|(_, n)| n),
    })
}
