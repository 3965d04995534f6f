//! `highway` through the environment seam: determinism, round trips, traffic density, stochastic
//! drivers, observations, tasks, reward-free data, configuration errors and pictures.

use ami_envs::highway::render::render_observation_png;
use ami_envs::highway::state::{
    CAR_DIM, CAR_MODE, CAR_PRESENT, CAR_X, CAR_Y, EGO_DIM, EGO_X, EGO_Y,
};
use ami_envs::highway::{crashed, progress};
use ami_envs::{
    generate, ActionMode, DataConfig, Env, EnvConfig, EnvSpec, EpisodeTrace, HighwayConfig, ObsKind,
};

/// A fixed, varied action sequence (accelerate, weave, brake).
fn action(k: usize) -> [f32; 2] {
    let t = k as f32 * 0.37;
    [0.6 * t.sin(), 0.8 * (0.5 * t).cos()]
}

fn run(env: &mut dyn Env, steps: usize) -> Vec<Vec<f32>> {
    (0..steps)
        .map(|k| env.step(&action(k)).unwrap().state)
        .collect()
}

fn build(cfg: &HighwayConfig) -> Box<dyn Env> {
    cfg.build().unwrap()
}

#[test]
fn same_seed_same_episode_different_seeds_differ() {
    let cfg = HighwayConfig::default();
    let (mut a, mut b) = (build(&cfg), build(&cfg));
    assert_eq!(a.reset(3), b.reset(3));
    let (ra, rb) = (run(a.as_mut(), 60), run(b.as_mut(), 60));
    assert_eq!(ra, rb);
    b.reset(4);
    assert_ne!(run(b.as_mut(), 60), ra);
}

#[test]
fn reset_to_state_reproduces_the_continuation() {
    let cfg = HighwayConfig::default();
    let mut a = build(&cfg);
    a.reset(11);
    run(a.as_mut(), 25);
    let mid = a.state();
    let mut b = build(&cfg);
    let obs = b.reset_to(&mid).unwrap();
    assert_eq!(b.state(), mid);
    assert_eq!(obs, a.observe());
    let (ra, rb) = (run(a.as_mut(), 40), run(b.as_mut(), 40));
    assert_eq!(ra, rb);
    // And reset(seed) is reset_to(its start).
    let start = {
        a.reset(5);
        a.state()
    };
    let ra = run(a.as_mut(), 30);
    b.reset_to(&start).unwrap();
    assert_eq!(run(b.as_mut(), 30), ra);
}

#[test]
fn density_stays_constant_and_drivers_are_random() {
    let cfg = HighwayConfig::default();
    let mut env = build(&cfg);
    env.reset(1);
    let (mut modes, mut lane_changes) = ([0usize; 3], 0usize);
    let mut last_y: Vec<f32> = Vec::new();
    for k in 0..500 {
        // Fast, weaving driving so that cars leave the window at both ends.
        let a = if k % 100 < 60 {
            [0.8, 0.3 * (k as f32 * 0.2).sin()]
        } else {
            [-0.8, 0.0]
        };
        let s = env.step(&a).unwrap().state;
        let cars: Vec<&[f32]> = s[EGO_DIM..].chunks(CAR_DIM).collect();
        assert!(cars.iter().all(|c| c[CAR_PRESENT] == 1.0), "step {k}");
        for c in &cars {
            let dx = c[CAR_X] - s[EGO_X];
            assert!(
                (-cfg.window_behind..=cfg.window_ahead).contains(&dx),
                "step {k}: {dx}"
            );
            modes[c[CAR_MODE] as usize] += 1;
        }
        let ys: Vec<f32> = cars.iter().map(|c| c[CAR_Y]).collect();
        if !last_y.is_empty() {
            lane_changes += ys.iter().zip(&last_y).filter(|(a, b)| a != b).count();
        }
        last_y = ys;
    }
    assert!(modes.iter().all(|&m| m > 0), "every mode occurs: {modes:?}");
    assert!(lane_changes > 0);
}

