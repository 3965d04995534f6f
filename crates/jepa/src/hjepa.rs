//! H-JEPA level 2: a predictor on level-1 representations taken every `k` steps, conditioned
//! on a macro-action (DESIGN.md §1 "H-JEPA"; REFERENCE.md §14).
//!
//! # Model
//! The level-2 state is the level-1 representation `s_t = Enc(o_t)` read every `k` environment
//! steps (temporal abstraction; the level-1 encoder is frozen, so the level-2 target cannot
//! collapse independently of level 1). The macro-action of the `k` steps from `t` is the
//! summed level-1 actions scaled to the unit ball,
//! `m_t = (Σ_{i<k} a_{t+i}) / (k · a_max)` (`‖m_t‖ ≤ 1`): the displacement the agent intends
//! over the macro step, whatever the walls then let it do. The predictor is residual,
//!
//! `ŝ_{t+k} = s_t + MLP([s_t, m_t])`,
//!
//! and its energy is `E₂(s_t, m_t, s_{t+k}) = ‖s_{t+k} − ŝ_{t+k}‖²`.
//!
//! # Training
//! Self-supervised on the same reward-free trajectories: windows of `rollout` macro steps
//! from a uniformly drawn trajectory and start `t` (`t + rollout·k ≤ T`), rolled out open loop
//! from the encoded `s_t`, loss `(1/R) Σ_j mean ‖ŝ_{t+jk} − s_{t+jk}‖²` (AdamW, linear decay
//! to 5 % of the peak rate). The last tenth of the trajectories is held out and scores the
//! model against the copy-the-input baseline `ŝ_{t+k} = s_t`, with the collapse diagnostics
//! of the predicted and the real level-2 states.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{mlp_tensors, TensorMap};
use crate::diagnostics::{collapse, Collapse};
use crate::error::JepaError;
use crate::mlp::Mlp;
use crate::train::{scalar, seeded};

/// `[hierarchy]` training settings of the level-2 predictor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Level2Config {
    /// Environment steps per macro step `k` (≥ 1).
    pub k: usize,
    /// Hidden widths of the predictor MLP.
    pub hidden: Vec<usize>,
    /// Macro steps per training window `R` (open-loop rollout; `R·k ≤ T`).
    pub rollout: usize,
    /// AdamW steps.
    pub steps: usize,
    /// Windows per batch.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Seed of the weights and of the window sampler.
    pub seed: u64,
}

impl Default for Level2Config {
    fn default() -> Self {
        Level2Config {
            k: 8,
            hidden: vec![256, 256, 256],
            rollout: 3,
            steps: 6000,
            batch_size: 256,
            lr: 1e-3,
            seed: 0,
        }
    }
}

impl Level2Config {
    /// Range checks; errors name the key under `hierarchy.`.
    pub fn validate(&self) -> Result<(), JepaError> {
        let bad = |key: &str, v: String, want: &str| {
            Err(JepaError::config(
                &format!("hierarchy.level2.{key}"),
                v,
                want,
            ))
        };
        if self.k < 1 {
            return bad(
                "k",
                self.k.to_string(),
                ">= 1 environment steps per macro step",
            );
        }
        if self.rollout < 1 {
            return bad("rollout", self.rollout.to_string(), ">= 1 macro steps");
        }
        if self.steps < 1 {
            return bad("steps", self.steps.to_string(), ">= 1");
        }
        if self.batch_size < 2 {
            return bad("batch_size", self.batch_size.to_string(), ">= 2");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", self.lr.to_string(), "a finite value > 0");
        }
        if self.hidden.contains(&0) {
            return bad("hidden", format!("{:?}", self.hidden), "widths >= 1");
        }
        Ok(())
    }
}

