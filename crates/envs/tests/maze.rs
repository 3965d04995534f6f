//! The `maze` environment through the registry: layouts, doors, tasks, data, pictures and
//! the errors of configurations that make no sense.

use ami_envs::maze::tasks::tasks_in;
use ami_envs::maze::{Door, MazeConfig};
use ami_envs::{generate, DataConfig, Dataset, EnvConfig, EnvSpec, EpisodeTrace, ObsKind};

fn image_cfg() -> MazeConfig {
    MazeConfig {
        obs: ObsKind::Image,
        image_res: 32,
        data_layouts: vec![0, 1, 2],
        ..MazeConfig::default()
    }
}

fn data(env: MazeConfig, trajectories: usize, seed: u64) -> Dataset {
    let cfg = DataConfig {
        trajectories,
        traj_len: 32,
        seed,
        ..DataConfig::default()
    };
    generate(&EnvConfig::Maze(env), &cfg, &mut |_| {}).unwrap()
}

#[test]
fn every_generated_layout_is_connected_and_the_heldout_one_is_new() {
    let cfg = MazeConfig::default();
    let heldout = cfg.layout_of(cfg.heldout_layout).unwrap();
    for k in 0..cfg.layouts {
        let l = cfg.layout_of(k).unwrap();
        assert_eq!(l.unreachable_room(), None, "layout {k}");
        // 4 × 4 rooms: a spanning tree has 15 doors, plus the 2 extra ones.
        assert_eq!(l.doors().len(), 17, "layout {k}");
        if k != cfg.heldout_layout {
            assert_ne!(l, heldout, "layout {k} equals the held-out one");
        }
    }
    for rooms in [[2, 3], [6, 1], [5, 5]] {
        let c = MazeConfig {
            rooms,
            task: ami_envs::maze::MazeTaskConfig {
                min_rooms_apart: 1,
                ..Default::default()
            },
            ..MazeConfig::default()
        };
        for k in 0..c.layouts {
            assert_eq!(
                c.layout_of(k).unwrap().unreachable_room(),
                None,
                "{rooms:?} {k}"
            );
        }
    }
}

#[test]
fn the_agent_walks_through_an_open_door_and_not_through_a_wall() {
    let cfg = MazeConfig::default();
    let arena = cfg.arena(0).unwrap();
    let (open, closed): (Vec<Door>, Vec<Door>) = ami_envs::maze::Layout::walls(4, 4)
        .into_iter()
        .partition(|d| arena.layout().is_open(*d));
    let mut env = EnvConfig::Maze(cfg.clone()).spec().build().unwrap();
    for (doors, passes) in [(open, true), (closed, false)] {
        for d in doors {
            // From 6 px before the door centre, 6 steps of 2 px straight across it.
            let c = arena.door_centre(d);
            let (axis, mut start) = (usize::from(d.north), c);
            start[axis] -= 6.0;
            env.reset_to(&[start[0], start[1], 0.0]).unwrap();
            let mut a = [0.0; 2];
            a[axis] = 2.0;
            for _ in 0..6 {
                env.step(&a).unwrap();
            }
            let s = env.state();
            assert_eq!(
                arena.room_of([s[0], s[1]]) == d.other(),
                passes,
                "{d:?}: {s:?}"
            );
        }
    }
}

#[test]
fn tasks_are_at_least_three_rooms_apart_and_deterministic() {
    let spec = EnvConfig::of_kind("maze").unwrap();
    let spec = spec.spec();
    let tasks = spec.tasks(100, 4).unwrap();
    assert_eq!(tasks, spec.tasks(100, 4).unwrap());
    let cfg = MazeConfig::default();
    let arena = cfg.arena(0).unwrap();
    let env = spec.build().unwrap();
    for t in &tasks {
        let (s, g) = ([t.start[0], t.start[1]], [t.goal[0], t.goal[1]]);
        assert_eq!((t.start[2], t.goal[2]), (0.0, 0.0));
        let d = arena
            .layout()
            .distance(arena.room_of(s), arena.room_of(g))
            .unwrap();
        assert!(d >= 3, "{t:?} only {d} rooms apart");
        assert!(arena.is_free(s) && arena.is_free(g));
        // The sub-goals are one door per room crossed.
        assert_eq!(arena.door_waypoints(s, g).unwrap().len(), d);
        assert!(!env.success_rules()[0]
            .rule
            .is_met(&env.goal_error(&t.start, &t.goal)));
    }
    assert!(tasks.iter().any(|t| {
        let (s, g) = ([t.start[0], t.start[1]], [t.goal[0], t.goal[1]]);
        arena.layout().distance(arena.room_of(s), arena.room_of(g)) > Some(3)
    }));
    // Held-out tasks carry their layout id.
    let held = tasks_in(&cfg, cfg.heldout_layout, 5, 0).unwrap();
    assert!(held.iter().all(|t| t.start[2] == 7.0 && t.goal[2] == 7.0));
}

