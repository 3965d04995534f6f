//! `pldm`: PLDM's reward-free data generator — sizes, the data move rule, step lengths,
//! turning angles, door crossings and the data regimes as settings.

use ami_envs::pldm::dynamics::data_move;
use ami_envs::pldm::walk::crosses_door;
use ami_envs::pldm::PldmConfig;
use ami_envs::{generate, DataConfig, Dataset, EnvConfig, ObsKind};

/// PLDM's generator settings (`pldm_envs/wall/configs/good_quality_data.yaml`).
fn pldm_data(transitions: usize, seed: u64) -> DataConfig {
    DataConfig {
        trajectories: 0,
        transitions,
        traj_len: 90,
        seed,
        kappa: 5.0,
        step_mean: 1.0,
        step_std: 0.4,
        ..DataConfig::default()
    }
}

fn state_env() -> EnvConfig {
    EnvConfig::Pldm(PldmConfig {
        obs: ObsKind::State,
        ..PldmConfig::default()
    })
}

fn data(cfg: &DataConfig) -> Dataset {
    generate(&state_env(), cfg, &mut |_| {}).unwrap()
}

fn states(d: &Dataset, i: usize) -> Vec<[f32; 2]> {
    let n = d.traj_len + 1;
    d.states[i * n * 2..(i + 1) * n * 2]
        .chunks_exact(2)
        .map(|s| [s[0], s[1]])
        .collect()
}

fn crossing_fraction(d: &Dataset) -> f64 {
    let g = PldmConfig::default().geometry();
    let n = (0..d.n_traj)
        .filter(|&i| crosses_door(&g, &states(d, i)))
        .count();
    n as f64 / d.n_traj as f64
}

/// Mean resultant length of the turning angles between consecutive actions.
fn turning_resultant(d: &Dataset) -> f64 {
    let (mut c, mut s, mut n) = (0f64, 0f64, 0usize);
    for i in 0..d.n_traj {
        let a = &d.actions[i * d.traj_len * 2..(i + 1) * d.traj_len * 2];
        for w in a.chunks_exact(2).collect::<Vec<_>>().windows(2) {
            let turn =
                (w[1][1] as f64).atan2(w[1][0] as f64) - (w[0][1] as f64).atan2(w[0][0] as f64);
            (c, s, n) = (c + turn.cos(), s + turn.sin(), n + 1);
        }
    }
    (c / n as f64).hypot(s / n as f64)
}

#[test]
fn the_size_is_given_in_transitions_with_91_state_trajectories() {
    let d = data(&pldm_data(9001, 1));
    assert_eq!(d.n_traj, 101, "⌈9001 / 90⌉ trajectories");
    assert_eq!(d.traj_len, 90);
    assert_eq!(d.states.len(), 101 * 91 * 2);
    assert_eq!(
        *d.observations, d.states,
        "state observations are the positions"
    );
    assert_eq!(d, data(&pldm_data(9001, 1)), "same seed, same data");
    assert_ne!(d.actions, data(&pldm_data(9001, 2)).actions);
}

#[test]
fn positions_follow_the_data_rule_and_blocked_moves_stay_put() {
    let d = data(&pldm_data(18_000, 3));
    let g = PldmConfig::default().geometry();
    let mut blocked = 0;
    for i in 0..d.n_traj {
        let s = states(&d, i);
        assert!(g.is_free(s[0]), "start {:?}", s[0]);
        for t in 0..d.traj_len {
            let a = [d.actions[(i * 90 + t) * 2], d.actions[(i * 90 + t) * 2 + 1]];
            assert_eq!(s[t + 1], data_move(&g, s[t], a), "trajectory {i}, step {t}");
            blocked += usize::from(s[t + 1] == s[t]);
        }
    }
    assert!(blocked > 20, "{blocked} blocked moves");
}