/// Encoded trajectories for level 2: `reprs [n, T+1, D]` (level-1 representations) and
/// `actions [n, T, A]`, with the action bound `a_max`.
#[derive(Debug, Clone)]
pub struct Level2Data {
    /// Level-1 representations, row-major `[n, T+1, D]`.
    pub reprs: Vec<f32>,
    /// Actions, row-major `[n, T, A]`.
    pub actions: Vec<f32>,
    /// Trajectories `n`.
    pub n_traj: usize,
    /// Steps per trajectory `T`.
    pub traj_len: usize,
    /// Representation width `D`.
    pub repr_dim: usize,
    /// Action width `A`.
    pub action_dim: usize,
    /// Bound `a_max` on `‖a‖₂`.
    pub max_action_norm: f32,
}

/// A batch of level-2 windows: `states [B, R+1, D]`, `macros [B, R, A]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Level2Window {
    /// `s_{t+jk}` for `j = 0..=R`.
    pub states: Vec<f32>,
    /// `m_{t+jk}` for `j = 0..R`.
    pub macros: Vec<f32>,
    /// Windows `B`.
    pub batch: usize,
}

impl Level2Data {
    /// Checks the buffer lengths against the shape and that everything is finite.
    pub fn validate(&self) -> Result<(), JepaError> {
        let (n, t, d, a) = (self.n_traj, self.traj_len, self.repr_dim, self.action_dim);
        if self.reprs.len() != n * (t + 1) * d || n == 0 || d == 0 {
            return Err(shape(
                "level-2 representations",
                self.reprs.len(),
                format!("[n={n}, T+1={}, D={d}] values with n, D >= 1", t + 1),
            ));
        }
        if self.actions.len() != n * t * a || a == 0 {
            return Err(shape(
                "level-2 actions",
                self.actions.len(),
                format!("[n={n}, T={t}, A={a}] values with A >= 1"),
            ));
        }
        if !(self.max_action_norm.is_finite() && self.max_action_norm > 0.0) {
            return Err(JepaError::config(
                "action bound",
                self.max_action_norm,
                "a finite value > 0",
            ));
        }
        if !self
            .reprs
            .iter()
            .chain(&self.actions)
            .all(|v| v.is_finite())
        {
            return Err(JepaError::NonFinite {
                step: 0,
                what: "level-2 data (a representation or an action)".into(),
            });
        }
        Ok(())
    }

    /// The macro-action `m = Σ_{i<k} a_{t+i} / (k·a_max)` of trajectory `i` from step `t`.
    pub fn macro_action(&self, i: usize, t: usize, k: usize) -> Vec<f32> {
        let a = self.action_dim;
        let scale = 1.0 / (k as f32 * self.max_action_norm);
        let mut m = vec![0.0; a];
        for s in t..t + k {
            let row = &self.actions[(i * self.traj_len + s) * a..][..a];
            for (mj, r) in m.iter_mut().zip(row) {
                *mj += r * scale;
            }
        }
        m
    }

    fn repr(&self, i: usize, t: usize) -> &[f32] {
        let d = self.repr_dim;
        &self.reprs[(i * (self.traj_len + 1) + t) * d..][..d]
    }

    /// The window of trajectory `i` from step `t`: `R` macro steps of `k`.
    pub fn window_at(&self, i: usize, t: usize, k: usize, r: usize, w: &mut Level2Window) {
        for j in 0..=r {
            w.states.extend_from_slice(self.repr(i, t + j * k));
        }
        for j in 0..r {
            w.macros.extend(self.macro_action(i, t + j * k, k));
        }
        w.batch += 1;
    }

    /// `b` windows of `R` macro steps from trajectories `traj` (uniform trajectory, uniform
    /// start `t ≤ T − R·k`).
    pub fn sample(
        &self,
        traj: std::ops::Range<usize>,
        (b, k, r): (usize, usize, usize),
        rng: &mut StdRng,
    ) -> Level2Window {
        let mut w = empty_window(b, r, self.repr_dim, self.action_dim);
        let last = self.traj_len - r * k;
        for _ in 0..b {
            let i = rng.gen_range(traj.clone());
            let t = rng.gen_range(0..=last);
            self.window_at(i, t, k, r, &mut w);
        }
        w
    }

