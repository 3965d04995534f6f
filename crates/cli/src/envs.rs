//! `ami envs …`: the environment bridge's Python side (`ami_envs::bridge::setup`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use ami_envs::bridge::setup::{setup, APT_PACKAGES, PACKAGES};

/// `ami envs` subcommands.
#[derive(Subcommand)]
pub enum EnvsCommand {
    /// Create the virtual environment of the Gymnasium / DeepMind Control bridge (in the cache
    /// directory, or `$AMI_VENV`) and install its pinned packages with pip.
    Setup {
        /// Python that creates the virtual environment (default `python3`).
        #[arg(long)]
        python: Option<PathBuf>,
    },
}

/// Runs an `ami envs` subcommand.
pub fn run(cmd: EnvsCommand) -> Result<()> {
    match cmd {
        EnvsCommand::Setup { python } => {
            eprintln!("ami envs setup: {}", PACKAGES.join(" "));
            let report = setup(python.as_deref(), &mut |msg| {
                eprintln!("ami envs setup: {msg}")
            })?;
            println!("virtual environment: {}", report.venv.display());
            println!("python for the bridge: {}", report.python.display());
            println!("gymnasium, mujoco: {}", report.versions);
            println!(
                "pixel observations render offscreen (MUJOCO_GL=egl, or osmesa without EGL) and \
                 need the system packages: apt-get install {}",
                APT_PACKAGES.join(" ")
            );
            println!(
                "try: ami data gym --id Pendulum-v1 --transitions 10000 --out data/pendulum.npz"
            );
            Ok(())
        }
    }
}
