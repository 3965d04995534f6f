//! The training loop, readable top to bottom: sample windows → loss → backward → AdamW step.

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::batcher::{Trajectories, Window};
use crate::diagnostics::{collapse, Collapse};
use crate::error::JepaError;
use crate::guard::GuardState;
use crate::latent::LatentUsage;
use crate::model::{Jepa, JepaConfig};
use crate::objective::{jepa_loss_readout, ObjectiveConfig};
use crate::param_ids::StableIds;

/// Optimisation settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Number of optimiser steps.
    pub steps: usize,
    /// Windows per batch B.
    pub batch_size: usize,
    /// Predictor rollout length k during training.
    pub rollout_steps: usize,
    /// Peak AdamW learning rate.
    pub lr: f64,
    /// Final learning rate as a fraction of the peak (cosine decay after warm-up).
    pub final_lr_fraction: f64,
    /// Linear warm-up steps.
    pub warmup_steps: usize,
    /// AdamW decoupled weight decay.
    pub weight_decay: f32,
    /// Seed of the weight initialisation and of the batch sampler.
    pub seed: u64,
    /// Log losses and diagnostics every this many steps.
    pub log_every: usize,
    /// What computes the loss and its gradients: `auto` (a specialised CPU kernel where the
    /// model and objective have one, otherwise burn's autodiff), `burn` (always burn) or
    /// `dense` (the kernel, an error where it does not apply). The optimiser, checkpoints and
    /// logs are the same either way. Configs written before this setting existed read `auto`.
    #[serde(default)]
    pub engine: TrainEngine,
}

/// Which implementation computes a training step's loss and gradients ([`TrainConfig::engine`]).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TrainEngine {
    /// The dense kernel where it applies (CPU backend, a supported model and objective),
    /// otherwise burn's autodiff.
    #[default]
    Auto,
    /// burn's autodiff on every step.
    Burn,
    /// The dense kernel; an error when the model or objective is not one it supports.
    Dense,
}

/// The loss of one batch and the gradient of its total with respect to every parameter that
/// the loss reaches, computed outside burn's autodiff graph — a specialised kernel for a
/// model/objective pair whose generic path is slow (`ami-agent`'s dense CPU kernel). The
/// [`Trainer`] applies the gradients with its own AdamW, so checkpoints, resumption and logs
/// do not depend on which engine ran.
pub trait GradientEngine: Send {
    /// Short name, for logs and errors.
    fn name(&self) -> &'static str;

    /// The loss terms of `window` (the same names, order and values, to float rounding, as
    /// [`jepa_loss_readout`]), the encoder outputs `s_0 [B, D]` and the gradients, registered
    /// under the parameters' ids on `grad_device` (the device without autodiff).
    fn loss_and_grads(
        &mut self,
        model: &Jepa,
        config: &JepaConfig,
        objective: &ObjectiveConfig,
        window: &Window,
        grad_device: &Device,
    ) -> Result<EngineStep, JepaError>;
}

/// What a [`GradientEngine`] returns for one batch.
pub struct EngineStep {
    /// Weighted total loss.
    pub total: f32,
    /// Unweighted terms by name, as [`crate::objective::LossTensors::terms`].
    pub terms: Vec<(String, f32)>,
    /// `s_0 [B, D]`, row-major (for the collapse diagnostics).
    pub s0: Vec<f32>,
    /// Representation dimension `D`.
    pub repr_dim: usize,
    /// `∂total/∂θ` for every parameter the loss depends on.
    pub grads: GradientsParams,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 3000,
            batch_size: 128,
            rollout_steps: 8,
            lr: 1e-3,
            final_lr_fraction: 0.05,
            warmup_steps: 100,
            weight_decay: 1e-5,
            seed: 0,
            log_every: 50,
            engine: TrainEngine::Auto,
        }
    }
}

