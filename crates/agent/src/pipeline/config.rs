//! The run configuration: one TOML document with a section per module, built-in presets, and
//! `section.key=value` overrides. Unknown keys and out-of-range values are errors that name
//! the key. The configuration is input only: values derived from the data (observation
//! statistics) or from other settings (the action bound, from the environment) are never
//! written back into it.

use std::path::Path;

use ami_envs::{
    DataConfig, EnvConfig, MazeConfig, ObsKind, PldmConfig, RandomWallConfig, TwoRoomsConfig,
    TwoRoomsHazardsConfig, DEFAULT_HAZARDS,
};
use ami_jepa::{EncoderKind, GuardConfig, Level2Config, ModelConfig, ObjectiveConfig, TrainConfig};
use serde::{Deserialize, Serialize};

use super::learned::{ActorKind, CriticMode};
use crate::cost_config::CostConfig;
use crate::critic::CriticConfig;
use crate::error::AgentError;
use crate::latent_paths::LatentPaths;
use crate::planner::{
    GraphConfig, HierarchicalConfig, ImaginedConfig, MppiConfig, NoRoute, PlanContext,
    PlannerConfig,
};
use crate::policy::PolicyConfig;
use crate::risk::Risk;
use crate::task::TaskConfig;

/// `[agent]`: the temporal abstraction of the actor, in one place (the planner's horizon, how
/// long each planned action is held, how often to re-plan).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Planned actions per planning call `h`.
    pub horizon: usize,
    /// Each planned action is held for this many environment steps (the world model is still
    /// stepped once per environment step), so a plan looks `horizon·action_repeat` steps ahead.
    pub action_repeat: usize,
    /// Re-plan after this many environment steps (receding horizon).
    pub replan_every: usize,
    /// Who chooses the actions: `"planner"`, `"policy"` (the amortised policy alone) or
    /// `"policy+planner"` (the planner warm-started by the policy).
    pub actor: ActorKind,
    /// Where a `critic` cost term gets its critic: `"trained"` (`critic.json`) or `"online"`
    /// (refitted from the short-term memory during the evaluation).
    pub critic: CriticMode,
    /// With a latent-variable world model, how a candidate's cost aggregates over the
    /// imagined futures: `"worst"`, `"average"` or `"cvar:α"` ([`crate::risk`]; no effect
    /// with a deterministic model).
    #[serde(default)]
    pub risk: Risk,
    /// With a latent-variable world model, which imagined futures a candidate is judged on:
    /// `"held"` (each latent value held over the horizon) or `"sampled:S"` (S paths drawn
    /// from the prior; [`crate::latent_paths`]).
    #[serde(default = "default_latent_paths")]
    pub latent_paths: LatentPaths,
    /// Widen feature guardrails by the run's measured error of reading *imagined* states per
    /// planned step (`imagined_error.json`, [`crate::imagined_error`]) when it has one
    /// measured on the same `latent_paths`. Off by default: on highway's check preset that
    /// error (p99 of `crashed` ≈ 1 from the second step) rejects every plan.
    #[serde(default)]
    pub imagined_margin: bool,
    /// How feature guardrails judge a reading: `"margin"` (the bound widened by the reader's
    /// measured error, and by `imagined_margin`'s errors) or `"recall"` (the threshold
    /// calibrated at training on held-out plans so that 99 % of those whose real future
    /// violates are rejected, `imagined_error.json`'s `guards`; [`crate::imagined_error`]).
    #[serde(default)]
    pub guardrail_rule: GuardrailRule,
    /// `"flat"`: `[planner]` plans alone; `"hierarchical"`: the run's level-2 model plans
    /// sub-goals and `[planner]` plans toward them ([`crate::planner::Hierarchical`],
    /// `[hierarchy]`); `"graph"`: sub-goals from shortest routes on the graph of the data's
    /// representations kept with level 2 ([`crate::planner::GraphPlanner`],
    /// `[hierarchy.graph]`); `"imagined"`: sub-goals from shortest routes on a graph of the
    /// world model's random walks from the agent's state
    /// ([`crate::planner::ImaginedGraphPlanner`], `[hierarchy.imagined]`).
    #[serde(default)]
    pub planner: PlannerLevels,
    /// After this many planning calls in a row at which the agent moved less than a tenth of
    /// what its plan predicted, it takes its blocked action turned away from itself, unless a
    /// guardrail forbids that ([`crate::planner::Escape`]; default 3, 0 never escapes; no
    /// effect on the amortised policy acting alone).
    #[serde(default = "default_escape_calls")]
    pub escape_calls: usize,
    /// What the agent does when its planner finds no plan that passes the guardrails:
    /// `"fallback"` (default) executes the environment's fallback action
    /// ([`ami_envs::EnvSpec::fallback_action`]: stand still, brake hard on highway);
    /// `"least-unsafe"` executes the planner's plan anyway — the candidates ranked by how many
    /// imagined steps violate a guardrail. Either way the call counts in `unsafe_plans`.
    #[serde(default)]
    pub when_unsafe: WhenUnsafe,
}

/// `agent.guardrail_rule` (see [`AgentConfig::guardrail_rule`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardrailRule {
    /// The bound widened by the reader's measured error.
    #[default]
    Margin,
    /// The threshold calibrated on held-out plans for 99 % recall of violations.
    Recall,
}

/// `agent.when_unsafe` (see [`AgentConfig::when_unsafe`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WhenUnsafe {
    /// The environment's fallback action.
    #[default]
    Fallback,
    /// The planner's least-violating plan.
    LeastUnsafe,
}

/// Three frozen calls (12 environment steps on two-rooms' defaults) before an escape.
fn default_escape_calls() -> usize {
    3
}

/// How many levels plan (`agent.planner`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlannerLevels {
    /// `[planner]` alone.
    #[default]
    Flat,
    /// Level 2 (sub-goals) over `[planner]`.
    Hierarchical,
    /// Sub-goals from shortest routes on the graph of the data's representations
    /// ([`crate::planner::GraphPlanner`], `[hierarchy.graph]`) over `[planner]`.
    Graph,
    /// Sub-goals from shortest routes on a graph of the world model's own random walks from
    /// the agent's state ([`crate::planner::ImaginedGraphPlanner`], `[hierarchy.imagined]`)
    /// over `[planner]`.
    Imagined,
}

impl PlannerLevels {
    /// The configured name.
    pub fn name(self) -> &'static str {
        match self {
            PlannerLevels::Flat => "flat",
            PlannerLevels::Hierarchical => "hierarchical",
            PlannerLevels::Graph => "graph",
            PlannerLevels::Imagined => "imagined",
        }
    }
}

/// `[hierarchy]`: the H-JEPA level 2 (trained after the world model when `train`) and the
/// hierarchical planner's settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct HierarchyConfig {
    /// Train level 2 at the end of `ami train` / `ami demo` (default: only in the maze
    /// presets).
    pub train: bool,
    /// Level-2 predictor and its training ([`ami_jepa::hjepa`]).
    pub level2: Level2Config,
    /// Level-2 search and hand-over to level 1 ([`crate::planner::Hierarchical`]).
    pub planner: HierarchicalConfig,
    /// The data graph and hand-over to level 1 (`agent.planner = "graph"`,
    /// [`crate::planner::GraphPlanner`]).
    pub graph: GraphConfig,
    /// The imagined walks, their graph and hand-over to level 1 (`agent.planner =
    /// "imagined"`, [`crate::planner::ImaginedGraphPlanner`]).
    pub imagined: ImaginedConfig,
}

