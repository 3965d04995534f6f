//! The perceive–plan–act loop (`run_episode`) with a scripted environment, perception, world
//! model and planner: action-repeat indexing, the plan shift, success on the step it happens,
//! termination, step limits, the goal given to the cost, and planning-time accounting.

use std::cell::RefCell;
use std::time::Duration;

use ami_agent::{
    run_episode, ActSettings, Actor, AgentError, Cost, CostConfig, FixedCost, Perception, Plan,
    Planner, RolloutBatch, WorldModel, WorldReadout,
};
use ami_envs::{ActionSpace, Env, EnvError, NamedRule, Step, SuccessRule, Task};

/// A point on a line: state `x`, observation `[10·x]`, action `a`, `x ← x + a`. Two rules:
/// `loose` (|x − g| ≤ 1) and `tight` (|x − g| ≤ 0.1). Records every action.
struct Line {
    x: f32,
    actions: Vec<f32>,
    step_sleep: Duration,
}

impl Line {
    fn new() -> Self {
        Line {
            x: 0.0,
            actions: Vec::new(),
            step_sleep: Duration::ZERO,
        }
    }
}

impl Env for Line {
    fn obs_shape(&self) -> Vec<usize> {
        vec![1]
    }
    fn action_space(&self) -> ActionSpace {
        ActionSpace {
            dim: 1,
            max_norm: 10.0,
        }
    }
    fn state_dim(&self) -> usize {
        1
    }
    fn reset(&mut self, _seed: u64) -> Vec<f32> {
        self.x = 0.0;
        self.observe()
    }
    fn reset_to(&mut self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        self.x = state[0];
        self.actions.clear();
        Ok(self.observe())
    }
    fn step(&mut self, action: &[f32]) -> Result<Step, EnvError> {
        std::thread::sleep(self.step_sleep);
        self.actions.push(action[0]);
        self.x += action[0];
        Ok(Step {
            obs: self.observe(),
            state: vec![self.x],
        })
    }
    fn observe(&self) -> Vec<f32> {
        vec![10.0 * self.x]
    }
    fn observe_state(&self, state: &[f32]) -> Result<Vec<f32>, EnvError> {
        Ok(vec![10.0 * state[0]])
    }
    fn state(&self) -> Vec<f32> {
        vec![self.x]
    }
    fn success_rules(&self) -> Vec<NamedRule> {
        vec![
            NamedRule {
                name: "loose",
                rule: SuccessRule::Radius(1.0),
            },
            NamedRule {
                name: "tight",
                rule: SuccessRule::Radius(0.1),
            },
        ]
    }
}

/// Perception `s = obs / 10` (so `s = x`), recording what it was shown; the world model is
/// never rolled out by the scripted planner.
struct Scripted {
    repeat: usize,
    seen: RefCell<Vec<f32>>,
}

impl Perception for Scripted {
    fn encode(&self, obs: &[f32]) -> Result<Vec<f32>, AgentError> {
        self.seen.borrow_mut().push(obs[0]);
        Ok(vec![obs[0] / 10.0])
    }
}

impl WorldModel for Scripted {
    fn state_dim(&self) -> usize {
        1
    }
    fn action_dim(&self) -> usize {
        1
    }
    fn action_repeat(&self) -> usize {
        self.repeat
    }
    fn rollout(&self, _: &[f32], _: &[f32], n: usize, h: usize) -> Result<Vec<f32>, AgentError> {
        Ok(vec![0.0; n * h])
    }
}

/// Returns its stored plan; `shift` really drops actions (when `shifting`); records calls,
/// shifts, the states it planned from and the goal cost of the state `s = goal`.
struct ScriptedPlanner {
    mean: Vec<f32>,
    initial: Vec<f32>,
    shifting: bool,
    sleep: Duration,
    shifts: Vec<usize>,
    starts: Vec<f32>,
    resets: usize,
    cost_at: Vec<f32>,
    probe: f32,
}

