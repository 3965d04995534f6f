//! `ami envs setup`: the bridge's virtual environment ([`python::venv_dir`]) with the pinned
//! packages ([`PACKAGES`]), checked by importing them.
//!
//! Steps: `BASE -m venv DIR` (skipped when `DIR/bin/python` exists), `DIR/bin/python -m pip
//! install PACKAGES…`, then one import check. `BASE` is `--python`, else `python3`. The
//! commands inherit the terminal, so pip's progress is visible. Offscreen rendering (pixel
//! observations) also needs system libraries that pip cannot install: [`APT_PACKAGES`].

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bridge::python;
use crate::error::EnvError;

/// The pinned Python packages of the bridge.
pub const PACKAGES: &[&str] = &[
    "gymnasium[classic-control,mujoco]==1.4.0",
    "mujoco==3.17.0",
    "dm-control==1.0.50",
    "gymnasium-robotics==1.4.2",
    "ogbench==1.2.2",
    "gym-pusht==0.1.8",
];

/// Debian/Ubuntu packages for offscreen rendering (EGL, or OSMesa without a GPU driver).
pub const APT_PACKAGES: &[&str] = &["libegl1", "libegl-mesa0", "libgl1-mesa-dri", "libosmesa6"];

/// The modules the import check loads.
const CHECK: &str = "import gymnasium, mujoco, dm_control.suite, gymnasium_robotics, ogbench, \
                     gym_pusht; print(gymnasium.__version__, mujoco.__version__)";

/// What `ami envs setup` did.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupReport {
    /// The virtual environment.
    pub venv: PathBuf,
    /// Its interpreter (what the bridge runs unless `AMI_PYTHON` is set).
    pub python: PathBuf,
    /// Whether the virtual environment was created now.
    pub created: bool,
    /// Output of the import check (`gymnasium` and `mujoco` versions).
    pub versions: String,
}

/// Creates (or reuses) the virtual environment, installs [`PACKAGES`] and checks them;
/// `base_python` creates the environment (default `python3`), `log` hears each step.
pub fn setup(
    base_python: Option<&Path>,
    log: &mut dyn FnMut(&str),
) -> Result<SetupReport, EnvError> {
    let venv = python::venv_dir();
    let py = python::venv_python(&venv);
    let created = !py.exists();
    if created {
        let base = base_python.unwrap_or(Path::new("python3"));
        log(&format!(
            "creating the virtual environment {}",
            venv.display()
        ));
        run(
            Command::new(base).arg("-m").arg("venv").arg(&venv),
            "python -m venv",
        )?;
    } else {
        log(&format!("using the virtual environment {}", venv.display()));
    }
    log(&format!("installing {}", PACKAGES.join(" ")));
    run(
        Command::new(&py).args(["-m", "pip", "install", "--upgrade", "pip"]),
        "pip install --upgrade pip",
    )?;
    run(
        Command::new(&py)
            .args(["-m", "pip", "install"])
            .args(PACKAGES),
        "pip install",
    )?;
    log("checking the imports");
    let out = Command::new(&py)
        .args(["-c", CHECK])
        .output()
        .map_err(|e| {
            setup_error(
                "import check",
                format!("cannot start {}: {e}", py.display()),
            )
        })?;
    if !out.status.success() {
        return Err(setup_error(
            "import check",
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(SetupReport {
        venv,
        python: py,
        created,
        versions: String::from_utf8_lossy(&out.stdout).trim().to_string(),
    })
}

fn setup_error(step: &str, detail: String) -> EnvError {
    EnvError::Setup {
        step: step.into(),
        detail,
    }
}

/// Runs `cmd` with the terminal attached; a failure names `what` and the exit status.
fn run(cmd: &mut Command, what: &str) -> Result<(), EnvError> {
    let status = cmd
        .status()
        .map_err(|e| setup_error(what, format!("cannot start {:?}: {e}", cmd.get_program())))?;
    if status.success() {
        Ok(())
    } else {
        Err(setup_error(what, format!("failed ({status})")))
    }
}
