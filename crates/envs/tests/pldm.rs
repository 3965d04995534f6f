//! `pldm`: PLDM's layout, move rules, images and test protocol against hand-computed cases.
//! (The data generator's statistics are in `pldm_data.rs`.)

use ami_envs::pldm::dynamics::{bounce_seed, data_move, eval_move, first_crossing};
use ami_envs::pldm::tasks::{goal_x_range, start_x_range, test_tasks, y_range};
use ami_envs::pldm::{MoveRule, Pldm, PldmConfig, IMAGE_RES};
use ami_envs::sampling::standard_normal;
use ami_envs::{Env, EnvConfig, EnvSpec, ObsKind, TwoRoomsConfig};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn geometry() -> TwoRoomsConfig {
    PldmConfig::default().geometry()
}

/// The two standard normals of the bounce of `p → p + a` (the env's own seed and draws).
fn normals(p: [f32; 2], a: [f32; 2]) -> [f32; 2] {
    let mut rng = StdRng::seed_from_u64(bounce_seed(p, a));
    [standard_normal(&mut rng), standard_normal(&mut rng)]
}

fn close(a: [f32; 2], b: [f32; 2]) -> bool {
    (a[0] - b[0]).abs() < 1e-5 && (a[1] - b[1]).abs() < 1e-5
}

#[test]
fn the_layout_is_pldms_fixed_two_rooms() {
    let g = geometry();
    for (p, free) in [
        ([4.1, 30.0], true),
        ([3.9, 30.0], false),
        ([59.9, 59.9], true),
        ([60.0, 30.0], false),
        ([30.9, 30.0], true),
        ([31.0, 30.0], false), // wall x ∈ [31, 33]
        ([33.0, 20.0], false),
        ([33.1, 20.0], true),
        ([32.0, 10.0], true),  // in the door y ∈ (6, 14)
        ([32.0, 5.9], false),  // below the door
        ([32.0, 14.1], false), // above the door
        ([32.0, 4.5], false),
    ] {
        assert_eq!(g.is_free(p), free, "{p:?}");
    }
}

#[test]
fn a_move_into_the_wall_below_the_door_stops_at_the_intersection_and_bounces_back() {
    // From (29.5, 5) moving (+2, 0): meets the wall x = 31 at y = 5, below the door
    // (y ∈ [6, 14]), a quarter of the way.
    let (p, a) = ([29.5, 5.0], [2.0, 0.0]);
    let c = first_crossing(&geometry(), p, a).expect("crosses");
    assert!(
        close(c.point, [31.0, 5.0]) && (c.t - 0.75).abs() < 1e-6,
        "{c:?}"
    );
    assert!(!c.jamb);
    // Without noise it stops at the crossing, which the clamp puts 0.3 px back: x = 30.7.
    let r = eval_move(&geometry(), p, a, 0.0);
    assert!(close(r, [30.7, 5.0]), "{r:?}");
    // With PLDM's σ = 0.5: x pushed back to the agent's side by |n_x|, y moved by n_y (and
    // clamped to 4.3 should it reach the border line y = 4).
    let n = normals(p, a);
    let want_y = 5.0 + 0.5 * n[1];
    let want = [
        31.0 - 0.5 * n[0].abs(),
        if want_y <= 4.0 { 4.3 } else { want_y },
    ];
    let r = eval_move(&geometry(), p, a, 0.5);
    assert!(close(r, want), "{r:?} vs {want:?}");
    assert!(r[0] < 31.0);
    // The data rule leaves the agent where it was.
    assert_eq!(data_move(&geometry(), p, a), p);
}

#[test]
fn a_diagonal_move_into_the_wall_above_the_door_stops_where_it_meets_the_face() {
    // (29.5, 20) + t·(2, 1) meets x = 31 at t = 0.75, y = 20.75.
    let (p, a) = ([29.5, 20.0], [2.0, 1.0]);
    let r = eval_move(&geometry(), p, a, 0.0);
    assert!(close(r, [30.7, 20.75]), "{r:?}");
    // From the right room the bounce goes right: x ≥ 33.
    let (p, a) = ([34.5, 20.0], [-2.0, 1.0]);
    let r = eval_move(&geometry(), p, a, 0.0);
    assert!(close(r, [33.3, 20.75]), "{r:?}");
    let n = normals(p, a);
    let r = eval_move(&geometry(), p, a, 0.5);
    assert!(
        close(r, [33.0 + 0.5 * n[0].abs(), 20.75 + 0.5 * n[1]]),
        "{r:?}"
    );
}

