//! Specialised CPU kernels for the planner hot path (DESIGN.md §2: "a planner hot path may use
//! a specialised kernel where measurement shows the generic path is the bottleneck — keep it
//! behind the same trait and test it against the generic path").
//!
//! A frozen predictor MLP is copied once into contiguous row-major buffers ([`DenseMlp`]);
//! rollouts ([`DenseWorldModel`], a [`crate::WorldModel`]) and gradient plans
//! ([`gradient_plan`]) then run on the `gemm` crate with reused buffers and fused
//! bias + ReLU passes, instead of burn's generic tensor path. Where the CPU has AVX-512F the
//! products run on a kernel with the weights packed once ([`packed`]); [`KernelPath`] chooses
//! explicitly (tests run both).

pub mod dense_mlp;
pub mod dynamics;
pub mod gemm;
pub mod gradient_plan;
pub mod packed;
pub mod train_step;

pub use dense_mlp::{
    Activations, BackwardOptions, BackwardScratch, DenseLayer, DenseMlp, KernelPath, LayerGrad,
};
pub use dynamics::{DenseDynamics, DenseWorldModel, RolloutWorkspace, StepKind};
pub use gradient_plan::{gradient_plan, loss_and_grad, AdamSettings, GradientPlanBuffers};
pub use train_step::{AdamWSettings, DenseJepaTrainer, TrainLoss, VicregSettings};
