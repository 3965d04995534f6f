//! `ami train-policy`: the amortised policy of a run ([`crate::policy`]), trained to reproduce
//! the run's planner.
//!
//! 1. **Behaviour cloning.** The planner (the run's `[planner]`, `[agent]` and cost) runs
//!    `policy.episodes` episodes on training tasks (`eval.train_seed`, a stream of its own);
//!    every recorded transition gives a sample `[s_t, s_goal] → a_t`; the policy is fitted.
//! 2. **DAgger** (Ross, Gordon & Bagnell 2011), `policy.dagger_rounds` times: the policy acts
//!    alone on `policy.dagger_episodes` new training tasks; the states it visits are relabelled
//!    with the planner's action (the planner replayed along the episode exactly as the episode
//!    loop would run it: reset at the start, `plan` at each visited state, shifted after each
//!    cycle); the samples are added to the set and the policy is refitted from scratch (same
//!    seed) on all of them.
//!
//! After every round `policy.json` is written atomically with the log so far.

use ami_envs::Task;

use super::config::RunConfig;
use super::evaluate::world_model;
use super::learned::{collect, summarise, ActorKind, Learned, POLICY_FILE};
use super::progress::Progress;
use super::run_dir::RunDir;
use super::workers::{map_on_workers, worker_count};
use crate::cost_config::CostContext;
use crate::episode::EpisodeOutcome;
use crate::error::AgentError;
use crate::jepa_model::JepaWorldModel;
use crate::memory::Episode;
use crate::planner::Planner;
use crate::policy::{Policy, PolicyLog, PolicyRound};
use crate::regression::Samples;
use crate::world_model::WorldModel;

/// Trains the policy of `run` with `cfg` (module docs); returns the training log.
pub fn train_policy(
    run: &RunDir,
    cfg: &RunConfig,
    progress: &dyn Progress,
) -> Result<PolicyLog, AgentError> {
    cfg.validate()?;
    let p = &cfg.policy;
    let total = p.episodes + p.dagger_rounds * p.dagger_episodes;
    let tasks = cfg.env.spec().tasks(total, cfg.eval.train_seed)?;
    let mut expert_cfg = cfg.clone();
    expert_cfg.agent.actor = ActorKind::Planner;
    let t = Teacher {
        run,
        cfg,
        expert: Learned::load(run, &expert_cfg)?,
        expert_cfg,
        progress,
    };
    let mut log = PolicyLog {
        config: p.clone(),
        planner_horizon: cfg.agent.horizon,
        rounds: Vec::new(),
    };
    let (mut data, mut policy, round) = t.behaviour_cloning(&tasks[..p.episodes])?;
    log.rounds.push(round);
    save(run, &policy, &log)?;
    for (k, round_tasks) in tasks[p.episodes..].chunks(p.dagger_episodes).enumerate() {
        let round;
        (policy, round) = t.dagger_round(k + 1, round_tasks, &mut data, &policy)?;
        log.rounds.push(round);
        save(run, &policy, &log)?;
    }
    Ok(log)
}

/// The run, its planner (the expert) and where progress goes.
struct Teacher<'a> {
    run: &'a RunDir,
    cfg: &'a RunConfig,
    expert_cfg: RunConfig,
    expert: Learned,
    progress: &'a dyn Progress,
}

impl Teacher<'_> {
    /// Round 0: the planner's episodes on `tasks`, and a policy fitted to them.
    fn behaviour_cloning(
        &self,
        tasks: &[Task],
    ) -> Result<(Samples, Policy, PolicyRound), AgentError> {
        let (run, progress) = (self.run, self.progress);
        let outcomes = collect(
            run,
            &self.expert_cfg,
            &self.expert,
            tasks,
            "collect",
            progress,
        )?;
        let data = samples_of(&outcomes)?;
        let (policy, fit_loss) = refit(self.cfg, &data, progress)?;
        let (success_rate, plan_ms_per_step) = summarise(&outcomes);
        let round = PolicyRound {
            round: 0,
            episodes: outcomes.len(),
            success_rate,
            plan_ms_per_step,
            new_samples: data.rows(),
            total_samples: data.rows(),
            imitation_error: None,
            fit_loss,
        };
        Ok((data, policy, round))
    }

    /// DAgger round `round`: `policy` acts on `tasks`, its states are relabelled by the
    /// planner and added to `data`, and a policy is refitted on all of `data`.
    fn dagger_round(
        &self,
        round: usize,
        tasks: &[Task],
        data: &mut Samples,
        policy: &Policy,
    ) -> Result<(Policy, PolicyRound), AgentError> {
        let mut learner_cfg = self.cfg.clone();
        learner_cfg.agent.actor = ActorKind::Policy;
        let learner = Learned {
            policy: Some(policy.clone()),
            ..self.expert.clone()
        };
        let phase = format!("dagger {round}");
        let outcomes = collect(
            self.run,
            &learner_cfg,
            &learner,
            tasks,
            &phase,
            self.progress,
        )?;
        let episodes: Vec<Episode> = outcomes.iter().map(|o| o.memory.clone()).collect();
        let labels = relabel(
            self.run,
            &self.expert_cfg,
            &self.expert,
            &episodes,
            self.progress,
        )?;
        let before = data.rows();
        let imitation_error = aggregate(&episodes, &labels, data)?;
        let (policy, fit_loss) = refit(self.cfg, data, self.progress)?;
        let (success_rate, plan_ms_per_step) = summarise(&outcomes);
        let round = PolicyRound {
            round,
            episodes: outcomes.len(),
            success_rate,
            plan_ms_per_step,
            new_samples: data.rows() - before,
            total_samples: data.rows(),
            imitation_error,
            fit_loss,
        };
        Ok((policy, round))
    }
}

