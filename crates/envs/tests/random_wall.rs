//! `random-wall`: EB-JEPA's two-rooms with a random wall and door — geometry and move rules in
//! two layouts against hand-computed cases, `reset_to`, the wall channel, the data generator's
//! statistics and the test protocol.

use ami_envs::pldm::observe::block_average;
use ami_envs::pldm::walk::crosses_door;
use ami_envs::pldm::{Layout, PldmConfig, IMAGE_RES};
use ami_envs::random_wall::tasks::{goal_x_range, start_x_range, test_tasks, EPISODES};
use ami_envs::random_wall::{RandomWallConfig, DOOR_Y_MAX, DOOR_Y_MIN, WALL_X_MAX, WALL_X_MIN};
use ami_envs::{generate, DataConfig, EnvConfig, EnvSpec, ObsKind, TwoRoomsConfig};

/// Wall at x ∈ [19, 21], door y ∈ (26, 34): far left, door in the middle.
const LEFT: Layout = Layout {
    wall_x: 20.0,
    door_y: 30.0,
};
/// Wall at x ∈ [43, 45], door y ∈ (46, 54): far right, door high up.
const RIGHT: Layout = Layout {
    wall_x: 44.0,
    door_y: 50.0,
};

fn config(obs: ObsKind, bounce_std: f32) -> RandomWallConfig {
    RandomWallConfig(PldmConfig {
        obs,
        bounce_std,
        ..PldmConfig::default()
    })
}

fn geometry(layout: Layout) -> TwoRoomsConfig {
    config(ObsKind::State, 0.5).geometry(layout)
}

fn state(p: [f32; 2], l: Layout) -> Vec<f32> {
    vec![p[0], p[1], l.wall_x, l.door_y]
}

/// The positions after each action from `p` in layout `l`, under the evaluation rule without
/// bounce noise and under the data rule.
fn moves(l: Layout, p: [f32; 2], actions: &[[f32; 2]]) -> (Vec<[f32; 2]>, Vec<[f32; 2]>) {
    let cfg = config(ObsKind::State, 0.0);
    let mut out = Vec::new();
    for mut env in [cfg.build().unwrap(), cfg.build_for_data().unwrap()] {
        env.reset_to(&state(p, l)).unwrap();
        out.push(
            actions
                .iter()
                .map(|a| {
                    let s = env.step(a).unwrap().state;
                    assert_eq!(&s[2..], &[l.wall_x, l.door_y], "the layout stays");
                    [s[0], s[1]]
                })
                .collect(),
        );
    }
    let data = out.pop().unwrap();
    (out.pop().unwrap(), data)
}

fn close(a: [f32; 2], b: [f32; 2]) -> bool {
    (a[0] - b[0]).abs() < 1e-5 && (a[1] - b[1]).abs() < 1e-5
}

#[test]
fn each_layout_moves_the_wall_and_the_door() {
    for (l, p, free) in [
        (LEFT, [18.9, 20.0], true),
        (LEFT, [19.0, 20.0], false), // wall x ∈ [19, 21]
        (LEFT, [21.1, 40.0], true),
        (LEFT, [20.0, 30.0], true),  // in the door y ∈ (26, 34)
        (LEFT, [20.0, 25.9], false), // below it
        (LEFT, [20.0, 34.1], false), // above it
        (LEFT, [32.0, 40.0], true),  // PLDM's wall is not there
        (RIGHT, [42.9, 30.0], true),
        (RIGHT, [43.0, 30.0], false),
        (RIGHT, [44.0, 50.0], true),
        (RIGHT, [44.0, 45.9], false),
        (RIGHT, [44.0, 54.1], false),
        (RIGHT, [32.0, 10.0], true),
        (RIGHT, [3.9, 30.0], false), // border lines at 4 and 60 as in PLDM
        (RIGHT, [50.0, 60.0], false),
    ] {
        assert_eq!(geometry(l).is_free(p), free, "{l:?} {p:?}");
    }
}