#[test]
fn a_move_through_the_door_passes_unchanged() {
    for rule in [MoveRule::Evaluation, MoveRule::Data] {
        let mut env = Pldm::new(PldmConfig::default(), rule).unwrap();
        env.reset_to(&[30.0, 10.0]).unwrap();
        // Crosses x = 31 at y = 10.25 (inside the door) into the doorway...
        let s = env.step(&[2.0, 0.5]).unwrap();
        assert!(
            close([s.state[0], s.state[1]], [32.0, 10.5]),
            "{rule:?} {s:?}"
        );
        // ...and out into the right room.
        let s = env.step(&[2.0, 0.0]).unwrap();
        assert!(
            close([s.state[0], s.state[1]], [34.0, 10.5]),
            "{rule:?} {s:?}"
        );
    }
}

#[test]
fn a_move_out_of_the_doorway_into_its_jamb_bounces_without_the_room_clamp() {
    // From inside the doorway (32, 13) moving (0.4, 2): meets the jamb y = 14 at t = 0.5,
    // x = 32.2. PLDM returns c + (n_x, −|n_y|) there, without clamping to a room.
    let (p, a) = ([32.0, 13.0], [0.4, 2.0]);
    let c = first_crossing(&geometry(), p, a).expect("crosses");
    assert!(c.jamb && close(c.point, [32.2, 14.0]), "{c:?}");
    let n = normals(p, a);
    let r = eval_move(&geometry(), p, a, 0.5);
    assert!(
        close(r, [32.2 + 0.5 * n[0], 14.0 - 0.5 * n[1].abs()]),
        "{r:?} {n:?}"
    );
    // The lower jamb y = 6 from the doorway, moving down.
    let (p, a) = ([32.5, 7.0], [-0.2, -2.0]);
    let c = first_crossing(&geometry(), p, a).expect("crosses");
    assert!(c.jamb && close(c.point, [32.4, 6.0]), "{c:?}");
    let n = normals(p, a);
    let r = eval_move(&geometry(), p, a, 0.5);
    assert!(
        close(r, [32.4 + 0.5 * n[0], 6.0 + 0.5 * n[1].abs()]),
        "{r:?}"
    );
    // Without noise the point on the jamb is not free: it stops just before it instead.
    let r = eval_move(&geometry(), p, a, 0.0);
    assert!(geometry().is_free(r) && r[1] > 6.0 && r[1] < 6.01, "{r:?}");
}

#[test]
fn bounces_are_pushed_to_the_free_side_and_clamped_0_3_px_inside() {
    let g = geometry();
    let (mut clamped, mut pushed) = (0, 0.0f64);
    for i in 0..400 {
        // Hit the left border x = 4 at y = 4.2: a bounce 0.5·n_y ≤ −0.2 would reach the line
        // y = 4.
        let p = [5.0 + i as f32 * 1e-3, 4.2];
        let a = [-2.0, 0.0];
        let n = normals(p, a);
        let r = eval_move(&g, p, a, 0.5);
        assert!(g.is_free(r), "{r:?}");
        assert!(
            (r[0] - (4.0 + 0.5 * n[0].abs())).abs() < 1e-5,
            "x pushed right: {r:?}"
        );
        if 4.2 + 0.5 * n[1] <= 4.0 {
            assert_eq!(r[1], 4.3, "y clamped 0.3 px inside: {r:?}");
            clamped += 1;
        } else {
            assert!((r[1] - (4.2 + 0.5 * n[1])).abs() < 1e-5, "{r:?}");
        }
        pushed += f64::from(r[0] - 4.0);
    }
    // P(n_y ≤ −0.4) = Φ(−0.4) = 0.345; the push back has mean σ·√(2/π) = 0.399.
    assert!((110..170).contains(&clamped), "{clamped} clamped of 400");
    assert!(
        (pushed / 400.0 - 0.399).abs() < 0.05,
        "mean push {}",
        pushed / 400.0
    );
    // A large σ pushes far: x is clamped 0.3 px inside the left room, never into the wall.
    for i in 0..200 {
        let p = [20.0 + i as f32 * 1e-2, 5.0];
        let r = eval_move(&g, p, [0.0, -2.0], 40.0);
        assert!(
            r[0] > 4.0 && r[0] < 31.0 && r[1] > 4.0 && r[1] < 60.0,
            "{r:?}"
        );
        assert!(g.is_free(r));
    }
    let edges = (0..200)
        .map(|i| eval_move(&g, [20.0 + i as f32 * 1e-2, 5.0], [0.0, -2.0], 40.0))
        .filter(|r| [4.3, 30.7].contains(&r[0]) || r[1] == 59.7)
        .count();
    assert!(edges > 50, "{edges} of 200 bounces clamped");
}