/// Adds `[s_t, s_goal] → a*_t` for every visited state with its planner label `a*_t` to
/// `data`; returns the mean `‖a_t − a*_t‖²` of the actions the policy took (`None` without
/// states).
fn aggregate(
    episodes: &[Episode],
    labels: &[Vec<f32>],
    data: &mut Samples,
) -> Result<Option<f64>, AgentError> {
    let (mut err, mut n) = (0f64, 0usize);
    for (ep, labels) in episodes.iter().zip(labels) {
        let a_dim = data.out_dim.max(1);
        for (t, a_star) in ep.transitions.iter().zip(labels.chunks_exact(a_dim)) {
            let d2: f32 = t
                .action
                .iter()
                .zip(a_star)
                .map(|(a, b)| (a - b).powi(2))
                .sum();
            err += f64::from(d2);
            n += 1;
            let x: Vec<f32> = t.state.iter().chain(&ep.goal).copied().collect();
            data.push(&x, a_star)?;
        }
    }
    Ok((n > 0).then(|| err / n as f64))
}

/// `[s_t, s_goal] → a_t` for every recorded transition of `outcomes`.
fn samples_of(outcomes: &[EpisodeOutcome]) -> Result<Samples, AgentError> {
    let first = outcomes
        .iter()
        .flat_map(|o| o.memory.transitions.first().map(|t| (o, t)))
        .next()
        .ok_or_else(|| {
            AgentError::config_source("policy.episodes", "the planner's episodes took no step")
        })?;
    let (d, a) = (first.0.memory.goal.len(), first.1.action.len());
    let mut data = Samples::new(2 * d, a);
    for o in outcomes {
        for t in &o.memory.transitions {
            let x: Vec<f32> = t.state.iter().chain(&o.memory.goal).copied().collect();
            data.push(&x, &t.action)?;
        }
    }
    Ok(data)
}

/// A policy fitted from scratch on `data` (`cfg.policy.fit`; the environment's action
/// bound), with its last-epoch loss.
fn refit(
    cfg: &RunConfig,
    data: &Samples,
    progress: &dyn Progress,
) -> Result<(Policy, f32), AgentError> {
    let fit = &cfg.policy.fit;
    let max_norm = cfg.plan_context(0).max_action_norm;
    let mut policy = Policy::new(fit, data, max_norm)?;
    progress.start("fit", fit.epochs as u64);
    let losses = policy.train(fit, data, &mut |e, l| {
        progress.set(e as u64 + 1, &format!("loss {l:.4}"))
    })?;
    progress.finish();
    Ok((policy, losses.last().copied().unwrap_or(f32::NAN)))
}

/// The planner's first action at every state of every episode, replayed as in the episode
/// loop (module docs); per episode, row-major `[T, A]`.
fn relabel(
    run: &RunDir,
    cfg: &RunConfig,
    expert: &Learned,
    episodes: &[Episode],
    progress: &dyn Progress,
) -> Result<Vec<Vec<f32>>, AgentError> {
    let shift = cfg
        .agent
        .replan_every
        .div_ceil(cfg.agent.action_repeat.max(1));
    let cost_cfg = expert.cost(cfg);
    let init = || -> Result<_, AgentError> {
        Ok((world_model(run, cfg)?, expert.actor(cfg, cfg.train.seed)?))
    };
    let label = |(wm, planner): &mut (JepaWorldModel, Box<dyn Planner>), ep: &Episode| {
        planner.reset();
        let cost = cost_cfg.build(CostContext {
            goal: &ep.goal,
            probe: None,
        })?;
        let a_dim = wm.action_dim();
        let mut labels = Vec::with_capacity(ep.transitions.len() * a_dim);
        for t in &ep.transitions {
            let plan = planner.plan(&t.state, &cost, wm)?;
            labels.extend_from_slice(&plan.actions[..a_dim]);
            planner.shift(shift);
        }
        Ok(labels)
    };
    progress.start("relabel", episodes.len() as u64);
    let done = |res: &[Option<Vec<f32>>]| {
        progress.set(res.iter().flatten().count() as u64, "");
    };
    let out = map_on_workers(episodes, worker_count(episodes.len()), init, label, done);
    progress.finish();
    out
}

fn save(run: &RunDir, policy: &Policy, log: &PolicyLog) -> Result<(), AgentError> {
    let text = serde_json::to_string(&policy.to_file(log.clone()))
        .map_err(|e| AgentError::config_source(POLICY_FILE, e.to_string()))?;
    run.write(POLICY_FILE, text.as_bytes())
}