impl ScriptedPlanner {
    fn new(plan: &[f32], shifting: bool) -> Self {
        ScriptedPlanner {
            mean: plan.to_vec(),
            initial: plan.to_vec(),
            shifting,
            sleep: Duration::ZERO,
            shifts: Vec::new(),
            starts: Vec::new(),
            resets: 0,
            cost_at: Vec::new(),
            probe: 0.0,
        }
    }
}

impl Planner for ScriptedPlanner {
    fn plan(&mut self, s0: &[f32], cost: &Cost, _: &dyn WorldModel) -> Result<Plan, AgentError> {
        std::thread::sleep(self.sleep);
        self.starts.push(s0[0]);
        let h = self.mean.len();
        let mut states = vec![0.0; h];
        states[h - 1] = self.probe;
        let batch = RolloutBatch::new(&states[h - 1..], &self.mean[..1], (1, 1), (1, 1))?;
        self.cost_at.push(cost.evaluate(&batch)?[0]);
        Ok(Plan {
            actions: self.mean.clone(),
            predicted_states: states,
            cost: 0.0,
            cost_breakdown: Vec::new(),
            iterations: 1,
            safe: true,
        })
    }
    fn shift(&mut self, k: usize) {
        self.shifts.push(k);
        if self.shifting {
            let k = k.min(self.mean.len());
            self.mean.drain(..k);
            self.mean.extend(std::iter::repeat_n(0.0, k));
        }
    }
    fn reset(&mut self) {
        self.resets += 1;
        self.mean = self.initial.clone();
    }
    fn horizon(&self) -> usize {
        self.mean.len()
    }
}

fn task(start: f32, goal: f32) -> Task {
    Task {
        start: vec![start],
        goal: vec![goal],
    }
}

fn run(
    env: &mut Line,
    repeat: usize,
    planner: &mut ScriptedPlanner,
    task: &Task,
    (replan_every, max_steps): (usize, usize),
) -> Result<ami_agent::EpisodeOutcome, AgentError> {
    let wm = Scripted {
        repeat,
        seen: RefCell::new(Vec::new()),
    };
    let cost = CostConfig::default();
    let readout = WorldReadout::default();
    let actor = Actor {
        perception: &wm,
        model: &wm,
        planner,
        cost: &cost,
        fixed: FixedCost::none(),
        readout: &readout,
    };
    let settings = ActSettings {
        replan_every,
        max_steps,
        advance_radius: 3.0,
        fallback_action: Vec::new(),
        record_imagined: false,
    };
    run_episode(env, actor, task, &settings)
}

#[test]
fn each_planned_action_is_held_for_action_repeat_steps_and_the_plan_shifts_by_whole_actions() {
    // repeat 2, re-plan every 3 steps: steps 0, 1 take action 0, step 2 takes action 1; then
    // the plan shifts by ⌈3/2⌉ = 2 actions.
    let mut env = Line::new();
    let mut p = ScriptedPlanner::new(&[1.0, 2.0, 3.0, 4.0], false);
    let out = run(&mut env, 2, &mut p, &task(0.0, 100.0), (3, 7)).unwrap();
    assert_eq!(env.actions, vec![1.0, 1.0, 2.0, 1.0, 1.0, 2.0, 1.0]);
    assert_eq!((out.steps, out.plan_calls), (7, 3));
    assert_eq!(p.shifts, vec![2, 2, 2]);
    assert_eq!(p.resets, 1);
    let xs: Vec<f32> = out.trace.path.iter().map(|s| s[0]).collect();
    assert_eq!(xs, vec![0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 8.0, 9.0]);
    // Each planning call starts from the encoded observation of the current state.
    assert_eq!(p.starts, vec![0.0, 4.0, 8.0]);
    assert_eq!(out.successes, vec![false, false]);
    assert!(!out.trace.success);
}