/// `sampled:8`: held latents compound one step's deviation over the horizon
/// ([`crate::latent_paths`]).
fn default_latent_paths() -> LatentPaths {
    LatentPaths::Sampled(8)
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            horizon: 16,
            action_repeat: 4,
            replan_every: 4,
            actor: ActorKind::Planner,
            critic: CriticMode::Trained,
            risk: Risk::default(),
            latent_paths: default_latent_paths(),
            imagined_margin: false,
            guardrail_rule: GuardrailRule::Margin,
            planner: PlannerLevels::Flat,
            escape_calls: default_escape_calls(),
            when_unsafe: WhenUnsafe::Fallback,
        }
    }
}

/// Which set of tasks an evaluation plans on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Validation tasks (`eval.val_seed`): tune settings on these.
    Val,
    /// Test tasks (`eval.seed`): report these; do not tune on them.
    Test,
}

impl Split {
    /// `val` or `test`: the name `--split` takes and reports carry.
    pub fn name(self) -> &'static str {
        match self {
            Split::Val => "val",
            Split::Test => "test",
        }
    }

    /// The report file of this split in a run directory.
    pub fn report_file(self) -> &'static str {
        match self {
            Split::Test => "report.json",
            Split::Val => "report_val.json",
        }
    }

    /// The per-episode records of this split (JSON lines, under `eval/<task>/`).
    pub fn episodes_file(self) -> &'static str {
        match self {
            Split::Test => "episodes.jsonl",
            Split::Val => "episodes_val.jsonl",
        }
    }

    /// The picture of this split's episodes (under `plots/`).
    pub fn episodes_picture(self) -> &'static str {
        match self {
            Split::Test => "episodes.png",
            Split::Val => "episodes_val.png",
        }
    }

    /// The picture of this split's failed episodes (under `eval/<task>/`; none when every
    /// episode succeeded).
    pub fn failures_picture(self) -> &'static str {
        match self {
            Split::Test => "failures.png",
            Split::Val => "failures_val.png",
        }
    }

    /// The directory of this split's episode videos (under `eval/<task>/`).
    pub fn videos_dir(self) -> &'static str {
        match self {
            Split::Test => "videos",
            Split::Val => "videos_val",
        }
    }
}

impl std::str::FromStr for Split {
    type Err = AgentError;

    fn from_str(s: &str) -> Result<Self, AgentError> {
        match s {
            "val" => Ok(Split::Val),
            "test" => Ok(Split::Test),
            _ => Err(AgentError::config("--split", s, "val or test")),
        }
    }
}

/// Most episode videos one evaluation writes (`eval.videos`).
pub const MAX_VIDEOS: usize = 100;

/// `[eval]`: the test protocol.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// Number of episodes.
    pub episodes: usize,
    /// Seed of the test tasks (fixed, independent of the run seed).
    pub seed: u64,
    /// Seed of the validation tasks (a stream of its own).
    pub val_seed: u64,
    /// Seed of the training tasks on which `ami train-policy` and `ami train-critic` collect
    /// episodes (a stream of its own).
    pub train_seed: u64,
    /// Step limit per episode.
    pub max_steps: usize,
    /// Episodes drawn in the picture of test episodes.
    pub plot_episodes: usize,
    /// Episodes (the first ones of the split) written as videos, `eval/<task>/videos/
    /// episode-NNN.gif` (`videos_val/` for `--split val`; [`super::videos`]); 0: none. At
    /// most [`MAX_VIDEOS`].
    pub videos: usize,
    /// Names this evaluation: its reports go to `eval/<task>-<tag>/` (`eval/<task>/` when
    /// empty, the default, which also writes the run's top-level `report.json` for `reach`).
    #[serde(default)]
    pub tag: String,
    /// Episodes on the maze's held-out layout in `ami demo --env maze` (0: none).
    #[serde(default)]
    pub heldout_episodes: usize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            episodes: 100,
            seed: 1234,
            val_seed: 4321,
            train_seed: 8642,
            max_steps: 200,
            plot_episodes: 12,
            videos: 4,
            tag: String::new(),
            heldout_episodes: 0,
        }
    }
}

/// Everything needed to reproduce a run (written to `config.toml` in the run directory).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Environment (`kind` and its settings).
    pub env: EnvConfig,
    /// Reward-free data generation.
    pub data: DataConfig,
    /// JEPA architecture.
    pub model: ModelConfig,
    /// Loss weights.
    pub objective: ObjectiveConfig,
    /// Optimisation.
    pub train: TrainConfig,
    /// The divergence guard of training (thresholds, and stop or roll back;
    /// [`ami_jepa::guard`]). Absent from `config.toml` files written before it: the defaults.
    #[serde(default)]
    pub guard: GuardConfig,
    /// Temporal abstraction of the actor.
    pub agent: AgentConfig,
    /// Trajectory optimiser (`kind` and its settings).
    pub planner: PlannerConfig,
    /// Cost module.
    #[serde(default)]
    pub cost: CostConfig,
    /// The task the configurator sets the agent up for.
    #[serde(default)]
    pub task: TaskConfig,
    /// Training of the amortised policy.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Training of the critic.
    #[serde(default)]
    pub critic: CriticConfig,
    /// Test protocol.
    pub eval: EvalConfig,
    /// The two-level world model and planner.
    #[serde(default)]
    pub hierarchy: HierarchyConfig,
}

/// Named starting points for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Seconds: for smoke tests only (results are meaningless).
    Tiny,
    /// About a minute on 2 cores, planning far above chance: the end-to-end check of the whole
    /// pipeline (state observations, 1000 trajectories, 2000 steps, MPPI 128 × 4, 30 test
    /// episodes).
    Check,
    /// The demo default: a few minutes on 2 cores.
    Default,
    /// Longer training and planning for the best success rate.
    Full,
    /// PLDM's exact two-rooms task (issue 18: env `pldm`, PLDM's data generator, its
    /// 100-episode protocol with seed 42, task `pldm`) with `default`'s model, training and
    /// planner, the 65 × 65 frames averaged over 4 × 4 blocks before the conv layers.
    Pldm,
    /// EB-JEPA's "random wall" two-rooms task (issue 18: env `random-wall`, PLDM's data
    /// generator on a random layout per trajectory with 35 % door crossings, 60 test episodes
    /// of 200 steps on a random layout each, task `random-wall`) with `pldm`'s model and
    /// MPPI, 1 000 000 transitions, 20 000 training steps, the layout as auxiliary readout and
    /// sub-goals from imagined walks (`agent.planner = "imagined"`).
    #[serde(rename = "random-wall")]
    RandomWall,
}

impl Preset {
    /// Every preset, by name.
    pub const ALL: [(&'static str, Preset); 6] = [
        ("tiny", Preset::Tiny),
        ("check", Preset::Check),
        ("default", Preset::Default),
        ("full", Preset::Full),
        ("pldm", Preset::Pldm),
        ("random-wall", Preset::RandomWall),
    ];

    /// The environment kind a task preset is tied to (`pldm`, `random-wall`), `None` for the
    /// presets that run in any environment.
    pub fn task_env(self) -> Option<&'static str> {
        match self {
            Preset::Pldm => Some("pldm"),
            Preset::RandomWall => Some("random-wall"),
            _ => None,
        }
    }
}

/// Transitions of the PLDM-task data in every preset but `tiny` (223 trajectories of 91
/// frames of 2 × 65 × 65: ≈ 0.7 GB as f32; PLDM's dataset-size study has a 20 312-transition
/// point, `pldm/configs/wall/icml/ds_20312.yaml`, and its main data set is 3 M).
pub const PLDM_TRANSITIONS: usize = 20_000;
/// Transitions of the PLDM-task data in the `tiny` preset (20 trajectories).
pub const PLDM_TINY_TRANSITIONS: usize = 1_800;

