//! `ami data shapes` and `ami data moving-shapes`: procedural image and video sets with known
//! factors. Only the command line is parsed here; the generators, their checks and the file
//! layout are `ami_envs::images`'.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use ami_envs::images::{ImageData, MovingShapesConfig, ShapesConfig};

/// `ami data shapes …`.
#[derive(clap::Args)]
pub struct ShapesArgs {
    /// Number of images.
    #[arg(long)]
    pub n: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output `.npz` with `images [N, 3, S, S]`, `labels [N]`, `factors [N, 5]`
    /// (x, y, scale, rotation, hue); a `.json` sidecar names factors and classes.
    #[arg(long)]
    pub out: PathBuf,
    /// Image side in pixels.
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    /// Pixel noise standard deviation (0 = clean).
    #[arg(long, default_value_t = 0.03)]
    pub noise: f64,
}

/// `ami data moving-shapes …`.
#[derive(clap::Args)]
pub struct MovingShapesArgs {
    /// Number of videos.
    #[arg(long)]
    pub n: usize,
    /// Frames per video.
    #[arg(long, default_value_t = 8)]
    pub frames: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output `.npz` with `videos [N, T, 3, S, S]`, `labels [N]`, `factors [N, T, 4]`
    /// (x, y, vx, vy per frame); a `.json` sidecar names factors and classes.
    #[arg(long)]
    pub out: PathBuf,
    /// Image side in pixels.
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    /// Pixel noise standard deviation (0 = clean).
    #[arg(long, default_value_t = 0.03)]
    pub noise: f64,
}

/// Generates and saves a `shapes` set.
pub fn shapes(a: &ShapesArgs) -> Result<()> {
    let cfg = ShapesConfig {
        size: a.size,
        noise_std: a.noise,
        ..ShapesConfig::default()
    };
    save(cfg.generate(a.n, a.seed)?, &a.out)
}

/// Generates and saves a `moving-shapes` set.
pub fn moving_shapes(a: &MovingShapesArgs) -> Result<()> {
    let cfg = MovingShapesConfig {
        frames: a.frames,
        shapes: ShapesConfig {
            size: a.size,
            noise_std: a.noise,
            ..ShapesConfig::default()
        },
        ..MovingShapesConfig::default()
    };
    save(cfg.generate(a.n, a.seed)?, &a.out)
}

fn save(d: ImageData, out: &Path) -> Result<()> {
    d.save(out)
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "wrote {} {:?} ({} classes, factors {}) to {}",
        d.array,
        d.shape,
        d.sidecar.classes.len(),
        d.sidecar.factors.join(", "),
        out.display()
    );
    Ok(())
}
