//! Pictures are valid PNGs of the expected size with obstacles drawn where they are.

use ami_envs::{render_episodes_png, EpisodeTrace, TwoRoomsConfig};

#[test]
fn episode_picture_is_a_valid_png_with_walls() {
    let cfg = TwoRoomsConfig::default();
    let tr = EpisodeTrace {
        start: [10.0, 10.0],
        goal: [50.0, 50.0],
        path: vec![[10.0, 10.0], [12.0, 11.0]],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ep.png");
    render_episodes_png(&cfg, &[tr.clone(), tr.clone(), tr], 2, &path).unwrap();
    let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    // 2 columns × 2 rows of (64·3 + 12) px cells.
    assert_eq!((info.width, info.height), (2 * 204, 2 * 204));
    // Arena point (32, 10) is inside the lower wall: panel pixel (96, (64 − 10)·3) + 6 px pad.
    let (x, y) = (6 + 96, 6 + 54 * 3);
    let i = 3 * (y * info.width as usize + x);
    assert_eq!(&buf[i..i + 3], &[70, 70, 70]);
    // The door at (32, 32) is free (white).
    let (x, y) = (6 + 96, 6 + 32 * 3);
    let i = 3 * (y * info.width as usize + x);
    assert_eq!(&buf[i..i + 3], &[255, 255, 255]);
}
