//! `ami-energy`: the energy-based-model toolbox (DESIGN §2, REFERENCE §7 and §10).
//!
//! Classic EBMs in `f64` on plain row-major matrices, each matching scikit-learn's semantics
//! (the fixtures in `tests/fixtures` were produced by scikit-learn and are checked to 1e-8):
//!
//! | model | energy | fitted by |
//! |---|---|---|
//! | [`Pca`] | reconstruction error ‖x − μ − WᵀW(x − μ)‖²; probabilistic-PCA log-density | eigen-decomposition of the covariance |
//! | [`KMeans`] | F∞(x) = min_k ‖x − c_k‖² | Lloyd |
//! | [`GaussianMixture`] | free energy −log p(x) = −log Σ_k π_k N(x; μ_k, Σ_k) | EM |
//! | [`SparseCoder`] | ½‖x − zD‖² + λ‖z‖₁, minimised over z | ISTA, FISTA, coordinate descent |
//! | [`Dictionary`] | as the sparse coder, with learned atoms | alternating FISTA and block-coordinate atom updates |
//! | [`Rbm`] | free energy −bᵀv − Σ_j softplus(c_j + W_j·v) | PCD or CD-k (`BernoulliRBM.fit`'s schedule) |
//!
//! Estimators follow linfa's shape: `Model::params(..)` returns an unchecked builder,
//! `.check()` validates it into `*ValidParams`, and [`Fit::fit`] (on either) returns the
//! fitted model or a typed [`EnergyError`]. NaN/inf data, impossible shapes and degenerate
//! fits are errors, never NaN outputs.
//!
//! Modules: [`matrix`] (the array type), [`linalg`] (Jacobi eigensolver, Cholesky), [`rng`]
//! (seeded SplitMix64), [`pca`], [`kmeans`], [`gmm`], [`sparse`], [`dictionary`], [`rbm`];
//! the EBM foundations [`inference`], [`contrastive`], [`langevin`], [`hopfield`]; the f64
//! networks [`mlp`], [`autoencoder`], [`vae`], [`lista`], [`mlp_energy`]; [`metrics`]; and
//! [`ssl`], f64 reference implementations of the self-supervised joint-embedding losses
//! (VICReg, Barlow Twins, BYOL, SimSiam, NT-Xent, InfoNCE, I-JEPA, SwAV's Sinkhorn) with their
//! exact gradients.

#[macro_use]
mod simd;

pub mod autoencoder;
pub mod contrastive;
pub mod dictionary;
pub mod error;
mod gemm;
pub mod gmm;
pub mod hopfield;
pub mod inference;
pub mod kmeans;
pub mod langevin;
pub mod linalg;
pub mod lista;
pub mod matrix;
pub mod metrics;
pub mod mlp;
pub mod mlp_energy;
pub mod pca;
pub mod rbm;
pub mod rng;
pub mod scatter;
pub mod sparse;
pub mod ssl;
mod tridiagonal;
pub mod vae;

pub use dictionary::{Dictionary, DictionaryInit, DictionaryParams, DictionaryValidParams};
pub use error::{EnergyError, Result};
pub use gmm::{GaussianMixture, GmmInit, GmmParams, GmmValidParams};
pub use kmeans::{KMeans, KMeansInit, KMeansParams, KMeansValidParams};
pub use matrix::Matrix;
pub use pca::{Pca, PcaParams, PcaValidParams};
pub use rbm::{Rbm, RbmLearning, RbmParams, RbmValidParams};
pub use sparse::{SparseAlgorithm, SparseCoder, SparseCoderParams, SparseCodes};

/// Fits a model to data `[n_samples, n_features]`.
pub trait Fit {
    /// The fitted model.
    type Model;
    /// Fits, validating parameters and data first.
    fn fit(&self, x: &matrix::Matrix) -> Result<Self::Model>;
}

/// A fitted model seen as an energy: one scalar per sample, low = compatible.
pub trait SampleEnergy {
    /// Energy of each row of `x` `[n, p]`, `[n]`.
    fn energy(&self, x: &matrix::Matrix) -> Result<Vec<f64>>;
}