    /// Every window of `R` macro steps from trajectories `traj` (starts `0, stride, …`).
    pub fn all_windows(
        &self,
        traj: std::ops::Range<usize>,
        (k, r, stride): (usize, usize, usize),
    ) -> Level2Window {
        let starts = (self.traj_len - r * k) / stride.max(1) + 1;
        let n = traj.len() * starts;
        let mut w = empty_window(n, r, self.repr_dim, self.action_dim);
        for i in traj {
            for t in (0..=self.traj_len - r * k).step_by(stride.max(1)) {
                self.window_at(i, t, k, r, &mut w);
            }
        }
        w
    }
}

fn empty_window(b: usize, r: usize, d: usize, a: usize) -> Level2Window {
    Level2Window {
        states: Vec::with_capacity(b * (r + 1) * d),
        macros: Vec::with_capacity(b * r * a),
        batch: 0,
    }
}

/// The level-2 predictor `ŝ' = s + MLP([s, m])` (module docs).
#[derive(Module, Debug)]
pub struct Level2 {
    /// `[D + A] → hidden… → [D]`.
    pub predictor: Mlp,
}

impl Level2 {
    /// A fresh predictor for `D`-dimensional states and `A`-dimensional macro-actions.
    pub fn new(repr_dim: usize, action_dim: usize, hidden: &[usize], device: &Device) -> Self {
        let mut dims = vec![repr_dim + action_dim];
        dims.extend_from_slice(hidden);
        dims.push(repr_dim);
        Level2 {
            predictor: Mlp::new(&dims, device),
        }
    }

    /// One macro step.
    ///
    /// # Shapes
    /// `s [B, D]`, `m [B, A]` → `[B, D]`
    pub fn step(&self, s: Tensor<2>, m: Tensor<2>) -> Tensor<2> {
        let x = Tensor::cat(vec![s.clone(), m], 1);
        s + self.predictor.forward(x)
    }

    /// Open-loop rollout of a window from its first state: `[B, R, D]` predictions of
    /// `s_{t+jk}`, `j = 1..=R`.
    pub fn rollout(&self, w: &Level2Window, d: usize, a: usize, device: &Device) -> Tensor<3> {
        let b = w.batch;
        let r = w.macros.len() / (b * a).max(1);
        let states =
            Tensor::<3>::from_data(TensorData::new(w.states.clone(), [b, r + 1, d]), device);
        let macros = Tensor::<3>::from_data(TensorData::new(w.macros.clone(), [b, r, a]), device);
        let mut s = states.narrow(1, 0, 1).reshape([b, d]);
        let mut out = Vec::with_capacity(r);
        for j in 0..r {
            s = self.step(s, macros.clone().narrow(1, j, 1).reshape([b, a]));
            out.push(s.clone().reshape([b, 1, d]));
        }
        Tensor::cat(out, 1)
    }