#[test]
fn moves_into_the_wall_below_and_above_the_door_stop_and_moves_through_it_pass() {
    // LEFT, below the door: (17.5, 20) + (2, 0) meets x = 19 three quarters of the way; the
    // evaluation rule stops there and the room clamp sets it 0.3 px back (18.7); the data rule
    // stays at the start.
    let (eval, data) = moves(LEFT, [17.5, 20.0], &[[2.0, 0.0]]);
    assert!(close(eval[0], [18.7, 20.0]), "{eval:?}");
    assert_eq!(data[0], [17.5, 20.0]);
    // LEFT, above the door from the right room: (22.5, 40) − (2, 0) meets x = 21 → 21.3.
    let (eval, data) = moves(LEFT, [22.5, 40.0], &[[-2.0, 0.0]]);
    assert!(close(eval[0], [21.3, 40.0]), "{eval:?}");
    assert_eq!(data[0], [22.5, 40.0]);
    // LEFT, through the door at y = 30: two steps of 2.4 cross the wall band [19, 21].
    let (eval, data) = moves(LEFT, [18.0, 30.0], &[[2.4, 0.0], [2.4, 0.0]]);
    for path in [eval, data] {
        assert!(close(path[0], [20.4, 30.0]) && close(path[1], [22.8, 30.0]));
    }
    // RIGHT, below the door: (41.5, 40) + (2, 0) meets x = 43 → 42.7.
    let (eval, data) = moves(RIGHT, [41.5, 40.0], &[[2.0, 0.0]]);
    assert!(close(eval[0], [42.7, 40.0]), "{eval:?}");
    assert_eq!(data[0], [41.5, 40.0]);
    // RIGHT, above the door from the right room: (46.5, 57) − (2, 0) meets x = 45 → 45.3.
    let (eval, data) = moves(RIGHT, [46.5, 57.0], &[[-2.0, 0.0]]);
    assert!(close(eval[0], [45.3, 57.0]), "{eval:?}");
    assert_eq!(data[0], [46.5, 57.0]);
    // RIGHT, through its door at y = 50; LEFT's door height (y = 30) is wall here.
    let (eval, _) = moves(RIGHT, [42.0, 50.0], &[[2.4, 0.0], [2.4, 0.0]]);
    assert!(close(eval[0], [44.4, 50.0]) && close(eval[1], [46.8, 50.0]));
    let (_, data) = moves(RIGHT, [42.0, 30.0], &[[2.4, 0.0]]);
    assert_eq!(data[0], [42.0, 30.0]);
}

#[test]
fn reset_to_restores_position_and_layout_exactly_and_checks_them() {
    let cfg = config(ObsKind::State, 0.5);
    let mut env = cfg.build().unwrap();
    for s in [state([12.25, 40.5], LEFT), state([50.125, 7.0], RIGHT)] {
        assert_eq!(
            env.reset_to(&s).unwrap(),
            s,
            "state observations are the state"
        );
        assert_eq!(env.state(), s);
        env.step(&[1.0, 0.5]).unwrap();
    }
    // Back to the first layout after a step in the second: the whole task comes back.
    let s = state([12.25, 40.5], LEFT);
    env.reset_to(&s).unwrap();
    assert_eq!(env.state(), s);
    assert_eq!(
        env.goal_error(&s, &state([10.25, 41.5], RIGHT)),
        vec![2.0, -1.0]
    );
    for (bad, words) in [
        (
            state(
                [10.0, 30.0],
                Layout {
                    wall_x: 19.0,
                    door_y: 30.0,
                },
            ),
            ["wall_x", "19", "[20, 44]"],
        ),
        (
            state(
                [10.0, 30.0],
                Layout {
                    wall_x: 30.0,
                    door_y: 10.5,
                },
            ),
            ["door_y", "10.5", "[10, 54]"],
        ),
        (state([20.0, 20.0], LEFT), ["free space", "20.0", "wall_x"]),
        (vec![10.0, 30.0], ["random-wall", "4", "2"]),
    ] {
        let e = env.reset_to(&bad).unwrap_err().to_string();
        assert!(words.iter().all(|w| e.contains(w)), "{bad:?}: {e}");
    }
    // reset(seed) draws a layout and a free position, reproducibly.
    let (a, b) = (env.reset(3), env.reset(3));
    assert_eq!(a, b);
    let layouts: std::collections::HashSet<_> = (0..40)
        .map(|k| {
            env.reset(k);
            let s = env.state();
            assert!(geometry(Layout {
                wall_x: s[2],
                door_y: s[3]
            })
            .is_free([s[0], s[1]]));
            (s[2] as i32, s[3] as i32)
        })
        .collect();
    assert!(layouts.len() > 30, "{layouts:?}");
}

