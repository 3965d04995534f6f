//! The hierarchical planner against the flat one on a small maze where the way to the goal
//! leads away from it (issue 12): level 1 is the maze's exact dynamics, level 2 an H-JEPA
//! level 2 trained here on reward-free random walks, so the test isolates the planning.

use std::sync::{Arc, Mutex};

use ami_agent::cost::FixedCost;
use ami_agent::cost_config::{CostConfig, WorldReadout};
use ami_agent::data_support::DataSupport;
use ami_agent::level2::{Level2Model, SeenTrajectories};
use ami_agent::planner::{search_level2, DeadEnd, Hierarchical, HierarchicalConfig, Planner};
use ami_agent::planner::{Mppi, MppiConfig};
use ami_agent::task::{Reach, Target, TaskEpisode};
use ami_agent::world_model::WorldModel;
use ami_agent::{run_task_episode, ActSettings, Actor, AgentError, Perception};
use ami_envs::{DataConfig, Env, EnvConfig, MazeConfig};
use ami_jepa::burn::tensor::Device;
use ami_jepa::checkpoint::TensorMap;
use ami_jepa::hjepa::{train_level2, Level2, Level2Config, Level2Data};

/// Four rooms in a U: (0,0)–(1,0)–(1,1)–(0,1); rooms (0,0) and (0,1) touch, with no door
/// between them, so the straight way from one to the other is a wall.
fn u_maze() -> MazeConfig {
    let mut m = MazeConfig {
        rooms: [2, 2],
        doors: vec![[0, 0, 1, 0], [1, 0, 1, 1], [1, 1, 0, 1]],
        extra_doors: 0,
        ..MazeConfig::default()
    };
    m.task.min_rooms_apart = 3;
    m.task.max_steps = 150;
    m
}

/// Positions in px ↔ representations `s = p / 32 − 1`.
const SCALE: f32 = 32.0;

fn to_repr(p: &[f32]) -> Vec<f32> {
    p.iter().take(2).map(|v| v / SCALE - 1.0).collect()
}

struct Scaled;

impl Perception for Scaled {
    fn encode(&self, obs: &[f32]) -> Result<Vec<f32>, AgentError> {
        Ok(to_repr(obs))
    }
}

/// The maze's own dynamics as a world model on scaled positions, each planned action held
/// for `repeat` steps.
struct Exact {
    env: Mutex<Box<dyn Env>>,
    repeat: usize,
}

impl WorldModel for Exact {
    fn state_dim(&self) -> usize {
        2
    }
    fn action_dim(&self) -> usize {
        2
    }
    fn action_repeat(&self) -> usize {
        self.repeat
    }
    fn rollout(
        &self,
        s0: &[f32],
        actions: &[f32],
        n: usize,
        h: usize,
    ) -> Result<Vec<f32>, AgentError> {
        let mut env = self.env.lock().unwrap();
        let start = vec![(s0[0] + 1.0) * SCALE, (s0[1] + 1.0) * SCALE, 0.0];
        let mut out = Vec::with_capacity(n * h * 2);
        for i in 0..n {
            env.reset_to(&start)?;
            let mut state = start.clone();
            for t in 0..h {
                let a = &actions[(i * h + t) * 2..][..2];
                for _ in 0..self.repeat {
                    state = env.step(a)?.state;
                }
                out.extend(to_repr(&state));
            }
        }
        Ok(out)
    }
}