#[test]
fn observations_have_their_shapes_and_read_the_state() {
    for obs in [ObsKind::State, ObsKind::Image] {
        let cfg = HighwayConfig {
            obs,
            ..HighwayConfig::default()
        };
        let mut env = build(&cfg);
        let o = env.reset(2);
        let want = match obs {
            ObsKind::State => vec![6 + 5 * 6],
            ObsKind::Image => vec![3, 12, 40],
        };
        assert_eq!(env.obs_shape(), want);
        assert_eq!(cfg.obs_shape(), want);
        assert_eq!(o.len(), env.obs_dim());
        assert!(o.len() <= 2500);
        assert_eq!(env.observe_state(&env.state()).unwrap(), o);
        assert!(o.iter().all(|v| v.is_finite()));
        if obs == ObsKind::Image {
            // The ego's 5 m × 2 m covers 10 m² = 4 pixels of 2.5 m × 1 m; all of it is in view.
            let ego: f32 = o[12 * 40..2 * 12 * 40].iter().sum();
            assert!((ego - 4.0).abs() < 1e-4, "{ego}");
            assert!(o.iter().all(|v| (0.0..=1.0).contains(v)));
        } else {
            // Ego lane centre / road width, speed / 30; nearest car first.
            let s = env.state();
            assert!((o[0] - s[EGO_Y] / 12.0).abs() < 1e-6);
            // Slots are filled (8 cars for 6 slots) and sorted by distance in metres.
            let d: Vec<f32> = (0..6)
                .map(|k| {
                    assert_eq!(o[6 + 5 * k], 1.0);
                    (o[7 + 5 * k] * cfg.window_ahead).hypot(o[8 + 5 * k] * 12.0)
                })
                .collect();
            assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
        }
    }
}

#[test]
fn tasks_start_safely_and_have_no_goal() {
    let cfg = HighwayConfig::default();
    let tasks = cfg.tasks(20, 9).unwrap();
    assert_eq!(tasks, cfg.tasks(20, 9).unwrap());
    assert_ne!(tasks, cfg.tasks(20, 10).unwrap());
    let env = build(&cfg);
    assert!(env.success_rules().is_empty());
    assert!(cfg.regions().is_empty());
    for t in &tasks {
        assert_eq!(t.goal, t.start);
        assert!(!env.violation(&t.start));
        let s = &t.start;
        assert!((18.0..=24.0).contains(&s[2]));
        for c in s[EGO_DIM..].chunks(CAR_DIM) {
            assert_eq!(c[CAR_PRESENT], 1.0);
            if (c[CAR_Y] - s[EGO_Y]).abs() < cfg.car_width {
                assert!(
                    (c[CAR_X] - s[EGO_X]).abs() - cfg.car_length >= 20.0,
                    "{s:?}"
                );
            }
        }
    }
}

#[test]
fn discrete_mode_exposes_the_meta_actions_and_snaps_to_them() {
    let cfg = HighwayConfig {
        actions: ActionMode::Discrete,
        ..HighwayConfig::default()
    };
    let set = cfg.action_set().unwrap();
    assert_eq!(
        set,
        vec![
            vec![0.0, -1.0],
            vec![0.0, 0.0],
            vec![0.0, 1.0],
            vec![1.0, 0.0],
            vec![-1.0, 0.0]
        ]
    );
    assert!(HighwayConfig::default().action_set().is_none());
    // A vector near FASTER does exactly what FASTER does.
    let (mut a, mut b) = (build(&cfg), build(&cfg));
    a.reset(8);
    b.reset(8);
    for _ in 0..6 {
        assert_eq!(a.step(&[0.8, 0.3]).unwrap(), b.step(&[1.0, 0.0]).unwrap());
    }
}