    /// The weights as named tensors (`predictor.layers.{i}.weight [out, in]`, `.bias`).
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        mlp_tensors("predictor", &self.predictor)
    }

    /// Rebuilds the predictor from [`Level2::tensors`] (as read back from a safetensors
    /// file); `layers` is the number of affine layers.
    pub fn from_tensors(
        map: &TensorMap,
        layers: usize,
        device: &Device,
    ) -> Result<Self, JepaError> {
        let mut out = Vec::with_capacity(layers);
        for i in 0..layers {
            let get = |name: String| {
                map.get(&name)
                    .cloned()
                    .ok_or_else(|| shape(&name, 0, "a tensor in the level-2 weights".into()))
            };
            let (shape, w) = get(format!("predictor.layers.{i}.weight"))?;
            let (bshape, b) = get(format!("predictor.layers.{i}.bias"))?;
            let [dout, din] = shape[..] else {
                return Err(JepaError::Shape {
                    what: format!("level-2 layer {i} weight"),
                    got: shape,
                    expected: "[out, in]".into(),
                });
            };
            if w.len() != dout * din || bshape != [dout] || b.len() != dout {
                return Err(JepaError::Shape {
                    what: format!("level-2 layer {i} weight values and bias"),
                    got: vec![w.len(), b.len()],
                    expected: format!("{} weights and a bias [{dout}]", dout * din),
                });
            }
            let mut wt = vec![0f32; din * dout];
            for r in 0..din {
                for c in 0..dout {
                    wt[r * dout + c] = w[c * din + r];
                }
            }
            out.push(Linear {
                weight: Param::from_tensor(Tensor::from_data(
                    TensorData::new(wt, [din, dout]),
                    device,
                )),
                bias: Some(Param::from_tensor(Tensor::from_data(
                    TensorData::new(b, [dout]),
                    device,
                ))),
            });
        }
        Ok(Level2 {
            predictor: Mlp { layers: out },
        })
    }
}

/// How well the trained level 2 predicts on the held-out trajectories.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Level2Report {
    /// Environment steps per macro step.
    pub k: usize,
    /// Training windows' macro steps `R`.
    pub rollout: usize,
    /// Trajectories held out for this report.
    pub heldout_trajectories: usize,
    /// Mean squared error per dimension of `ŝ_{t+jk}` after `j = 1..=R` open-loop macro
    /// steps on held-out windows.
    pub mse: Vec<f64>,
    /// The same for the copy-the-input baseline `ŝ_{t+jk} = s_t`.
    pub copy_mse: Vec<f64>,
    /// Collapse diagnostics of the one-step predictions `ŝ_{t+k}`.
    pub collapse_predicted: Collapse,
    /// Collapse diagnostics of the real `s_{t+k}`.
    pub collapse_real: Collapse,
    /// Mean ‖s_{t+k} − s_t‖ on the held-out windows (the typical macro step in
    /// representation space).
    pub mean_step: f64,
    /// Training loss of the last step.
    pub final_loss: f64,
}

/// One logged training step.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Level2Log {
    /// Step index.
    pub step: usize,
    /// Learning rate used.
    pub lr: f64,
    /// Rollout loss.
    pub loss: f64,
}

/// Trains level 2 on `data` (module docs) on `device`, calling `log` after every step.
/// Returns the inference model and its held-out report.
pub fn train_level2(
    cfg: &Level2Config,
    data: &Level2Data,
    device: &Device,
    log: &mut dyn FnMut(&Level2Log),
) -> Result<(Level2, Level2Report), JepaError> {
    cfg.validate()?;
    data.validate()?;
    let (d, a) = (data.repr_dim, data.action_dim);
    let (k, r) = (cfg.k, cfg.rollout);
    if r * k > data.traj_len {
        return Err(JepaError::config(
            "hierarchy.level2.k",
            k,
            &format!(
                "hierarchy.level2.k × hierarchy.level2.rollout = {} <= the trajectories' {} steps",
                k * r,
                data.traj_len
            ),
        ));
    }
    let held = (data.n_traj / 10).max(1);
    if held >= data.n_traj {
        return Err(JepaError::config(
            "data.trajectories",
            data.n_traj,
            ">= 2 (one tenth is held out to score level 2)",
        ));
    }
    let train = 0..data.n_traj - held;
    let ad = device.clone().autodiff();
    let mut model = seeded(&ad, cfg.seed, |dev| Ok(Level2::new(d, a, &cfg.hidden, dev)))?;
    let mut optim = AdamWConfig::new().with_weight_decay(1e-5).init();
    let mut rng = StdRng::seed_from_u64(cfg.seed ^ 0x6c65_7665_6c32);
    let mut last = f64::NAN;
    for step in 0..cfg.steps {
        let w = data.sample(train.clone(), (cfg.batch_size, k, r), &mut rng);
        let target =
            Tensor::<3>::from_data(TensorData::new(w.states.clone(), [w.batch, r + 1, d]), &ad)
                .narrow(1, 1, r);
        let pred = model.rollout(&w, d, a, &ad);
        let loss = (pred - target).powi_scalar(2).mean();
        last = f64::from(scalar(&loss));
        if !last.is_finite() {
            return Err(JepaError::NonFinite {
                step,
                what: "level-2 loss".into(),
            });
        }
        let lr = cfg.lr * (1.0 - 0.95 * step as f64 / cfg.steps as f64);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
        log(&Level2Log {
            step,
            lr,
            loss: last,
        });
    }
    let model = model.valid();
    let mut report = score(
        &model,
        data,
        data.n_traj - held..data.n_traj,
        (k, r),
        device,
    )?;
    report.final_loss = last;
    Ok((model, report))
}