#[test]
fn step_lengths_are_pldms_truncated_normal() {
    let d = data(&pldm_data(27_000, 4));
    let norms: Vec<f64> = d
        .actions
        .chunks_exact(2)
        .map(|a| f64::from(a[0].hypot(a[1])))
        .collect();
    let n = norms.len() as f64;
    let mean = norms.iter().sum::<f64>() / n;
    let std = (norms.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!((mean - 1.0).abs() < 0.02, "mean step {mean}");
    assert!((std - 0.3518).abs() < 0.02, "step std {std}");
    let (lo, hi) = norms
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
    assert!(lo >= 0.2 - 1e-5 && hi <= 1.8 + 1e-5, "[{lo}, {hi}]");
    assert!(lo < 0.25 && hi > 1.75, "[{lo}, {hi}]");
}

#[test]
fn directions_turn_by_von_mises_kappa_5_or_uniformly_when_random() {
    // I₁(5)/I₀(5) = 0.8934: the mean resultant length of VonMises(0, 5) turns. Trajectories
    // without door crossings have no steering junction.
    let plain = DataConfig {
        door_crossing_rate: 0.0,
        ..pldm_data(27_000, 5)
    };
    let r = turning_resultant(&data(&plain));
    assert!((r - 0.8934).abs() < 0.01, "κ = 5: R = {r}");
    let random = DataConfig {
        kappa: 0.0,
        ..plain.clone()
    };
    let r = turning_resultant(&data(&random));
    assert!(r < 0.03, "random directions: R = {r}");
    let mixed = DataConfig {
        random_fraction: 0.5,
        ..plain
    };
    let r = turning_resultant(&data(&mixed));
    assert!((r - 0.8934 / 2.0).abs() < 0.06, "half random: R = {r}");
}

#[test]
fn the_door_crossing_rate_is_the_fraction_of_trajectories_through_the_door() {
    let rate = crossing_fraction(&data(&pldm_data(36_000, 6)));
    assert!((rate - 0.6).abs() < 0.08, "default 0.6: {rate}");
    for (r, want) in [(0.0, 0.0), (1.0, 1.0)] {
        let cfg = DataConfig {
            door_crossing_rate: r,
            ..pldm_data(18_000, 7)
        };
        assert_eq!(crossing_fraction(&data(&cfg)), want, "rate {r}");
    }
    // Random-direction data reach the same rates.
    let cfg = DataConfig {
        kappa: 0.0,
        door_crossing_rate: 0.0,
        ..pldm_data(9_000, 8)
    };
    assert_eq!(crossing_fraction(&data(&cfg)), 0.0);
}

#[test]
fn image_data_are_65_px_frames_of_the_logged_states() {
    let env = EnvConfig::Pldm(PldmConfig::default());
    let cfg = DataConfig {
        traj_len: 4,
        ..pldm_data(8, 9)
    };
    let d = generate(&env, &cfg, &mut |_| {}).unwrap();
    assert_eq!(d.obs_shape, vec![2, 65, 65]);
    let frame = 2 * 65 * 65;
    assert_eq!(d.observations.len(), 2 * 5 * frame);
    let built = env.spec().build().unwrap();
    for k in 0..2 * 5 {
        let s = &d.states[k * 2..k * 2 + 2];
        let want = built.observe_state(s).unwrap();
        assert_eq!(&d.observations[k * frame..(k + 1) * frame], &want[..]);
    }
}

#[test]
fn data_settings_are_checked_by_name() {
    for (cfg, key) in [
        (
            DataConfig {
                door_crossing_rate: 1.5,
                ..pldm_data(900, 0)
            },
            "data.door_crossing_rate",
        ),
        (
            DataConfig {
                random_fraction: -0.1,
                ..pldm_data(900, 0)
            },
            "data.random_fraction",
        ),
        (
            DataConfig {
                step_min: 2.0,
                ..pldm_data(900, 0)
            },
            "data.step_max",
        ),
        (
            DataConfig {
                trajectories: 10,
                ..pldm_data(900, 0)
            },
            "data.transitions",
        ),
        (
            DataConfig {
                transitions: 0,
                ..pldm_data(900, 0)
            },
            "data.trajectories",
        ),
    ] {
        let err = generate(&state_env(), &cfg, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}