/// Transitions of the `random-wall` preset's data (11 111 layouts of 90 steps; frames of
/// 2 × 16 × 16 f32, 2 GB, 4.1 GB peak RSS measured): with 20 000 the predictor walks through
/// walls that move (from 4 px before the wall, three actions toward it predict 9 px of
/// progress instead of 2); 200 000 scored 0.933 on the 60 validation episodes, 1 000 000
/// scored 0.983 (README "EB-JEPA's random-wall task").
pub const RANDOM_WALL_TRANSITIONS: usize = 1_000_000;

/// MPPI candidates per iteration of the `default` preset on `two-rooms` (the demo). Chosen on
/// the 100 validation tasks: 128 × 4 scored 1.00 (4.5 px) and 0.99–1.00 (MSE < 1) on the runs
/// of seeds 0 and 2, where 128 × 3 fell to 0.97 by the MSE rule on seed 2 (README "What the
/// demo costs").
pub const DEMO_MPPI_SAMPLES: usize = 128;

/// MPPI iterations per planning call of the `default` preset on `two-rooms`.
pub const DEMO_MPPI_ITERATIONS: usize = 4;

/// Training steps of the `random-wall` preset (pldm's 4000 leave the moving walls unlearnt).
/// Measured with `ami experiment wall-leaks` on the 20 validation starts (README "EB-JEPA's
/// random-wall task"): after 20 000 steps the imagined walks leak through the wall 74 times
/// (0.08 per door crossing, 5 by the fifth action), after 40 000 30 times (0.03, none by the
/// fifth); success 1.00 / 0.917 (validation / test) after 20 000, 0.983 / 1.00 after 40 000.
pub const RANDOM_WALL_TRAIN_STEPS: usize = 40_000;

/// Predictor steps per training window of the `random-wall` preset (`train.rollout_steps`;
/// pldm's 8 are two planned actions at `action_repeat` 4, while the imagined-walk planner
/// rolls the model out 40 actions deep). Measured with `ami experiment wall-leaks` on the 20
/// validation starts (256 walks of 40 actions each; README "EB-JEPA's random-wall task"):
/// 8 × 128 windows per batch leak through the wall 237 times (0.26 per door crossing), 16 × 64
/// 121, 32 × 32 83, 32 × 64 74 (0.08); validation success 0.933 with 8 × 128, 1.00 with
/// 32 × 64.
pub const RANDOM_WALL_ROLLOUT_STEPS: usize = 32;

/// Windows per batch of the `random-wall` preset (`train.batch_size`; with
/// [`RANDOM_WALL_ROLLOUT_STEPS`] twice pldm's predictor steps per batch).
pub const RANDOM_WALL_BATCH_SIZE: usize = 64;

impl std::str::FromStr for Preset {
    type Err = AgentError;

    fn from_str(s: &str) -> Result<Self, AgentError> {
        Preset::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                AgentError::config(
                    "--preset",
                    s,
                    "one of tiny, check, default, full, pldm, random-wall",
                )
            })
    }
}

impl RunConfig {
    /// The configuration of a preset (in `two-rooms` for the generic presets).
    pub fn preset(p: Preset) -> Self {
        let mut c = RunConfig::preset_any_env(p);
        if p == Preset::Default {
            // The planning frontier (README "Planning compute") reaches 1.00 by both rules
            // with a third of MPPI 256 × 6's candidate rollouts; chosen on the validation
            // tasks of `two-rooms`, so the other environments keep MPPI's defaults.
            c.planner = PlannerConfig::Mppi(MppiConfig {
                samples: DEMO_MPPI_SAMPLES,
                iterations: DEMO_MPPI_ITERATIONS,
                ..MppiConfig::default()
            });
        }
        c
    }

    /// A preset's settings without the `default` preset's `two-rooms` planner budget: what
    /// [`Self::preset_in`] starts from in the other environments, and the base of the `pldm`
    /// and `random-wall` presets.
    fn preset_any_env(p: Preset) -> Self {
        match p {
            Preset::Pldm => {
                let mut c = RunConfig::preset_any_env(Preset::Default);
                c.set_pldm_task(Preset::Default);
                return c;
            }
            Preset::RandomWall => {
                let mut c = RunConfig::preset_any_env(Preset::Default);
                c.set_random_wall_task(Preset::Default);
                return c;
            }
            _ => {}
        }
        let mut c = RunConfig::default();
        c.data.trajectories = 3000;
        c.train.steps = 4000;
        // Pixel observations at a reduced resolution: 2 channels (agent blob, walls) × 16 × 16.
        let mut env = TwoRoomsConfig {
            obs: ObsKind::Image,
            image_res: 16,
            ..TwoRoomsConfig::default()
        };
        let mut mppi = MppiConfig::default();
        match p {
            Preset::Default => {}
            Preset::Full => {
                env.image_res = 32;
                // One more stride-2 layer keeps the conv output at 4 × 4.
                c.model.conv_channels = vec![8, 16, 16];
                c.data.trajectories = 6000;
                c.train.steps = 8000;
                mppi.samples = 512;
                mppi.iterations = 8;
                c.agent.horizon = 20;
            }
            Preset::Check => {
                env.obs = ObsKind::State;
                c.data.trajectories = 1000;
                c.train.steps = 2000;
                mppi.samples = 128;
                mppi.iterations = 4;
                c.eval.episodes = 30;
            }
            Preset::Pldm | Preset::RandomWall => unreachable!("returned above"),
            Preset::Tiny => {
                c.data.trajectories = 64;
                c.train.steps = 30;
                c.train.batch_size = 16;
                c.train.log_every = 10;
                mppi.samples = 32;
                mppi.iterations = 2;
                c.eval.episodes = 4;
                c.eval.max_steps = 24;
                c.eval.plot_episodes = 4;
            }
        }
        c.env = EnvConfig::TwoRooms(env);
        c.planner = PlannerConfig::Mppi(mppi);
        c
    }

