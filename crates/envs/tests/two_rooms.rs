//! Geometry, move rule, success rules and test episodes of the two-rooms task.

use ami_envs::{
    is_success, test_episodes, Env, ObsKind, Room, SuccessRule, TwoRooms, TwoRoomsConfig,
    EPISODE_MARGIN,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn env_at(p: [f32; 2]) -> TwoRooms {
    let mut e = TwoRooms::new(TwoRoomsConfig::default()).unwrap();
    e.place_at(p).unwrap();
    e
}

// Default geometry: wall x ∈ [31, 33], door y ∈ [26, 38], border 2 px.
#[test]
fn a_move_into_the_wall_stops_just_before_its_face() {
    let mut e = env_at([29.5, 10.0]);
    let p = e.step([2.0, 0.0]).unwrap();
    assert!(p[0] < 31.0 && p[0] > 30.99, "{p:?}");
    assert_eq!(p[1], 10.0);
}

#[test]
fn a_move_through_the_door_passes() {
    let mut e = env_at([30.5, 32.0]);
    let p = e.step([2.0, 0.0]).unwrap();
    assert!((p[0] - 32.5).abs() < 1e-5 && p[1] == 32.0, "{p:?}");
    let p = e.step([2.0, 0.0]).unwrap();
    assert_eq!(e.config().room_of(p), Room::Right);
}

#[test]
fn moves_cannot_leave_the_border() {
    let mut e = env_at([3.0, 3.0]);
    let p = e.step([-2.0, -2.0]).unwrap();
    assert!(p[0] > 2.0 && p[1] > 2.0, "{p:?}");
    assert!(p[0] < 3.0 && p[1] < 3.0, "moved toward the corner: {p:?}");
}

#[test]
fn a_diagonal_move_into_a_wall_corner_stops_at_the_entry_point() {
    // From (30, 24.5) moving (+1.5, +1.5): enters the lower wall [31,33]×[0,26] at x = 31
    // (t = 2/3, y = 25.5) before reaching the door.
    let mut e = env_at([30.0, 24.5]);
    let p = e.step([1.5, 1.5]).unwrap();
    assert!(
        p[0] < 31.0 && p[0] > 30.99 && (p[1] - 25.5).abs() < 1e-2,
        "{p:?}"
    );
}

#[test]
fn a_diagonal_move_exactly_through_a_wall_corner_stops_before_the_corner() {
    // The lower wall's top-left corner is (31, 26); (30, 27) + t·(2, −2) reaches it at t = ½.
    let mut e = env_at([30.0, 27.0]);
    let p = e.step([2.0, -2.0]).unwrap();
    let back = 1e-3 / 2f32.sqrt();
    assert!((p[0] - (31.0 - back)).abs() < 1e-4, "{p:?}");
    assert!((p[1] - (26.0 + back)).abs() < 1e-4, "{p:?}");
}

#[test]
fn a_diagonal_move_passing_just_above_a_wall_corner_enters_the_door() {
    // ‖(1.8, −0.8)‖ = 1.97 < 2 (not clipped). At x = 31 the segment (30, 27) → (31.8, 26.2)
    // is at y = 27 − 0.8/1.8 ≈ 26.56 > 26: it misses the corner (31, 26) and ends in the door.
    let mut e = env_at([30.0, 27.0]);
    let p = e.step([1.8, -0.8]).unwrap();
    assert!(
        (p[0] - 31.8).abs() < 1e-5 && (p[1] - 26.2).abs() < 1e-5,
        "{p:?}"
    );
}

#[test]
fn a_move_from_inside_the_door_into_the_upper_wall_stops_below_it() {
    // In the door at (32, 37) moving up: the upper wall segment starts at y = 38.
    let mut e = env_at([32.0, 37.0]);
    let p = e.step([0.0, 2.0]).unwrap();
    assert!(p[1] < 38.0 && p[1] > 37.99 && p[0] == 32.0, "{p:?}");
}

#[test]
fn huge_finite_actions_are_clipped_not_zeroed() {
    let mut e = env_at([10.0, 10.0]);
    let p = e.step([3e38, 0.0]).unwrap();
    assert!((p[0] - 12.0).abs() < 1e-5 && p[1] == 10.0, "{p:?}");
}

#[test]
fn long_actions_are_clipped_to_max_step_and_nan_is_an_error() {
    let mut e = env_at([10.0, 10.0]);
    let p = e.step([30.0, 40.0]).unwrap();
    let d = ((p[0] - 10.0).powi(2) + (p[1] - 10.0).powi(2)).sqrt();
    assert!((d - 2.0).abs() < 1e-5, "moved {d}");
    assert!(
        (p[0] - 11.2).abs() < 1e-5 && (p[1] - 11.6).abs() < 1e-5,
        "direction kept: {p:?}"
    );
    let err = e.step([f32::NAN, 0.0]).unwrap_err().to_string();
    assert!(err.contains("not finite"), "{err}");
    assert!(
        env_at([10.0, 10.0]).place_at([32.0, 10.0]).is_err(),
        "inside the wall"
    );
}

#[test]
fn random_walks_stay_free_and_change_rooms_only_through_the_door() {
    let cfg = TwoRoomsConfig::default();
    let mut rng = StdRng::seed_from_u64(7);
    let mut e = env_at([16.0, 32.0]);
    let mut crossings = 0;
    for _ in 0..20_000 {
        let before = e.position();
        let a = [rng.gen_range(-3.0..3.0), rng.gen_range(-3.0..3.0)];
        let after = e.step(a).unwrap();
        assert!(cfg.is_free(after), "{after:?} not free");
        if cfg.room_of(before) != cfg.room_of(after) {
            crossings += 1;
            let y = 0.5 * (before[1] + after[1]);
            assert!((26.0..=38.0).contains(&y), "crossed at y = {y}");
        }
    }
    assert!(crossings > 0, "the walk never used the door");
}

#[test]
fn env_trait_reset_is_deterministic_and_step_checks_the_action_length() {
    let cfg = TwoRoomsConfig::default();
    let mut a = TwoRooms::new(cfg.clone()).unwrap();
    let mut b = TwoRooms::new(cfg.clone()).unwrap();
    assert_eq!(Env::reset(&mut a, 9), Env::reset(&mut b, 9));
    assert!(a.is_free(a.position()));
    let o8 = Env::reset(&mut b, 8);
    assert_ne!(Env::reset(&mut a, 9), o8);
    assert_eq!((a.obs_dim(), a.action_space().dim), (2, 2));
    assert_eq!(a.action_space().max_norm, cfg.max_step);
    let s = Env::step(&mut a, &[1.0, 0.5]).unwrap();
    assert_eq!(s.obs, s.state);
    assert_eq!(s.state, a.position().to_vec());
    assert_eq!(Env::state(&a), s.state);
    assert_eq!(a.observe_state(&s.state).unwrap(), s.obs);
    // Resetting to a state in a wall is an error; to a free one gives its observation.
    assert!(Env::reset_to(&mut a, &[32.0, 10.0]).is_err());
    assert_eq!(
        Env::reset_to(&mut a, &[10.0, 12.0]).unwrap(),
        vec![10.0, 12.0]
    );
    assert!(Env::reset_to(&mut a, &[10.0]).is_err());
    let err = Env::step(&mut a, &[1.0]).unwrap_err().to_string();
    assert!(err.contains("expected 2 values"), "{err}");
    let cfg = TwoRoomsConfig {
        obs: ObsKind::Image,
        ..cfg
    };
    let mut img = TwoRooms::new(cfg).unwrap();
    assert_eq!(Env::reset(&mut img, 1).len(), img.obs_dim());
    assert_eq!(img.obs_dim(), 2 * 32 * 32);
}

#[test]
fn success_rules_on_hand_computed_points() {
    let g = [10.0, 10.0];
    assert!(SuccessRule::Radius(4.5).is_success([14.49, 10.0], g));
    assert!(!SuccessRule::Radius(4.5).is_success([14.51, 10.0], g));
    // MSE = (dx² + dy²)/2: dx = dy = 0.995 → 0.990; dx = dy = 1.005 → 1.010.
    assert!(SuccessRule::Mse(1.0).is_success([10.995, 10.995], g));
    assert!(!SuccessRule::Mse(1.0).is_success([11.005, 11.005], g));
    // Along one axis: 1.3² / 2 = 0.845 < 1 passes Mse(1); 1.5² / 2 = 1.125 fails it while
    // 1.5 ≤ 4.5 still passes Radius(4.5).
    assert!(is_success(SuccessRule::Mse(1.0), [11.3, 10.0], g));
    assert!(!is_success(SuccessRule::Mse(1.0), [11.5, 10.0], g));
    assert!(is_success(SuccessRule::Radius(4.5), [11.5, 10.0], g));
}

#[test]
fn test_episodes_are_deterministic_cross_rooms_and_respect_margins() {
    let cfg = TwoRoomsConfig::default();
    let a = test_episodes(&cfg, 100, 1234).unwrap();
    assert_eq!(a, test_episodes(&cfg, 100, 1234).unwrap());
    assert_ne!(a, test_episodes(&cfg, 100, 99).unwrap());
    let mut left_starts = 0;
    for ep in &a {
        assert_ne!(cfg.room_of(ep.start), cfg.room_of(ep.goal));
        assert!(
            cfg.clearance(ep.start) >= EPISODE_MARGIN && cfg.clearance(ep.goal) >= EPISODE_MARGIN
        );
        left_starts += (cfg.room_of(ep.start) == Room::Left) as usize;
    }
    assert_eq!(left_starts, 50);
    for (i, ep) in a.iter().enumerate() {
        let want = if i % 2 == 0 { Room::Left } else { Room::Right };
        assert_eq!(cfg.room_of(ep.start), want, "episode {i}");
    }
    // A margin no position can satisfy is an error, not an endless loop.
    let tight = TwoRoomsConfig {
        size: 20.0,
        door_y: 10.0,
        door_height: 4.0,
        ..TwoRoomsConfig::default()
    };
    let err = tight
        .sample_free(&mut StdRng::seed_from_u64(0), 30.0, None)
        .unwrap_err();
    assert!(err.to_string().contains("no free position"), "{err}");
}

#[test]
fn image_observations_show_the_agent_and_the_walls() {
    let cfg = TwoRoomsConfig {
        obs: ami_envs::ObsKind::Image,
        image_res: 32,
        ..TwoRoomsConfig::default()
    };
    let obs = ami_envs::observe_at(&cfg, [11.0, 21.0]);
    assert_eq!(obs.len(), 2 * 32 * 32);
    // 2 px per pixel: (11, 21) is the centre of pixel row 10, column 5 -> blob value 1.
    assert!((obs[10 * 32 + 5] - 1.0).abs() < 1e-6);
    let (argmax, _) =
        obs[..1024]
            .iter()
            .enumerate()
            .fold((0, 0.0), |b, (i, v)| if *v > b.1 { (i, *v) } else { b });
    assert_eq!(argmax, 10 * 32 + 5);
    assert_eq!(obs[1024], 1.0, "corner pixel is border");
    assert_eq!(
        obs[1024 + 5 * 32 + 15],
        1.0,
        "wall below the door at column 15 (x = 31)"
    );
    assert_eq!(obs[1024 + 16 * 32 + 15], 0.0, "door at row 16 (y = 33)");
}

#[test]
fn bad_configs_name_the_field() {
    let cfg = TwoRoomsConfig {
        max_step: -1.0,
        ..TwoRoomsConfig::default()
    };
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .contains("env.max_step"));
    let cfg = TwoRoomsConfig {
        door_y: 62.0,
        ..TwoRoomsConfig::default()
    };
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .contains("env.door_y"));
}
