//! Reward-free data generation: determinism, bounds, consistency with the env, door steering.

use ami_envs::{generate, DataConfig, Dataset, EnvConfig, ObsKind, TwoRoomsConfig};

fn small(door_fraction: f32, seed: u64) -> Dataset {
    let cfg = DataConfig {
        trajectories: 200,
        traj_len: 32,
        seed,
        door_fraction,
        ..DataConfig::default()
    };
    generate(
        &EnvConfig::TwoRooms(TwoRoomsConfig::default()),
        &cfg,
        &mut |_| {},
    )
    .unwrap()
}

fn position(d: &Dataset, traj: usize, step: usize) -> [f32; 2] {
    let k = (traj * (d.traj_len + 1) + step) * 2;
    [d.states[k], d.states[k + 1]]
}

#[test]
fn generation_is_deterministic_given_the_seed() {
    let a = small(0.3, 5);
    assert_eq!(a, small(0.3, 5));
    assert_ne!(a.actions, small(0.3, 6).actions);
    assert_eq!(a.actions.len(), 200 * 32 * 2);
    assert_eq!(a.states.len(), 200 * 33 * 2);
    // State observations are the positions.
    assert_eq!(*a.observations, a.states);
}

#[test]
fn actions_are_bounded_and_positions_follow_the_env_exactly() {
    let a = small(0.3, 5);
    let env = TwoRoomsConfig::default();
    for a_t in a.actions.chunks_exact(2) {
        assert!(a_t[0].hypot(a_t[1]) <= env.max_step + 1e-5, "{a_t:?}");
    }
    let t = a.traj_len;
    for i in 0..a.n_traj {
        let mut p = position(&a, i, 0);
        assert!(env.is_free(p), "start {p:?}");
        for s in 0..t {
            let act = [a.actions[(i * t + s) * 2], a.actions[(i * t + s) * 2 + 1]];
            p = env.transition(p, act).unwrap();
            assert_eq!(p, position(&a, i, s + 1), "trajectory {i}, step {s}");
        }
    }
}

#[test]
fn walls_stop_some_moves_but_the_walk_keeps_turning() {
    // Moves shorter than their action happen (walls are hit), and directions keep changing.
    let a = small(0.0, 11);
    let t = a.traj_len;
    let mut blocked = 0;
    for i in 0..a.n_traj {
        for s in 0..t {
            let (p, q) = (position(&a, i, s), position(&a, i, s + 1));
            let act = [a.actions[(i * t + s) * 2], a.actions[(i * t + s) * 2 + 1]];
            if (q[0] - p[0]).hypot(q[1] - p[1]) + 1e-4 < act[0].hypot(act[1]) {
                blocked += 1;
            }
        }
    }
    assert!(blocked > 0, "no move was ever blocked");
}

#[test]
fn door_steering_produces_more_room_changes() {
    let env = TwoRoomsConfig::default();
    let crossings = |d: &Dataset| {
        (0..d.n_traj)
            .filter(|&i| env.room_of(position(d, i, 0)) != env.room_of(position(d, i, d.traj_len)))
            .count()
    };
    let (none, steered) = (crossings(&small(0.0, 1)), crossings(&small(0.5, 1)));
    assert!(
        steered > 2 * none.max(5),
        "steered {steered} vs none {none}"
    );
}

#[test]
fn image_datasets_have_image_observations_and_progress_is_reported() {
    let env = TwoRoomsConfig {
        obs: ObsKind::Image,
        image_res: 16,
        ..TwoRoomsConfig::default()
    };
    let cfg = DataConfig {
        trajectories: 3,
        traj_len: 4,
        ..DataConfig::default()
    };
    let mut calls = Vec::new();
    let d = generate(&EnvConfig::TwoRooms(env), &cfg, &mut |k| calls.push(k)).unwrap();
    assert_eq!(calls, vec![1, 2, 3]);
    assert_eq!(d.obs_shape, vec![2, 16, 16]);
    assert_eq!(d.observations.len(), 3 * 5 * 2 * 16 * 16);
    assert!(d.observations.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn bad_data_configs_name_the_field() {
    for (cfg, field) in [
        (
            DataConfig {
                kappa: -1.0,
                ..DataConfig::default()
            },
            "data.kappa",
        ),
        (
            DataConfig {
                door_fraction: 1.5,
                ..DataConfig::default()
            },
            "data.door_fraction",
        ),
        (
            DataConfig {
                traj_len: 0,
                ..DataConfig::default()
            },
            "data.traj_len",
        ),
        (
            DataConfig {
                step_mean: f32::NAN,
                ..DataConfig::default()
            },
            "data.step_mean",
        ),
    ] {
        let err = generate(
            &EnvConfig::TwoRooms(TwoRoomsConfig::default()),
            &cfg,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains(field), "{err}");
    }
    let err = serde_json::from_str::<DataConfig>(r#"{"trajectories": 1, "bogus": 2}"#);
    assert!(err.unwrap_err().to_string().contains("bogus"));
}