/// The wall channel as EB-JEPA draws it: rows and columns 4 and 60, and the wall's columns
/// `wall_x − 1 ..= wall_x + 1` outside the door rows `door_y − 4 ..= door_y + 4`.
fn expected_wall(l: Layout, i: usize, j: usize) -> f32 {
    let (w, d) = (l.wall_x as i64, l.door_y as i64);
    let (i, j) = (i as i64, j as i64);
    let border = [4, 60].contains(&i) || [4, 60].contains(&j);
    let wall = (w - 1..=w + 1).contains(&j) && !(d - 4..=d + 4).contains(&i);
    if border || wall {
        1.0
    } else {
        0.0
    }
}

#[test]
fn the_wall_channel_is_drawn_from_the_states_layout() {
    let cfg = config(ObsKind::Image, 0.5);
    assert_eq!(cfg.obs_shape(), vec![2, 65, 65]);
    let mut env = cfg.build().unwrap();
    let n = IMAGE_RES * IMAGE_RES;
    for l in [LEFT, RIGHT] {
        let obs = env.reset_to(&state([10.0, 20.0], l)).unwrap();
        assert_eq!(obs.len(), 2 * n);
        for i in 0..IMAGE_RES {
            for j in 0..IMAGE_RES {
                assert_eq!(
                    obs[n + i * IMAGE_RES + j],
                    expected_wall(l, i, j),
                    "{l:?} ({i}, {j})"
                );
            }
        }
        // The agent channel peaks at the agent's pixel (row y = 20, column x = 10).
        assert_eq!(obs[20 * IMAGE_RES + 10], 1.0);
    }
    // A goal image in another layout shows that layout's walls, whatever the current one.
    let goal = env.observe_state(&state([50.0, 50.0], LEFT)).unwrap();
    assert_eq!(
        goal[n + 40 * IMAGE_RES + 20],
        1.0,
        "LEFT's wall at (40, 20)"
    );
    assert_eq!(goal[n + 40 * IMAGE_RES + 44], 0.0, "RIGHT's wall is gone");
    // With pool = 4 both channels are averaged over 4 × 4 blocks, as in pldm.
    let pooled = RandomWallConfig(PldmConfig {
        pool: 4,
        ..PldmConfig::default()
    });
    assert_eq!(pooled.obs_shape(), vec![2, 16, 16]);
    let s = state([50.0, 50.0], RIGHT);
    let obs = pooled.build().unwrap().observe_state(&s).unwrap();
    let full = env.observe_state(&s).unwrap();
    assert_eq!(obs, block_average(&full, [2, IMAGE_RES, IMAGE_RES], 4));
    // Block (row 12, column 11) covers rows 48..=51 and columns 44..=47: RIGHT's wall columns
    // 44 and 45, but in its door rows 46..=54, so open.
    assert_eq!(obs[256 + 12 * 16 + 11], 0.0);
    // Block (row 5, column 11): rows 20..=23, columns 44..=47 hold 2 wall columns × 4 rows.
    assert_eq!(obs[256 + 5 * 16 + 11], 8.0 / 16.0);
    // PLDM's layout gives PLDM's image exactly.
    let pldm = EnvConfig::Pldm(PldmConfig::default())
        .spec()
        .build()
        .unwrap();
    let p = [16.3, 41.7];
    assert_eq!(
        env.observe_state(&state(p, Layout::PLDM)).unwrap(),
        pldm.observe_state(&p).unwrap()
    );
}