    /// The configuration of a preset in the environment `kind`: the preset's own two-rooms
    /// settings for `two-rooms`, the same settings plus the default hazards for
    /// `two-rooms-hazards`, the maze's defaults with the preset's observation kind and image
    /// width and episodes of `env.task.max_steps` for `maze`, PLDM's task, data and protocol
    /// with the preset's model, training and planner for `pldm` (the `pldm` preset is
    /// `default`'s in `pldm`, and only for `pldm`), EB-JEPA's the same way for `random-wall`
    /// (the `random-wall` preset is `default`'s in `random-wall`, and only there), and the
    /// kind's defaults otherwise.
    pub fn preset_in(p: Preset, kind: &str) -> Result<Self, AgentError> {
        if let Some(own) = p.task_env() {
            return if kind == own {
                Ok(RunConfig::preset(p))
            } else {
                Err(AgentError::config_source(
                    "--env",
                    format!(
                        "`{kind}`: the {own} preset is the {own} task, run in env {own} only \
                         (other environments: --preset default)"
                    ),
                ))
            };
        }
        let mut c = match kind {
            "two-rooms" => RunConfig::preset(p),
            _ => RunConfig::preset_any_env(p),
        };
        let two_rooms = match &c.env {
            EnvConfig::TwoRooms(t) => t.clone(),
            _ => TwoRoomsConfig::default(),
        };
        c.env = match kind {
            "two-rooms" => c.env,
            "two-rooms-hazards" => {
                EnvConfig::TwoRoomsHazards(TwoRoomsHazardsConfig(TwoRoomsConfig {
                    hazards: DEFAULT_HAZARDS.to_vec(),
                    ..two_rooms
                }))
            }
            "highway" => {
                // Drive among stochastic drivers: no goal, 20 s episodes, plans 4 s ahead
                // (8 actions of 0.5 s), re-planned every step.
                c.task.name = "drive".into();
                c.eval.max_steps = c.eval.max_steps.min(40);
                c.agent.horizon = 8;
                c.agent.action_repeat = 1;
                c.agent.replan_every = 1;
                // The self-supervised terms alone drop the other cars' positions, so the
                // guardrail's clearance is unreadable from the representation: supervise it
                // with the logged safety readout (labels, not rewards; `objective.readout`).
                c.objective.readout = 1.0;
                // Drivers are stochastic: a latent-variable predictor (4 futures per step);
                // `ami demo --env highway` trains the same model without it beside it.
                c.model.latent = ami_jepa::LatentConfig::discrete(4);
                // Every candidate is rolled out on 8 latent paths: check's planner budget keeps
                // the demo (two models, three agents on the test episodes) within 15 minutes.
                if matches!(p, Preset::Default | Preset::Full) {
                    c.planner = PlannerConfig::Mppi(MppiConfig {
                        samples: 128,
                        iterations: 4,
                        ..MppiConfig::default()
                    });
                }
                EnvConfig::of_kind("highway")?
            }
            "maze" => {
                // Reach a goal at least `task.min_rooms_apart` rooms away within the maze's
                // episode budget, flat and hierarchical (issue 12). State observations: the
                // level-2 search needs positions to within a few px, which 16 × 16 images
                // of the 128 px maze do not give.
                let maze = MazeConfig {
                    obs: ObsKind::State,
                    image_res: two_rooms.image_res,
                    ..MazeConfig::default()
                };
                c.eval.max_steps = maze.task.max_steps;
                c.hierarchy.train = true;
                match p {
                    Preset::Pldm | Preset::RandomWall => unreachable!("returned above"),
                    Preset::Default | Preset::Full => {
                        c.data.trajectories = c.data.trajectories.max(4000);
                        c.train.steps = 2000;
                        c.eval.heldout_episodes = 30;
                        // Check's planner budget keeps the demo (two planners, 100 + 30
                        // episodes each) within 15 minutes on 2 cores.
                        c.planner = PlannerConfig::Mppi(MppiConfig {
                            samples: 128,
                            iterations: 4,
                            ..MppiConfig::default()
                        });
                    }
                    Preset::Check => {
                        c.hierarchy.level2.steps = 3000;
                        c.eval.heldout_episodes = 10;
                    }
                    Preset::Tiny => {
                        c.hierarchy.level2.steps = 20;
                        c.hierarchy.level2.hidden = vec![16];
                        c.eval.max_steps = 40;
                        c.eval.heldout_episodes = 2;
                    }
                }
                EnvConfig::Maze(maze)
            }
            "pldm" => {
                c.set_pldm_task(p);
                c.env
            }
            "random-wall" => {
                c.set_random_wall_task(p);
                c.env
            }
            other => EnvConfig::of_kind(other)?,
        };
        Ok(c)
    }

    /// Sets PLDM's task (issue 18) on the two-rooms configuration of `preset`: env `pldm` with
    /// the preset's observation kind, its 65 × 65 frames averaged over `64 / image_res` blocks
    /// when observed (`env.pool`: 4 for 16 px presets, 2 for `full`'s 32 px) so that the conv
    /// layers see what they see in two-rooms; PLDM's data generator ([`ami_envs::pldm::walk`]: 90-step trajectories, κ = 5,
    /// steps TruncNormal(1.0, 0.4, [0.2, 1.8]), 60 % through the door) sized by
    /// [`PLDM_TRANSITIONS`]; task `pldm`; PLDM's protocol (100 episodes of 200 steps, seed 42)
    /// except in `tiny` and `check`, which keep their own short evaluations.
    fn set_pldm_task(&mut self, preset: Preset) {
        let (obs, res) = match &self.env {
            EnvConfig::TwoRooms(t) => (t.obs, t.image_res),
            _ => (ObsKind::Image, 16),
        };
        // The frames are averaged over blocks when they are observed (`env.pool`), not in the
        // encoder: the model sees the same values, and the data set is `pool²` times smaller.
        self.env = EnvConfig::Pldm(PldmConfig {
            obs,
            pool: (64 / res.max(1)).max(1),
            ..PldmConfig::default()
        });
        self.model.pool = 1;
        let transitions = match preset {
            Preset::Tiny => PLDM_TINY_TRANSITIONS,
            _ => PLDM_TRANSITIONS,
        };
        self.data = DataConfig {
            trajectories: 0,
            transitions,
            traj_len: 90,
            seed: self.data.seed,
            kappa: 5.0,
            step_mean: 1.0,
            step_std: 0.4,
            step_min: 0.2,
            step_max: 1.8,
            door_crossing_rate: 0.6,
            random_fraction: 0.0,
            ..self.data.clone()
        };
        self.task.name = "pldm".into();
        // Sub-goals from routes on the graph of the data (issue 18: the summed goal distance
        // has a local minimum at the wall between start and goal, where flat planners stop).
        // The graph is built from the representations kept with level 2, so level 2 trains.
        self.agent.planner = PlannerLevels::Graph;
        // Without a route in the data (no door crossings, `data.door_crossing_rate = 0`) the
        // graph hands the call to the imagined walks, which may find the door the model
        // learned from the images (README "PLDM's data regimes").
        self.hierarchy.graph.no_route = NoRoute::Imagined;
        self.hierarchy.train = true;
        if preset == Preset::Tiny {
            self.hierarchy.level2.steps = 20;
            self.hierarchy.level2.hidden = vec![16];
        }
        self.eval.seed = ami_envs::pldm::tasks::SEED;
        if !matches!(preset, Preset::Tiny | Preset::Check) {
            self.eval.episodes = ami_envs::pldm::tasks::EPISODES;
            self.eval.max_steps = ami_envs::pldm::tasks::EPISODE_STEPS;
        }
    }

    /// Sets EB-JEPA's "random wall" task (issue 18) on the two-rooms configuration of
    /// `preset`: PLDM's task as [`Self::set_pldm_task`] sets it (observation kind, frames
    /// averaged over `64 / image_res` blocks when observed, `env.pool`, PLDM's generator sized
    /// by [`PLDM_TRANSITIONS`])
    /// with env `random-wall` (a random wall and door per trajectory and per test episode,
    /// [`ami_envs::random_wall`]), EB-JEPA's 35 % of trajectories through the door
    /// (`cross_wall_rate: 0.35`), task `random-wall`, and [`ami_envs::random_wall::tasks`]'
    /// protocol: 60 episodes (EB-JEPA's 20 × 3 seeds, here one seed: the run's `eval.seed`) of
    /// 200 steps, except in `tiny` and `check`, which keep their own short evaluations.
    ///
    /// What the task needs beyond pldm's settings (measured, README "EB-JEPA's random-wall
    /// task"): the world model must learn walls that move, which takes
    /// [`RANDOM_WALL_TRANSITIONS`] transitions, [`RANDOM_WALL_TRAIN_STEPS`] steps and windows
    /// of [`RANDOM_WALL_ROLLOUT_STEPS`] predictor steps, [`RANDOM_WALL_BATCH_SIZE`] per batch
    /// (so that it stays out of walls as deep as the imagined walks go; not in `tiny` and
    /// `check`) and the layout as an auxiliary readout (`objective.readout = 1`:
    /// the self-supervised terms alone drop the door); and planning on a graph of the
    /// model's own imagined walks (`agent.planner = "imagined"`: pldm's data graph would
    /// join trajectories of different layouts).
    fn set_random_wall_task(&mut self, preset: Preset) {
        let (eval_seed, hierarchy) = (self.eval.seed, self.hierarchy.clone());
        self.set_pldm_task(preset);
        self.agent.planner = PlannerLevels::Imagined;
        self.hierarchy = hierarchy;
        self.objective.readout = 1.0;
        if !matches!(preset, Preset::Tiny | Preset::Check) {
            self.data.transitions = RANDOM_WALL_TRANSITIONS;
            self.train.steps = RANDOM_WALL_TRAIN_STEPS;
            self.train.rollout_steps = RANDOM_WALL_ROLLOUT_STEPS;
            self.train.batch_size = RANDOM_WALL_BATCH_SIZE;
        }
        if preset == Preset::Tiny {
            self.hierarchy.imagined.rollouts = 16;
            self.hierarchy.imagined.steps = 8;
        }
        let EnvConfig::Pldm(pldm) = &self.env else {
            unreachable!("set_pldm_task sets env pldm")
        };
        self.env = EnvConfig::RandomWall(RandomWallConfig(pldm.clone()));
        self.data.door_crossing_rate = 0.35;
        self.task.name = "random-wall".into();
        self.eval.seed = eval_seed;
        if !matches!(preset, Preset::Tiny | Preset::Check) {
            self.eval.episodes = ami_envs::random_wall::tasks::EPISODES;
            self.eval.max_steps = ami_envs::random_wall::tasks::EPISODE_STEPS;
        }
    }

