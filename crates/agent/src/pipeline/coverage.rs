//! Coverage of a run's predicted futures ([`crate::coverage`]) on the real trajectories held
//! out of the probe's fit (and, with `objective.readout`, of training;
//! [`super::probe_fit::held_out_trajectories`]). Measured once after training, after the
//! probe, and written to [`COVERAGE_FILE`], `plots/coverage.svg` (coverage and spread vs
//! horizon) and `plots/futures.svg` (sampled futures of one readout feature vs the real one);
//! evaluation copies the headline numbers into `report.json` ([`Coverage90`]).
//!
//! The held-out trajectories are split in two: the first half calibrates the conformal
//! margins, the second half is measured, so no trajectory is both fitted and measured on.
//! Starts are every `start_stride` steps of a trajectory with `H` planned steps left; with an
//! `action_repeat` of `r`, planned step `j` applies the logged action `a_{t+j·r}` (held for
//! `r` predictor steps) and is compared with the encoding of `o_{t+(j+1)·r}`. The readout
//! features of the real futures are read from their encodings by the same reader (the head if
//! the run has one, else the probe), so that feature coverage measures the world model, not
//! the reader's error.

use std::collections::BTreeMap;
use std::ops::Range;

use ami_envs::Dataset;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::config::RunConfig;
use super::evaluate::world_model;
use super::plot::{render, Panel, Series};
use super::probe_fit::{held_out_trajectories, load_head, load_probe};
use super::progress::Progress;
use super::run_dir::RunDir;
use crate::coverage::{measure, sample_futures, CoverageConfig, CoverageCurve, Futures};
use crate::error::AgentError;
use crate::readout_head::{column_std, FeatureReader};
use crate::world_model::WorldModel;

/// File name of the measurement in a run directory.
pub const COVERAGE_FILE: &str = "coverage.json";

/// Most starts measured (calibration and measured together), spread evenly over the held-out
/// trajectories, to bound memory (`H·S·M·D` floats).
pub const MAX_STARTS: usize = 1024;

/// Observations encoded per call.
const CHUNK: usize = 4096;

/// Sampled futures plotted per start in `futures.svg`.
const PLOTTED_SAMPLES: usize = 5;

/// What [`measure_run`] measured (`coverage.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageSummary {
    /// Nominal level of the central interval.
    pub level: f64,
    /// Sampled futures per start.
    pub samples: usize,
    /// Latent values `K` of the model (1: deterministic).
    pub latent_count: usize,
    /// Held-out trajectories that calibrated the margins.
    pub calibration_trajectories: usize,
    /// Held-out trajectories measured.
    pub measured_trajectories: usize,
    /// Starts that calibrated the margins.
    pub calibration_starts: usize,
    /// Starts measured.
    pub measured_starts: usize,
    /// In representation space (every dimension).
    pub representation: CoverageCurve,
    /// In readout-feature space, when the run has a reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readout: Option<ReadoutCoverage>,
}

/// Coverage of the readout features of the futures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadoutCoverage {
    /// `probe` or `readout head`.
    pub reader: String,
    /// Over every feature.
    pub all: CoverageCurve,
    /// Per feature, by name.
    pub per_feature: BTreeMap<String, CoverageCurve>,
}

/// Values of a per-horizon curve at horizons 1, 5 and 10 (absent beyond the curve).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage90 {
    /// One planned step ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h1: Option<f64>,
    /// Five planned steps ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h5: Option<f64>,
    /// Ten planned steps ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h10: Option<f64>,
}

impl Coverage90 {
    /// Picks horizons 1, 5, 10 from `curve` (index `h − 1`).
    pub fn of(curve: &[f64]) -> Self {
        Coverage90 {
            h1: curve.first().copied(),
            h5: curve.get(4).copied(),
            h10: curve.get(9).copied(),
        }
    }
}

/// The held-out trajectories `held` split into (calibration, measured): the first half
/// (rounded down) and the rest; disjoint, and together all of `held`.
pub fn calibration_split(held: Range<usize>) -> (Range<usize>, Range<usize>) {
    let mid = held.start + held.len() / 2;
    (held.start..mid, mid..held.end)
}