#[test]
fn evaluation_steps_are_reproducible_and_clipped_to_the_planner_bound() {
    let cfg = EnvConfig::Pldm(PldmConfig::default());
    let spec = cfg.spec();
    assert_eq!(spec.action_space().max_norm, 2.45);
    let run = || {
        let mut env = spec.build().unwrap();
        env.reset_to(&[20.0, 30.0]).unwrap();
        (0..40)
            .map(|k| env.step(&[1.5 + 0.01 * k as f32, 0.3]).unwrap().state)
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b, "same start and actions, same numbers");
    assert!(a.iter().all(|s| s[0] < 31.0), "never through the wall");
    let mut env = spec.build().unwrap();
    env.reset_to(&[10.0, 30.0]).unwrap();
    let s = env.step(&[3.0, 4.0]).unwrap();
    assert!(
        close([s.state[0], s.state[1]], [10.0 + 1.47, 30.0 + 1.96]),
        "{s:?}"
    );
    assert!(env.step(&[f32::NAN, 0.0]).is_err());
    assert!(env.reset_to(&[32.0, 30.0]).is_err(), "inside the wall");
}

#[test]
fn image_observations_are_65_px_with_the_blob_on_the_agents_pixel() {
    let spec = PldmConfig::default();
    assert_eq!(EnvSpec::obs_shape(&spec), vec![2, 65, 65]);
    let env = spec.build().unwrap();
    let r = IMAGE_RES;
    for p in [[12.2f32, 47.6f32], [40.0, 9.0], [57.4, 6.6]] {
        let obs = env.observe_state(&p).unwrap();
        assert_eq!(obs.len(), 2 * r * r);
        let k = (0..r * r)
            .max_by(|&i, &j| obs[i].total_cmp(&obs[j]))
            .unwrap();
        assert_eq!(
            (k / r, k % r),
            (p[1].round() as usize, p[0].round() as usize),
            "{p:?}"
        );
        // The wall channel is the same for every position.
        assert_eq!(obs[r * r + 4 * r + 10], 1.0);
        assert_eq!(obs[r * r + 10 * r + 32], 0.0, "the door is open");
        assert_eq!(obs[r * r + 20 * r + 32], 1.0);
    }
    let state = PldmConfig {
        obs: ObsKind::State,
        ..PldmConfig::default()
    };
    assert_eq!(
        state.build().unwrap().observe_state(&[3.5, 40.0]).unwrap(),
        vec![3.5, 40.0]
    );
}