fn trained_level2(maze: &MazeConfig) -> Arc<Level2Model> {
    let env = EnvConfig::Maze(maze.clone());
    let data = ami_envs::generate(
        &env,
        &DataConfig {
            trajectories: 800,
            ..DataConfig::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let k = data.state_dim;
    let l2 = Level2Data {
        reprs: data.states.chunks(k).flat_map(to_repr).collect(),
        actions: data.actions.clone(),
        n_traj: data.n_traj,
        traj_len: data.traj_len,
        repr_dim: 2,
        action_dim: 2,
        max_action_norm: maze.max_step,
    };
    let cfg = Level2Config {
        hidden: vec![128, 128],
        steps: 1500,
        lr: 2e-3,
        ..Level2Config::default()
    };
    let (model, report) = train_level2(&cfg, &l2, &Device::default(), &mut |_| {}).unwrap();
    assert!(report.mse[0] < 0.2 * report.copy_mse[0], "{report:?}");
    // The planner's data support: the trajectories level 2 was trained on.
    let (n, len) = (data.n_traj - report.heldout_trajectories, data.traj_len + 1);
    let seen = SeenTrajectories {
        states: l2.reprs[..n * len * 2].to_vec(),
        n,
        len,
    };
    Arc::new(
        Level2Model::new(&model, 2, 2, report)
            .unwrap()
            .with_seen(seen)
            .unwrap(),
    )
}

/// A level 2 that knows no walls: `ŝ' = s + m · k·a_max / 32` (a straight macro step), with
/// the report and the data of `trained`.
fn wall_blind(trained: &Level2Model) -> Arc<Level2Model> {
    let mut map = TensorMap::new();
    let c = 8.0 * 2.0 / SCALE;
    map.insert(
        "predictor.layers.0.weight".into(),
        (vec![2, 4], vec![0.0, 0.0, c, 0.0, 0.0, 0.0, 0.0, c]),
    );
    map.insert("predictor.layers.0.bias".into(), (vec![2], vec![0.0, 0.0]));
    let model = Level2::from_tensors(&map, 1, &Device::default()).unwrap();
    Arc::new(
        Level2Model::new(&model, 2, 2, trained.report.clone())
            .unwrap()
            .with_seen(trained.seen.clone().unwrap())
            .unwrap(),
    )
}

fn mppi(horizon: usize) -> Box<dyn Planner> {
    Box::new(
        Mppi::new(MppiConfig {
            horizon,
            samples: 64,
            iterations: 3,
            max_action_norm: 2.0,
            ..MppiConfig::default()
        })
        .unwrap(),
    )
}

fn successes(maze: &MazeConfig, planner: &mut dyn Planner, n: usize) -> usize {
    let env_cfg = EnvConfig::Maze(maze.clone());
    let spec = env_cfg.spec();
    let tasks = spec.tasks(n, 7).unwrap();
    let model = Exact {
        env: Mutex::new(spec.build().unwrap()),
        repeat: 4,
    };
    let cost = CostConfig::default();
    let readout = WorldReadout::default();
    let settings = ActSettings {
        replan_every: 4,
        max_steps: maze.task.max_steps,
        advance_radius: 3.0,
        fallback_action: Vec::new(),
        record_imagined: false,
    };
    let mut won = 0;
    for t in &tasks {
        let mut env = spec.build().unwrap();
        let actor = Actor {
            perception: &Scaled,
            model: &model,
            planner: &mut *planner,
            cost: &cost,
            fixed: FixedCost::none(),
            readout: &readout,
        };
        let episode = TaskEpisode {
            start: t.start.clone(),
            targets: vec![Target::Goal(t.goal.clone())],
        };
        let out = run_task_episode(
            env.as_mut(),
            actor,
            &Reach { safe: false },
            &episode,
            &settings,
        )
        .unwrap();
        won += usize::from(out.trace.success);
    }
    won
}

#[test]
fn hierarchical_solves_the_u_maze_where_flat_planning_at_a_larger_budget_does_not() {
    let maze = u_maze();
    let level2 = trained_level2(&maze);
    let n = 6;
    // Flat: the same MPPI with twice the horizon (16 actions × 4 steps = 64 steps ahead).
    let flat = successes(&maze, mppi(16).as_mut(), n);
    let mut hier = Hierarchical::new(HierarchicalConfig::default(), mppi(8), level2).unwrap();
    let hierarchical = successes(&maze, &mut hier, n);
    eprintln!("flat {flat} hierarchical {hierarchical} of {n}");
    assert!(flat <= 1, "flat reached {flat} of {n}");
    assert!(
        hierarchical >= 5,
        "hierarchical reached {hierarchical} of {n}"
    );
}

#[test]
fn level2_search_goes_around_the_wall_and_dead_ends_block_their_direction() {
    let maze = u_maze();
    let level2 = trained_level2(&maze);
    let cfg = HierarchicalConfig::default();
    // From the middle of room (0,0) to the middle of room (0,1), straight above it.
    let (s0, goal) = (to_repr(&[16.0, 16.0]), to_repr(&[16.0, 48.0]));
    let plan = search_level2(&level2, &cfg, &s0, &goal, &[], None).unwrap();
    let path: Vec<[f32; 2]> = plan
        .path
        .chunks(2)
        .map(|s| [(s[0] + 1.0) * SCALE, (s[1] + 1.0) * SCALE])
        .collect();
    assert!(plan.distance < 0.2, "{plan:?}");
    // The way round passes through room (1, ·): x beyond the middle wall at 32 px.
    assert!(path.iter().any(|p| p[0] > 36.0), "{path:?}");
    assert_eq!(plan.macros.len(), plan.path.len());
    // A dead end pointing right, at the start, forbids every first macro-action within 60°
    // of +x.
    let dead = DeadEnd {
        at: s0.clone(),
        dir: vec![1.0, 0.0],
    };
    let blocked = search_level2(&level2, &cfg, &s0, &goal, &[dead], None).unwrap();
    let first = &blocked.macros[..2];
    let cos = first[0] / (first[0].hypot(first[1]));
    assert!(
        cos <= 0.5 + 1e-6,
        "first macro {first:?} after the dead end"
    );
}

#[test]
fn the_data_support_keeps_a_wall_blind_level2_out_of_the_wall() {
    let maze = u_maze();
    let blind = wall_blind(&trained_level2(&maze));
    let cfg = HierarchicalConfig::default();
    let mu = blind.report.mean_step as f32;
    let support = DataSupport::new(
        blind.seen.as_ref().unwrap().states.clone(),
        2,
        cfg.snap_radius * mu,
        cfg.line_radius * mu,
    )
    .unwrap();
    let (s0, goal) = (to_repr(&[16.0, 16.0]), to_repr(&[16.0, 48.0]));
    let px = |plan: &ami_agent::planner::Level2Plan| -> Vec<[f32; 2]> {
        plan.path
            .chunks(2)
            .map(|s| [(s[0] + 1.0) * SCALE, (s[1] + 1.0) * SCALE])
            .collect()
    };
    // Trusted everywhere, the wall-blind model walks straight up through the wall at y = 32.
    let trusting = search_level2(&blind, &cfg, &s0, &goal, &[], None).unwrap();
    assert!(trusting.distance < 0.2);
    assert!(
        px(&trusting).iter().all(|p| p[0] < 30.0),
        "{:?}",
        px(&trusting)
    );
    // Kept on the data, every state is a seen one and the path goes round by room (1, ·).
    let kept = search_level2(&blind, &cfg, &s0, &goal, &[], Some(&support)).unwrap();
    let path = px(&kept);
    assert!(kept.distance < 0.2, "{kept:?}");
    assert!(path.iter().any(|p| p[0] > 36.0), "{path:?}");
    let arena = maze.arena(0).unwrap();
    for p in &path {
        assert!(arena.is_free(*p), "{p:?} is not free space");
    }
    // No step crosses the middle wall (x < 31, y from below 31 to above 33).
    let mut prev = [16.0f32, 16.0];
    for p in &path {
        let crosses = prev[1] < 31.0 && p[1] > 33.0 || prev[1] > 33.0 && p[1] < 31.0;
        assert!(!(crosses && prev[0].max(p[0]) < 31.0), "{prev:?} -> {p:?}");
        prev = *p;
    }
    // The planner builds the same support itself from the model's data.
    let mut hier = Hierarchical::new(cfg, mppi(8), blind).unwrap();
    let won = successes(&maze, &mut hier, 4);
    let blind_cfg = HierarchicalConfig {
        snap_radius: 0.0,
        ..HierarchicalConfig::default()
    };
    let mut trusting =
        Hierarchical::new(blind_cfg, mppi(8), wall_blind(&trained_level2(&maze))).unwrap();
    let lost = successes(&maze, &mut trusting, 4);
    eprintln!("wall-blind level 2: kept on the data {won} of 4, trusted {lost} of 4");
    assert!(
        won >= 3,
        "hierarchical with a wall-blind level 2 reached {won} of 4"
    );
    assert!(
        lost <= 1,
        "trusting the wall-blind level 2 reached {lost} of 4"
    );
}
