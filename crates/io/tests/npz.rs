//! numpy-compatible files: round trips, numpy-written fixtures, and errors that name the problem.

use std::path::{Path, PathBuf};

use ami_io::{read_npz, write_npz, NpyArray};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
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

/// The arrays of `tests/fixtures/written_by_rust.npz`, checked by numpy in make_fixtures.py.
fn rust_fixture_arrays() -> Vec<(&'static str, NpyArray)> {
    vec![
        (
            "x",
            NpyArray {
                shape: vec![2, 3],
                data: vec![0.0, 1.5, -2.0, 3.25, 1e-3, 6e4],
            },
        ),
        (
            "y",
            NpyArray {
                shape: vec![4],
                data: vec![1.0, 2.0, 3.0, 4.0],
            },
        ),
        (
            "s",
            NpyArray {
                shape: vec![],
                data: vec![7.5],
            },
        ),
    ]
}

#[test]
fn arrays_round_trip_through_npz() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npz");
    let arrays = rust_fixture_arrays();
    write(&path, &arrays);
    let back = read_npz(&path).unwrap();
    assert_eq!(back.len(), arrays.len());
    for (name, a) in &arrays {
        assert_eq!(&back[*name], a, "{name}");
    }
    // No temporary file is left behind by the atomic write.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn reads_files_written_by_numpy() {
    let m = read_npz(&fixtures().join("tiny_numpy.npz")).unwrap();
    assert_eq!(m["a"].shape, vec![3, 4]);
    let want: Vec<f32> = (0..12).map(|i| i as f32 / 4.0).collect();
    assert_eq!(m["a"].data, want);
    assert_eq!(m["b"].shape, vec![3]);
    assert_eq!(m["b"].data, vec![1.5, -2.25, 3.0]);
    assert_eq!(m["j"].data, vec![-5.0, 2f32.powi(40)]); // int64, exact in f32
    let m = read_npz(&fixtures().join("tiny_numpy_compressed.npz")).unwrap();
    assert_eq!(m["c"].shape, vec![2, 3, 4]);
    let want: Vec<f32> = (0..24).map(|i| (i as f32 - 5.0) / 8.0).collect();
    assert_eq!(m["c"].data, want);
    assert_eq!(m["i"].shape, vec![2, 2]);
    assert_eq!(m["i"].data, vec![-1.0, 0.0, 7.0, 100000.0]);
}

/// The writer's bytes equal the committed `written_by_rust.npz`, which make_fixtures.py checks
/// with numpy. Set `AMI_REGEN_FIXTURES=1` to rewrite the file after a deliberate change.
#[test]
fn written_npz_matches_the_numpy_checked_fixture() {
    let fixture = fixtures().join("written_by_rust.npz");
    let arrays = rust_fixture_arrays();
    if std::env::var_os("AMI_REGEN_FIXTURES").is_some() {
        write(&fixture, &arrays);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.npz");
    write(&path, &arrays);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(&fixture).unwrap(),
        "writer output changed; regenerate and re-check with make_fixtures.py"
    );
}

/// The committed `written_by_rust.npz` is the file numpy read in make_fixtures.py (same size
/// and CRC-32, recorded there in `numpy_read_written_by_rust.json`), and what numpy read from
/// it — dtype, shape, every value — is exactly the arrays the writer was given. With
/// `written_npz_matches_the_numpy_checked_fixture` (the writer still produces those bytes),
/// this ties today's writer to numpy's reading; regenerating the fixture after a writer change
/// fails here until make_fixtures.py has checked the new file with numpy (regenerate with
/// the other test alone: `AMI_REGEN_FIXTURES=1 cargo test -p ami-io --test npz written_npz`).
#[test]
fn numpy_read_the_committed_rust_written_file() {
    let bytes = std::fs::read(fixtures().join("written_by_rust.npz")).unwrap();
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("numpy_read_written_by_rust.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (bytes.len() as u64, u64::from(crc32fast::hash(&bytes))),
        (
            record["size"].as_u64().unwrap(),
            record["crc32"].as_u64().unwrap()
        ),
        "written_by_rust.npz is not the file numpy checked; rerun make_fixtures.py"
    );
    let arrays = rust_fixture_arrays();
    let read = record["arrays"].as_object().unwrap();
    assert_eq!(read.len(), arrays.len());
    for (name, a) in &arrays {
        let r = &read[*name];
        assert_eq!(r["dtype"], "<f4", "{name}");
        let shape: Vec<usize> = serde_json::from_value(r["shape"].clone()).unwrap();
        let values: Vec<f64> = serde_json::from_value(r["values"].clone()).unwrap();
        assert_eq!(shape, a.shape, "{name}: shape numpy read");
        let values: Vec<f32> = values.iter().map(|v| *v as f32).collect();
        assert_eq!(values, a.data, "{name}: values numpy read");
    }
}

/// numpy's own file of the same arrays (`np.savez`, same_arrays_by_numpy.npz) reads back as
/// exactly the arrays the writer is given.
#[test]
fn numpy_written_copy_of_the_writer_fixture_reads_back_equal() {
    let m = read_npz(&fixtures().join("same_arrays_by_numpy.npz")).unwrap();
    let arrays = rust_fixture_arrays();
    assert_eq!(m.len(), arrays.len());
    for (name, a) in &arrays {
        assert_eq!(&m[*name], a, "{name}");
    }
}

/// An `.npy` entry with the given dtype and raw little-endian body.
fn npy_with_dtype(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while !(11 + h.len()).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    b.extend_from_slice(body);
    b
}

#[test]
fn unsupported_dtypes_are_named_with_the_array() {
    let dir = tempfile::tempdir().unwrap();
    let npy_path = dir.path().join("x.npy");
    std::fs::write(&npy_path, npy_with_dtype("<i2", "(2,)", &[1, 0, 2, 0])).unwrap();
    let e = ami_io::read_npy(&npy_path).unwrap_err().to_string();
    assert!(
        e.contains("dtype '<i2' is not supported") && e.contains("x.npy"),
        "{e}"
    );

    // The same entry inside an archive: the error names the array.
    let path = dir.path().join("d.npz");
    write(&path, &[("actions", arr(vec![2]))]);
    let mut zip = std::fs::read(&path).unwrap();
    let good = ami_io::npy::npy_bytes(&arr(vec![2])).unwrap();
    let start = zip.windows(6).position(|w| w == b"\x93NUMPY").unwrap();
    let bad = npy_with_dtype("<i2", "(4,)", &[1, 0, 2, 0, 3, 0, 4, 0]);
    assert_eq!(bad.len(), good.len());
    zip[start..start + bad.len()].copy_from_slice(&bad);
    // Patch the CRC in the local and central headers so only the dtype is wrong.
    let (old, new) = (
        crc32fast::hash(&good).to_le_bytes(),
        crc32fast::hash(&bad).to_le_bytes(),
    );
    for i in 0..zip.len() - 4 {
        if zip[i..i + 4] == old {
            zip[i..i + 4].copy_from_slice(&new);
        }
    }
    std::fs::write(&path, &zip).unwrap();
    let e = read_npz(&path).unwrap_err().to_string();
    assert!(e.contains("array `actions`") && e.contains("'<i2'"), "{e}");
}
