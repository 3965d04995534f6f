//! Which imagined futures a candidate plan is judged on under a latent-variable world model
//! (`[agent] latent_paths`; REFERENCE.md §0 for the latent-variable energy).
//!
//! A future is a latent path `z_{0..h−1}` (one latent per planned action) rolled out with the
//! candidate's actions. Two ways to choose the paths:
//! * `held` — the `K` paths `z_t = k` for all `t`, weighted by the prior `q(z | s0, a_0)` of the
//!   candidate's first action. Exhaustive over `K`, but a latent trained per step (the branch
//!   closest to each step's target, [`ami_jepa`]'s min over z) has no meaning held for `h`
//!   steps: holding it compounds one step's deviation `h` times. Measured on highway (check
//!   preset, k = 4, coasting for 8 steps): the held branches read the clearance with mean
//!   error 6–13 m at step 8 and one of them predicts a collision in 516 of 532 states where none
//!   happened, against 5.5 m for the most likely path.
//! * `sampled:S` — `S` paths drawn from the prior, ancestrally along the *nominal* future of the
//!   planning call (zero actions from `s0`): `z_t ~ q(z | ŝ_t, 0)`, `ŝ_{t+1} = f(ŝ_t, 0, z_t)`,
//!   each draw by inverting the prior's CDF at a uniform from a generator seeded by the bits
//!   of `s0` (the same start gives the same paths, for every candidate and every iteration:
//!   common random numbers). Weights `1/S` (Monte Carlo). The prior is read along the nominal
//!   future rather than each candidate's own, which is exact when `z` describes what the
//!   agent does not control (another driver's behaviour) and an approximation otherwise.
//!
//! Guardrails hold on every path; [`crate::Risk`] aggregates the paths' costs.

use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::AgentError;
use crate::world_model::WorldModel;

/// How the latent paths of a planning call are chosen (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatentPaths {
    /// `z_t = k` held over the horizon, for each of the `K` latent values.
    #[default]
    Held,
    /// `S ≥ 1` paths sampled from the prior along the nominal future.
    Sampled(usize),
}

/// The paths of one planning call: `latents [m, h]` and, for sampled paths, their weights
/// (`None`: weigh by the prior of each candidate's first action).
#[derive(Debug, Clone, PartialEq)]
pub struct PathSet {
    /// Number of paths `m`.
    pub count: usize,
    /// Row-major `[m, h]` latent indices.
    pub latents: Vec<u32>,
    /// Fixed weights `[m]`, or `None` for the per-candidate prior.
    pub weights: Option<Vec<f32>>,
}

impl LatentPaths {
    /// The paths from `s0 [D]` over `h` planned actions under `model` (module docs).
    pub fn paths(
        self,
        s0: &[f32],
        h: usize,
        model: &dyn WorldModel,
    ) -> Result<PathSet, AgentError> {
        let k = model.latent_count();
        match self {
            LatentPaths::Held => Ok(PathSet {
                count: k,
                latents: (0..k as u32)
                    .flat_map(|z| std::iter::repeat_n(z, h))
                    .collect(),
                weights: None,
            }),
            LatentPaths::Sampled(s) => {
                let latents = cached_paths(s0, h, s, model)?;
                Ok(PathSet {
                    count: s,
                    latents,
                    weights: Some(vec![1.0 / s as f32; s]),
                })
            }
        }
    }

    /// Checks `S ≥ 1`.
    pub fn validate(self) -> Result<(), AgentError> {
        match self {
            LatentPaths::Sampled(0) => Err(AgentError::config(
                "agent.latent_paths",
                "sampled:0",
                "held or sampled:S with S >= 1",
            )),
            _ => Ok(()),
        }
    }
}

/// Seed of the path draws: FNV-1a (64 bit) over the bits of `s0`.
fn seed_of(s0: &[f32]) -> u64 {
    ami_envs::fnv1a_f32(s0)
}

