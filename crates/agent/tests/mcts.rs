//! Tree search with chance nodes (`planner.kind = "mcts"`) on small trees whose optimum is
//! computed here by brute force.
//!
//! Main tree: a 1-D state, three actions and two latent outcomes, horizon 3. Action 0 stays,
//! action 1 moves +1, action 2 is a gamble: +2 when `z = 0`, −1 (a slip) when `z = 1`, with
//! `q(z = 1 | s, a = 2) = 0.2` for `s < 1.5` and 0.6 above (the other actions do not depend on
//! `z`; prior ½ each). The cost `Σ_t (s_t − 4)²` asks to get to 4 fast. The average-case
//! optimum starts with the gamble, the worst-case optimum with the sure step.

use ami_agent::planner::{Mcts, MctsConfig};
use ami_agent::{
    AgentError, Cost, CostKind, CostTerm, FixedCost, LinearWorldModel, PlanContext, Planner,
    PlannerConfig, Risk, RolloutBatch, WorldModel,
};

const H: usize = 3;

/// The gamble model of the module docs.
struct Slip;

fn step(s: f32, a: f32, z: u32) -> f32 {
    match (a.round() as i32, z) {
        (2, 0) => s + 2.0,
        (2, _) => s - 1.0,
        (a, _) => s + a as f32,
    }
}

impl WorldModel for Slip {
    fn state_dim(&self) -> usize {
        1
    }
    fn action_dim(&self) -> usize {
        1
    }
    fn rollout(&self, s0: &[f32], a: &[f32], n: usize, h: usize) -> Result<Vec<f32>, AgentError> {
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
                s = step(s, a[i * h + t], z[i * h + t]);
                out.push(s);
            }
        }
        Ok(out)
    }
    fn latent_prior(&self, s: &[f32], a: &[f32], n: usize) -> Result<Vec<f32>, AgentError> {
        Ok((0..n)
            .flat_map(|i| match (a[i].round() as i32, s[i] < 1.5) {
                (2, true) => [0.8, 0.2],
                (2, false) => [0.4, 0.6],
                _ => [0.5, 0.5],
            })
            .collect())
    }
}

/// `Σ_t (s_t − target_t)²`.
struct Track(Vec<f32>);
impl CostTerm for Track {
    fn name(&self) -> &str {
        "track"
    }
    fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
        (0..b.n())
            .map(|i| {
                (0..b.h())
                    .map(|t| (b.state(i, t)[0] - self.0[t]).powi(2))
                    .sum()
            })
            .collect()
    }
}

/// Unsafe steps: `s > 2.5`.
struct Wall;
impl CostTerm for Wall {
    fn name(&self) -> &str {
        "wall"
    }
    fn cost(&self, b: &RolloutBatch) -> Vec<f32> {
        (0..b.n())
            .map(|i| (0..b.h()).filter(|&t| b.state(i, t)[0] > 2.5).count() as f32)
            .collect()
    }
}

fn to_four(risk: Risk) -> Cost {
    Cost::new()
        .with_term(CostKind::Task, 1.0, Track(vec![4.0; H]))
        .unwrap()
        .with_risk(risk)
}

fn walled(risk: Risk) -> Cost {
    let fixed = FixedCost::builder().guardrail(Wall).unwrap().build();
    Cost::with_fixed(fixed)
        .with_term(CostKind::Task, 1.0, Track(vec![4.0; H]))
        .unwrap()
        .with_risk(risk)
}

fn actions() -> Vec<Vec<f32>> {
    vec![vec![0.0], vec![1.0], vec![2.0]]
}

fn mcts(simulations: usize, leaf_batch: usize, exploration: f32, h: usize) -> Mcts {
    Mcts::new(MctsConfig {
        horizon: h,
        simulations,
        leaf_batch,
        exploration,
        actions: actions(),
    })
    .unwrap()
}