/// The held-out [`Level2Report`] of `model` on trajectories `traj` (every window, stride 2).
pub fn score(
    model: &Level2,
    data: &Level2Data,
    traj: std::ops::Range<usize>,
    (k, r): (usize, usize),
    device: &Device,
) -> Result<Level2Report, JepaError> {
    let (d, a) = (data.repr_dim, data.action_dim);
    let held = traj.len();
    let w = data.all_windows(traj, (k, r, 2));
    let b = w.batch;
    if b == 0 {
        return Err(shape("held-out level-2 windows", 0, ">= 1".into()));
    }
    let pred = model
        .rollout(&w, d, a, device)
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| JepaError::NonFinite {
            step: 0,
            what: format!("level-2 predictions ({e:?})"),
        })?;
    let (mut mse, mut copy) = (vec![0f64; r], vec![0f64; r]);
    let mut step = 0f64;
    let mut first_pred = Vec::with_capacity(b * d);
    let mut first_real = Vec::with_capacity(b * d);
    for i in 0..b {
        let s0 = &w.states[i * (r + 1) * d..][..d];
        for j in 0..r {
            let real = &w.states[(i * (r + 1) + j + 1) * d..][..d];
            let p = &pred[(i * r + j) * d..][..d];
            for c in 0..d {
                mse[j] += f64::from((p[c] - real[c]).powi(2));
                copy[j] += f64::from((s0[c] - real[c]).powi(2));
            }
            if j == 0 {
                first_pred.extend_from_slice(p);
                first_real.extend_from_slice(real);
                step += f64::from(
                    s0.iter()
                        .zip(real)
                        .map(|(x, y)| (x - y).powi(2))
                        .sum::<f32>()
                        .sqrt(),
                );
            }
        }
    }
    let n = (b * d) as f64;
    Ok(Level2Report {
        k,
        rollout: r,
        heldout_trajectories: held,
        mse: mse.iter().map(|v| v / n).collect(),
        copy_mse: copy.iter().map(|v| v / n).collect(),
        collapse_predicted: collapse(&first_pred, b, d),
        collapse_real: collapse(&first_real, b, d),
        mean_step: step / b as f64,
        final_loss: f64::NAN,
    })
}