/// Starts `(trajectory, t)` of the trajectories `trajs`: every `stride` steps with `need`
/// environment steps left in a trajectory of `traj_len` actions.
pub fn starts_of(
    trajs: Range<usize>,
    traj_len: usize,
    need: usize,
    stride: usize,
) -> Vec<(usize, usize)> {
    let last = match traj_len.checked_sub(need) {
        Some(l) => l,
        None => return Vec::new(),
    };
    trajs
        .flat_map(|i| (0..=last).step_by(stride.max(1)).map(move |t| (i, t)))
        .collect()
}

/// Measures coverage on `data`'s held-out trajectories, writes [`COVERAGE_FILE`] and the two
/// pictures, and returns the summary; `None` (and any old file removed) when there are fewer
/// than two held-out trajectories or they are too short for one planned step.
pub fn measure_run(
    run: &RunDir,
    cfg: &RunConfig,
    data: &Dataset,
    settings: &CoverageConfig,
    progress: &dyn Progress,
) -> Result<Option<CoverageSummary>, AgentError> {
    let path = run.file(COVERAGE_FILE);
    let wm = world_model(run, cfg)?;
    let held = held_out_trajectories(data.n_traj);
    let r = wm.action_repeat();
    let h = settings.horizon.min(data.traj_len / r);
    let (cal_t, test_t) = calibration_split(data.n_traj - held..data.n_traj);
    let mut starts = starts_of(cal_t.clone(), data.traj_len, h * r, settings.start_stride);
    let n_cal = starts.len();
    starts.extend(starts_of(
        test_t.clone(),
        data.traj_len,
        h * r,
        settings.start_stride,
    ));
    if cal_t.is_empty() || test_t.is_empty() || h == 0 || n_cal == starts.len() {
        if path.exists() {
            std::fs::remove_file(&path).map_err(AgentError::io(&path))?;
        }
        return Ok(None);
    }
    progress.start("coverage", 1);
    let keep = thin(starts.len(), MAX_STARTS);
    let n_cal = keep.iter().filter(|&&i| i < n_cal).count();
    let starts: Vec<(usize, usize)> = keep.into_iter().map(|i| starts[i]).collect();
    let (reprs, d) = encode_held_out(&wm, data, held)?;
    let first = data.n_traj - held;
    let per_traj = data.traj_len + 1;
    let frame = |(i, t): (usize, usize)| &reprs[((i - first) * per_traj + t) * d..][..d];
    let s0: Vec<f32> = starts.iter().flat_map(|&st| frame(st).to_vec()).collect();
    let a_dim = data.action_dim;
    let mut actions = Vec::with_capacity(starts.len() * h * a_dim);
    for &(i, t) in &starts {
        for j in 0..h {
            let k = i * data.traj_len + t + j * r;
            actions.extend_from_slice(&data.actions[k * a_dim..(k + 1) * a_dim]);
        }
    }
    let real: Vec<f32> = (1..=h)
        .flat_map(|j| starts.iter().flat_map(move |&(i, t)| frame((i, t + j * r))))
        .copied()
        .collect();
    let (s, m) = (starts.len(), settings.samples);
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let pred = sample_futures(&wm, &s0, &actions, (s, h, m), &mut rng)?;
    let futures = Futures::new((h, s, m, d), pred, real)?;
    let (cal, test): (Vec<usize>, Vec<usize>) = ((0..n_cal).collect(), (n_cal..s).collect());
    let split = (&cal[..], &test[..]);
    let representation = measure(&futures, &column_std(&reprs, d), split, settings.level)?;
    let reader = reader_of(run)?;
    let readout = match &reader {
        Some((name, rd)) => Some(readout_coverage(
            name,
            rd.as_ref(),
            &futures,
            &reprs,
            split,
            settings.level,
        )?),
        None => None,
    };
    let summary = CoverageSummary {
        level: settings.level,
        samples: m,
        latent_count: wm.latent_count(),
        calibration_trajectories: cal_t.len(),
        measured_trajectories: test_t.len(),
        calibration_starts: n_cal,
        measured_starts: s - n_cal,
        representation,
        readout,
    };
    let text = serde_json::to_string_pretty(&summary)
        .map_err(|e| AgentError::config_source(COVERAGE_FILE, e.to_string()))?;
    run.write(COVERAGE_FILE, text.as_bytes())?;
    plot_coverage(run, &summary)?;
    let shown: Vec<usize> = test
        .iter()
        .copied()
        .filter(|&k| starts[k].1 == 0)
        .take(3)
        .collect();
    let reader = reader.as_ref().map(|(_, rd)| rd.as_ref());
    plot_futures(run, &futures, &s0, &shown, reader)?;
    progress.finish();
    Ok(Some(summary))
}

