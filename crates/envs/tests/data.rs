//! Reward-free data generation, dataset files and numpy compatibility.

use std::path::Path;

use ami_envs::{
    generate, read_npz, von_mises, write_npz, DataConfig, Dataset, NpyArray, TwoRoomsConfig,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn small(door_fraction: f32, seed: u64) -> Dataset {
    let cfg = DataConfig {
        trajectories: 200,
        traj_len: 32,
        seed,
        door_fraction,
        ..DataConfig::default()
    };
    generate(&TwoRoomsConfig::default(), &cfg, &mut |_| {}).unwrap()
}

#[test]
fn generation_is_deterministic_bounded_and_consistent_with_the_env() {
    let a = small(0.3, 5);
    assert_eq!(a, small(0.3, 5));
    assert_ne!(a.actions, small(0.3, 6).actions);
    let env = TwoRoomsConfig::default();
    for a_t in a.actions.chunks_exact(2) {
        assert!((a_t[0] * a_t[0] + a_t[1] * a_t[1]).sqrt() <= env.max_step + 1e-5);
    }
    // Re-simulating the actions from the first position reproduces the positions exactly.
    let t = a.traj_len;
    for i in 0..a.n_traj {
        let mut p = [
            a.positions[i * (t + 1) * 2],
            a.positions[i * (t + 1) * 2 + 1],
        ];
        for s in 0..t {
            let act = [a.actions[(i * t + s) * 2], a.actions[(i * t + s) * 2 + 1]];
            p = env.transition(p, act).unwrap();
            let k = (i * (t + 1) + s + 1) * 2;
            assert_eq!(p, [a.positions[k], a.positions[k + 1]]);
        }
    }
    // State observations are the positions.
    assert_eq!(a.observations, a.positions);
}

#[test]
fn von_mises_has_the_right_circular_moments() {
    let mut rng = StdRng::seed_from_u64(3);
    let n = 100_000;
    let (mut c, mut s) = (0f64, 0f64);
    for _ in 0..n {
        let x = von_mises(&mut rng, 5.0) as f64;
        c += x.cos();
        s += x.sin();
    }
    let (c, s) = (c / n as f64, s / n as f64);
    // Mean resultant length I1(5)/I0(5) = 0.8934; circular mean 0.
    assert!((c - 0.8934).abs() < 0.005, "mean cos {c}");
    assert!(s.abs() < 0.005, "mean sin {s}");
}

#[test]
fn door_steering_produces_more_room_changes() {
    let env = TwoRoomsConfig::default();
    let crossings = |d: &Dataset| {
        let t = d.traj_len;
        (0..d.n_traj)
            .filter(|i| {
                let first = [
                    d.positions[i * (t + 1) * 2],
                    d.positions[i * (t + 1) * 2 + 1],
                ];
                let k = (i * (t + 1) + t) * 2;
                env.room_of(first) != env.room_of([d.positions[k], d.positions[k + 1]])
            })
            .count()
    };
    let (none, steered) = (crossings(&small(0.0, 1)), crossings(&small(0.5, 1)));
    assert!(
        steered > 2 * none.max(5),
        "steered {steered} vs none {none}"
    );
}

#[test]
fn dataset_round_trips_through_npz_and_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.npz");
    let a = small(0.3, 2);
    a.save(&path).unwrap();
    assert!(dir.path().join("d.json").is_file());
    assert_eq!(Dataset::load(&path).unwrap(), a);
}

fn write(path: &Path, arrays: &[(&str, NpyArray)]) {
    let refs: Vec<(&str, &NpyArray)> = arrays.iter().map(|(n, a)| (*n, a)).collect();
    write_npz(path, &refs).unwrap();
}

#[test]
fn bad_dataset_files_give_errors_that_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.npz");
    let good = small(0.0, 1);
    good.save(&path).unwrap();
    let arr = |shape: Vec<usize>| NpyArray {
        data: vec![0.0; shape.iter().product()],
        shape,
    };
    let (n, t) = (good.n_traj, good.traj_len);

    write(
        &path,
        &[
            ("observations", arr(vec![n, t + 1, 2])),
            ("positions", arr(vec![n, t + 1, 2])),
        ],
    );
    let e = Dataset::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("missing array `actions`") && e.contains("d.npz"),
        "{e}"
    );

    write(
        &path,
        &[
            ("observations", arr(vec![n, t + 1, 2])),
            ("actions", arr(vec![n, t, 3])),
            ("positions", arr(vec![n, t + 1, 2])),
        ],
    );
    let e = Dataset::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("`actions` has shape") && e.contains(&format!("[{n}, {t}, 2]")),
        "{e}"
    );

    let mut bad = arr(vec![n, t + 1, 2]);
    bad.data[7] = f32::NAN;
    write(
        &path,
        &[
            ("observations", bad),
            ("actions", arr(vec![n, t, 2])),
            ("positions", arr(vec![n, t + 1, 2])),
        ],
    );
    let e = Dataset::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("non-finite") && e.contains("observations"),
        "{e}"
    );

    std::fs::write(&path, b"hello, not a zip").unwrap();
    let e = Dataset::load(&path).unwrap_err().to_string();
    assert!(e.contains("not a .npz"), "{e}");

    good.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(Dataset::load(&path).is_err(), "truncated file accepted");

    // An int16 array (dtype '<i2') inside an otherwise valid archive.
    let npy = {
        let mut h = "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }".to_string();
        while (11 + h.len()) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(&[1, 0, 2, 0]);
        b
    };
    let npy_path = dir.path().join("x.npy");
    std::fs::write(&npy_path, npy).unwrap();
    let e = ami_envs::read_npy(&npy_path).unwrap_err().to_string();
    assert!(e.contains("'<i2'"), "{e}");
}

#[test]
fn reads_files_written_by_numpy() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let m = read_npz(&dir.join("tiny_numpy.npz")).unwrap();
    assert_eq!(m["a"].shape, vec![3, 4]);
    assert_eq!(
        m["a"].data,
        (0..12).map(|i| i as f32 / 4.0).collect::<Vec<_>>()
    );
    assert_eq!(m["b"].shape, vec![3]);
    assert_eq!(m["b"].data, vec![1.5, -2.25, 3.0]);
    let m = read_npz(&dir.join("tiny_numpy_compressed.npz")).unwrap();
    assert_eq!(m["c"].shape, vec![2, 3, 4]);
    assert_eq!(
        m["c"].data,
        (0..24).map(|i| (i as f32 - 5.0) / 8.0).collect::<Vec<_>>()
    );
}