impl TrainConfig {
    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<(), JepaError> {
        if self.batch_size < 2 {
            return Err(JepaError::config(
                "train.batch_size",
                self.batch_size,
                ">= 2",
            ));
        }
        if self.rollout_steps == 0 {
            return Err(JepaError::config("train.rollout_steps", 0, ">= 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(JepaError::config("train.lr", self.lr, "> 0"));
        }
        if !(0.0..=1.0).contains(&self.final_lr_fraction) {
            return Err(JepaError::config(
                "train.final_lr_fraction",
                self.final_lr_fraction,
                "in [0, 1]",
            ));
        }
        if self.log_every == 0 {
            return Err(JepaError::config("train.log_every", 0, ">= 1"));
        }
        Ok(())
    }

    /// Learning rate at `step`: linear warm-up, then cosine from `lr` to `lr·final_lr_fraction`.
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = self.steps.saturating_sub(self.warmup_steps).max(1) as f64;
        let p = ((step - self.warmup_steps) as f64 / span).min(1.0);
        let lo = self.lr * self.final_lr_fraction;
        lo + 0.5 * (self.lr - lo) * (1.0 + (std::f64::consts::PI * p).cos())
    }
}

/// What one optimiser step reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepLog {
    /// Step index (0-based) of the step just taken.
    pub step: usize,
    /// Learning rate used (the schedule's times the guard's `lr_scale`).
    pub lr: f64,
    /// Weighted total loss.
    pub loss: f32,
    /// Unweighted terms by name (`prediction`, the regulariser's terms, `time_smoothness`,
    /// `inverse_dynamics`).
    pub terms: Vec<(String, f32)>,
    /// Collapse diagnostics of `s_0` (on logging steps only).
    pub collapse: Option<Collapse>,
    /// Latent models: how often each value of `z` was chosen in this batch, and the entropy
    /// of that usage (an unused latent shows as entropy ≈ 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent_usage: Option<LatentUsage>,
}

/// Owns the model being trained, its optimiser and the step counter.
pub struct Trainer {
    /// Model on the autodiff device (always `Some` between steps; taken during the update).
    model: Option<Jepa>,
    /// AdamW state.
    pub optimizer: ModuleOptimizer,
    /// Steps taken so far.
    pub step: usize,
    /// Architecture.
    pub model_config: JepaConfig,
    /// Loss weights.
    pub objective: ObjectiveConfig,
    /// Optimisation settings.
    pub train_config: TrainConfig,
    /// The divergence guard's state; its `lr_scale` multiplies the scheduled learning rate.
    pub guard: GuardState,
    device: Device,
    /// Computes loss and gradients instead of burn's autodiff when set ([`Self::set_engine`]).
    engine: Option<Box<dyn GradientEngine>>,
}

impl Trainer {
    /// A fresh model: burn's RNG on `device` is seeded with `train.seed` before initialisation.
    pub fn new(
        model_config: JepaConfig,
        objective: ObjectiveConfig,
        train_config: TrainConfig,
        device: &Device,
    ) -> Result<Self, JepaError> {
        objective.validate()?;
        train_config.validate()?;
        if objective.readout > 0.0 && model_config.readout_dim == 0 {
            return Err(JepaError::config(
                "model.readout_dim",
                0,
                "> 0 when objective.readout > 0 (the head needs the number of readout features)",
            ));
        }
        let device = device.clone().autodiff();
        let model = Some(seeded_init(&model_config, &device, train_config.seed)?);
        let optimizer = optimizer(&train_config);
        Ok(Trainer {
            model,
            optimizer,
            step: 0,
            model_config,
            objective,
            train_config,
            guard: GuardState::default(),
            device,
            engine: None,
        })
    }

    /// Assembles a trainer from restored parts (see [`crate::checkpoint`]).
    pub(crate) fn from_parts(
        model: Jepa,
        optimizer: ModuleOptimizer,
        step: usize,
        configs: (JepaConfig, ObjectiveConfig, TrainConfig),
        guard: GuardState,
        device: Device,
    ) -> Self {
        let (model_config, objective, train_config) = configs;
        let model = Some(model);
        Trainer {
            model,
            optimizer,
            step,
            model_config,
            objective,
            train_config,
            guard,
            device,
            engine: None,
        }
    }

    /// Lets `engine` compute every later step's loss and gradients (`None`: burn's autodiff).
    /// The optimiser, its state and the step counter are unchanged.
    pub fn set_engine(&mut self, engine: Option<Box<dyn GradientEngine>>) {
        self.engine = engine;
    }