fn shape(what: &str, got: usize, expected: String) -> JepaError {
    JepaError::Shape {
        what: what.to_string(),
        got: vec![got],
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A point that moves by its macro-action `m` (times 4), stopped at a wall `x ≤ 1`:
    /// `s = (x, y)`, actions of norm ≤ 1, `k = 4`.
    fn walled(n: usize, t_len: usize, seed: u64) -> Level2Data {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut reprs, mut actions) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (mut x, mut y) = (rng.gen_range(-2.0f32..1.0), rng.gen_range(-2.0f32..2.0));
            reprs.extend([x, y]);
            let dir = rng.gen_range(0.0f32..std::f32::consts::TAU);
            for _ in 0..t_len {
                let (ax, ay) = (dir.cos() * 0.25, dir.sin() * 0.25);
                actions.extend([ax, ay]);
                x = (x + ax).min(1.0);
                y += ay;
                reprs.extend([x, y]);
            }
        }
        Level2Data {
            reprs,
            actions,
            n_traj: n,
            traj_len: t_len,
            repr_dim: 2,
            action_dim: 2,
            max_action_norm: 1.0,
        }
    }

    #[test]
    fn macro_action_is_the_scaled_sum_and_windows_line_up() {
        let data = walled(3, 8, 1);
        let m = data.macro_action(1, 2, 4);
        let mut want = [0f32; 2];
        for s in 2..6 {
            want[0] += data.actions[(8 + s) * 2] / 4.0;
            want[1] += data.actions[(8 + s) * 2 + 1] / 4.0;
        }
        assert!((m[0] - want[0]).abs() < 1e-6 && (m[1] - want[1]).abs() < 1e-6);
        let mut w = empty_window(1, 2, 2, 2);
        data.window_at(2, 0, 4, 2, &mut w);
        assert_eq!(w.states[4..6], data.reprs[(2 * 9 + 8) * 2..][..2]);
        assert_eq!(w.macros[2..4], data.macro_action(2, 4, 4)[..]);
        let all = data.all_windows(0..3, (4, 2, 1));
        assert_eq!(all.batch, 3, "one start per trajectory when R·k = T");
    }

    #[test]
    fn bad_settings_name_the_key() {
        let e = Level2Config {
            k: 0,
            ..Level2Config::default()
        };
        assert!(e
            .validate()
            .unwrap_err()
            .to_string()
            .contains("hierarchy.level2.k"));
        let data = walled(20, 8, 0);
        let cfg = Level2Config {
            k: 4,
            rollout: 3,
            steps: 1,
            ..Level2Config::default()
        };
        let err = train_level2(&cfg, &data, &Device::flex(), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("hierarchy.level2.k"), "{err}");
    }

    #[test]
    fn level2_learns_the_wall_and_beats_copying_the_input() {
        let data = walled(400, 16, 3);
        let cfg = Level2Config {
            k: 4,
            hidden: vec![64, 64],
            rollout: 2,
            steps: 600,
            batch_size: 128,
            lr: 3e-3,
            seed: 5,
        };
        let device = Device::flex();
        let mut losses = Vec::new();
        let (model, report) =
            train_level2(&cfg, &data, &device, &mut |l| losses.push(l.loss)).unwrap();
        assert_eq!(losses.len(), 600);
        assert!(
            report.mse[0] < 0.1 * report.copy_mse[0],
            "one macro step: {report:?}"
        );
        assert!(report.mse[1] < 0.2 * report.copy_mse[1], "{report:?}");
        // A macro step into the wall from x = 0.5 stops at x = 1, not at x = 0.5 + 4·0.25.
        let s = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, 0.0], [1, 2]), &device);
        let m = Tensor::<2>::from_data(TensorData::new(vec![0.25f32, 0.0], [1, 2]), &device);
        let next = model.step(s, m).into_data().try_to_vec::<f32>().unwrap();
        assert!((next[0] - 1.0).abs() < 0.15, "{next:?}");
        // Round trip through the named tensors.
        let map: TensorMap = model
            .tensors()
            .into_iter()
            .map(|(n, s, v)| (n, (s, v)))
            .collect();
        let back = Level2::from_tensors(&map, 3, &device).unwrap();
        let s = Tensor::<2>::from_data(TensorData::new(vec![-1.0f32, 0.3], [1, 2]), &device);
        let m = Tensor::<2>::from_data(TensorData::new(vec![0.2f32, -0.7], [1, 2]), &device);
        let (a, b) = (
            model
                .step(s.clone(), m.clone())
                .into_data()
                .try_to_vec::<f32>()
                .unwrap(),
            back.step(s, m).into_data().try_to_vec::<f32>().unwrap(),
        );
        assert_eq!(a, b);
    }
}