    /// Reads a TOML file (all sections optional, defaults from `base`); a file longer than
    /// [`MAX_CONFIG_BYTES`] is refused before it is read.
    pub fn from_toml_file(path: &Path, base: &RunConfig) -> Result<Self, AgentError> {
        let len = std::fs::metadata(path).map_err(AgentError::io(path))?.len();
        if len > MAX_CONFIG_BYTES as u64 {
            return Err(AgentError::config_source(
                path.display().to_string(),
                format!("{len} bytes, more than the {MAX_CONFIG_BYTES} allowed"),
            ));
        }
        let text = std::fs::read_to_string(path).map_err(AgentError::io(path))?;
        Self::from_toml_str(&text, &path.display().to_string(), base)
    }

    /// Parses TOML text (all sections optional, defaults from `base`); `origin` names the text
    /// in errors.
    ///
    /// Bounds: text longer than [`MAX_CONFIG_BYTES`] is refused before parsing; arrays and
    /// inline tables nest at most 80 deep (the TOML parser's limit); parsing and merging with
    /// `base` allocate at most 512 × `text.len()` + 16 MiB.
    pub fn from_toml_str(text: &str, origin: &str, base: &RunConfig) -> Result<Self, AgentError> {
        let bad = |msg: String| AgentError::config_source(origin, msg);
        if text.len() > MAX_CONFIG_BYTES {
            return Err(bad(format!(
                "{} bytes, more than the {MAX_CONFIG_BYTES} allowed",
                text.len()
            )));
        }
        let mut file: toml::Value =
            toml::from_str(text).map_err(|e| bad(format!("not valid TOML: {}", e.message())))?;
        migrate_moved_keys(&mut file);
        let mut merged = to_value(base)?;
        // A file that switches `kind` starts that section from the new kind's defaults.
        let switches = kind_switches(&file, &merged).map_err(|e| bad(e.to_string()))?;
        for (section, defaults) in switches {
            set_table(&mut merged, section, defaults);
        }
        merge(&mut merged, file);
        merged
            .try_into()
            .map_err(|e: toml::de::Error| bad(e.message().to_string()))
    }

    /// Applies `section.key=value` overrides (value parsed as a TOML literal, else a string).
    /// Setting `env.kind` or `planner.kind` resets that section to the new kind's defaults,
    /// so later overrides set that kind's keys. Array entries are addressed by index
    /// (`cost.task.0.weight=2`).
    pub fn with_overrides(self, sets: &[String]) -> Result<Self, AgentError> {
        let mut v = to_value(&self)?;
        for s in sets {
            let origin = format!("--set {s}");
            let (path, raw) = s
                .split_once('=')
                .ok_or_else(|| AgentError::config_source(&origin, "expected section.key=value"))?;
            let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
                .ok()
                .and_then(|t| t.get("v").cloned())
                .unwrap_or_else(|| toml::Value::String(raw.to_string()));
            let path = path.trim();
            let current = |section: &str| v.get(section)?.get("kind")?.as_str().map(String::from);
            match (path, value.as_str()) {
                ("env.kind", Some(kind)) if current("env").as_deref() != Some(kind) => {
                    set_table(&mut v, "env", env_defaults(kind)?)
                }
                ("planner.kind", Some(kind)) if current("planner").as_deref() != Some(kind) => {
                    set_table(&mut v, "planner", planner_defaults(kind)?)
                }
                _ => set_path(&mut v, path, value)
                    .map_err(|msg| AgentError::config_source(&origin, msg))?,
            }
            // Checked after each override, so that a bad value is reported with its key.
            if let Err(e) = v.clone().try_into::<RunConfig>() {
                return Err(AgentError::config_source(&origin, e.message()));
            }
        }
        v.try_into()
            .map_err(|e: toml::de::Error| AgentError::config_source("--set", e.message()))
    }

    /// Range checks of every section (errors name the field).
    pub fn validate(&self) -> Result<(), AgentError> {
        self.env.spec().validate()?;
        self.data.validate()?;
        self.objective.validate()?;
        self.train.validate()?;
        self.guard.validate()?;
        self.planner.validate()?;
        self.cost.validate()?;
        self.task.validate()?;
        self.policy.validate()?;
        self.critic.validate()?;
        if self.agent.critic == CriticMode::Online && !self.cost.uses_critic() {
            return Err(AgentError::config(
                "agent.critic",
                "online",
                "a critic term to refit: add `[[cost.critic]] term = \"critic\"` (or \
                 --set 'cost.critic=[{term=\"critic\", weight=1.0}]')",
            ));
        }
        let image = self.env.spec().obs_shape().len() == 3;
        if self.model.encoder == EncoderKind::Conv && !image {
            return Err(AgentError::config(
                "model.encoder",
                "conv",
                "image observations (env.obs = \"image\"); use \"mlp\" or \"auto\" for state observations",
            ));
        }
        self.model.latent.validate()?;
        if self.objective.reconstruction > 0.0 && !self.model.decoder {
            return Err(AgentError::config(
                "objective.reconstruction",
                self.objective.reconstruction,
                "0 unless model.decoder = true (a reconstruction world model needs a pixel decoder)",
            ));
        }
        if self.model.conv_channels.is_empty() || self.model.conv_channels.contains(&0) {
            return Err(AgentError::config(
                "model.conv_channels",
                format!("{:?}", self.model.conv_channels),
                "at least one positive channel count",
            ));
        }
        for (field, v) in [
            ("agent.horizon", self.agent.horizon),
            ("agent.action_repeat", self.agent.action_repeat),
            ("agent.replan_every", self.agent.replan_every),
            ("eval.episodes", self.eval.episodes),
            ("eval.max_steps", self.eval.max_steps),
            ("model.pool", self.model.pool),
        ] {
            if v == 0 {
                return Err(AgentError::config(field, 0, ">= 1"));
            }
        }
        if self.eval.videos > MAX_VIDEOS {
            return Err(AgentError::config(
                "eval.videos",
                self.eval.videos,
                "at most 100 (MAX_VIDEOS; each video is a GIF of up to eval.max_steps + 1 \
                 frames); 0 writes none",
            ));
        }
        // Tasks and data are drawn from seeded streams of the same generator: equal seeds would
        // make test or validation starts replay the data's starts.
        let e = &self.eval;
        for (field, seed, others) in [
            (
                "eval.seed",
                e.seed,
                [self.data.seed, e.val_seed, e.train_seed],
            ),
            (
                "eval.val_seed",
                e.val_seed,
                [self.data.seed, e.seed, e.train_seed],
            ),
            (
                "eval.train_seed",
                e.train_seed,
                [self.data.seed, e.seed, e.val_seed],
            ),
        ] {
            if others.contains(&seed) {
                return Err(AgentError::config(
                    field,
                    seed,
                    "a seed different from data.seed and from the other task streams' seeds \
                     (eval.seed, eval.val_seed, eval.train_seed)",
                ));
            }
        }
        self.planner.build(self.plan_context(0))?;
        self.hierarchy.level2.validate()?;
        self.hierarchy.planner.validate()?;
        self.hierarchy.graph.validate()?;
        self.hierarchy.imagined.validate()?;
        Ok(())
    }