#[test]
fn behaviour_data_is_diverse_and_logs_crashes() {
    for actions in [ActionMode::Continuous, ActionMode::Discrete] {
        let env = EnvConfig::Highway(HighwayConfig {
            actions,
            ..HighwayConfig::default()
        });
        let data = DataConfig {
            trajectories: 40,
            traj_len: 40,
            seed: 2,
            ..DataConfig::default()
        };
        let ds = generate(&env, &data, &mut |_| {}).unwrap();
        let s_dim = EGO_DIM + CAR_DIM * 8;
        assert_eq!((ds.state_dim, ds.action_dim), (s_dim, 2));
        assert_eq!(ds.states.len(), 40 * 41 * s_dim);
        assert_eq!(ds.observations.len(), 40 * 41 * 36);
        let states: Vec<&[f32]> = ds.states.chunks(s_dim).collect();
        let present = |s: &[f32]| {
            s[EGO_DIM..]
                .chunks(CAR_DIM)
                .filter(|c| c[CAR_PRESENT] == 1.0)
                .count()
        };
        let densities: std::collections::BTreeSet<usize> =
            states.iter().step_by(41).map(|s| present(s)).collect();
        assert!(densities.len() >= 4, "{densities:?}");
        let lanes: std::collections::BTreeSet<usize> =
            states.iter().map(|s| (s[EGO_Y] / 4.0) as usize).collect();
        assert_eq!(lanes.len(), 3);
        assert!(states.iter().any(|s| crashed(s)), "some trajectories crash");
        assert!(states.iter().any(|s| !crashed(s)));
        let moved = states
            .chunks(41)
            .map(|tr| progress(tr[0], tr[40]))
            .fold(0f32, f32::max);
        assert!(moved > 100.0, "{moved}");
        for a in ds.actions.chunks(2) {
            assert!(a[0].hypot(a[1]) <= 1.0 + 1e-6);
        }
        if actions == ActionMode::Discrete {
            let set = env.spec().action_set().unwrap();
            assert!(ds.actions.chunks(2).all(|a| set.iter().any(|m| m == a)));
            let kinds: std::collections::BTreeSet<String> =
                ds.actions.chunks(2).map(|a| format!("{a:?}")).collect();
            assert_eq!(kinds.len(), 5, "{kinds:?}");
        }
    }
}

#[test]
fn bad_values_name_their_field() {
    let d = HighwayConfig::default;
    for (cfg, field) in [
        (HighwayConfig { lanes: 0, ..d() }, "env.lanes"),
        (
            HighwayConfig {
                lane_width: -1.0,
                ..d()
            },
            "env.lane_width",
        ),
        (
            HighwayConfig {
                car_width: 4.0,
                ..d()
            },
            "env.car_width",
        ),
        (
            HighwayConfig {
                dt: f32::NAN,
                ..d()
            },
            "env.dt",
        ),
        (HighwayConfig { substeps: 1, ..d() }, "env.substeps"),
        (
            HighwayConfig {
                other_cars: 60,
                ..d()
            },
            "env.other_cars",
        ),
        (
            HighwayConfig {
                switch_prob: 1.5,
                ..d()
            },
            "env.switch_prob",
        ),
        (
            HighwayConfig {
                mode_probs: [0.0; 3],
                ..d()
            },
            "env.mode_probs",
        ),
        (
            HighwayConfig {
                driver_speed_max: 10.0,
                ..d()
            },
            "env.driver_speed_max",
        ),
        (
            HighwayConfig {
                image_width: 0,
                ..d()
            },
            "env.image_width",
        ),
    ] {
        let err = EnvSpec::validate(&cfg).unwrap_err().to_string();
        assert!(err.contains(&format!("`{field}`")), "{err}");
        assert!(cfg.build().is_err());
    }
    let mut cfg = d();
    cfg.idm.delta = 0.0;
    let err = EnvSpec::validate(&cfg).unwrap_err().to_string();
    assert!(err.contains("env.idm.delta"), "{err}");
    let bad = r#"{"kind":"highway","lanes":4,"lane_wdth":3.5}"#;
    let err = serde_json::from_str::<EnvConfig>(bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("lane_wdth"), "{err}");
    let ok: EnvConfig = serde_json::from_str(r#"{"kind":"highway","lanes":4}"#).unwrap();
    assert_eq!(ok.spec().state_dim(), 7 + 8 * 8);
}

#[test]
fn pictures_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HighwayConfig::default();
    let mut env = build(&cfg);
    let traces: Vec<EpisodeTrace> = (0..3)
        .map(|seed| {
            env.reset(seed);
            let start = env.state();
            let mut path = vec![start.clone()];
            path.extend(run(env.as_mut(), 30));
            EpisodeTrace {
                goal: start.clone(),
                start,
                path,
                success: false,
                subgoals: Vec::new(),
            }
        })
        .collect();
    let png = dir.path().join("episodes.png");
    cfg.render_episodes(&traces, 2, &png).unwrap();
    let decoder = png::Decoder::new(std::fs::File::open(&png).unwrap());
    let info = decoder.read_info().unwrap().info().clone();
    assert_eq!((info.width, info.height), (2 * 372, 2 * (72 + 12 + 12)));
    let bad = EpisodeTrace {
        path: vec![vec![0.0; 3]],
        ..traces[0].clone()
    };
    assert!(cfg.render_episodes(&[bad], 1, &png).is_err());

    let cfg = HighwayConfig {
        obs: ObsKind::Image,
        ..HighwayConfig::default()
    };
    let mut env = build(&cfg);
    let obs = env.reset(0);
    let png = dir.path().join("obs.png");
    render_observation_png(&cfg, &obs, &png).unwrap();
    let decoder = png::Decoder::new(std::fs::File::open(&png).unwrap());
    let info = decoder.read_info().unwrap().info().clone();
    assert_eq!((info.width, info.height), (320, 96));
    assert!(render_observation_png(&cfg, &obs[1..], &png).is_err());
}