#[test]
fn data_has_the_documented_shapes_is_deterministic_and_never_spans_a_task() {
    let cfg = image_cfg();
    let a = data(cfg.clone(), 40, 3);
    assert_eq!(a, data(cfg.clone(), 40, 3));
    assert_ne!(a.actions, data(cfg.clone(), 40, 4).actions);
    assert_eq!(a.obs_shape, vec![2, 32, 32]);
    assert_eq!(a.observations.len(), 40 * 33 * 2 * 32 * 32);
    assert_eq!(a.actions.len(), 40 * 32 * 2);
    assert_eq!(a.states.len(), 40 * 33 * 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maze.npz");
    a.save(&path).unwrap();
    assert_eq!(Dataset::load(&path).unwrap(), a);
    // Only training layouts; each trajectory stays in one layout; none joins rooms 3 apart.
    let state_cfg = MazeConfig::default();
    let s = data(state_cfg.clone(), 300, 1);
    let arena = state_cfg.arena(0).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for traj in s.states.chunks_exact(33 * 3) {
        let rooms: Vec<_> = traj
            .chunks_exact(3)
            .map(|p| arena.room_of([p[0], p[1]]))
            .collect();
        for (i, a) in rooms.iter().enumerate() {
            for b in &rooms[i..] {
                assert!(arena.layout().distance(*a, *b).unwrap() < 3);
            }
        }
    }
    for traj in a.states.chunks_exact(33 * 3) {
        assert!(traj.chunks_exact(3).all(|p| p[2] == traj[2]));
        seen.insert(traj[2] as usize);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
}

#[test]
fn image_observations_show_the_agent_and_the_walls_of_its_layout() {
    let cfg = image_cfg();
    let env = EnvConfig::Maze(cfg.clone()).spec().build().unwrap();
    let p = [40.0, 50.0];
    let (a, b) = (
        env.observe_state(&[p[0], p[1], 0.0]).unwrap(),
        env.observe_state(&[p[0], p[1], 1.0]).unwrap(),
    );
    let n = 32 * 32;
    assert_eq!(a[..n], b[..n], "same agent blob");
    assert_ne!(a[n..], b[n..], "different walls");
    // Pixel side 130/32 = 4.0625 px: the agent at (40, 50) is in pixel (row 12, col 9).
    let peak = (0..n).max_by(|&i, &j| a[i].total_cmp(&a[j])).unwrap();
    assert_eq!((peak / 32, peak % 32), (12, 9));
    // The border is wall, a room centre is not.
    // Pixel (0, 0) covers [0, 4.0625]²; 12 of its 4 × 4 sub-samples have x < 2 or y < 2.
    assert_eq!(a[n], 0.75);
    assert_eq!(a[n + 4 * 32 + 4], 0.0);
}

#[test]
fn episode_pictures_are_written() {
    let spec = EnvConfig::of_kind("maze").unwrap();
    let t = &spec.spec().tasks(2, 0).unwrap();
    let traces: Vec<_> = t
        .iter()
        .map(|t| EpisodeTrace {
            start: t.start.clone(),
            goal: t.goal.clone(),
            path: vec![t.start.clone(), t.start.clone()],
            success: false,
            subgoals: Vec::new(),
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("episodes.png");
    spec.spec().render_episodes(&traces, 2, &path).unwrap();
    let img = image::open_png(&path);
    assert_eq!(img, (2 * (260 + 12), 260 + 12));
}

mod image {
    /// Width and height of a PNG.
    pub fn open_png(path: &std::path::Path) -> (u32, u32) {
        let dec = png::Decoder::new(std::fs::File::open(path).unwrap());
        let reader = dec.read_info().unwrap();
        (reader.info().width, reader.info().height)
    }
}

#[test]
fn configs_that_make_no_sense_are_errors_naming_the_key() {
    let cases: Vec<(MazeConfig, &str)> = vec![
        (
            MazeConfig {
                rooms: [0, 4],
                ..Default::default()
            },
            "env.rooms",
        ),
        (
            MazeConfig {
                rooms: [1, 1],
                ..Default::default()
            },
            "env.rooms",
        ),
        (
            MazeConfig {
                door: 0.0,
                ..Default::default()
            },
            "env.door",
        ),
        (
            MazeConfig {
                door: 30.0,
                ..Default::default()
            },
            "env.door",
        ),
        (
            MazeConfig {
                layout: 8,
                ..Default::default()
            },
            "env.layout",
        ),
        (
            MazeConfig {
                heldout_layout: 9,
                ..Default::default()
            },
            "env.heldout_layout",
        ),
        (
            MazeConfig {
                data_layouts: vec![0, 7],
                obs: ObsKind::Image,
                ..Default::default()
            },
            "env.data_layouts",
        ),
        (
            MazeConfig {
                data_layouts: vec![0, 1],
                ..Default::default()
            },
            "env.data_layouts",
        ),
        (
            MazeConfig {
                layout: 7,
                ..Default::default()
            },
            "env.data_layouts",
        ),
        (
            MazeConfig {
                layouts: 1,
                heldout_layout: 0,
                ..Default::default()
            },
            "env.layouts",
        ),
        (
            MazeConfig {
                task: ami_envs::maze::MazeTaskConfig {
                    min_rooms_apart: 0,
                    max_steps: 200,
                },
                ..Default::default()
            },
            "env.task.min_rooms_apart",
        ),
        (
            MazeConfig {
                task: ami_envs::maze::MazeTaskConfig {
                    min_rooms_apart: 99,
                    max_steps: 200,
                },
                ..Default::default()
            },
            "env.task.min_rooms_apart",
        ),
        // (0,1) is cut off; then a door between rooms that are not neighbours.
        (
            MazeConfig {
                rooms: [2, 2],
                doors: vec![[0, 0, 1, 0], [1, 0, 1, 1]],
                task: ami_envs::maze::MazeTaskConfig {
                    min_rooms_apart: 1,
                    max_steps: 200,
                },
                ..Default::default()
            },
            "env.doors",
        ),
        (
            MazeConfig {
                rooms: [2, 2],
                doors: vec![[0, 0, 1, 1]],
                ..Default::default()
            },
            "env.doors",
        ),
    ];
    for (cfg, key) in cases {
        let err = EnvSpec::validate(&cfg).unwrap_err().to_string();
        assert!(err.contains(key), "{cfg:?}: {err}");
    }
    // Explicit doors that connect every room are a layout.
    let ok = MazeConfig {
        rooms: [2, 2],
        doors: vec![[0, 0, 1, 0], [1, 0, 1, 1], [0, 1, 1, 1]],
        task: ami_envs::maze::MazeTaskConfig {
            min_rooms_apart: 2,
            max_steps: 200,
        },
        ..Default::default()
    };
    EnvSpec::validate(&ok).unwrap();
    assert_eq!(ok.layout_of(0).unwrap().distance((0, 0), (0, 1)), Some(3));
    // From TOML-like JSON: unknown keys are rejected, nested task keys parse.
    let text = r#"{"kind":"maze","rooms":[3,3],"task":{"min_rooms_apart":2}}"#;
    let cfg: EnvConfig = serde_json::from_str(text).unwrap();
    cfg.spec().validate().unwrap();
    let bad = r#"{"kind":"maze","roms":[3,3]}"#;
    assert!(serde_json::from_str::<EnvConfig>(bad).is_err());
}
