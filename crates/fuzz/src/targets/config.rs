//! The run configuration `config.toml`: `RunConfig::from_toml_str` then `validate`, as
//! `RunDir::read_config` and `--config FILE` do (bound: 512 × the input + 16 MiB, as
//! documented).

use std::path::Path;

use ami_agent::pipeline::{Preset, RunConfig};

use crate::bytes;
use crate::rng::Rng;
use crate::tree::mutate_toml;
use crate::Target;

/// The config-TOML target; holds the defaults every file is merged over.
pub struct Config {
    base: RunConfig,
}

impl Config {
    /// The target.
    pub fn new() -> Self {
        Config {
            base: RunConfig::default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

/// Inserts `key = [[[…1…]]]` (arrays nested `depth` deep) on a new line.
fn nest(rng: &mut Rng, b: &mut Vec<u8>) {
    let depth = *rng.pick(&[50usize, 79, 80, 81, 1000, 50_000]);
    let text = format!("\nx = {}1{}\n", "[".repeat(depth), "]".repeat(depth));
    let at = if rng.one_in(2) { 0 } else { b.len() };
    b.splice(at..at, text.into_bytes());
}

impl Target for Config {
    fn name(&self) -> &'static str {
        "config"
    }

    fn file_name(&self) -> &'static str {
        "config.toml"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let mut configs: Vec<RunConfig> = Preset::ALL
            .iter()
            .map(|&(_, p)| RunConfig::preset(p))
            .collect();
        for kind in ["maze", "highway", "pendulum", "cartpole"] {
            configs.extend(RunConfig::preset_in(Preset::Tiny, kind).ok());
        }
        let mut out: Vec<Vec<u8>> = configs
            .iter()
            .map(|c| c.to_toml().expect("valid seed").into_bytes())
            .collect();
        out.push(b"[planner]\nkind = \"cem\"\n[train]\nsteps = 10\n".to_vec());
        out
    }

    fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>) {
        if rng.one_in(20) {
            nest(rng, input);
        } else if let Some(out) = mutate_toml(rng, input) {
            *input = out;
        } else {
            bytes::mutate(rng, input);
        }
    }

    fn load(&self, bytes: &[u8], path: &Path) -> Result<(), String> {
        let origin = path.display().to_string();
        let text = std::str::from_utf8(bytes).map_err(|e| format!("{origin}: not UTF-8: {e}"))?;
        let cfg = RunConfig::from_toml_str(text, &origin, &self.base).map_err(|e| e.to_string())?;
        cfg.validate().map_err(|e| format!("{origin}: {e}"))
    }

    fn bound(&self, len: usize) -> usize {
        512 * len + (16 << 20)
    }
}
