//! Data sets of trajectories: random initial conditions and coefficients, integration, and one
//! trajectory as a [`Trajectory`] for the symmetry transformations.
//!
//! Trajectory `i` draws from its own SplitMix64 stream seeded by `(seed, i)`, so a data set of
//! `N` trajectories is the first `N` of any larger one with the same seed, whatever the number
//! of threads.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ami_sampling::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::config::PdeConfig;
use crate::equation::Equation;
use crate::error::PdeError;
use crate::solve::solve;
use crate::spectral::Spectral;

/// The random stream of one trajectory: [`SplitMix64`] (Steele, Lea & Flood 2014).
#[derive(Debug, Clone)]
pub struct Rng(SplitMix64);

impl Rng {
    /// The stream of trajectory `index` of a data set seeded by `seed`.
    pub fn stream(seed: u64, index: u64) -> Self {
        let mut r = SplitMix64::new(seed ^ 0x5DEE_CE66_D1CE_4E5B);
        let mixed = r.next_u64() ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Rng(SplitMix64::new(mixed))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, 1)` (53 random bits).
    pub fn uniform(&mut self) -> f64 {
        self.0.uniform()
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
}

/// The random initial condition `u₀(x) = Σ_j A_j sin(2π l_j x/L + φ_j)` (see [`crate::config`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitialCondition {
    /// Amplitudes `A_j`.
    pub amplitudes: Vec<f64>,
    /// Wavenumber indices `l_j`.
    pub wavenumbers: Vec<usize>,
    /// Phases `φ_j`.
    pub phases: Vec<f64>,
}

impl InitialCondition {
    /// Draws one initial condition of `cfg`.
    pub fn sample(cfg: &PdeConfig, rng: &mut Rng) -> Self {
        let mut ic = InitialCondition {
            amplitudes: vec![],
            wavenumbers: vec![],
            phases: vec![],
        };
        for _ in 0..cfg.ic_modes {
            ic.amplitudes
                .push(rng.range(-cfg.ic_amplitude, cfg.ic_amplitude));
            let l = 1 + (rng.uniform() * cfg.ic_max_wavenumber as f64) as usize;
            ic.wavenumbers.push(l.min(cfg.ic_max_wavenumber));
            ic.phases.push(rng.range(0.0, 2.0 * std::f64::consts::PI));
        }
        ic
    }

    /// `u₀` on the grid points `x` of a domain of length `length`.
    pub fn eval(&self, x: &[f64], length: f64) -> Vec<f64> {
        let w = 2.0 * std::f64::consts::PI / length;
        x.iter()
            .map(|&x| {
                (0..self.amplitudes.len())
                    .map(|j| {
                        self.amplitudes[j]
                            * (w * self.wavenumbers[j] as f64 * x + self.phases[j]).sin()
                    })
                    .sum()
            })
            .collect()
    }
}

/// A coefficient drawn log-uniformly in `[lo, hi]`: `exp(U[ln lo, ln hi])`.
pub fn sample_coefficient(lo: f64, hi: f64, rng: &mut Rng) -> f64 {
    rng.range(lo.ln(), hi.ln()).exp().clamp(lo, hi)
}

/// One sampled solution `u(x_j, t_k)` on its grid, the object the symmetries transform.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// The equation it solves.
    pub equation: Equation,
    /// Its coefficient (ν or δ).
    pub coef: f64,
    /// Domain length `L`.
    pub length: f64,
    /// Time between frames.
    pub frame_dt: f64,
    /// Time of the first frame.
    pub t0: f64,
    /// Frames `T`.
    pub frames: usize,
    /// Grid points `X`.
    pub grid: usize,
    /// Values `[T × X]`, row-major.
    pub u: Vec<f64>,
}

impl Trajectory {
    /// Frame `k` (`X` values).
    pub fn frame(&self, k: usize) -> &[f64] {
        &self.u[k * self.grid..(k + 1) * self.grid]
    }

    /// Frame times `t_k = t₀ + k·Δt`.
    pub fn times(&self) -> Vec<f64> {
        (0..self.frames)
            .map(|k| self.t0 + k as f64 * self.frame_dt)
            .collect()
    }

    /// The grid of this trajectory.
    pub fn spectral(&self) -> Result<Spectral, PdeError> {
        Spectral::new(self.length, self.grid)
    }
}

/// Integrates trajectory `index` of a data set: its coefficient and frames.
pub fn simulate(cfg: &PdeConfig, seed: u64, index: u64) -> Result<Trajectory, PdeError> {
    let spec = Spectral::new(cfg.length, cfg.grid)?;
    let mut rng = Rng::stream(seed, index);
    let coef = sample_coefficient(cfg.coef_min, cfg.coef_max, &mut rng);
    let ic = InitialCondition::sample(cfg, &mut rng);
    let u0 = ic.eval(&spec.points(), cfg.length);
    let u = solve(cfg.equation, coef, &spec, &u0, cfg.schedule())?;
    Ok(Trajectory {
        equation: cfg.equation,
        coef,
        length: cfg.length,
        frame_dt: cfg.schedule().frame_dt(),
        t0: 0.0,
        frames: cfg.frames,
        grid: cfg.grid,
        u,
    })
}

/// `N` trajectories of one configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PdeDataset {
    /// The settings.
    pub config: PdeConfig,
    /// The seed.
    pub seed: u64,
    /// Number of trajectories `N`.
    pub n_traj: usize,
    /// Values `[N × T × X]` (float32, as saved).
    pub u: Vec<f32>,
    /// The coefficient of each trajectory `[N]`.
    pub coef: Vec<f64>,
}

impl PdeDataset {
    /// Generates `n` trajectories on `threads` threads (≥ 1), calling `progress(done)` after
    /// each. The config is validated first; the first trajectory that fails (NaN, Courant
    /// limit) stops the generation and its error is returned.
    pub fn generate(
        cfg: &PdeConfig,
        n: usize,
        seed: u64,
        threads: usize,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Self, PdeError> {
        cfg.validate()?;
        if n == 0 {
            return Err(PdeError::setting("n", 0, "at least 1 trajectory"));
        }
        let threads = threads.clamp(1, n);
        let done = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let results: Vec<Vec<(usize, Result<Trajectory, PdeError>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|w| {
                    let (done, failed) = (&done, &failed);
                    s.spawn(move || {
                        (w..n)
                            .step_by(threads)
                            .map_while(|i| {
                                if failed.load(Ordering::Relaxed) {
                                    return None;
                                }
                                let r = simulate(cfg, seed, i as u64);
                                if r.is_err() {
                                    failed.store(true, Ordering::Relaxed);
                                }
                                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                                Some((i, r))
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a generator thread panicked"))
                .collect()
        });
        let mut all: Vec<(usize, Result<Trajectory, PdeError>)> =
            results.into_iter().flatten().collect();
        all.sort_by_key(|(i, _)| *i);
        let per = cfg.frames * cfg.grid;
        let mut ds = PdeDataset {
            config: cfg.clone(),
            seed,
            n_traj: n,
            u: Vec::with_capacity(n * per),
            coef: Vec::with_capacity(n),
        };
        for (_, r) in all {
            let traj = r?;
            ds.u.extend(traj.u.iter().map(|&v| v as f32));
            ds.coef.push(traj.coef);
        }
        Ok(ds)
    }

    /// Trajectory `i` (values widened back to f64).
    pub fn trajectory(&self, i: usize) -> Trajectory {
        let per = self.config.frames * self.config.grid;
        Trajectory {
            equation: self.config.equation,
            coef: self.coef[i],
            length: self.config.length,
            frame_dt: self.config.schedule().frame_dt(),
            t0: 0.0,
            frames: self.config.frames,
            grid: self.config.grid,
            u: self.u[i * per..(i + 1) * per]
                .iter()
                .map(|&v| v as f64)
                .collect(),
        }
    }
}