/// Indices of `n` items thinned evenly to at most `max`, in order.
fn thin(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    (0..max).map(|k| k * n / max).collect()
}

/// Encodings `[held, T+1, D]` of the last `held` trajectories of `data`, and `D`.
fn encode_held_out(
    wm: &crate::jepa_model::JepaWorldModel,
    data: &Dataset,
    held: usize,
) -> Result<(Vec<f32>, usize), AgentError> {
    let obs_dim: usize = data.obs_shape.iter().product();
    let per_traj = data.traj_len + 1;
    let from = (data.n_traj - held) * per_traj * obs_dim;
    let obs = data.observations.get(from..).unwrap_or_default();
    if obs.len() != held * per_traj * obs_dim {
        return Err(AgentError::shape(
            "dataset observations for coverage",
            data.observations.len(),
            format!("[n_traj={}, T+1={per_traj}, obs={obs_dim}]", data.n_traj),
        ));
    }
    let mut reprs = Vec::new();
    for chunk in obs.chunks(CHUNK * obs_dim) {
        reprs.extend(wm.encode_batch(chunk)?);
    }
    let d = reprs.len() / (held * per_traj).max(1);
    Ok((reprs, d))
}

/// A feature reader and its name (`probe` or `readout head`).
type NamedReader = (String, Box<dyn FeatureReader>);

/// The run's feature reader: the head if it has one, else the probe, else none.
fn reader_of(run: &RunDir) -> Result<Option<NamedReader>, AgentError> {
    if let Some(head) = load_head(run)? {
        return Ok(Some(("readout head".into(), Box::new(head))));
    }
    Ok(load_probe(run)?.map(|p| ("probe".to_string(), Box::new(p) as Box<dyn FeatureReader>)))
}

/// Coverage of the features read from `futures` by `reader`, over all features and each;
/// the scales are the features' standard deviations over the real encodings `reprs`.
fn readout_coverage(
    name: &str,
    reader: &dyn FeatureReader,
    futures: &Futures,
    reprs: &[f32],
    split: (&[usize], &[usize]),
    level: f64,
) -> Result<ReadoutCoverage, AgentError> {
    let d = futures.channels;
    let feats = futures.map(|x, rows| reader.read(x, rows))?;
    let k = feats.channels;
    let scale = column_std(&reader.read(reprs, reprs.len() / d.max(1))?, k);
    let mut per_feature = BTreeMap::new();
    for (c, fname) in reader.names().iter().enumerate().take(k) {
        let one = feats.channel(c)?;
        per_feature.insert(fname.clone(), measure(&one, &scale[c..=c], split, level)?);
    }
    Ok(ReadoutCoverage {
        reader: name.to_string(),
        all: measure(&feats, &scale, split, level)?,
        per_feature,
    })
}

fn curve(name: &str, ys: &[f64]) -> Series {
    Series {
        name: name.to_string(),
        points: ys
            .iter()
            .enumerate()
            .map(|(i, y)| ((i + 1) as f64, *y))
            .collect(),
    }
}

/// `plots/coverage.svg`: coverage (raw, calibrated, nominal) and spread vs horizon, in
/// representation space and, with a reader, in feature space.
fn plot_coverage(run: &RunDir, s: &CoverageSummary) -> Result<(), AgentError> {
    let nominal = vec![s.level; s.representation.raw.len()];
    let pair = |what: &str, c: &CoverageCurve, extra: Vec<Series>| {
        let mut cov = vec![
            curve("raw", &c.raw),
            curve("calibrated", &c.calibrated),
            curve("nominal", &nominal),
        ];
        cov.extend(extra);
        [
            Panel {
                title: format!("coverage of the central {:.0} % ({what})", 100.0 * s.level),
                series: cov,
                log_y: false,
            },
            Panel {
                title: format!("spread: width / std ({what})"),
                series: vec![
                    curve("raw", &c.spread_raw),
                    curve("calibrated", &c.spread_calibrated),
                ],
                log_y: false,
            },
        ]
    };
    let mut panels: Vec<Panel> = pair("representation", &s.representation, Vec::new()).into();
    if let Some(r) = &s.readout {
        let each = r
            .per_feature
            .iter()
            .map(|(n, c)| curve(&format!("{n} raw"), &c.raw))
            .collect();
        panels.extend(pair(&format!("features, {}", r.reader), &r.all, each));
    }
    Ok(ami_io::write_atomic(
        &run.plot("coverage.svg"),
        render(&panels, 2, "planned steps ahead").as_bytes(),
    )?)
}

