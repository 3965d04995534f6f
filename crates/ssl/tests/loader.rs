//! Loader errors name the file and the array; the committed digits fixture (40 images
//! exported by `scripts/export_digits.py --limit 40`) loads.

use std::path::Path;

use ami_io::{write_npz, NpyArray};
use ami_ssl::{ImageSet, VideoSet};

fn arr(shape: &[usize], f: impl Fn(usize) -> f32) -> NpyArray {
    let n: usize = shape.iter().product();
    NpyArray {
        shape: shape.to_vec(),
        data: (0..n).map(f).collect(),
    }
}

fn save(path: &Path, arrays: &[(&str, &NpyArray)]) {
    write_npz(path, arrays).unwrap();
}

#[test]
fn bad_files_are_errors_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.npz");
    let good = arr(&[4, 1, 8, 8], |i| (i % 7) as f32 / 7.0);
    let labels = arr(&[4], |i| (i % 2) as f32);
    // (arrays in the file, field the error names, what it says)
    type Case<'a> = (Vec<(&'a str, NpyArray)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("labels", labels.clone())], "`images`", "missing"),
        (
            vec![
                ("images", arr(&[4, 8, 8], |_| 0.0)),
                ("labels", labels.clone()),
            ],
            "`images`",
            "[N, C, H, W]",
        ),
        (
            vec![
                (
                    "images",
                    arr(&[4, 1, 8, 8], |i| if i == 9 { f32::NAN } else { 0.0 }),
                ),
                ("labels", labels.clone()),
            ],
            "`images`",
            "non-finite",
        ),
        (
            vec![
                ("images", arr(&[4, 1, 8, 8], |_| 3.0)),
                ("labels", labels.clone()),
            ],
            "`images`",
            "[0, 1]",
        ),
        (vec![("images", good.clone())], "`labels`", "missing"),
        (
            vec![("images", good.clone()), ("labels", arr(&[3], |_| 0.0))],
            "`labels`",
            "expected [4]",
        ),
        (
            vec![("images", good.clone()), ("labels", arr(&[4], |_| 0.5))],
            "`labels`",
            "whole number",
        ),
        (
            vec![
                ("images", good.clone()),
                ("labels", labels.clone()),
                ("factors", arr(&[3, 2], |_| 0.0)),
            ],
            "`factors`",
            "shape [3, 2]",
        ),
    ];
    for (arrays, field, what) in cases {
        let refs: Vec<(&str, &NpyArray)> = arrays.iter().map(|(k, a)| (*k, a)).collect();
        save(&p, &refs);
        let e = ImageSet::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("bad.npz") && e.contains(field) && e.contains(what),
            "{e}"
        );
    }
    let e = VideoSet::load(&p).unwrap_err().to_string();
    assert!(e.contains("bad.npz") && e.contains("`videos`"), "{e}");
    let e = ImageSet::load(&dir.path().join("none.npz"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("none.npz"), "{e}");
}

#[test]
fn generated_shapes_and_videos_load_with_their_factor_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.npz");
    ami_envs::ShapesConfig::default()
        .generate(10, 1)
        .unwrap()
        .save(&p)
        .unwrap();
    let s = ImageSet::load(&p).unwrap();
    assert_eq!((s.len(), s.shape, s.classes), (10, [3, 32, 32], 4));
    assert_eq!(s.factor_names, ["x", "y", "scale", "rotation", "hue"]);
    let v = dir.path().join("v.npz");
    ami_envs::MovingShapesConfig::default()
        .generate(3, 1)
        .unwrap()
        .save(&v)
        .unwrap();
    let m = VideoSet::load(&v).unwrap();
    assert_eq!((m.len(), m.frames, m.factor_names.len()), (3, 8, 4));
    let e = ImageSet::load(&v).unwrap_err().to_string();
    assert!(e.contains("video set"), "{e}");
}

#[test]
fn digits_fixture_loads() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/digits40.npz");
    let d = ImageSet::load(&p).unwrap();
    assert_eq!((d.len(), d.shape, d.classes), (40, [1, 8, 8], 10));
    assert!(d.factor_names.is_empty());
    assert_eq!(&d.labels[..10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
}
