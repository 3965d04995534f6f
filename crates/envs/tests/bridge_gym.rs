//! The bridge against real Gymnasium and DeepMind Control (needs the bridge's Python:
//! `ami envs setup`, or `AMI_PYTHON`). Each test prints why it skips when that Python or its
//! packages are missing, as on CI.
//!
//! The native `pendulum` and `cartpole` are checked equal to Gymnasium's to 1e-6 over 1000
//! steps of random actions.

use std::time::Duration;

use ami_envs::bridge::protocol::Message;
use ami_envs::bridge::remote::RemoteEnv;
use ami_envs::bridge::server::EnvServer;
use ami_envs::bridge::BridgeFailure;
use ami_envs::{
    Cartpole, CartpoleConfig, DmcConfig, Env, EnvError, EnvSpec, GymConfig, Pendulum,
    PendulumConfig,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// The gym env `id` on the bridge, or `None` (with a message) when the bridge's Python or a
/// package is missing.
fn open_gym(id: &str) -> Option<RemoteEnv> {
    let cfg = GymConfig {
        id: id.into(),
        ..GymConfig::default()
    };
    skip_if_absent(RemoteEnv::open(&cfg.remote()))
}

fn skip_if_absent<T>(r: Result<T, EnvError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(
            e @ EnvError::Bridge {
                failure: BridgeFailure::NoPython | BridgeFailure::MissingPackage(_),
                ..
            },
        ) => {
            eprintln!("SKIPPED: the bridge's Python is not available here ({e})");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// Maximum |a − b| over two trajectories.
fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn native_pendulum_equals_gymnasium_over_1000_steps() {
    let Some(mut gym) = open_gym("Pendulum-v1") else {
        return;
    };
    let cfg = PendulumConfig::default();
    let mut rng = StdRng::seed_from_u64(11);
    gym.reset_to(&[2.5, -0.75]).unwrap();
    let mut s = (gym.state_f64()[0], gym.state_f64()[1]);
    let mut worst = 0.0f64;
    for t in 0..1000 {
        let u: f32 = rng.gen_range(-2.5..2.5); // beyond the bound: clipping is compared too
        gym.step(&[u]).unwrap();
        s = Pendulum::dynamics(&cfg, s, u.into());
        worst = worst.max(max_diff(&[s.0, s.1], gym.state_f64()));
        assert!(
            worst < 1e-6,
            "step {t}: native {s:?}, gymnasium {:?}",
            gym.state_f64()
        );
    }
    // The observation is Gymnasium's `[cos θ, sin θ, θ̇]`.
    let obs = gym.observe();
    assert!((obs[0] - s.0.cos() as f32).abs() < 1e-6 && (obs[2] - s.1 as f32).abs() < 1e-6);
    eprintln!("pendulum: max |native − gymnasium| over 1000 steps = {worst:e}");
}

#[test]
fn native_cartpole_equals_gymnasium_over_1000_steps() {
    // CartPole-v1's actions are discrete, which the bridge's Env refuses; the raw protocol
    // steps it with Gymnasium's own actions 0/1 (forces ∓force_mag).
    let timeout = Duration::from_secs(120);
    let Some(mut server) = skip_if_absent(EnvServer::start("gym:CartPole-v1", timeout)) else {
        return;
    };
    let open = json!({"op": "open", "family": "gym", "id": "CartPole-v1"});
    if skip_if_absent(server.call(&Message::new(open))).is_none() {
        return;
    }
    let reply = server
        .call(&Message::new(json!({"op": "reset", "seed": 5})))
        .unwrap();
    let state = |m: &Message| m.array("state").unwrap().data.clone();
    let s0 = state(&reply);
    let cfg = CartpoleConfig::default();
    let mut s: [f64; 4] = std::array::from_fn(|i| s0[i]);
    let mut rng = StdRng::seed_from_u64(12);
    let mut worst = 0.0f64;
    for t in 0..1000 {
        let action = rng.gen_range(0..2u8);
        let reply = server
            .call(&Message::new(json!({"op": "raw_step", "action": action})))
            .unwrap();
        let force = if action == 1 {
            cfg.force_mag
        } else {
            -cfg.force_mag
        };
        s = Cartpole::dynamics(&cfg, s, force);
        let gym = state(&reply);
        worst = worst.max(max_diff(&s, &gym));
        assert!(worst < 1e-6, "step {t}: native {s:?}, gymnasium {gym:?}");
    }
    eprintln!("cartpole: max |native − gymnasium| over 1000 steps = {worst:e}");
}

#[test]
fn unknown_ids_and_discrete_spaces_are_clear_errors() {
    if open_gym("Pendulum-v1").is_none() {
        return;
    }
    let cfg = GymConfig {
        id: "NoSuchEnv-v9".into(),
        ..GymConfig::default()
    };
    let err = cfg.build().err().unwrap();
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            EnvError::Bridge {
                failure: BridgeFailure::UnknownEnv,
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("gym:NoSuchEnv-v9") && text.contains("NoSuchEnv"),
        "{text}"
    );
    let cfg = GymConfig {
        id: "CartPole-v1".into(),
        ..GymConfig::default()
    };
    let text = cfg.validate().unwrap_err().to_string();
    assert!(
        text.contains("Discrete(2)") && text.contains("gym:CartPole-v1"),
        "{text}"
    );
    assert!(text.contains("native `cartpole`"), "{text}");
}

#[test]
fn mujoco_state_is_qpos_qvel_and_resets_exactly() {
    let Some(mut env) = open_gym("Reacher-v5") else {
        return;
    };
    assert_eq!(env.info().state_kind, "mujoco");
    // Reacher: 4 qpos (two joints, target x/y) + 4 qvel.
    assert_eq!(env.state_dim(), 8);
    assert_eq!(env.action_space().dim, 2);
    env.reset(3);
    let start = env.state();
    env.reset_to(&start).unwrap();
    let first = env.step(&[0.5, -0.5]).unwrap();
    env.reset_to(&start).unwrap();
    let again = env.step(&[0.5, -0.5]).unwrap();
    assert_eq!(first, again);
    // observe_state leaves the current state alone.
    let before = env.state();
    let goal_obs = env.observe_state(&start).unwrap();
    assert_eq!(goal_obs.len(), env.obs_dim());
    assert_eq!(env.state(), before);
}

#[test]
fn pendulum_tasks_swing_up_to_upright() {
    let cfg = GymConfig::default();
    let Some(tasks) = skip_if_absent(cfg.tasks(3, 7)) else {
        return;
    };
    for t in &tasks {
        assert_eq!(t.goal, vec![0.0, 0.0]);
        assert!(t.start[0].abs() <= std::f32::consts::PI && t.start[1].abs() <= 1.0);
    }
    assert_eq!(cfg.obs_shape(), vec![3]);
    assert_eq!(cfg.state_dim(), 2);
    assert_eq!(cfg.tasks(3, 7).unwrap(), tasks, "tasks are deterministic");
}

#[test]
fn dmc_runs_with_state_and_pixels() {
    let cfg = DmcConfig::default();
    let Some(mut env) = skip_if_absent(RemoteEnv::open(&cfg.remote())) else {
        return;
    };
    // cartpole: qpos (slider, hinge) + qvel.
    assert_eq!(env.state_dim(), 4);
    assert_eq!(env.action_space().dim, 1);
    let start = env.state();
    env.reset_to(&start).unwrap();
    let a = env.step(&[1.0]).unwrap();
    env.reset_to(&start).unwrap();
    assert_eq!(env.step(&[1.0]).unwrap(), a);
    let pixels = DmcConfig {
        pixels: true,
        image_size: 32,
        ..cfg
    };
    match RemoteEnv::open(&pixels.remote()) {
        Ok(env) => {
            assert_eq!(env.obs_shape(), vec![3, 32, 32]);
            let obs = env.observe();
            assert!(obs.iter().all(|v| (0.0..=1.0).contains(v)));
            assert!(obs.iter().any(|&v| v != obs[0]), "a blank frame");
        }
        Err(e) => eprintln!("SKIPPED pixels: offscreen rendering is not available ({e})"),
    }
}

#[test]
fn the_anchor_envs_open_and_reset_to_their_states() {
    // (id, state kind, state length).
    let anchors = [
        ("PointMaze_UMaze-v3", "pointmaze", 4),
        ("gym_pusht/PushT-v0", "pusht", 6),
        ("cube-single-v0", "mujoco", 0),
    ];
    for (id, kind, dim) in anchors {
        let Some(mut env) = open_gym(id) else {
            return;
        };
        assert_eq!(env.info().state_kind, kind, "{id}");
        if dim > 0 {
            assert_eq!(env.state_dim(), dim, "{id}");
        }
        env.reset(1);
        let start = env.state();
        let a = vec![0.5; env.action_space().dim];
        env.step(&a).unwrap();
        assert_ne!(env.state(), start, "{id}: a step moves it");
        env.reset_to(&start).unwrap();
        assert_eq!(env.state(), start, "{id}");
        assert_eq!(env.observe().len(), env.obs_dim(), "{id}");
    }
    // PointMaze's tasks take its own goals, compared on (x, y).
    let cfg = GymConfig {
        id: "PointMaze_UMaze-v3".into(),
        ..GymConfig::default()
    };
    let tasks = cfg.tasks(4, 2).unwrap();
    let env = cfg.build().unwrap();
    for t in &tasks {
        assert_eq!(t.goal[2..], [0.0, 0.0]);
        assert!(t.goal[..2] != t.start[..2]);
        assert_eq!(env.goal_error(&t.start, &t.goal).len(), 2);
    }
}

#[test]
fn reacher_goals_are_its_targets_and_success_is_its_reward_rule() {
    let cfg = DmcConfig {
        domain: "reacher".into(),
        task: "easy".into(),
        success_radius: 0.06,
        ..DmcConfig::default()
    };
    let Some(mut env) = skip_if_absent(RemoteEnv::open(&cfg.remote())) else {
        return;
    };
    // fingertip (x, y), qpos (shoulder, wrist), qvel (2), target (x, y).
    assert_eq!(env.state_dim(), 8);
    assert_eq!(env.info().goal_dims, Some(2));
    let tasks = cfg.tasks(12, 5).unwrap();
    let mut targets = Vec::new();
    for t in &tasks {
        // The goal keeps the start's target and puts the fingertip on it, at rest.
        assert_eq!(t.goal[6..], t.start[6..]);
        assert!((t.goal[0] - t.goal[6]).abs() < 1e-5 && (t.goal[1] - t.goal[7]).abs() < 1e-5);
        assert_eq!(t.goal[4..6], [0.0, 0.0]);
        let r = (t.goal[6].powi(2) + t.goal[7].powi(2)).sqrt();
        assert!((0.05 - 1e-6..=0.2 + 1e-6).contains(&r), "target radius {r}");
        targets.push((t.goal[6], t.goal[7]));
        // reset_to restores the task's target with its arm pose.
        env.reset(999);
        env.reset_to(&t.start).unwrap();
        assert!(max_diff(&to_f64(&env.state()), &to_f64(&t.start)) < 1e-6);
        // At the goal the task pays reward 1 and the error is within the radius; at the
        // start (fingertip away from the target) the error is fingertip − target.
        env.reset_to(&t.goal).unwrap();
        env.step(&[0.0, 0.0]).unwrap();
        assert_eq!(env.last_reward(), Some(1.0));
        let err = env.goal_error(&t.goal, &t.goal);
        assert!(err.iter().all(|e| e.abs() < 1e-5));
        let e = env.goal_error(&t.start, &t.goal);
        assert_eq!(e, vec![t.start[0] - t.goal[0], t.start[1] - t.goal[1]]);
    }
    targets.dedup();
    assert!(
        targets.len() > 6,
        "tasks draw different targets: {targets:?}"
    );
    // The rule agrees with the task's reward on states along random motion.
    let rule = ami_envs::SuccessRule::Radius(0.06);
    let mut rng = StdRng::seed_from_u64(3);
    let goal = &tasks[0].goal;
    env.reset_to(goal).unwrap();
    let (mut agree, mut paid) = (0, 0);
    for _ in 0..200 {
        let a = [rng.gen_range(-0.3..0.3), rng.gen_range(-0.3..0.3)];
        env.step(&a).unwrap();
        let paid_now = env.last_reward().unwrap() >= 1.0;
        let met = rule.is_met(&env.goal_error(&env.state(), goal));
        agree += usize::from(met == paid_now);
        paid += usize::from(paid_now);
    }
    assert_eq!(agree, 200, "rule and reward disagree");
    assert!(
        paid > 0 && paid < 200,
        "the walk leaves and enters the target: {paid}"
    );
}

#[test]
fn push_t_goals_are_full_coverage_of_its_goal_zone() {
    let Some(mut env) = open_gym("gym_pusht/PushT-v0") else {
        return;
    };
    assert_eq!(env.info().goal_dims, Some(1));
    env.reset(4);
    let start = env.state();
    let goal = env.env_goal().expect("Push-T has a goal").to_vec();
    // 1 − coverage, agent (x, y), block (x, y, angle): the block at the env's goal pose.
    assert_eq!(goal[0], 0.0);
    assert_eq!(goal[3..], [256.0, 256.0, std::f32::consts::FRAC_PI_4]);
    assert!(
        (0.0..=1.0).contains(&start[0]) && start[0] > 0.05,
        "{start:?}"
    );
    assert_eq!(env.goal_error(&start, &goal), vec![start[0]]);
    // The goal state, set, covers the zone (its own coverage is recomputed by the env).
    env.reset_to(&goal).unwrap();
    assert!(
        env.state()[0] < 0.05,
        "coverage at the goal pose: {:?}",
        env.state()
    );
}

fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

#[test]
fn bridge_envs_draw_video_frames_on_their_state_plot() {
    let cfg = DmcConfig {
        domain: "reacher".into(),
        task: "easy".into(),
        ..DmcConfig::default()
    };
    let Some(_) = skip_if_absent(RemoteEnv::open(&cfg.remote())) else {
        return;
    };
    let task = cfg.tasks(1, 9).unwrap().remove(0);
    let mut env = cfg.build().unwrap();
    env.reset_to(&task.start).unwrap();
    let mut path = vec![task.start.clone()];
    for _ in 0..5 {
        path.push(env.step(&[1.0, -1.0]).unwrap().state);
    }
    let trace = ami_envs::EpisodeTrace {
        start: task.start.clone(),
        goal: task.goal.clone(),
        path,
        success: false,
        subgoals: vec![],
    };
    let spec: &dyn EnvSpec = &cfg;
    let frame = spec
        .video_frame(&trace, 2, std::slice::from_ref(&task.goal))
        .unwrap();
    let frame = frame.expect("a bridge env has a state plot to animate");
    let purple = ami_envs::render::IMAGINED;
    let has = |c: [u8; 3]| frame.pixels().chunks(3).any(|p| p == c);
    assert!(has(purple) && has(ami_envs::render::AGENT));
    // A plan of states of another length is not drawn (nothing to map).
    let other = spec
        .video_frame(&trace, 2, &[vec![0.0; 3]])
        .unwrap()
        .unwrap();
    assert!(!other.pixels().chunks(3).any(|p| p == purple));
}
