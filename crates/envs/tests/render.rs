//! Pictures are valid PNGs of the expected size with obstacles drawn where they are.

use std::path::Path;

use ami_envs::render::{FREE, OBSTACLE, PAD, SCALE};
use ami_envs::{
    observe_at, render_episodes_png, render_observation_png, EpisodeTrace, ObsKind, TwoRoomsConfig,
};

/// Decodes an RGB8 PNG: (width, height, pixels).
fn decode(path: &Path) -> (usize, usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, buf)
}

fn pixel(img: &(usize, usize, Vec<u8>), x: usize, y: usize) -> [u8; 3] {
    let i = 3 * (y * img.0 + x);
    [img.2[i], img.2[i + 1], img.2[i + 2]]
}

#[test]
fn episode_picture_is_a_valid_png_with_walls_frames_and_markers() {
    let cfg = TwoRoomsConfig::default();
    let fail = EpisodeTrace {
        start: vec![10.0, 10.0],
        goal: vec![50.0, 50.0],
        path: vec![vec![10.0, 10.0], vec![20.0, 10.0]],
        success: false,
        subgoals: Vec::new(),
    };
    let win = EpisodeTrace {
        path: vec![vec![10.0, 10.0], vec![48.0, 48.0]],
        success: true,
        ..fail.clone()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ep.png");
    render_episodes_png(&cfg, &[fail, win, fail_clone()], 2, &path).unwrap();
    let img = decode(&path);
    // 2 columns × 2 rows of (64·3 + 2·6) px cells.
    let cell = 64 * SCALE + 2 * PAD;
    assert_eq!((img.0, img.1), (2 * cell, 2 * cell));
    // Arena (x, y) ↦ panel pixel (PAD + x·3, PAD + (64 − y)·3).
    let at = |x: f32, y: f32| (PAD + (x * 3.0) as usize, PAD + ((64.0 - y) * 3.0) as usize);
    let (x, y) = at(32.0, 10.0); // inside the lower wall segment
    assert_eq!(pixel(&img, x, y), OBSTACLE);
    let (x, y) = at(1.0, 40.0); // inside the left border
    assert_eq!(pixel(&img, x, y), OBSTACLE);
    let (x, y) = at(32.0, 32.0); // the door is free
    assert_eq!(pixel(&img, x, y), FREE);
    let (x, y) = at(15.0, 10.0); // on the blue path
    assert_eq!(pixel(&img, x, y), [30, 90, 220]);
    let (x, y) = at(50.0, 50.0); // goal disc
    assert_eq!(pixel(&img, x, y), [200, 40, 40]);
    let (x, y) = at(10.0, 10.0); // start disc (drawn last)
    assert_eq!(pixel(&img, x, y), [30, 160, 60]);
    // Frames: the first episode failed (red), the second succeeded (green).
    assert_eq!(pixel(&img, 0, 0), [200, 40, 40]);
    assert_eq!(pixel(&img, cell, 1), [30, 160, 60]);
}

fn fail_clone() -> EpisodeTrace {
    EpisodeTrace {
        start: vec![40.0, 20.0],
        goal: vec![10.0, 50.0],
        path: vec![vec![40.0, 20.0]],
        success: false,
        subgoals: Vec::new(),
    }
}

#[test]
fn observation_picture_shows_agent_and_walls() {
    let cfg = TwoRoomsConfig {
        obs: ObsKind::Image,
        image_res: 32,
        ..TwoRoomsConfig::default()
    };
    let obs = observe_at(&cfg, [11.0, 21.0]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("obs.png");
    render_observation_png(&cfg, &obs, &path).unwrap();
    let img = decode(&path);
    assert_eq!((img.0, img.1), (32, 32));
    // Agent at pixel row 10 (y), column 5; image row 0 is the top, so image row 21.
    assert_eq!(pixel(&img, 5, 31 - 10), [255, 0, 0]);
    // Wall column 15 (x = 31) at y = 11 (row 5): grey.
    let g = pixel(&img, 15, 31 - 5);
    assert!(g[0] == g[1] && g[1] == g[2] && g[0] < 128, "{g:?}");
    // A wrong-length observation is an error, not a panic.
    let e = render_observation_png(&cfg, &obs[..10], &path).unwrap_err();
    assert!(e.to_string().contains("expected 2·32·32"), "{e}");
}

#[test]
fn traces_of_the_wrong_state_size_are_errors_naming_the_state() {
    let bad = EpisodeTrace {
        start: vec![10.0, 10.0, 1.0],
        goal: vec![50.0, 50.0],
        path: vec![vec![10.0, 10.0]],
        success: false,
        subgoals: Vec::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.png");
    let err = render_episodes_png(
        &TwoRoomsConfig::default(),
        std::slice::from_ref(&bad),
        1,
        &path,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("3 values, expected 2 (x, y)") && err.contains("bad.png"),
        "{err}"
    );
    let pendulum = ami_envs::EnvConfig::of_kind("pendulum").unwrap();
    let err = pendulum
        .spec()
        .render_episodes(&[bad], 1, &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected 2 (θ, θ̇)"), "{err}");
    assert!(!path.exists());
}

#[test]
fn a_video_frame_shows_the_path_so_far_the_agent_and_the_dotted_imagined_plan() {
    use ami_envs::render::{render_video_frame, AGENT, IMAGINED};
    use ami_envs::EnvConfig;
    let cfg = TwoRoomsConfig::default();
    let trace = EpisodeTrace {
        start: vec![10.0, 10.0],
        goal: vec![50.0, 50.0],
        path: vec![vec![10.0, 10.0], vec![20.0, 10.0], vec![20.0, 20.0]],
        success: false,
        subgoals: Vec::new(),
    };
    let imagined = vec![vec![20.0, 10.0], vec![40.0, 10.0], vec![5.0]];
    let cv = render_video_frame(&cfg, &trace, 1, &imagined).unwrap();
    let cell = 64 * SCALE + 2 * PAD;
    assert_eq!((cv.width(), cv.height()), (cell, cell));
    let img = (cv.width(), cv.height(), cv.pixels().to_vec());
    let at = |x: f32, y: f32| (PAD + (x * 3.0) as usize, PAD + ((64.0 - y) * 3.0) as usize);
    // The agent at path[1], over the first imagined point.
    let (x, y) = at(20.0, 10.0);
    assert_eq!(pixel(&img, x, y), AGENT);
    // The imagined plan: a dot at its second point and dots between (the point [5] is not a
    // position and is skipped).
    let (x, y) = at(40.0, 10.0);
    assert_eq!(pixel(&img, x, y), IMAGINED);
    let (x0, x1) = (at(23.0, 10.0).0, at(37.0, 10.0).0);
    let dotted = (x0..x1).filter(|&x| pixel(&img, x, y) == IMAGINED).count();
    // One pixel every 3 (one arena px), not a solid line.
    assert!((12..=16).contains(&dotted), "{dotted} of {}", x1 - x0);
    // The path after state 1 is not drawn yet; the frame is grey until the last state.
    let (x, y) = at(20.0, 17.0);
    assert_eq!(pixel(&img, x, y), FREE);
    assert_eq!(pixel(&img, 0, 0), [150, 150, 150]);
    let last = render_video_frame(&cfg, &trace, 2, &[]).unwrap();
    let img = (last.width(), last.height(), last.pixels().to_vec());
    assert_eq!(pixel(&img, 0, 0), [200, 40, 40], "a failure ends red");
    assert_eq!(
        pixel(&img, x, y),
        [30, 90, 220],
        "the whole path at the end"
    );
    // Through the environment's trait: two-rooms has frames, pendulum has none.
    let spec = EnvConfig::of_kind("two-rooms").unwrap();
    assert!(spec.spec().video_frame(&trace, 0, &[]).unwrap().is_some());
    let pendulum = EnvConfig::of_kind("pendulum").unwrap();
    let bad = EpisodeTrace {
        start: vec![0.0, 0.0],
        goal: vec![0.0, 0.0],
        path: vec![vec![0.0, 0.0]],
        success: false,
        subgoals: Vec::new(),
    };
    assert!(pendulum.spec().video_frame(&bad, 0, &[]).unwrap().is_none());
}
