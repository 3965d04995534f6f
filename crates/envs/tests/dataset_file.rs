//! Dataset files (`.npz` + JSON sidecar): round trips, and load errors that name the file and
//! the array or field at fault. The `.npy`/`.npz` formats themselves are tested in `ami-io`.

use std::path::Path;

use ami_envs::{generate, write_npz, DataConfig, Dataset, EnvConfig, NpyArray, TwoRoomsConfig};

fn small() -> Dataset {
    let cfg = DataConfig {
        trajectories: 20,
        traj_len: 8,
        seed: 2,
        ..DataConfig::default()
    };
    generate(
        &EnvConfig::TwoRooms(TwoRoomsConfig::default()),
        &cfg,
        &mut |_| {},
    )
    .unwrap()
}

fn arr(shape: Vec<usize>) -> NpyArray {
    let n = shape.iter().product();
    NpyArray {
        data: (0..n).map(|i| i as f32 * 0.5).collect(),
        shape,
    }
}

fn write(path: &Path, arrays: &[(&str, NpyArray)]) {
    let refs: Vec<(&str, &NpyArray)> = arrays.iter().map(|(n, a)| (*n, a)).collect();
    write_npz(path, &refs).unwrap();
}

#[test]
fn dataset_round_trips_through_npz_and_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.npz");
    let a = small();
    a.save(&path).unwrap();
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("d.json")).unwrap()).unwrap();
    assert_eq!(side["env"], "two-rooms");
    assert_eq!(side["traj_len"], 8);
    assert_eq!(side["data_config"]["kappa"], 5.0);
    assert_eq!(Dataset::load(&path).unwrap(), a);
}

fn load_err(path: &Path) -> String {
    Dataset::load(path).unwrap_err().to_string()
}

#[test]
fn bad_dataset_files_give_errors_that_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.npz");
    let good = small();
    good.save(&path).unwrap();
    let (n, t) = (good.n_traj, good.traj_len);

    write(
        &path,
        &[
            ("observations", arr(vec![n, t + 1, 2])),
            ("states", arr(vec![n, t + 1, 2])),
        ],
    );
    let e = load_err(&path);
    assert!(
        e.contains("missing array `actions`") && e.contains("d.npz"),
        "{e}"
    );

    write(
        &path,
        &[
            ("observations", arr(vec![n, t + 1, 2])),
            ("actions", arr(vec![n, t, 3])),
            ("states", arr(vec![n, t + 1, 2])),
        ],
    );
    let e = load_err(&path);
    assert!(
        e.contains(&format!(
            "`actions` has shape [{n}, {t}, 3], expected [{n}, {t}, 2]"
        )),
        "{e}"
    );

    let mut bad = arr(vec![n, t + 1, 2]);
    bad.data[7] = f32::NAN;
    write(
        &path,
        &[
            ("observations", bad),
            ("actions", arr(vec![n, t, 2])),
            ("states", arr(vec![n, t + 1, 2])),
        ],
    );
    let e = load_err(&path);
    assert!(
        e.contains("non-finite") && e.contains("`observations`"),
        "{e}"
    );

    std::fs::write(&path, b"hello, not a zip").unwrap();
    let e = load_err(&path);
    assert!(e.contains("not a .npz file") && e.contains("d.npz"), "{e}");

    good.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(&path);
    assert!(e.contains("truncated"), "{e}");

    // One flipped data byte: the CRC catches it.
    let mut flipped = bytes.clone();
    flipped[200] ^= 0xff;
    std::fs::write(&path, &flipped).unwrap();
    assert!(load_err(&path).contains("CRC mismatch"));

    std::fs::write(&path, &bytes).unwrap();
    std::fs::remove_file(dir.path().join("d.json")).unwrap();
    let e = load_err(&path);
    assert!(e.contains("d.json") && e.contains("sidecar"), "{e}");

    let e = load_err(&dir.path().join("absent.npz"));
    assert!(e.contains("absent.npz"), "{e}");
}

#[test]
fn a_dataset_that_would_not_fit_in_memory_is_refused_before_its_arrays_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.npz");
    small().save(&path).unwrap();
    // The sidecar now claims 2⁴⁰ trajectories (far beyond any machine's memory); the arrays
    // are the small ones, so only the memory check can catch it before the shape check.
    let side = dir.path().join("d.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&side).unwrap()).unwrap();
    v["n_traj"] = serde_json::json!(1u64 << 40);
    v["data_config"]["trajectories"] = serde_json::json!(1u64 << 40);
    v["data_config"]["transitions"] = serde_json::json!(0);
    std::fs::write(&side, serde_json::to_vec(&v).unwrap()).unwrap();
    let e = load_err(&path);
    if ami_envs::dataset_memory::available_memory().is_some() {
        assert!(
            e.contains("d.npz: the dataset does not fit in memory") && e.contains("GiB"),
            "{e}"
        );
    } else {
        assert!(e.contains("shape"), "{e}");
    }
}
