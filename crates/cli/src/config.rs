//! The run configuration: one TOML document with a section per module, built-in presets, and
//! `--set section.key=value` overrides. Unknown keys and out-of-range values are errors.

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use ami_agent::{CemConfig, MppiConfig};
use ami_envs::{DataConfig, TwoRoomsConfig};
use ami_jepa::{JepaConfig, ObjectiveConfig, TrainConfig};

/// Which planner the agent uses.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PlannerKind {
    /// Model-predictive path integral control.
    Mppi,
    /// Cross-entropy method.
    Cem,
}

/// How the agent plans and acts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    /// Planner used by the actor.
    pub planner: PlannerKind,
    /// Each planned action is held for this many environment steps (temporal abstraction of
    /// the plan; the world model is still stepped once per environment step).
    pub action_repeat: usize,
    /// Re-plan after this many environment steps (receding horizon).
    pub replan_every: usize,
    /// Cost weight of the predicted representation at the last step, on top of the sum.
    pub terminal_weight: f32,
}

impl Default for AgentSection {
    fn default() -> Self {
        AgentSection {
            planner: PlannerKind::Mppi,
            action_repeat: 4,
            replan_every: 4,
            terminal_weight: 0.0,
        }
    }
}

/// Test-episode protocol.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// Number of test episodes.
    pub episodes: usize,
    /// Seed of the test episodes (fixed, independent of the run seed).
    pub seed: u64,
    /// Step limit per episode.
    pub max_steps: usize,
    /// Episodes drawn in the picture of test episodes.
    pub plot_episodes: usize,
}

impl Default for EvalSection {
    fn default() -> Self {
        EvalSection {
            episodes: 100,
            seed: 1234,
            max_steps: 200,
            plot_episodes: 12,
        }
    }
}

/// Everything needed to reproduce a run (written to `config.toml` in the run directory).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Environment geometry and observation kind.
    pub env: TwoRoomsConfig,
    /// Reward-free data generation.
    pub data: DataConfig,
    /// JEPA architecture.
    pub model: JepaConfig,
    /// Loss weights.
    pub objective: ObjectiveConfig,
    /// Optimisation.
    pub train: TrainConfig,
    /// Actor settings.
    pub agent: AgentSection,
    /// MPPI settings (used when `agent.planner = "mppi"`).
    pub mppi: MppiConfig,
    /// CEM settings (used when `agent.planner = "cem"`).
    pub cem: CemConfig,
    /// Test protocol.
    pub eval: EvalSection,
}

/// Named starting points for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// Seconds: for smoke tests only (results are meaningless).
    Tiny,
    /// The demo default: ≤ 10 minutes on 2 cores.
    Default,
    /// Longer training and planning for the best success rate.
    Full,
}

impl RunConfig {
    /// The configuration of a preset.
    pub fn preset(p: Preset) -> Self {
        let mut c = RunConfig::default();
        c.data.trajectories = 3000;
        c.train.steps = 4000;
        // Pixel observations at a reduced resolution: 2 channels (agent blob, walls) × 16 × 16.
        c.env.obs = ami_envs::ObsKind::Image;
        c.env.image_res = 16;
        // Planner actions are in px, bounded by the env's max step.
        c.mppi.max_action_norm = c.env.max_step;
        c.mppi.noise_std = c.env.max_step / 2.0;
        c.cem.max_action_norm = c.env.max_step;
        c.cem.init_std = c.env.max_step / 2.0;
        match p {
            Preset::Default => {}
            Preset::Full => {
                c.env.image_res = 32;
                // One more stride-2 layer keeps the conv output at 4 × 4.
                c.model.conv_channels = vec![8, 16, 16];
                c.data.trajectories = 6000;
                c.train.steps = 8000;
                c.mppi.samples = 512;
                c.mppi.iterations = 8;
                c.mppi.horizon = 20;
            }
            Preset::Tiny => {
                c.data.trajectories = 64;
                c.train.steps = 30;
                c.train.batch_size = 16;
                c.train.log_every = 10;
                c.mppi.samples = 32;
                c.mppi.iterations = 2;
                c.cem.samples = 32;
                c.cem.elites = 8;
                c.cem.iterations = 2;
                c.eval.episodes = 4;
                c.eval.max_steps = 24;
                c.eval.plot_episodes = 4;
            }
        }
        c
    }

    /// Reads a TOML file (all sections optional, defaults from `base`).
    pub fn from_toml_file(path: &std::path::Path, base: &RunConfig) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        let file: toml::Value =
            toml::from_str(&text).with_context(|| format!("{}: not valid TOML", path.display()))?;
        let mut merged = toml::Value::try_from(base)?;
        merge(&mut merged, file);
        merged
            .try_into()
            .map_err(|e: toml::de::Error| anyhow!("{}: {}", path.display(), e.message()))
    }

    /// Applies `section.key=value` overrides (value parsed as a TOML literal, else a string).
    pub fn with_overrides(self, sets: &[String]) -> Result<Self> {
        let mut v = toml::Value::try_from(&self)?;
        for s in sets {
            let (path, raw) = s
                .split_once('=')
                .ok_or_else(|| anyhow!("--set {s:?}: expected section.key=value"))?;
            let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
                .ok()
                .and_then(|t| t.get("v").cloned())
                .unwrap_or_else(|| toml::Value::String(raw.to_string()));
            set_path(&mut v, path.trim(), value).with_context(|| format!("--set {s}"))?;
        }
        v.try_into()
            .map_err(|e: toml::de::Error| anyhow!("--set: {}", e.message()))
    }

    /// Range checks of every section (errors name the field).
    pub fn validate(&self) -> Result<()> {
        self.env.validate()?;
        self.data.validate()?;
        self.objective.validate()?;
        self.train.validate()?;
        self.mppi.validate()?;
        self.cem.validate()?;
        if self.model.encoder == ami_jepa::EncoderKind::Conv
            && self.env.obs != ami_envs::ObsKind::Image
        {
            bail!("model.encoder = \"conv\" needs env.obs = \"image\"; use \"mlp\" or \"auto\" for state observations");
        }
        if self.model.conv_channels.is_empty() || self.model.conv_channels.contains(&0) {
            bail!(
                "model.conv_channels = {:?}; expected at least one positive channel count",
                self.model.conv_channels
            );
        }
        if self.agent.action_repeat == 0 {
            bail!("agent.action_repeat = 0; expected >= 1");
        }
        if self.agent.replan_every == 0 {
            bail!("agent.replan_every = 0; expected >= 1");
        }
        if self.eval.episodes == 0 || self.eval.max_steps == 0 {
            bail!("eval.episodes and eval.max_steps must be >= 1");
        }
        Ok(())
    }

    /// The configuration as TOML text.
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_table() && v.is_table() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn set_path(root: &mut toml::Value, path: &str, value: toml::Value) -> Result<()> {
    let mut cur = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        let table = cur
            .as_table_mut()
            .ok_or_else(|| anyhow!("`{path}`: `{p}` is not a section"))?;
        if i + 1 == parts.len() {
            if !table.contains_key(*p) {
                bail!("unknown key `{path}`");
            }
            table.insert(p.to_string(), value);
            return Ok(());
        }
        cur = table
            .get_mut(*p)
            .ok_or_else(|| anyhow!("unknown section `{p}` in `{path}`"))?;
    }
    Ok(())
}
