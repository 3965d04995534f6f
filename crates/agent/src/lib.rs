//! `ami-agent`: the objective-driven agent of DESIGN.md §1 — the world model as planners see
//! it, the cost module (intrinsic, guardrail, task and critic terms), planners (MPPI, CEM,
//! gradient through the world model, CEM + gradient), short-term memory, the critic trained
//! from it, and the amortised policy.
//!
//! The benchmark workloads (and the dense-kernel program only they run: the fused training
//! step) live in the `ami-bench` crate.
//!
//! All buffers are flat, row-major `f32` slices; every function documents its shapes.

pub mod cost;
pub mod cost_config;
pub mod coverage;
pub mod critic;
pub mod data_graph;
pub mod data_support;
pub mod episode;
pub mod error;
pub mod guided;
pub mod imagined_error;
pub mod jepa_model;
pub mod kernel;
pub mod latent_paths;
pub mod level2;
pub mod memory;
pub mod perception;
pub mod pipeline;
pub mod planner;
pub mod policy;
pub mod probe;
pub mod readout_head;
pub mod regression;
pub mod risk;
pub mod task;
pub mod terms;
pub mod world_model;

pub use cost::{
    ActionEnergy, Cost, CostKind, CostTerm, FixedCost, GoalDistance, RolloutBatch, GUARDRAIL_WEIGHT,
};
pub use cost_config::{CostConfig, CostContext, CostTermConfig, GuardrailConfig, WorldReadout};
pub use critic::{lambda_returns, Critic, CriticConfig, CriticTerm};
pub use episode::{
    run_episode, run_task_episode, ActSettings, Actor, EpisodeOutcome, ImaginedPlan,
};
pub use error::AgentError;
pub use guided::{PolicyGuided, WarmStart};
pub use jepa_model::JepaWorldModel;
pub use latent_paths::LatentPaths;
pub use memory::{Episode, ShortTermMemory, Transition};
pub use perception::Perception;
pub use planner::{
    project_to_ball, Adam, Cem, CemConfig, CemGradient, CemGradientConfig, Gradient,
    GradientConfig, Mppi, MppiConfig, Plan, PlanContext, Planner, PlannerConfig,
};
pub use policy::{Policy, PolicyConfig};
pub use probe::{ProbeError, StateProbe};
pub use readout_head::{FeatureReader, ReadoutHead};
pub use regression::{RegressionConfig, Regressor, Samples};
pub use risk::Risk;
pub use task::{Target, TaskConfig, TaskEpisode, TaskSpec};
pub use terms::{HazardGuardrail, RegionDistance, StateBox};
pub use world_model::{LinearWorldModel, WorldModel};