/// The index `j` with `Σ_{i<j} p_i ≤ u·Σp < Σ_{i≤j} p_i` (inverse CDF; the last index when
/// rounding leaves `u·Σp` beyond the sum).
pub fn inverse_cdf(probs: &[f32], u: f32) -> usize {
    let total: f32 = probs.iter().sum();
    let target = u * total;
    let mut acc = 0.0;
    for (j, &p) in probs.iter().enumerate() {
        acc += p;
        if target < acc {
            return j;
        }
    }
    probs.len().saturating_sub(1)
}

thread_local! {
    /// The last sampled paths of this thread, keyed by `(model address, seed of s0, h, S)`: a
    /// planning call evaluates many candidate batches from one start, and the paths depend
    /// only on the model and the start.
    static LAST: std::cell::RefCell<Option<(PathKey, Vec<u32>)>> =
        const { std::cell::RefCell::new(None) };
}

/// `(model address, seed of s0, h, S)`.
type PathKey = (usize, u64, usize, usize);

/// [`sample_paths`], reusing this thread's last result for the same model, start, horizon and
/// count.
fn cached_paths(
    s0: &[f32],
    h: usize,
    s: usize,
    model: &dyn WorldModel,
) -> Result<Vec<u32>, AgentError> {
    let key = (
        model as *const dyn WorldModel as *const () as usize,
        seed_of(s0),
        h,
        s,
    );
    if let Some(hit) = LAST.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }) {
        return Ok(hit);
    }
    let paths = sample_paths(s0, h, s, model)?;
    LAST.with(|c| *c.borrow_mut() = Some((key, paths.clone())));
    Ok(paths)
}

/// `s` paths `[s, h]` drawn ancestrally from the prior along zero actions (module docs).
fn sample_paths(
    s0: &[f32],
    h: usize,
    s: usize,
    model: &dyn WorldModel,
) -> Result<Vec<u32>, AgentError> {
    let (a, k) = (model.action_dim(), model.latent_count());
    let mut rng = StdRng::seed_from_u64(seed_of(s0));
    let mut latents = vec![0u32; s * h];
    if k == 1 {
        return Ok(latents);
    }
    let zeros = vec![0.0f32; s * a];
    let mut states: Vec<f32> = (0..s).flat_map(|_| s0.iter().copied()).collect();
    for t in 0..h {
        let probs = model.latent_prior(&states, &zeros, s)?;
        if probs.len() != s * k || probs.iter().any(|p| !(p.is_finite() && *p >= 0.0)) {
            return Err(AgentError::NonFinite {
                what: format!("latent prior q(z | s, a) at planned step {t}"),
            });
        }
        let mut step = vec![0u32; s];
        for (i, z) in step.iter_mut().enumerate() {
            *z = inverse_cdf(&probs[i * k..(i + 1) * k], rng.gen()) as u32;
            latents[i * h + t] = *z;
        }
        if t + 1 < h {
            states = model.step_latent(&states, &zeros, &step, s)?;
        }
    }
    Ok(latents)
}

impl fmt::Display for LatentPaths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LatentPaths::Held => write!(f, "held"),
            LatentPaths::Sampled(s) => write!(f, "sampled:{s}"),
        }
    }
}

impl FromStr for LatentPaths {
    type Err = AgentError;

    /// `held` or `sampled:S` with `S ≥ 1`.
    fn from_str(s: &str) -> Result<Self, AgentError> {
        let bad = || AgentError::config("agent.latent_paths", s, "held or sampled:S with S >= 1");
        let paths = match s {
            "held" => LatentPaths::Held,
            _ => {
                let n = s.strip_prefix("sampled:").ok_or_else(bad)?;
                LatentPaths::Sampled(n.trim().parse::<usize>().map_err(|_| bad())?)
            }
        };
        paths.validate()?;
        Ok(paths)
    }
}

impl Serialize for LatentPaths {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for LatentPaths {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1-D state; `s' = s + a + (z == 1 ? 1 : 0)`; prior `[1 − p(s), p(s)]` with
    /// `p(s) = 0.9` when `s ≥ 1` else `0.1`: once pushed, likely pushed again.
    struct Sticky;

