//! Bounded resources as a user meets them: a dataset larger than the machine's memory is
//! refused up front, with its size, by `ami data` (before generating) and by `ami train`
//! (before reading the arrays), and nothing is written.

mod common;

use common::fails;

#[test]
fn data_larger_than_memory_is_refused_before_generation_or_loading() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.npz");
    let err = fails(&[
        "data",
        "two-rooms",
        "--transitions",
        "100000000000",
        "--out",
        huge.to_str().unwrap(),
    ]);
    assert!(
        err.contains("`data.trajectories`") && err.contains("GiB in memory while"),
        "{err}"
    );
    assert!(!huge.exists() && !dir.path().join("huge.json").exists());

    // A small dataset whose sidecar claims 2⁴⁰ trajectories.
    let data = common::tiny_data(dir.path(), "0");
    let side = dir.path().join("d.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&side).unwrap()).unwrap();
    v["n_traj"] = serde_json::json!(1u64 << 40);
    v["data_config"]["trajectories"] = serde_json::json!(1u64 << 40);
    v["data_config"]["transitions"] = serde_json::json!(0);
    std::fs::write(&side, serde_json::to_vec(&v).unwrap()).unwrap();
    let run = dir.path().join("run");
    let err = fails(&[
        "train",
        "--preset",
        "tiny",
        "--data",
        data.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(
        err.contains("d.npz: the dataset does not fit in memory"),
        "{err}"
    );
    assert!(!run.join("checkpoint").exists());
}
