//! `ami data pde burgers|kdv|ks`: trajectories of a 1-D periodic PDE from random initial
//! conditions and coefficients. Only the command line is parsed here; the settings, their
//! checks, the solvers and the file format are `ami_pde`'s.

use std::path::PathBuf;

use anyhow::{Context, Result};

use ami_pde::{Equation, PdeConfig, PdeDataset};

use crate::progress::bar;

/// `ami data pde …`.
#[derive(clap::Args)]
pub struct PdeDataArgs {
    /// Equation: burgers (u_t + u u_x = ν u_xx), kdv (u_t + 6 u u_x + δ u_xxx = 0) or ks
    /// (u_t + u u_x + u_xx + ν u_xxxx = 0).
    pub equation: String,
    /// Number of trajectories.
    #[arg(long)]
    pub n: usize,
    /// Output `.npz` with `u [N, T, X]`, the coefficient (`nu` or `delta`) `[N]`, `x [X]`,
    /// `t [T]`; a `.json` sidecar with the settings is written beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the initial conditions and coefficients.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Override one setting (repeatable): length, grid, dt, save_every, frames, warmup,
    /// nu_min/nu_max (burgers, ks) or delta_min/delta_max (kdv), ic_modes,
    /// ic_max_wavenumber, ic_amplitude.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

/// Generates, saves and reports one data set.
pub fn data(args: &PdeDataArgs) -> Result<()> {
    let equation: Equation = args.equation.parse()?;
    let cfg = PdeConfig::default_for(equation).with_overrides(&args.sets)?;
    cfg.validate()?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pb = bar(equation.name(), args.n as u64);
    let ds = PdeDataset::generate(&cfg, args.n, args.seed, threads, &|done| {
        pb.set_position(done as u64)
    });
    pb.finish_and_clear();
    let ds = ds?;
    ds.save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let (lo, hi) = ds
        .coef
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &c| {
            (a.min(c), b.max(c))
        });
    eprintln!(
        "wrote {} {} trajectories × {} frames × {} points ({} from {lo:.4} to {hi:.4}) to {}",
        ds.n_traj,
        equation.name(),
        cfg.frames,
        cfg.grid,
        equation.coefficient_name(),
        args.out.display()
    );
    Ok(())
}