#[test]
fn data_draws_a_layout_per_trajectory_and_crosses_its_door_35_percent_of_the_time() {
    let env = EnvConfig::RandomWall(config(ObsKind::State, 0.5));
    let data = DataConfig {
        trajectories: 0,
        transitions: 400 * 90,
        traj_len: 90,
        seed: 5,
        kappa: 5.0,
        step_mean: 1.0,
        step_std: 0.4,
        door_crossing_rate: 0.35,
        ..DataConfig::default()
    };
    let d = generate(&env, &data, &mut |_| {}).unwrap();
    assert_eq!((d.n_traj, d.state_dim), (400, 4));
    assert_eq!(*d.observations, d.states);
    let (mut crossing, mut walls, mut doors) = (0, Vec::new(), Vec::new());
    for i in 0..d.n_traj {
        let s = &d.states[i * 91 * 4..(i + 1) * 91 * 4];
        let l = Layout {
            wall_x: s[2],
            door_y: s[3],
        };
        assert!(
            s.chunks_exact(4).all(|x| x[2..] == s[2..4]),
            "one layout per trajectory"
        );
        let (w, dy) = (l.wall_x as u32, l.door_y as u32);
        assert!(
            l.wall_x.fract() == 0.0 && (WALL_X_MIN..=WALL_X_MAX).contains(&w),
            "{l:?}"
        );
        assert!(
            l.door_y.fract() == 0.0 && (DOOR_Y_MIN..=DOOR_Y_MAX).contains(&dy),
            "{l:?}"
        );
        walls.push(w);
        doors.push(dy);
        let g = geometry(l);
        let path: Vec<[f32; 2]> = s.chunks_exact(4).map(|x| [x[0], x[1]]).collect();
        assert!(
            path.iter().all(|&p| g.is_free(p)),
            "trajectory {i} leaves free space"
        );
        if crosses_door(&g, &path) {
            crossing += 1;
        }
        // Actions are the walk's: step lengths in [0.2, 1.8]; a move is made in full or not
        // at all (the data rule).
        for (t, w) in path.windows(2).enumerate() {
            let a = &d.actions[(i * 90 + t) * 2..(i * 90 + t) * 2 + 2];
            let len = a[0].hypot(a[1]);
            assert!(
                (0.2 - 1e-5..=1.8 + 1e-5).contains(&len),
                "step length {len}"
            );
            let moved = [w[1][0] - w[0][0], w[1][1] - w[0][1]];
            assert!(
                moved == [0.0, 0.0] || close(moved, [a[0], a[1]]),
                "{moved:?} vs {a:?}"
            );
        }
    }
    let rate = crossing as f64 / d.n_traj as f64;
    // 400 Bernoulli(0.35) draws: standard deviation 0.024.
    assert!((rate - 0.35).abs() < 0.075, "crossing fraction {rate}");
    for v in [&mut walls, &mut doors] {
        v.sort_unstable();
        v.dedup();
    }
    assert!(
        walls.len() >= 20 && doors.len() >= 35,
        "{walls:?} {doors:?}"
    );
}

#[test]
fn test_tasks_put_start_and_goal_in_opposite_rooms_of_their_own_layout() {
    let tasks = test_tasks(EPISODES, 11);
    assert_eq!(tasks.len(), 60);
    let spec = EnvConfig::RandomWall(RandomWallConfig::default());
    assert_eq!(spec.spec().tasks(EPISODES, 11).unwrap(), tasks);
    assert_eq!(tasks, test_tasks(EPISODES, 11), "a function of the seed");
    assert_ne!(tasks, test_tasks(EPISODES, 12));
    let (mut left_starts, mut layouts) = (0, std::collections::HashSet::new());
    for t in &tasks {
        assert_eq!(
            t.start[2..],
            t.goal[2..],
            "the goal is in the episode's layout"
        );
        let l = Layout {
            wall_x: t.start[2],
            door_y: t.start[3],
        };
        layouts.insert((t.start[2] as i32, t.start[3] as i32));
        let g = geometry(l);
        let (s, goal) = ([t.start[0], t.start[1]], [t.goal[0], t.goal[1]]);
        for p in [s, goal] {
            assert!(
                g.is_free(p) && g.clearance(p) >= 2.6 - 1e-4,
                "{p:?} in {l:?}"
            );
            assert!((6.6 - 1e-4..=57.4 + 1e-4).contains(&p[1]), "{p:?}");
        }
        let (left, right) = if s[0] < l.wall_x {
            (s, goal)
        } else {
            (goal, s)
        };
        left_starts += usize::from(s[0] < l.wall_x);
        let ((l0, l1), (r0, r1)) = (start_x_range(l), goal_x_range(l));
        assert!(left[0] >= l0 && left[0] <= l1, "{left:?} in {l:?}");
        assert!(right[0] >= r0 && right[0] <= r1, "{right:?} in {l:?}");
        assert!(left[0] < l.wall_x - 1.0 && right[0] > l.wall_x + 1.0);
    }
    assert!(
        (15..=45).contains(&left_starts),
        "{left_starts} of 60 start on the left"
    );
    assert!(layouts.len() > 50, "{layouts:?}");
}