#[test]
fn readout_clearance_is_negative_exactly_at_a_collision() {
    let cfg = HighwayConfig {
        other_cars: 2,
        ..HighwayConfig::default()
    };
    assert_eq!(cfg.readout_names().len(), 5);
    // Ego at x = 100 in lane 1 (y = 6) at 20 m/s; car 0 somewhere, car 1 behind in the next
    // lane: max(|−10| − 5, |4| − 2) = 5.
    let state = |x0: f32, y0: f32| {
        let mut s = vec![100.0, 6.0, 20.0, 0.0, 0.0, 1.0, 20.0];
        s.extend([1.0, x0, y0, 18.0, 1.0, 0.0, 0.0, 20.0]);
        s.extend([1.0, 90.0, 10.0, 18.0, 2.0, 0.0, 0.0, 20.0]);
        s
    };
    // Car 0 ahead in the lane: max(12 − 5, 0.5 − 2) = 7.
    // Safety gap: car 0 ahead, max(12 − 5, 5·(0.5 − 2)) = 7; car 1 behind in the next lane,
    // max(5·(10 − 5), 5·(4 − 2)) = 25.
    assert_eq!(
        cfg.readout(&state(112.0, 6.5)),
        vec![6.0, 20.0, 0.0, 5.0, 7.0]
    );
    assert_eq!(cfg.readout(&state(111.0, 6.5))[3], 5.0);
    assert_eq!(cfg.readout(&state(109.0, 6.5))[3], 4.0);
    // Alongside in the next lane: max(−5, 2) = 2.
    assert_eq!(cfg.readout(&state(100.0, 10.0))[3], 2.0);
    for (x, y) in [
        (104.0, 6.5),
        (103.0, 7.9),
        (105.5, 6.0),
        (112.0, 8.0),
        (101.0, 8.0),
    ] {
        let s = state(x, y);
        let c = cfg.readout(&s)[3];
        assert_eq!(
            c < 0.0,
            cfg.collided(&s),
            "car at ({x}, {y}): clearance {c}"
        );
        let g = cfg.readout(&s)[4];
        assert_eq!(
            g < 0.0,
            cfg.collided(&s),
            "car at ({x}, {y}): safety gap {g}"
        );
    }
    // Alongside in the next lane: max(5·(0 − 5), 5·(4 − 2)) = 10; queued 2 m behind in the
    // lane: 5·(7 − 5) = 10; car 1 (25) no nearer.
    assert_eq!(cfg.readout(&state(100.0, 10.0))[4], 10.0);
    assert_eq!(cfg.readout(&state(93.0, 6.0))[4], 10.0);
    // Overlapping from behind (Δx = −4): 5·(4 − 5) = −5, a collision.
    assert_eq!(cfg.readout(&state(96.0, 6.0))[4], -5.0);
    // Nothing present: the cap.
    let mut empty = state(0.0, 0.0);
    empty[7] = 0.0;
    empty[15] = 0.0;
    assert_eq!(cfg.readout(&empty)[3], ami_envs::highway::CLEARANCE_CAP);
    assert_eq!(
        cfg.progress(&state(112.0, 6.0), &{
            let mut s = state(112.0, 6.0);
            s[0] = 130.5;
            s
        }),
        Some(30.5)
    );
}
