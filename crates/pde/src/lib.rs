//! `ami-pde`: 1-D periodic pseudo-spectral solvers for viscous Burgers, Korteweg–de Vries and
//! Kuramoto–Sivashinsky, random-initial-condition data sets, and the Lie point symmetries of
//! each equation as exact transformations of a sampled solution.
//!
//! The pieces, in the order of the computation:
//! * [`spectral`] — the periodic grid, its FFT, spectral derivatives and shifts;
//! * [`equation`] — the three PDEs as `u_t = 𝓛u − a·u·u_x` (conventions and coefficients);
//! * [`etdrk4`] — the ETDRK4 time stepper (Cox–Matthews, Kassam–Trefethen coefficients);
//! * [`solve`] — one trajectory, with the time-step rule and the blow-up checks;
//! * [`config`] — the settings of a data set, `--set` overrides, validation;
//! * [`dataset`] — random initial conditions and coefficients, `N` trajectories;
//! * [`dataset_file`] — `.npz` + JSON sidecar;
//! * [`exact`] — the Cole–Hopf solution of Burgers and the solver's measured accuracy;
//! * [`invariants`] — KdV invariants and the KS energy budget (solver checks);
//! * [`symmetry`] — the Lie point symmetries of each equation, applied to a trajectory;
//! * [`residual`] — the residual of the discretised equation on a trajectory's frames.

pub mod config;
pub mod dataset;
pub mod dataset_file;
pub mod equation;
pub mod error;
pub mod etdrk4;
pub mod exact;
pub mod invariants;
pub mod residual;
pub mod solve;
pub mod spectral;
pub mod symmetry;

pub use config::PdeConfig;
pub use dataset::{simulate, PdeDataset, Trajectory};
pub use equation::Equation;
pub use error::PdeError;
pub use residual::{residual, Residual};
pub use solve::{solve, Schedule, COURANT_LIMIT};
pub use spectral::Spectral;
pub use symmetry::{apply, Symmetry};