    /// The name of what computes the loss and gradients: the engine's, or `burn`.
    pub fn engine_name(&self) -> &'static str {
        self.engine.as_ref().map_or("burn", |e| e.name())
    }

    /// The model being trained.
    pub fn model(&self) -> &Jepa {
        self.model
            .as_ref()
            .expect("the model is only taken inside train_step")
    }

    /// The autodiff device training runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Takes one optimiser step on a batch sampled from `data`, at the scheduled learning rate
    /// times `guard.lr_scale`. Fails with [`JepaError::NonFinite`] (`what` = `loss`), without
    /// updating anything, when the loss is NaN or infinite.
    pub fn train_step(&mut self, data: &Trajectories) -> Result<StepLog, JepaError> {
        let cfg = &self.train_config;
        let window = data.sample(
            cfg.batch_size,
            cfg.rollout_steps,
            cfg.seed,
            self.step as u64,
        );
        let log_now = self.step.is_multiple_of(cfg.log_every) || self.step + 1 == cfg.steps;
        let (total, terms, collapse, latent_usage, grads) = match self.engine.as_mut() {
            Some(engine) => {
                let model = self
                    .model
                    .as_ref()
                    .expect("the model is only taken inside train_step");
                let grad_device = self.device.clone().inner();
                let out = engine.loss_and_grads(
                    model,
                    &self.model_config,
                    &self.objective,
                    &window,
                    &grad_device,
                )?;
                let d = out.repr_dim.max(1);
                let collapse = log_now.then(|| collapse(&out.s0, out.s0.len() / d, d));
                (out.total, out.terms, collapse, None, out.grads)
            }
            None => {
                let (obs, actions, readout) = window_tensors(&window, data, &self.device);
                let loss = jepa_loss_readout(self.model(), obs, actions, readout, &self.objective)?;
                let values = loss
                    .total
                    .clone()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap_or_default();
                let total = values.first().copied().unwrap_or(f32::NAN);
                let terms = loss
                    .terms
                    .iter()
                    .map(|(n, t)| (n.to_string(), scalar(t)))
                    .collect();
                let collapse = log_now.then(|| {
                    let [b, _, d] = loss.representations.dims();
                    let s0 = loss.representations.clone().narrow(1, 0, 1).reshape([b, d]);
                    collapse(
                        &s0.into_data().try_to_vec::<f32>().unwrap_or_default(),
                        b,
                        d,
                    )
                });
                let latent_usage = (!loss.latent_counts.is_empty())
                    .then(|| LatentUsage::from_counts(&loss.latent_counts));
                let grads = GradientsParams::from_grads(loss.total.backward(), self.model());
                (total, terms, collapse, latent_usage, grads)
            }
        };
        if !total.is_finite() {
            return Err(JepaError::NonFinite {
                step: self.step,
                what: "loss".into(),
            });
        }
        let lr = cfg.lr_at(self.step) * self.guard.lr_scale;
        if let Some(model) = self.model.take() {
            self.model = Some(self.optimizer.step(lr, model, grads));
        }
        if self.engine.is_some() {
            release_orphaned_graphs(&self.device);
        }
        let log = StepLog {
            step: self.step,
            lr,
            loss: total,
            terms,
            collapse,
            latent_usage,
        };
        self.step += 1;
        Ok(log)
    }

    /// Checks that every parameter of the model is finite. The error names the first
    /// parameter holding a NaN or an infinity (e.g. `encoder.layers.0.weight`) and the number
    /// of steps taken; [`crate::checkpoint::save_trainer`] runs this before writing anything,
    /// so that a diverged update is never checkpointed (the loss check in
    /// [`Self::train_step`] only sees the loss before the update).
    pub fn check_finite(&self) -> Result<(), JepaError> {
        let mut check = FiniteCheck::default();
        self.model().visit(&mut check);
        match check.first_bad {
            None => Ok(()),
            Some(name) => Err(JepaError::NonFinite {
                step: self.step,
                what: format!("parameter `{name}`"),
            }),
        }
    }

    /// A copy of the model for inference (no autodiff graph).
    pub fn inference_model(&self) -> Jepa {
        self.model().valid()
    }
}

/// Frees the autodiff graph entries that nothing references any more. burn registers every
/// tracked leaf (each parameter the optimiser writes back) in a global graph and sweeps the
/// orphaned entries only at the end of a backward pass; a [`GradientEngine`] never runs one, so
/// without this the entries of every step's parameters would accumulate (≈ 90 kB per step for
/// the demo's model). A backward pass over a one-element graph of its own runs the sweep.
fn release_orphaned_graphs(device: &Device) {
    let x = Tensor::<1>::zeros([1], device).require_grad();
    let _ = x.sum().backward();
}