#[test]
fn the_warm_start_is_the_shifted_plan() {
    let mut env = Line::new();
    let mut p = ScriptedPlanner::new(&[1.0, 2.0, 3.0, 4.0], true);
    let out = run(&mut env, 1, &mut p, &task(0.0, 100.0), (2, 6)).unwrap();
    assert_eq!(env.actions, vec![1.0, 2.0, 3.0, 4.0, 0.0, 0.0]);
    assert_eq!(out.plan_calls, 3);
    // A plan shorter than a cycle holds its last action.
    let mut env = Line::new();
    let mut p = ScriptedPlanner::new(&[1.0, 2.0], false);
    run(&mut env, 1, &mut p, &task(0.0, 100.0), (4, 4)).unwrap();
    assert_eq!(env.actions, vec![1.0, 2.0, 2.0, 2.0]);
}

#[test]
fn the_episode_ends_on_the_step_every_rule_is_met() {
    // x = 1, 2, 3: `loose` is met at step 2 (|2 − 3| = 1), `tight` at step 3.
    let mut env = Line::new();
    let mut p = ScriptedPlanner::new(&[1.0; 8], false);
    let out = run(&mut env, 1, &mut p, &task(0.0, 3.0), (4, 50)).unwrap();
    assert_eq!(out.steps, 3);
    assert_eq!(out.successes, vec![true, true]);
    assert!(out.trace.success);
    assert_eq!(out.trace.path.len(), 4);
    assert_eq!(out.min_goal_error, 0.0);
    assert_eq!(out.plan_calls, 1);
    // Only `loose` is ever met: the episode runs to the step limit, in the middle of a cycle.
    let mut env = Line::new();
    let mut p = ScriptedPlanner::new(&[1.0; 8], false);
    let out = run(&mut env, 1, &mut p, &task(0.5, 3.0), (4, 6)).unwrap();
    assert_eq!(out.successes, vec![true, false]);
    assert_eq!((out.steps, out.plan_calls), (6, 2));
    assert_eq!(out.min_goal_error, 0.5);
    // The rules are checked after each step, not at the start: a start at the goal takes one.
    let mut env = Line::new();
    let mut p = ScriptedPlanner::new(&[0.0; 2], false);
    let out = run(&mut env, 1, &mut p, &task(3.0, 3.0), (1, 1)).unwrap();
    assert_eq!((out.steps, out.successes.clone()), (1, vec![true, true]));
}

#[test]
fn the_cost_is_built_from_the_encoded_goal_observation() {
    // Goal x = 2 is observed as 20 and encoded as 2: the goal-distance cost of s = 2 is 0 and
    // of s = 5 is 3.
    let mut env = Line::new();
    let mut p = ScriptedPlanner::new(&[0.0; 2], false);
    p.probe = 2.0;
    run(&mut env, 1, &mut p, &task(0.0, 2.0), (1, 2)).unwrap();
    assert_eq!(p.cost_at, vec![0.0, 0.0]);
    let mut p = ScriptedPlanner::new(&[0.0; 2], false);
    p.probe = 5.0;
    run(&mut env, 1, &mut p, &task(0.0, 2.0), (1, 1)).unwrap();
    assert_eq!(p.cost_at, vec![3.0]);
}

#[test]
fn planning_time_counts_the_planner_only() {
    // 3 planning calls of ≥ 15 ms; 6 environment steps of 60 ms that must not be counted.
    let mut env = Line::new();
    env.step_sleep = Duration::from_millis(60);
    let mut p = ScriptedPlanner::new(&[1.0; 4], false);
    p.sleep = Duration::from_millis(15);
    let out = run(&mut env, 1, &mut p, &task(0.0, 100.0), (2, 6)).unwrap();
    assert_eq!(out.plan_calls, 3);
    assert!(out.plan_seconds >= 0.045, "{}", out.plan_seconds);
    assert!(out.plan_seconds < 0.045 + 0.3, "{}", out.plan_seconds);
}

