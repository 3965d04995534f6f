//! A trained run as a library object ([`TrainedRun`], what the Python bindings call): trained
//! from plain arrays it is the run trained from the generated dataset; its rollout starts at
//! the encoding; its planning call is the first one of an `ami eval` episode.

use ami_agent::pipeline::learned::run_reach;
use ami_agent::pipeline::{
    dataset_from_arrays, fit, generate_data, FitOptions, Learned, Preset, RunConfig, RunDir,
    Silent, TrainedRun, TrajectoryArrays,
};
use ami_agent::AgentError;

fn tiny() -> RunConfig {
    RunConfig::preset(Preset::Tiny)
        .with_overrides(&["data.trajectories=20".into()])
        .unwrap()
}

#[test]
fn a_trained_run_encodes_rolls_out_and_plans_as_the_episode_loop_does() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny();
    let data = generate_data(&cfg, &Silent).unwrap();
    // The dataset rebuilt from its arrays is the dataset.
    let rebuilt = dataset_from_arrays(
        &cfg,
        TrajectoryArrays {
            observations: data.observations.to_vec(),
            actions: data.actions.clone(),
            states: data.states.clone(),
            n_traj: data.n_traj,
            traj_len: data.traj_len,
        },
    )
    .unwrap();
    assert_eq!(rebuilt.observations, data.observations);
    assert_eq!(
        (
            rebuilt.obs_shape.clone(),
            rebuilt.action_dim,
            rebuilt.state_dim
        ),
        (data.obs_shape.clone(), data.action_dim, data.state_dim)
    );
    assert_eq!(rebuilt.env_config, data.env_config);
    assert_eq!(rebuilt.data_config.trajectory_count(), data.n_traj);

    let root = dir.path().join("run");
    let run = RunDir::create(&root).unwrap();
    fit(&run, &cfg, &rebuilt, FitOptions::default(), &Silent).unwrap();
    let trained = TrainedRun::open(&root).unwrap();
    let (d, a) = (trained.repr_dim(), trained.action_dim());
    assert_eq!(trained.obs_shape(), &data.obs_shape[..]);
    assert_eq!(a, data.action_dim);

    // Encode: a batch is its rows.
    let obs_dim: usize = data.obs_shape.iter().product();
    let two = &data.observations[..2 * obs_dim];
    let z = trained.encode(two).unwrap();
    assert_eq!(z.len(), 2 * d);
    assert_eq!(trained.encode(&two[obs_dim..]).unwrap(), z[d..]);

    // Rollout: row 0 is the start, shapes [n, h + 1, D].
    let h = 4;
    let acts = &data.actions[..2 * h * a];
    let states = trained.rollout(&z, acts, h).unwrap();
    assert_eq!(states.len(), 2 * (h + 1) * d);
    assert_eq!(states[..d], z[..d]);
    assert_eq!(states[(h + 1) * d..(h + 2) * d], z[d..]);
    let err = trained.rollout(&z, &acts[1..], h).unwrap_err();
    assert!(matches!(err, AgentError::Shape { .. }), "{err}");

    // Plan: the first planning call of the episode loop from the same start to the same goal.
    let tasks = cfg.env.spec().tasks(1, cfg.eval.val_seed).unwrap();
    let env = cfg.env.spec().build().unwrap();
    let (start, goal) = (
        env.observe_state(&tasks[0].start).unwrap(),
        env.observe_state(&tasks[0].goal).unwrap(),
    );
    let plan = trained.plan(&start, &goal, cfg.train.seed).unwrap();
    assert_eq!(plan.actions.len(), cfg.agent.horizon * a);
    let outcomes = run_reach(&run, &cfg, &Learned::default(), &tasks, 1, &Silent).unwrap();
    assert_eq!(outcomes[0].memory.transitions[0].action, plan.actions[..a]);
    // Its predicted states are the rollout of its actions.
    let s0 = trained.encode(&start).unwrap();
    let imagined = trained
        .rollout(&s0, &plan.actions, cfg.agent.horizon)
        .unwrap();
    for (x, y) in imagined[d..].iter().zip(&plan.predicted_states) {
        assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{x} vs {y}");
    }
}
