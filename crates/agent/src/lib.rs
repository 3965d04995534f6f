//! `ami-agent`: the objective-driven agent of DESIGN.md §1 — the world model as planners see
//! it, the cost module (intrinsic, guardrail, task and critic terms), planners (MPPI, CEM,
//! gradient through the world model, CEM + gradient) and short-term memory.
//!
//! The benchmark workloads (and the dense-kernel program only they run: the fused training
//! step) live in the `ami-bench` crate.
//!
//! All buffers are flat, row-major `f32` slices; every function documents its shapes.

pub mod cost;
pub mod cost_config;
pub mod episode;
pub mod error;
pub mod jepa_model;
pub mod kernel;
pub mod memory;
pub mod perception;
pub mod pipeline;
pub mod planner;
pub mod world_model;

pub use cost::{ActionEnergy, Cost, CostKind, CostTerm, GoalDistance, RolloutBatch};
pub use cost_config::{CostConfig, CostContext, CostTermConfig};
pub use episode::{run_episode, ActSettings, Actor, EpisodeOutcome};
pub use error::AgentError;
pub use jepa_model::JepaWorldModel;
pub use memory::{Episode, ShortTermMemory, Transition};
pub use perception::Perception;
pub use planner::{
    project_to_ball, Adam, Cem, CemConfig, CemGradient, CemGradientConfig, Gradient,
    GradientConfig, Mppi, MppiConfig, Plan, PlanContext, Planner, PlannerConfig,
};
pub use world_model::{LinearWorldModel, WorldModel};
