//! Two-rooms with distractor leaves: frames differ even when the agent stands still, the same
//! sequence of calls gives the same frames, goals always get the same leaves, and without
//! leaves the observation is exactly the plain one.

use ami_envs::{observe_at, Distractors, Env, ObsKind, TwoRooms, TwoRoomsConfig};

fn config(leaves: usize) -> TwoRoomsConfig {
    TwoRoomsConfig {
        obs: ObsKind::Image,
        image_res: 16,
        distractors: Distractors {
            leaves,
            ..Default::default()
        },
        ..TwoRoomsConfig::default()
    }
}

/// Reset to a fixed start, then `n` steps of the zero action: the frames.
fn frames(cfg: &TwoRoomsConfig, n: usize) -> Vec<Vec<f32>> {
    let mut env = TwoRooms::new(cfg.clone()).unwrap();
    let mut out = vec![Env::reset_to(&mut env, &[16.0, 32.0]).unwrap()];
    for _ in 0..n {
        out.push(Env::step(&mut env, &[0.0, 0.0]).unwrap().obs);
    }
    out
}

#[test]
fn leaves_change_every_frame_but_not_the_agent() {
    let cfg = config(4);
    let f = frames(&cfg, 3);
    let plain = observe_at(&cfg, [16.0, 32.0]);
    for (k, frame) in f.iter().enumerate() {
        assert_eq!(frame.len(), plain.len());
        // Leaves only add (clipped at 1), and something is added.
        assert!(frame
            .iter()
            .zip(&plain)
            .all(|(o, p)| *o >= *p - 1e-6 && *o <= 1.0));
        assert!(
            frame.iter().zip(&plain).any(|(o, p)| o - p > 0.05),
            "frame {k}"
        );
    }
    for k in 1..f.len() {
        assert_ne!(
            f[k - 1],
            f[k],
            "frames {} and {k} have the same leaves",
            k - 1
        );
    }
    assert_eq!(f, frames(&cfg, 3), "same calls, same frames");
}

#[test]
fn goal_images_get_fixed_leaves_and_no_leaves_means_plain_images() {
    let cfg = config(4);
    let env = TwoRooms::new(cfg.clone()).unwrap();
    let g1 = env.observe_state(&[48.0, 20.0]).unwrap();
    assert_eq!(g1, env.observe_state(&[48.0, 20.0]).unwrap());
    assert_ne!(g1, observe_at(&cfg, [48.0, 20.0]));
    assert_ne!(g1, env.observe_state(&[48.0, 21.0]).unwrap());

    let clean = config(0);
    let plain = TwoRooms::new(clean.clone()).unwrap();
    assert_eq!(
        plain.observe_state(&[48.0, 20.0]).unwrap(),
        observe_at(&clean, [48.0, 20.0])
    );
    for f in frames(&clean, 2) {
        assert_eq!(f, observe_at(&clean, [16.0, 32.0]));
    }
}

#[test]
fn leaves_need_image_observations() {
    let cfg = TwoRoomsConfig {
        obs: ObsKind::State,
        ..config(2)
    };
    let e = TwoRooms::new(cfg).unwrap_err().to_string();
    assert!(e.contains("env.distractors.leaves"), "{e}");
}