/// The closed-loop optimum by exhaustive recursion: `V(history) = min_a ρ_z V(history, a, z)`
/// with the prior at the history's predicted state, and at depth `h` the cost of the complete
/// sequence along its latents. Returns `(V(root), best first action)`.
fn expectimax(model: &dyn WorldModel, cost: &Cost, s0: &[f32], h: usize) -> (f32, usize) {
    fn value(
        model: &dyn WorldModel,
        cost: &Cost,
        s0: &[f32],
        (acts, zs): (&mut Vec<f32>, &mut Vec<u32>),
        h: usize,
    ) -> (f32, usize) {
        let t = acts.len();
        if t == h {
            let states = model.rollout_latent(s0, acts, zs, 1, h).unwrap();
            let b = RolloutBatch::new(&states, acts, (1, h), (1, 1)).unwrap();
            return (cost.evaluate(&b).unwrap()[0], 0);
        }
        let state = if t == 0 {
            s0.to_vec()
        } else {
            let states = model.rollout_latent(s0, acts, zs, 1, t).unwrap();
            states[t - 1..].to_vec()
        };
        let mut best = (f32::INFINITY, 0);
        for (m, a) in actions().iter().enumerate() {
            let prior = model.latent_prior(&state, a, 1).unwrap();
            let mut branch = Vec::new();
            for z in 0..model.latent_count() as u32 {
                acts.push(a[0]);
                zs.push(z);
                branch.push(value(model, cost, s0, (&mut *acts, &mut *zs), h).0);
                acts.pop();
                zs.pop();
            }
            let q = cost.risk().aggregate(&branch, &prior).unwrap();
            if q < best.0 {
                best = (q, m);
            }
        }
        best
    }
    value(model, cost, s0, (&mut Vec::new(), &mut Vec::new()), h)
}

#[test]
fn a_full_search_finds_the_expectimax_optimum_and_worst_and_average_differ() {
    let worst = expectimax(&Slip, &to_four(Risk::Worst), &[0.0], H);
    let average = expectimax(&Slip, &to_four(Risk::Average), &[0.0], H);
    assert_ne!(worst.1, average.1, "the tree must separate the risks");
    assert_eq!((worst.1, average.1), (1, 2), "sure step vs gamble");
    for risk in [Risk::Worst, Risk::Average, Risk::Cvar(0.5)] {
        let cost = to_four(risk);
        let (want, first) = expectimax(&Slip, &cost, &[0.0], H);
        for (batch, c) in [(1, 1.0), (8, 1.0), (4, 0.0), (16, 3.0)] {
            let mut p = mcts(1000, batch, c, H);
            let plan = p.plan(&[0.0], &cost, &Slip).unwrap();
            let (got, expansions) = p.last_search().unwrap();
            // 1 + 6 + 36 non-terminal decision nodes: then the tree is complete and it stops.
            assert_eq!(expansions, 43, "{risk} batch {batch}");
            assert!((got - want).abs() < 1e-4, "{risk}: V {got} vs {want}");
            assert_eq!(
                plan.actions[0],
                actions()[first][0],
                "{risk} batch {batch} c {c}"
            );
            assert_eq!(plan.iterations, 43);
            assert!(plan.safe);
        }
    }
}

#[test]
fn a_partial_search_plans_within_the_action_set_and_is_deterministic() {
    let cost = to_four(Risk::Average);
    let mut p = mcts(10, 4, 1.0, H);
    let first = p.plan(&[0.0], &cost, &Slip).unwrap();
    assert_eq!(first.iterations, 10);
    assert_eq!(first.actions.len(), H);
    assert!(first.actions.iter().all(|x| [0.0, 1.0, 2.0].contains(x)));
    p.reset();
    assert_eq!(p.plan(&[0.0], &cost, &Slip).unwrap(), first);
    assert_eq!(
        mcts(10, 4, 1.0, H).plan(&[0.0], &cost, &Slip).unwrap(),
        first
    );
}

#[test]
fn with_a_deterministic_model_it_finds_the_optimal_sequence() {
    // Beam's test tree (beam.rs): greedy search misses its optimum by staying at 0 first.
    let model = LinearWorldModel::point_mass(1).unwrap();
    let target = vec![0.4, 2.0, 2.0, 2.0];
    let cost = Cost::new()
        .with_term(CostKind::Task, 1.0, Track(target))
        .unwrap();
    let mut best = (f32::INFINITY, Vec::new());
    for code in 0..81usize {
        let seq: Vec<f32> = (0..4u32)
            .map(|t| ((code / 3usize.pow(t)) % 3) as f32 - 1.0)
            .collect();
        let states = model.rollout(&[0.0], &seq, 1, 4).unwrap();
        let b = RolloutBatch::new(&states, &seq, (1, 4), (1, 1)).unwrap();
        let c = cost.evaluate(&b).unwrap()[0];
        if c < best.0 {
            best = (c, seq);
        }
    }
    let mut p = Mcts::new(MctsConfig {
        horizon: 4,
        simulations: 100,
        actions: vec![vec![-1.0], vec![0.0], vec![1.0]],
        ..MctsConfig::default()
    })
    .unwrap();
    let plan = p.plan(&[0.0], &cost, &model).unwrap();
    assert_eq!(p.last_search().unwrap().1, 1 + 3 + 9 + 27);
    assert_eq!(plan.actions, best.1);
    assert!(
        (plan.cost - best.0).abs() < 1e-5,
        "{} vs {}",
        plan.cost,
        best.0
    );
}