    /// The seed of `split`'s tasks.
    pub fn task_seed(&self, split: Split) -> u64 {
        match split {
            Split::Val => self.eval.val_seed,
            Split::Test => self.eval.seed,
        }
    }

    /// What the planner takes from the rest of the run.
    pub fn plan_context(&self, seed_offset: u64) -> PlanContext {
        PlanContext {
            horizon: self.agent.horizon,
            max_action_norm: self.env.spec().action_space().max_norm,
            seed_offset,
            action_set: self.env.spec().action_set(),
        }
    }

    /// The configuration as TOML text.
    pub fn to_toml(&self) -> Result<String, AgentError> {
        toml::to_string_pretty(self)
            .map_err(|e| AgentError::config_source("config", format!("cannot write TOML: {e}")))
    }
}

/// The longest configuration file read (1 MiB; a full one is a few KiB).
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// Keys that moved between versions, `(old path, new path)`: a file read with the old key
/// (a run directory written before the move) is read as if it had the new one, unless it
/// sets both.
const MOVED_KEYS: [(&str, &str); 1] = [("hierarchy.planner.escape_calls", "agent.escape_calls")];

/// Moves every [`MOVED_KEYS`] entry of `file` to its new place.
fn migrate_moved_keys(file: &mut toml::Value) {
    for (old, new) in MOVED_KEYS {
        let (old_parent, old_key) = old.rsplit_once('.').unwrap_or(("", old));
        let Some(toml::Value::Table(t)) = old_parent
            .split('.')
            .try_fold(&mut *file, |v, p| v.get_mut(p))
        else {
            continue;
        };
        let Some(value) = t.remove(old_key) else {
            continue;
        };
        let (new_parent, new_key) = new.rsplit_once('.').unwrap_or(("", new));
        let mut at = &mut *file;
        for p in new_parent.split('.') {
            let toml::Value::Table(t) = at else { break };
            at = t
                .entry(p)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        }
        if let toml::Value::Table(t) = at {
            t.entry(new_key).or_insert(value);
        }
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<toml::Value, AgentError> {
    toml::Value::try_from(v)
        .map_err(|e| AgentError::config_source("config", format!("cannot write TOML: {e}")))
}

fn env_defaults(kind: &str) -> Result<toml::Value, AgentError> {
    to_value(&EnvConfig::of_kind(kind)?)
}

fn planner_defaults(kind: &str) -> Result<toml::Value, AgentError> {
    let cfg = PlannerConfig::default_of(kind).ok_or_else(|| {
        AgentError::config(
            "planner.kind",
            kind,
            "a registered planner: mppi, cem, gradient, cem+gradient, beam or mcts",
        )
    })?;
    to_value(&cfg)
}

/// The sections whose `kind` a file changes from `base`'s, with the defaults of that kind.
fn kind_switches(
    file: &toml::Value,
    base: &toml::Value,
) -> Result<Vec<(&'static str, toml::Value)>, AgentError> {
    let kind =
        |v: &toml::Value, section: &str| v.get(section)?.get("kind")?.as_str().map(String::from);
    let mut out = Vec::new();
    for section in ["env", "planner"] {
        match kind(file, section) {
            Some(k) if Some(&k) != kind(base, section).as_ref() => {
                let defaults = if section == "env" {
                    env_defaults(&k)?
                } else {
                    planner_defaults(&k)?
                };
                out.push((section, defaults));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn set_table(root: &mut toml::Value, section: &str, value: toml::Value) {
    if let Some(t) = root.as_table_mut() {
        t.insert(section.to_string(), value);
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

/// Sets the existing key at dotted `path` (tables by key, arrays by index).
fn set_path(root: &mut toml::Value, path: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut cur = root;
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let slot = match cur {
            toml::Value::Table(t) => t.get_mut(*p),
            toml::Value::Array(a) => p.parse::<usize>().ok().and_then(|k| a.get_mut(k)),
            _ => {
                return Err(format!(
                    "`{path}`: `{}` is not a section",
                    parts[..i].join(".")
                ))
            }
        };
        let Some(slot) = slot else {
            return Err(if last {
                format!("unknown key `{path}`")
            } else {
                format!("unknown section `{p}` in `{path}`")
            });
        };
        if last {
            *slot = value;
            return Ok(());
        }
        cur = slot;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The anchor envs' configuration files in `configs/` (README: one command each) parse
    /// over the `check` preset, name the env they say and carry its own success rule (their
    /// validation opens the env, so it needs the bridge: `ami-envs`'s `bridge_gym` tests).
    #[test]
    fn shipped_bridge_configs_parse_with_their_success_rules() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let base = RunConfig::preset(Preset::Check);
        let load = |name: &str| RunConfig::from_toml_file(&dir.join(name), &base).unwrap();
        match load("reacher.toml").env {
            EnvConfig::Dmc(d) => {
                assert_eq!((d.domain.as_str(), d.task.as_str()), ("reacher", "easy"));
                assert_eq!(d.success_radius, 0.06);
            }
            other => panic!("reacher.toml: {other:?}"),
        }
        for (file, id, radius) in [
            ("pointmaze.toml", "PointMaze_UMaze-v3", 0.45),
            ("pusht.toml", "gym_pusht/PushT-v0", 0.05),
            (
                "pendulum.toml",
                "Pendulum-v1",
                ami_envs::GymConfig::default().success_radius,
            ),
        ] {
            match load(file).env {
                EnvConfig::Gym(g) => assert_eq!((g.id.as_str(), g.success_radius), (id, radius)),
                other => panic!("{file}: {other:?}"),
            }
        }
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            names.len(),
            4,
            "a new file in configs/ needs a line here: {names:?}"
        );
    }

    /// The demo's MPPI budget is `default`'s on `two-rooms` only (chosen there); `pldm`,
    /// `random-wall` and `default` in another environment keep MPPI's defaults.
    #[test]
    fn the_demo_planner_budget_is_two_rooms_only() {
        let budget = |c: &RunConfig| match &c.planner {
            PlannerConfig::Mppi(m) => (m.samples, m.iterations),
            other => panic!("{other:?}"),
        };
        let demo = (DEMO_MPPI_SAMPLES, DEMO_MPPI_ITERATIONS);
        let mppi = MppiConfig::default();
        let plain = (mppi.samples, mppi.iterations);
        assert_ne!(demo, plain);
        assert_eq!(budget(&RunConfig::preset(Preset::Default)), demo);
        let two_rooms = RunConfig::preset_in(Preset::Default, "two-rooms").unwrap();
        assert_eq!(budget(&two_rooms), demo);
        for kind in ["two-rooms-hazards", "pendulum", "pldm"] {
            let c = RunConfig::preset_in(Preset::Default, kind).unwrap();
            assert_eq!(budget(&c), plain, "{kind}");
        }
        assert_eq!(budget(&RunConfig::preset(Preset::Pldm)), plain);
        assert_eq!(budget(&RunConfig::preset(Preset::RandomWall)), plain);
    }

    #[test]
    fn presets_validate_and_round_trip_through_toml() {
        for (name, p) in Preset::ALL {
            assert_eq!(name.parse::<Preset>().unwrap(), p);
            let c = RunConfig::preset(p);
            c.validate().unwrap();
            let back = RunConfig::from_toml_str(&c.to_toml().unwrap(), "t", &c).unwrap();
            assert_eq!(back, c, "{name}");
            // A task preset's environment takes the same preset back; no other does.
            if let Some(kind) = p.task_env() {
                assert_eq!(c.env.spec().kind(), kind);
                assert_eq!(RunConfig::preset_in(p, kind).unwrap(), c);
                assert!(RunConfig::preset_in(p, "two-rooms").is_err());
            }
        }
        let err = "pldm2".parse::<Preset>().unwrap_err().to_string();
        assert!(
            err.contains("pldm2") && err.contains("random-wall"),
            "{err}"
        );
    }

    #[test]
    fn the_random_wall_preset_is_pldms_settings_on_eb_jepas_task() {
        let c = RunConfig::preset(Preset::RandomWall);
        let pldm = RunConfig::preset(Preset::Pldm);
        assert_eq!(
            RunConfig::preset_in(Preset::Default, "random-wall").unwrap(),
            c
        );
        let EnvConfig::RandomWall(env) = &c.env else {
            panic!("{:?}", c.env)
        };
        let EnvConfig::Pldm(pldm_env) = &pldm.env else {
            panic!("{:?}", pldm.env)
        };
        assert_eq!(&env.0, pldm_env, "pldm's env settings");
        // PLDM's 65 × 65 frames, averaged over 4 × 4 blocks when observed, as in `pldm`.
        assert_eq!((env.0.pool, c.model.pool), (4, 1));
        assert_eq!(c.env.spec().obs_shape(), vec![2, 16, 16]);
        assert_eq!(c.plan_context(0).max_action_norm, 2.45);
        assert_eq!(c.task.name, "random-wall");
        assert_eq!((c.eval.episodes, c.eval.max_steps), (60, 200));
        assert_eq!(c.eval.seed, RunConfig::preset(Preset::Default).eval.seed);
        // The model and planner are pldm's; training is longer, with the layout as readout.
        assert_eq!((&c.model, &c.planner), (&pldm.model, &pldm.planner));
        assert_eq!(
            TrainConfig {
                steps: 4000,
                rollout_steps: 8,
                batch_size: 128,
                ..c.train.clone()
            },
            pldm.train
        );
        assert_eq!(
            (c.train.steps, c.train.rollout_steps, c.train.batch_size),
            (40_000, 32, 64)
        );
        assert_eq!(c.objective.readout, 1.0);
        // Sub-goals from imagined walks with the default preset's level settings (pldm plans
        // on its data graph; here each trajectory has its own layout).
        let default = RunConfig::preset(Preset::Default);
        assert_eq!(c.agent.planner, PlannerLevels::Imagined);
        assert_eq!(c.hierarchy, default.hierarchy);
        assert_eq!(
            AgentConfig {
                planner: pldm.agent.planner,
                ..c.agent.clone()
            },
            pldm.agent
        );
        let d = &c.data;
        assert_eq!(
            (d.trajectories, d.transitions, d.traj_len),
            (0, 1_000_000, 90)
        );
        assert_eq!(d.door_crossing_rate, 0.35);
        assert_eq!(
            DataConfig {
                door_crossing_rate: 0.6,
                transitions: PLDM_TRANSITIONS,
                ..d.clone()
            },
            pldm.data
        );
        // Tiny and check keep their sizes and short evaluations; check sees states.
        let tiny = RunConfig::preset_in(Preset::Tiny, "random-wall").unwrap();
        tiny.validate().unwrap();
        assert_eq!((tiny.eval.episodes, tiny.data.transitions), (4, 1800));
        assert_eq!(tiny.task.name, "random-wall");
        let check = RunConfig::preset_in(Preset::Check, "random-wall").unwrap();
        check.validate().unwrap();
        assert_eq!(check.env.spec().obs_shape(), vec![4]);
        let err = RunConfig::preset_in(Preset::RandomWall, "pldm")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--env") && err.contains("random-wall"),
            "{err}"
        );
    }

    #[test]
    fn the_pldm_preset_is_pldms_task_data_and_protocol() {
        let c = RunConfig::preset(Preset::Pldm);
        c.validate().unwrap();
        let back = RunConfig::from_toml_str(&c.to_toml().unwrap(), "t", &c).unwrap();
        assert_eq!(back, c);
        assert_eq!("pldm".parse::<Preset>().unwrap(), Preset::Pldm);
        assert_eq!(RunConfig::preset_in(Preset::Pldm, "pldm").unwrap(), c);
        assert_eq!(RunConfig::preset_in(Preset::Default, "pldm").unwrap(), c);
        let EnvConfig::Pldm(env) = &c.env else {
            panic!("{:?}", c.env)
        };
        assert_eq!(env.obs, ObsKind::Image);
        // PLDM's 65 × 65 frames, averaged over 4 × 4 blocks when observed.
        assert_eq!((env.pool, c.model.pool), (4, 1));
        assert_eq!(c.env.spec().obs_shape(), vec![2, 16, 16]);
        assert_eq!(c.plan_context(0).max_action_norm, 2.45);
        assert_eq!(c.task.name, "pldm");
        assert_eq!(c.agent.planner, PlannerLevels::Graph);
        assert_eq!(c.hierarchy.graph.no_route, NoRoute::Imagined);
        assert!(c.hierarchy.train);
        assert_eq!(
            (c.eval.episodes, c.eval.seed, c.eval.max_steps),
            (100, 42, 200)
        );
        let d = &c.data;
        assert_eq!((d.trajectories, d.transitions, d.traj_len), (0, 20_000, 90));
        assert_eq!((d.kappa, d.step_mean, d.step_std), (5.0, 1.0, 0.4));
        assert_eq!(
            (d.step_min, d.step_max, d.door_crossing_rate),
            (0.2, 1.8, 0.6)
        );
        // Other presets in pldm keep their sizes; full's 32 px becomes a pooling of 2.
        let tiny = RunConfig::preset_in(Preset::Tiny, "pldm").unwrap();
        tiny.validate().unwrap();
        assert_eq!((tiny.eval.episodes, tiny.data.transitions), (4, 1800));
        assert_eq!(
            RunConfig::preset_in(Preset::Full, "pldm")
                .unwrap()
                .env
                .spec()
                .obs_shape(),
            vec![2, 32, 32]
        );
        let check = RunConfig::preset_in(Preset::Check, "pldm").unwrap();
        assert_eq!(check.env.spec().obs_shape(), vec![2]);
        let err = RunConfig::preset_in(Preset::Pldm, "two-rooms")
            .unwrap_err()
            .to_string();
        assert!(err.contains("--env"), "{err}");
    }

    #[test]
    fn pldm_data_regimes_are_one_override_each_and_checked_by_name() {
        let c = RunConfig::preset(Preset::Pldm)
            .with_overrides(&[
                "data.door_crossing_rate=0".into(),
                "data.transitions=5078".into(),
                "data.random_fraction=0.84".into(),
                "data.kappa=0".into(),
            ])
            .unwrap();
        c.validate().unwrap();
        assert_eq!(c.data.trajectory_count(), 57);
        for (set, key) in [
            ("data.door_crossing_rate=1.5", "data.door_crossing_rate"),
            ("data.trajectories=10", "data.transitions"),
            ("data.step_max=0.1", "data.step_max"),
            ("model.pool=0", "model.pool"),
        ] {
            let err = RunConfig::preset(Preset::Pldm)
                .with_overrides(&[set.into()])
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{set}: {err}");
        }
    }

    #[test]
    fn maze_presets_observe_states_train_level_2_and_keep_the_maze_episode_budget() {
        for p in [Preset::Check, Preset::Default, Preset::Full] {
            let c = RunConfig::preset_in(p, "maze").unwrap();
            c.validate().unwrap();
            let EnvConfig::Maze(m) = &c.env else {
                panic!("{:?}", c.env)
            };
            assert_eq!(m.obs, ObsKind::State);
            assert_eq!(c.eval.max_steps, m.task.max_steps);
            assert!(c.hierarchy.train && c.eval.heldout_episodes > 0);
            let back = RunConfig::from_toml_str(&c.to_toml().unwrap(), "t", &c).unwrap();
            assert_eq!(back, c);
        }
        assert!(
            !RunConfig::preset_in(Preset::Default, "two-rooms")
                .unwrap()
                .hierarchy
                .train
        );
    }

    #[test]
    fn hierarchy_keys_are_checked_by_name() {
        let c = RunConfig::preset_in(Preset::Tiny, "maze").unwrap();
        for (set, key) in [
            ("hierarchy.level2.k=0", "hierarchy.level2.k"),
            ("hierarchy.planner.beam=0", "hierarchy.planner.beam"),
            (
                "hierarchy.planner.magnitudes=[1.5]",
                "hierarchy.planner.magnitudes",
            ),
            ("hierarchy.planner.merge=-1.0", "hierarchy.planner.merge"),
        ] {
            let bad = c.clone().with_overrides(&[set.to_string()]).unwrap();
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{set}: {err}");
        }
        let err = c
            .clone()
            .with_overrides(&["agent.planner=\"tall\"".to_string()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("agent.planner") || err.contains("tall"),
            "{err}"
        );
    }

    #[test]
    fn task_streams_cannot_collide_with_the_data_or_each_other() {
        let c = RunConfig::preset(Preset::Tiny);
        assert_ne!(c.task_seed(Split::Val), c.task_seed(Split::Test));
        for set in [
            "data.seed=1234",
            "eval.val_seed=1234",
            "data.seed=4321",
            "data.seed=8642",
            "eval.train_seed=4321",
        ] {
            let err = c
                .clone()
                .with_overrides(&[set.into()])
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("eval.") && err.contains("different"),
                "{set}: {err}"
            );
        }
    }

    #[test]
    fn the_model_latent_is_set_from_the_command_line_and_checked() {
        use ami_jepa::LatentConfig;
        let base = RunConfig::preset(Preset::Tiny);
        assert_eq!(base.model.latent, LatentConfig::None);
        let c = base
            .clone()
            .with_overrides(&["model.latent={kind=\"discrete\", k=3}".into()])
            .unwrap();
        assert_eq!(c.model.latent, LatentConfig::discrete(3));
        c.validate().unwrap();
        let back = RunConfig::from_toml_str(&c.to_toml().unwrap(), "t", &base).unwrap();
        assert_eq!(back, c);
        let c = base
            .clone()
            .with_overrides(&["model.latent.kind=discrete".into()])
            .unwrap();
        assert_eq!(c.model.latent, LatentConfig::discrete(2));
        let err = base
            .with_overrides(&["model.latent={kind=\"discrete\", k=1}".into()])
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("model.latent.k"), "{err}");
    }

    #[test]
    fn the_action_bound_is_derived_from_the_env() {
        let c = RunConfig::preset(Preset::Default)
            .with_overrides(&["env.max_step=3".into()])
            .unwrap();
        assert_eq!(c.plan_context(0).max_action_norm, 3.0);
        let text = c.to_toml().unwrap();
        assert!(!text.contains("max_action_norm"), "{text}");
        assert!(!text.contains("obs_mean"), "{text}");
    }

    #[test]
    fn overrides_switch_kinds_and_name_bad_keys() {
        let c = RunConfig::preset(Preset::Tiny)
            .with_overrides(&[
                "env.kind=\"pendulum\"".into(),
                "env.max_torque=1.5".into(),
                "planner.kind=\"cem\"".into(),
                "planner.elites=8".into(),
                "cost.task.0.terminal_weight=2.0".into(),
                "agent.actor=\"policy+planner\"".into(),
            ])
            .unwrap();
        assert_eq!(c.env.kind(), "pendulum");
        assert_eq!(c.agent.actor, ActorKind::PolicyPlanner);
        assert_eq!(c.plan_context(0).max_action_norm, 1.5);
        assert!(matches!(c.planner, PlannerConfig::Cem(ref k) if k.elites == 8));
        for (set, word) in [
            ("mppi.samples=3", "mppi"),
            ("planner.samplez=3", "planner.samplez"),
            ("env.kind=\"nope\"", "nope"),
            ("planner.kind=\"nope\"", "planner.kind"),
            ("cost.task.3.weight=1", "cost.task.3.weight"),
            ("agent.actor=\"bogus\"", "agent.actor"),
            ("agent.critic=\"sometimes\"", "agent.critic"),
        ] {
            let err = RunConfig::preset(Preset::Tiny)
                .with_overrides(&[set.into()])
                .unwrap_err()
                .to_string();
            assert!(err.contains(word), "{set}: {err}");
        }
        // Naming the kind a section already has keeps its settings.
        let c = RunConfig::preset(Preset::Default)
            .with_overrides(&["env.kind=\"two-rooms\"".into()])
            .unwrap();
        assert_eq!(c, RunConfig::preset(Preset::Default));
        let base = RunConfig::preset(Preset::Default);
        let same = RunConfig::from_toml_str("[env]\nkind = \"two-rooms\"\n", "f", &base).unwrap();
        assert_eq!(same, base);
        let file = "[env]\nkind = \"pendulum\"\ndt = 0.1\n";
        let c = RunConfig::from_toml_str(file, "f.toml", &RunConfig::default()).unwrap();
        assert!(matches!(c.env, EnvConfig::Pendulum(ref p) if p.dt == 0.1));
    }

    #[test]
    fn a_moved_key_is_read_at_its_old_place_and_the_new_place_wins() {
        let base = RunConfig::default();
        let old = "[hierarchy.planner]\nescape_calls = 5\n";
        let c = RunConfig::from_toml_str(old, "run/config.toml", &base).unwrap();
        assert_eq!(c.agent.escape_calls, 5);
        assert_eq!(c.hierarchy.planner, base.hierarchy.planner);
        let both = "[agent]\nescape_calls = 2\n[hierarchy.planner]\nescape_calls = 5\n";
        let c = RunConfig::from_toml_str(both, "f.toml", &base).unwrap();
        assert_eq!(c.agent.escape_calls, 2);
        // Written back, the key is at its new place only.
        let text = c.to_toml().unwrap();
        assert!(text.contains("escape_calls = 2"), "{text}");
        assert_eq!(text.matches("escape_calls").count(), 1, "{text}");
        // Overrides use the current names.
        let err = base
            .clone()
            .with_overrides(&["hierarchy.planner.escape_calls=1".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("escape_calls"), "{err}");
    }
}