#[test]
fn bad_plans_and_settings_are_errors() {
    struct Short(ScriptedPlanner);
    impl Planner for Short {
        fn plan(&mut self, s: &[f32], c: &Cost, m: &dyn WorldModel) -> Result<Plan, AgentError> {
            let mut p = self.0.plan(s, c, m)?;
            p.actions.pop();
            Ok(p)
        }
        fn shift(&mut self, k: usize) {
            self.0.shift(k)
        }
        fn reset(&mut self) {
            self.0.reset()
        }
        fn horizon(&self) -> usize {
            self.0.horizon()
        }
    }
    let wm = Scripted {
        repeat: 1,
        seen: RefCell::new(Vec::new()),
    };
    let cost = CostConfig::default();
    let readout = WorldReadout::default();
    let mut short = Short(ScriptedPlanner::new(&[1.0; 3], false));
    let actor = Actor {
        perception: &wm,
        model: &wm,
        planner: &mut short,
        cost: &cost,
        fixed: FixedCost::none(),
        readout: &readout,
    };
    let settings = ActSettings {
        replan_every: 1,
        max_steps: 3,
        advance_radius: 3.0,
        fallback_action: Vec::new(),
        record_imagined: false,
    };
    let err = run_episode(&mut Line::new(), actor, &task(0.0, 1.0), &settings).unwrap_err();
    assert!(err.to_string().contains("plan actions"), "{err}");
    let mut p = ScriptedPlanner::new(&[1.0; 3], false);
    let err = run(&mut Line::new(), 1, &mut p, &task(0.0, 1.0), (0, 3)).unwrap_err();
    assert!(err.to_string().contains("replan_every"), "{err}");
    // The goal observation is the first thing perception sees.
    let mut p = ScriptedPlanner::new(&[1.0; 3], false);
    let wm = Scripted {
        repeat: 1,
        seen: RefCell::new(Vec::new()),
    };
    let actor = Actor {
        perception: &wm,
        model: &wm,
        planner: &mut p,
        cost: &cost,
        fixed: FixedCost::none(),
        readout: &readout,
    };
    run_episode(&mut Line::new(), actor, &task(0.0, 7.0), &settings).unwrap();
    assert_eq!(wm.seen.borrow()[..2], [70.0, 0.0]);
}

#[test]
fn imagined_plans_are_the_probe_readings_of_the_current_state_then_the_predicted_ones() {
    // Probe x̂ = 2 s + 1; the scripted plan predicts 0 everywhere but its last state (3).
    let probe = ami_agent::StateProbe {
        repr_dim: 1,
        state_dim: 1,
        weights: vec![2.0],
        bias: vec![1.0],
        ridge: 0.0,
        error: None,
        names: Vec::new(),
        feature_p99: Vec::new(),
    };
    let wm = Scripted {
        repeat: 1,
        seen: RefCell::new(Vec::new()),
    };
    let cost = CostConfig::default();
    let readout = WorldReadout {
        probe: Some(std::sync::Arc::new(probe)),
        ..WorldReadout::default()
    };
    let go = |record: bool, readout: &WorldReadout| {
        let mut p = ScriptedPlanner::new(&[1.0, 2.0, 0.5], false);
        p.probe = 3.0;
        let actor = Actor {
            perception: &wm,
            model: &wm,
            planner: &mut p,
            cost: &cost,
            fixed: FixedCost::none(),
            readout,
        };
        let settings = ActSettings {
            replan_every: 2,
            max_steps: 5,
            advance_radius: 3.0,
            fallback_action: Vec::new(),
            record_imagined: record,
        };
        let out = run_episode(&mut Line::new(), actor, &task(0.0, 100.0), &settings).unwrap();
        (out, p.starts)
    };
    let (out, starts) = go(true, &readout);
    assert_eq!(out.imagined.len(), out.plan_calls);
    for (k, plan) in out.imagined.iter().enumerate() {
        assert_eq!(plan.step, 2 * k, "planned every 2 steps");
        // The first point reads the representation planned from, which encodes path[step].
        assert_eq!(plan.points[0], vec![2.0 * starts[k] + 1.0]);
        assert_eq!(starts[k], out.trace.path[plan.step][0]);
        assert_eq!(plan.points.len(), 4, "current state + h = 3 predicted");
        assert_eq!(plan.points[1..], [vec![1.0], vec![1.0], vec![7.0]]);
    }
    assert!(go(false, &readout).0.imagined.is_empty());
    assert!(go(true, &WorldReadout::default()).0.imagined.is_empty());
}
