//! The registry of environments: `[env] kind = "..."` in a run configuration.
//!
//! Adding an environment = one file implementing [`crate::Env`] and [`crate::EnvSpec`] for its
//! config, plus one line in the `register_envs!` list below.
//!
//! ```
//! use ami_envs::EnvConfig;
//! // Any registered environment from its kind; run it through the traits only.
//! let cfg = EnvConfig::of_kind("pendulum")?;
//! let spec = cfg.spec();
//! let mut env = spec.build()?;
//! let task = &spec.tasks(1, 7)?[0];
//! let obs = env.reset_to(&task.start)?;
//! assert_eq!(obs.len(), env.obs_dim());
//! let step = env.step(&[1.0])?;
//! assert_eq!(step.state.len(), spec.state_dim());
//! # Ok::<(), ami_envs::EnvError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::cartpole::CartpoleConfig;
use crate::dmc::DmcConfig;
use crate::env::EnvSpec;
use crate::gym::GymConfig;
use crate::highway::HighwayConfig;
use crate::maze::MazeConfig;
use crate::pendulum::PendulumConfig;
use crate::pldm::PldmConfig;
use crate::random_wall::RandomWallConfig;
use crate::two_rooms::TwoRoomsConfig;
use crate::two_rooms_hazards::TwoRoomsHazardsConfig;

/// Declares [`EnvConfig`] (a serde enum tagged by `kind`) and its dispatch from one list of
/// `Variant(Config) = "kind"` lines.
macro_rules! register_envs {
    ($($variant:ident($cfg:ty) = $kind:literal,)+) => {
        /// The settings of one registered environment, tagged by `kind` (in TOML:
        /// `[env] kind = "two-rooms"` followed by that environment's own keys).
        #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
        #[serde(tag = "kind")]
        pub enum EnvConfig {
            $(
                #[doc = concat!("`kind = \"", $kind, "\"`.")]
                #[serde(rename = $kind)]
                $variant($cfg),
            )+
        }

        impl EnvConfig {
            /// Every registered `kind`.
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            /// The environment's configuration-level behaviour.
            pub fn spec(&self) -> &dyn EnvSpec {
                match self {
                    $(EnvConfig::$variant(c) => c,)+
                }
            }

            /// The default configuration of `kind` (`None` for an unknown kind).
            pub fn default_of(kind: &str) -> Option<EnvConfig> {
                match kind {
                    $($kind => Some(EnvConfig::$variant(<$cfg>::default())),)+
                    _ => None,
                }
            }
        }
    };
}

register_envs! {
    TwoRooms(TwoRoomsConfig) = "two-rooms",
    Pendulum(PendulumConfig) = "pendulum",
    TwoRoomsHazards(TwoRoomsHazardsConfig) = "two-rooms-hazards",
    Highway(HighwayConfig) = "highway",
    Maze(MazeConfig) = "maze",
    Pldm(PldmConfig) = "pldm",
    RandomWall(RandomWallConfig) = "random-wall",
    Cartpole(CartpoleConfig) = "cartpole",
    Gym(GymConfig) = "gym",
    Dmc(DmcConfig) = "dmc",
}

impl Default for EnvConfig {
    fn default() -> Self {
        EnvConfig::TwoRooms(TwoRoomsConfig::default())
    }
}

impl EnvConfig {
    /// The registered name of this environment.
    pub fn kind(&self) -> &'static str {
        self.spec().kind()
    }

    /// The default configuration of `kind`, or an error listing the registered kinds.
    pub fn of_kind(kind: &str) -> Result<EnvConfig, crate::EnvError> {
        Self::default_of(kind).ok_or_else(|| crate::EnvError::UnknownEnv {
            kind: kind.to_string(),
            known: Self::KINDS.join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_toml_and_reject_unknown_keys() {
        for kind in EnvConfig::KINDS {
            let cfg = EnvConfig::of_kind(kind).unwrap();
            assert_eq!(cfg.kind(), *kind);
            let text = serde_json::to_string(&cfg).unwrap();
            assert!(text.contains(&format!("\"kind\":\"{kind}\"")), "{text}");
            let back: EnvConfig = serde_json::from_str(&text).unwrap();
            assert_eq!(back, cfg);
        }
        let bad = r#"{"kind":"two-rooms","size":64.0,"bogus":1}"#;
        let err = serde_json::from_str::<EnvConfig>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
        let err = EnvConfig::of_kind("nope").unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("two-rooms"), "{err}");
    }
}