    impl WorldModel for Sticky {
        fn state_dim(&self) -> usize {
            1
        }
        fn action_dim(&self) -> usize {
            1
        }
        fn rollout(
            &self,
            s0: &[f32],
            a: &[f32],
            n: usize,
            h: usize,
        ) -> Result<Vec<f32>, AgentError> {
            self.rollout_latent(s0, a, &vec![0; n * h], n, h)
        }
        fn latent_count(&self) -> usize {
            2
        }
        fn rollout_latent(
            &self,
            s0: &[f32],
            a: &[f32],
            z: &[u32],
            n: usize,
            h: usize,
        ) -> Result<Vec<f32>, AgentError> {
            let mut out = Vec::with_capacity(n * h);
            for i in 0..n {
                let mut s = s0[0];
                for t in 0..h {
                    s += a[i * h + t] + z[i * h + t] as f32;
                    out.push(s);
                }
            }
            Ok(out)
        }
        fn latent_prior(&self, s: &[f32], _a: &[f32], n: usize) -> Result<Vec<f32>, AgentError> {
            Ok((0..n)
                .flat_map(|i| {
                    let p = if s[i] >= 1.0 { 0.9 } else { 0.1 };
                    [1.0 - p, p]
                })
                .collect())
        }
    }

    #[test]
    fn inverse_cdf_picks_the_interval_of_u() {
        let p = [0.2, 0.5, 0.3];
        assert_eq!(inverse_cdf(&p, 0.0), 0);
        assert_eq!(inverse_cdf(&p, 0.19), 0);
        assert_eq!(inverse_cdf(&p, 0.21), 1);
        assert_eq!(inverse_cdf(&p, 0.69), 1);
        assert_eq!(inverse_cdf(&p, 0.71), 2);
        assert_eq!(inverse_cdf(&p, 0.9999), 2);
        // Unnormalised weights scale with their sum.
        assert_eq!(inverse_cdf(&[2.0, 5.0, 3.0], 0.5), 1);
    }

    #[test]
    fn held_paths_enumerate_every_latent() {
        let p = LatentPaths::Held.paths(&[0.0], 3, &Sticky).unwrap();
        assert_eq!(p.count, 2);
        assert_eq!(p.latents, vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(p.weights, None);
    }

    #[test]
    fn sampled_paths_follow_the_prior_along_the_nominal_future() {
        let (s, h) = (4000, 3);
        let p = LatentPaths::Sampled(s).paths(&[0.0], h, &Sticky).unwrap();
        assert_eq!((p.count, p.latents.len()), (s, s * h));
        assert_eq!(p.weights.as_ref().unwrap().len(), s);
        let frac = |pred: &dyn Fn(&[u32]) -> bool| {
            p.latents.chunks(h).filter(|z| pred(z)).count() as f64 / s as f64
        };
        // First step from s = 0: pushed with probability 0.1.
        let first = frac(&|z| z[0] == 1);
        assert!((first - 0.1).abs() < 0.02, "{first}");
        // Once pushed (state 1 under zero actions), pushed again with probability 0.9.
        let again = frac(&|z| z[0] == 1 && z[1] == 1) / first;
        assert!((again - 0.9).abs() < 0.05, "{again}");
        // Not pushed first: pushed next with probability 0.1.
        let later = frac(&|z| z[0] == 0 && z[1] == 1) / (1.0 - first);
        assert!((later - 0.1).abs() < 0.02, "{later}");
        // Same start, same paths; another start, other paths.
        let again_p = LatentPaths::Sampled(s).paths(&[0.0], h, &Sticky).unwrap();
        assert_eq!(again_p, p);
        let other = LatentPaths::Sampled(s).paths(&[0.5], h, &Sticky).unwrap();
        assert_ne!(other.latents, p.latents);
    }

    #[test]
    fn parsing_and_bad_input_name_the_key() {
        for (s, v) in [
            ("held", LatentPaths::Held),
            ("sampled:8", LatentPaths::Sampled(8)),
        ] {
            assert_eq!(s.parse::<LatentPaths>().unwrap(), v);
            let back: LatentPaths =
                serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
            assert_eq!(back, v);
        }
        for bad in ["sampled:0", "sampled:", "sampled:-1", "all", "sampled:x"] {
            let err = bad.parse::<LatentPaths>().unwrap_err().to_string();
            assert!(err.contains("agent.latent_paths"), "{bad}: {err}");
        }
    }
}
