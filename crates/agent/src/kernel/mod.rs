//! Specialised CPU kernels for the planner hot path (DESIGN.md §2: "a planner hot path may use
//! a specialised kernel where measurement shows the generic path is the bottleneck — keep it
//! behind the same trait and test it against the generic path").
//!
//! A frozen predictor MLP is copied once into contiguous row-major buffers ([`DenseMlp`]);
//! rollouts ([`DenseWorldModel`], a [`crate::WorldModel`]) then run on the `gemm` crate with
//! reused buffers and fused bias + ReLU passes, instead of burn's generic tensor path. Where
//! the CPU has AVX-512F or AVX2 + FMA the products run on a kernel with the weights packed once
//! ([`packed`]); [`KernelPath`] chooses explicitly (tests run both). [`DenseMlp`] also has the
//! backward passes (with respect to the input, and with weight gradients) and
//! [`DenseDynamics`] a rollout that keeps a tape of every step, and its vector–Jacobian
//! product with respect to the actions ([`adjoint`]): the gradient planner, the gradient plan
//! and the fused training step of the `ami-bench` crate are built on them. [`jepa_grad`]
//! computes the world model's whole training loss and gradients on them (with [`conv`] and
//! [`vicreg`]) for `ami train` (`train.engine`).

pub mod adjoint;
pub mod conv;
pub mod dense_mlp;
pub mod dynamics;
pub mod gemm;
pub mod jepa_grad;
pub mod packed;
pub mod vicreg;

pub use adjoint::VjpWorkspace;
pub use conv::{ConvScratch, ConvShape, DenseConv, Layout};
pub use dense_mlp::{
    relu_mask, summed_grads, Activations, BackwardOptions, BackwardScratch, DenseLayer, DenseMlp,
    KernelPath, LayerGrad,
};
pub use dynamics::{DenseDynamics, DenseWorldModel, RolloutWorkspace, StepKind};
pub use gemm::Threads;
pub use jepa_grad::DenseJepaGradients;