/// burn's RNG is global per backend and parameters are initialised lazily, so seeding and
/// drawing the weights happen together under one lock: two models built with the same seed are
/// identical even when built concurrently.
fn seeded_init(cfg: &JepaConfig, device: &Device, seed: u64) -> Result<Jepa, JepaError> {
    seeded(device, seed, |d| cfg.init(d))
}

/// Builds a module with `build` on `device` seeded with `seed` and draws all its weights, under
/// the one lock every seeded initialisation shares (see [`seeded_init`]).
pub(crate) fn seeded<M: Module>(
    device: &Device,
    seed: u64,
    build: impl FnOnce(&Device) -> Result<M, JepaError>,
) -> Result<M, JepaError> {
    under_seed(device, seed, |d| build(d).map(drawn))
}

/// Serialises seeded initialisations: burn's RNG is global per device and parameters are
/// drawn lazily, so seeding and drawing must not interleave with another model's.
static INIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Builds a module on `device` with burn's RNG seeded by `seed`, drawing every weight under
/// the same lock as every other seeded initialisation of the workspace, so the weights depend
/// on `seed` alone.
pub fn seeded_module<M: Module>(device: &Device, seed: u64, build: impl FnOnce(&Device) -> M) -> M {
    under_seed(device, seed, |d| drawn(build(d)))
}

/// Runs `f` under [`INIT_LOCK`] with burn's RNG on `device` seeded by `seed`.
fn under_seed<T>(device: &Device, seed: u64, f: impl FnOnce(&Device) -> T) -> T {
    let _guard = INIT_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    f(device)
}

/// `model` with every weight drawn and its parameters numbered in program order (call under
/// [`INIT_LOCK`], as [`under_seed`] does).
fn drawn<M: Module>(model: M) -> M {
    model.visit(&mut ForceInit);
    model.map(&mut next_stable_ids())
}

/// Number of seeded initialisations so far in this process; read and advanced only under
/// [`INIT_LOCK`], so the numbering follows the program's order of initialisation.
static INIT_COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The parameter numbering of the next seeded initialisation (call under [`INIT_LOCK`]).
fn next_stable_ids() -> StableIds {
    StableIds::for_init(INIT_COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

struct ForceInit;

impl burn::module::ModuleVisitor for ForceInit {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Finds the first float parameter with a non-finite entry, by its dotted path.
#[derive(Default)]
struct FiniteCheck {
    path: Vec<String>,
    first_bad: Option<String>,
}

impl burn::module::ModuleVisitor for FiniteCheck {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        if self.first_bad.is_none() && !param.val().into_data().iter::<f32>().all(f32::is_finite) {
            self.first_bad = Some(self.path.join("."));
        }
    }
}

fn optimizer(cfg: &TrainConfig) -> ModuleOptimizer {
    AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay)
        .init()
}

/// Rebuilds a fresh optimiser for `cfg` (its state is then loaded by the checkpoint code).
pub(crate) fn new_optimizer(cfg: &TrainConfig) -> ModuleOptimizer {
    optimizer(cfg)
}

/// The value of a one-element tensor (NaN if it has none).
pub(crate) fn scalar(t: &Tensor<1>) -> f32 {
    t.clone()
        .into_data()
        .try_to_vec::<f32>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(f32::NAN)
}

/// The window as tensors `obs [B, k+1, obs_dim]`, `actions [B, k, A]` and, when the data has
/// readout targets, `readout [B, k+1, r]`.
fn window_tensors(
    w: &Window,
    data: &Trajectories,
    device: &Device,
) -> (Tensor<3>, Tensor<3>, Option<Tensor<3>>) {
    let obs = Tensor::from_data(
        TensorData::new(w.observations.clone(), [w.batch, w.steps + 1, data.obs_dim]),
        device,
    );
    let act = Tensor::from_data(
        TensorData::new(w.actions.clone(), [w.batch, w.steps, data.action_dim]),
        device,
    );
    let readout = (data.readout_dim > 0 && !w.readout.is_empty()).then(|| {
        Tensor::from_data(
            TensorData::new(w.readout.clone(), [w.batch, w.steps + 1, data.readout_dim]),
            device,
        )
    });
    (obs, act, readout)
}

/// Module trait re-export used by callers that only need `valid()`/`num_params()`.
pub fn num_params(model: &Jepa) -> usize {
    model.num_params()
}