#[test]
fn pooled_observations_are_the_block_means_of_the_full_frames() {
    let full = PldmConfig::default().build().unwrap();
    let spec = PldmConfig {
        pool: 4,
        ..PldmConfig::default()
    };
    assert_eq!(EnvSpec::obs_shape(&spec), vec![2, 16, 16]);
    let mut env = spec.build().unwrap();
    assert_eq!(env.obs_shape(), vec![2, 16, 16]);
    let r = IMAGE_RES;
    // Blobs near the centres of blocks (2, 11) and (10, 2).
    for p in [[10.0f32, 46.0f32], [41.5, 9.5]] {
        let big = full.observe_state(&p).unwrap();
        let small = env.reset_to(&p).unwrap();
        assert_eq!(small.len(), 2 * 16 * 16);
        assert_eq!(small, env.observe_state(&p).unwrap());
        for (c, i, j) in [
            (0, 11, 3),
            (0, p[1] as usize / 4, p[0] as usize / 4),
            (1, 1, 1),
        ] {
            let mut sum = 0.0;
            for di in 0..4 {
                for dj in 0..4 {
                    sum += big[c * r * r + (4 * i + di) * r + 4 * j + dj];
                }
            }
            let got = small[c * 256 + i * 16 + j];
            assert!((got - sum / 16.0).abs() < 1e-6, "{p:?} ({c}, {i}, {j})");
        }
        // The agent's block is the brightest of channel 0.
        let k = (0..256)
            .max_by(|&a, &b| small[a].total_cmp(&small[b]))
            .unwrap();
        assert_eq!(
            (k / 16, k % 16),
            ((p[1] / 4.0) as usize, (p[0] / 4.0) as usize)
        );
    }
    // Stepping observes pooled frames too.
    assert_eq!(env.step(&[1.0, 0.0]).unwrap().obs.len(), 512);
}

#[test]
fn test_tasks_follow_pldms_ranges_and_swap_half_of_them() {
    let tasks = test_tasks(4000, 42);
    assert_eq!(tasks, test_tasks(4000, 42));
    assert_ne!(tasks, test_tasks(4000, 43));
    let inside = |v: f32, (lo, hi): (f32, f32)| v >= lo && v <= hi;
    assert_eq!(start_x_range(), (6.6, 28.4));
    assert_eq!(goal_x_range(), (35.6, 57.4));
    assert_eq!(y_range(), (6.6, 57.4));
    let mut swapped = 0;
    let (mut lo_x, mut hi_x, mut lo_y, mut hi_y) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for t in &tasks {
        let (left, right) = if t.start[0] < 32.0 {
            (&t.start, &t.goal)
        } else {
            swapped += 1;
            (&t.goal, &t.start)
        };
        assert!(inside(left[0], start_x_range()), "{t:?}");
        assert!(inside(right[0], goal_x_range()), "{t:?}");
        for p in [left, right] {
            assert!(inside(p[1], y_range()), "{t:?}");
            (lo_y, hi_y) = (lo_y.min(p[1]), hi_y.max(p[1]));
        }
        (lo_x, hi_x) = (lo_x.min(left[0]), hi_x.max(right[0]));
    }
    // The ranges are filled to their ends, and start and goal are swapped with p = ½.
    assert!(lo_x < 6.7 && hi_x > 57.3 && lo_y < 6.7 && hi_y > 57.3);
    let rate = swapped as f64 / tasks.len() as f64;
    assert!((rate - 0.5).abs() < 0.03, "swap rate {rate}");
    // Through the spec: the same tasks.
    let spec = PldmConfig::default();
    assert_eq!(EnvSpec::tasks(&spec, 10, 42).unwrap(), test_tasks(10, 42));
}

#[test]
fn config_errors_name_the_key() {
    for (cfg, key) in [
        (
            PldmConfig {
                max_step: 0.0,
                ..PldmConfig::default()
            },
            "env.max_step",
        ),
        (
            PldmConfig {
                bounce_std: -0.1,
                ..PldmConfig::default()
            },
            "env.bounce_std",
        ),
        (
            PldmConfig {
                pool: 0,
                ..PldmConfig::default()
            },
            "env.pool",
        ),
        (
            PldmConfig {
                pool: 66,
                ..PldmConfig::default()
            },
            "env.pool",
        ),
    ] {
        let err = EnvSpec::validate(&cfg).unwrap_err().to_string();
        assert!(err.contains(key), "{err}");
        assert!(cfg.build().is_err());
    }
    let bad = r#"{"kind":"pldm","obs":"image","max_step":2.45,"bounce_std":0.5,"door":3}"#;
    let err = serde_json::from_str::<EnvConfig>(bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("door"), "{err}");
}