/// `plots/futures.svg`: for each start of `shown`, a few sampled futures of one quantity and
/// the real one, from the start (step 0): the feature `clearance` if the reader has it, else
/// its first feature, else representation dimension 0.
fn plot_futures(
    run: &RunDir,
    f: &Futures,
    s0: &[f32],
    shown: &[usize],
    reader: Option<&dyn FeatureReader>,
) -> Result<(), AgentError> {
    let d = f.channels;
    let (feats, start_feats, name) = match reader {
        Some(rd) => {
            let c = rd.feature("clearance").unwrap_or(0);
            let name = rd
                .names()
                .get(c)
                .cloned()
                .unwrap_or_else(|| format!("feature {c}"));
            let feats = f.map(|x, rows| rd.read(x, rows))?.channel(c)?;
            let k = rd.names().len().max(1);
            let at0: Vec<f32> = rd
                .read(s0, s0.len() / d)?
                .into_iter()
                .skip(c)
                .step_by(k)
                .collect();
            (feats, at0, name)
        }
        None => (
            f.channel(0)?,
            s0.iter().step_by(d).copied().collect(),
            "representation dim 0".into(),
        ),
    };
    let panels: Vec<Panel> = shown
        .iter()
        .map(|&s| {
            let path = |value: &dyn Fn(usize) -> f32| {
                let mut p = vec![(0.0, f64::from(start_feats[s]))];
                p.extend((0..f.horizon).map(|h| ((h + 1) as f64, f64::from(value(h)))));
                p
            };
            let mut series = vec![Series {
                name: "real".into(),
                points: path(&|h| feats.real[h * f.starts + s]),
            }];
            for m in 0..PLOTTED_SAMPLES.min(f.samples) {
                series.push(Series {
                    name: format!("sample {}", m + 1),
                    points: path(&|h| feats.predicted[(h * f.starts + s) * f.samples + m]),
                });
            }
            Panel {
                title: format!("{name}: held-out start {s}"),
                series,
                log_y: false,
            }
        })
        .collect();
    Ok(ami_io::write_atomic(
        &run.plot("futures.svg"),
        render(&panels, 1, "planned steps ahead").as_bytes(),
    )?)
}

/// The run's coverage measurement, if it has one.
pub fn load_coverage(run: &RunDir) -> Result<Option<CoverageSummary>, AgentError> {
    let path = run.file(COVERAGE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(AgentError::io(&path))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| AgentError::config_source(path.display().to_string(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_and_measured_trajectories_are_disjoint_halves() {
        for (n, held) in [(1000, 100), (64, 6), (10, 1), (7, 3)] {
            let all = n - held..n;
            let (cal, test) = calibration_split(all.clone());
            assert_eq!(cal.len() + test.len(), held, "n={n}");
            assert_eq!(
                (cal.start, cal.end, test.end),
                (all.start, test.start, all.end)
            );
            assert!(cal.len() <= test.len() && test.len() <= cal.len() + 1);
            let a = starts_of(cal, 32, 10, 4);
            let b = starts_of(test, 32, 10, 4);
            assert!(a.iter().all(|(i, _)| b.iter().all(|(j, _)| i != j)));
        }
    }

    #[test]
    fn starts_leave_room_for_the_horizon() {
        let s = starts_of(3..5, 32, 10, 4);
        assert_eq!(s.len(), 2 * 6);
        assert_eq!(
            s[..6].iter().map(|p| p.1).collect::<Vec<_>>(),
            vec![0, 4, 8, 12, 16, 20]
        );
        assert!(s.iter().all(|&(i, t)| (3..5).contains(&i) && t + 10 <= 32));
        assert!(starts_of(0..2, 5, 10, 1).is_empty());
        assert_eq!(thin(10, 4), vec![0, 2, 5, 7]);
        assert_eq!(
            Coverage90::of(&[0.5, 0.6]),
            Coverage90 {
                h1: Some(0.5),
                h5: None,
                h10: None
            }
        );
    }
}