#[test]
fn guardrails_hold_on_every_branch_and_an_unsafe_tree_gives_the_stop_plan() {
    for risk in [Risk::Worst, Risk::Average] {
        let cost = walled(risk);
        let plan = mcts(1000, 8, 1.0, H).plan(&[0.0], &cost, &Slip).unwrap();
        assert!(plan.safe, "{risk}: standing still is safe");
        for z in 0..2 {
            let states = Slip
                .rollout_latent(&[0.0], &plan.actions, &[z; H], 1, H)
                .unwrap();
            assert!(states.iter().all(|&s| s <= 2.5), "{risk} z={z}: {states:?}");
        }
        // From 10, no 3 steps get back below the wall.
        let plan = mcts(1000, 8, 1.0, H).plan(&[10.0], &cost, &Slip).unwrap();
        assert!(!plan.safe);
        assert_eq!(plan.actions, vec![0.0; H]);
    }
}

#[test]
fn bad_settings_name_the_key() {
    let err = Mcts::new(MctsConfig::default()).unwrap_err().to_string();
    assert!(err.contains("discrete"), "{err}");
    for (cfg, key) in [
        (
            MctsConfig {
                simulations: 0,
                ..MctsConfig::default()
            },
            "planner.simulations",
        ),
        (
            MctsConfig {
                leaf_batch: 0,
                ..MctsConfig::default()
            },
            "planner.leaf_batch",
        ),
        (
            MctsConfig {
                exploration: -1.0,
                ..MctsConfig::default()
            },
            "planner.exploration",
        ),
        (
            MctsConfig {
                exploration: f32::NAN,
                ..MctsConfig::default()
            },
            "planner.exploration",
        ),
    ] {
        let err = Mcts::new(MctsConfig {
            actions: actions(),
            ..cfg
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
    // Actions of the wrong dimension for the model.
    let cost = Cost::new();
    let model = LinearWorldModel::point_mass(2).unwrap();
    assert!(mcts(4, 1, 1.0, 2).plan(&[0.0, 0.0], &cost, &model).is_err());
}

#[test]
fn registered_by_kind_with_documented_defaults() {
    assert!(PlannerConfig::KINDS.contains(&"mcts"));
    let cfg = PlannerConfig::default_of("mcts").unwrap();
    assert_eq!(cfg.kind(), "mcts");
    let text = toml::to_string(&cfg).unwrap();
    assert!(text.contains("kind = \"mcts\""), "{text}");
    assert_eq!(toml::from_str::<PlannerConfig>(&text).unwrap(), cfg);
    let parsed: PlannerConfig =
        toml::from_str("kind = \"mcts\"\nsimulations = 12\nexploration = 0.5").unwrap();
    assert_eq!(
        parsed,
        PlannerConfig::Mcts(MctsConfig {
            simulations: 12,
            exploration: 0.5,
            ..MctsConfig::default()
        })
    );
    assert!(toml::from_str::<PlannerConfig>("kind = \"mcts\"\nbeam_width = 3").is_err());
    let ctx = |action_set| PlanContext {
        horizon: H,
        max_action_norm: 2.0,
        seed_offset: 0,
        action_set,
    };
    let err = cfg.build(ctx(None)).err().unwrap().to_string();
    assert!(
        err.contains("planner.kind") && err.contains("discrete"),
        "{err}"
    );
    let mut p = cfg.build(ctx(Some(actions()))).unwrap();
    assert_eq!(p.horizon(), H);
    let plan = p.plan(&[0.0], &to_four(Risk::Worst), &Slip).unwrap();
    assert_eq!(plan.actions[0], 1.0);
}
