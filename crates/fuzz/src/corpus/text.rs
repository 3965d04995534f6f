//! Corpus cases of the text formats: `checkpoint.json`, `config.toml` and the dataset
//! sidecar (with its archive).

use miniz_oxide::deflate::compress_to_vec;

use super::{seed, text_edit, Case};
use crate::targets::dataset::{join, split};
use crate::targets::zip::{build, Entry};

pub(super) fn json_cases(out: &mut Vec<Case>) {
    let v = seed("checkpoint", 0);
    let mut add = |file: &str, bytes: Vec<u8>, needle| {
        out.push(Case {
            target: "checkpoint",
            file: file.into(),
            bytes,
            needle,
        });
    };
    add("valid.json", v.clone(), None);
    let deep = format!("\"step\": {}0{},", "[".repeat(200), "]".repeat(200));
    add(
        "deep_nesting.json",
        text_edit(&v, "\"step\": 0,", &deep),
        Some("invalid type"),
    );
    add(
        "huge_number.json",
        text_edit(&v, "\"step\": 0", "\"step\": 1e400"),
        Some("number out of range"),
    );
    add(
        "negative_weight.json",
        text_edit(&v, "\"variance\": ", "\"variance\": -"),
        Some("objective.variance"),
    );
    add(
        "nan_token.json",
        text_edit(&v, "\"step\": 0", "\"step\": NaN"),
        Some("expected value"),
    );
    add(
        "unknown_key.json",
        text_edit(&v, "\"step\": 0", "\"stepz\": 0"),
        Some("unknown field `stepz`"),
    );
    add(
        "duplicate_key.json",
        text_edit(&v, "\"step\": 0", "\"step\": 0, \"step\": 1"),
        Some("duplicate field `step`"),
    );
    add(
        "wrong_type.json",
        text_edit(&v, "\"step\": 0", "\"step\": \"many\""),
        Some("invalid type"),
    );
    add(
        "zero_width.json",
        text_edit(&v, "\"repr_dim\": 32", "\"repr_dim\": 0"),
        Some("model.repr_dim"),
    );
    add("truncated.json", v[..v.len() / 2].to_vec(), Some("EOF"));
}

pub(super) fn toml_cases(out: &mut Vec<Case>) {
    let v = seed("config", 0); // the tiny preset
    let mut add = |file: &str, bytes: Vec<u8>, needle| {
        out.push(Case {
            target: "config",
            file: file.into(),
            bytes,
            needle,
        });
    };
    add("valid.toml", v.clone(), None);
    add(
        "deep_nesting.toml",
        format!("x = {}1{}\n", "[".repeat(200), "]".repeat(200)).into_bytes(),
        Some("recursion limit"),
    );
    add(
        "nan_rate.toml",
        b"[train]\nlr = nan\n".to_vec(),
        Some("train.lr"),
    );
    add(
        "negative_count.toml",
        b"[train]\nsteps = -1\n".to_vec(),
        Some("invalid value"),
    );
    add(
        "unknown_key.toml",
        b"[train]\nstepz = 3\n".to_vec(),
        Some("unknown field `stepz`"),
    );
    add(
        "duplicate_key.toml",
        b"[train]\nlr = 0.1\nlr = 0.2\n".to_vec(),
        Some("duplicate key"),
    );
    add(
        "wrong_type.toml",
        b"[train]\nlr = \"fast\"\n".to_vec(),
        Some("invalid type"),
    );
    add(
        "not_utf8.toml",
        b"[train]\nlr = \"\xff\"\n".to_vec(),
        Some("not UTF-8"),
    );
    add(
        "unknown_env.toml",
        b"[env]\nkind = \"moon\"\n".to_vec(),
        Some("moon"),
    );
    add(
        "maze_huge_rooms.toml",
        b"[env]\nkind = \"maze\"\nrooms = [100000, 100000]\n".to_vec(),
        Some("env.rooms"),
    );
    add(
        "maze_slow_rooms.toml",
        b"[env]\nkind = \"maze\"\nrooms = [300, 300]\n".to_vec(),
        Some("env.rooms"),
    );
}

pub(super) fn dataset_cases(out: &mut Vec<Case>) {
    let v = seed("dataset", 0);
    let (side, archive) = split(&v);
    let mut add = |file: &str, bytes: Vec<u8>, needle| {
        out.push(Case {
            target: "dataset",
            file: file.into(),
            bytes,
            needle,
        });
    };
    add("valid.ds", v.clone(), None);
    let mut arrays = ami_io::parse_npz(archive, std::path::Path::new("x")).expect("seed");
    arrays.get_mut("states").expect("states").data[3] = f32::NAN;
    let named: Vec<_> = arrays.iter().map(|(k, a)| (k.as_str(), a)).collect();
    add(
        "nan_state.ds",
        join(side, &ami_io::npz_bytes(&named).expect("npz")),
        Some("array `states` has a non-finite value"),
    );
    let named: Vec<_> = arrays
        .iter()
        .filter(|(k, _)| *k != "actions")
        .map(|(k, a)| (k.as_str(), a))
        .collect();
    add(
        "missing_array.ds",
        join(side, &ami_io::npz_bytes(&named).expect("npz")),
        Some("missing array `actions`"),
    );
    add(
        "wrong_count.ds",
        join(
            &text_edit(
                &text_edit(side, "\"n_traj\": 2", "\"n_traj\": 5"),
                "\"trajectories\": 2",
                "\"trajectories\": 5",
            ),
            archive,
        ),
        Some("array `observations` has shape"),
    );
    add(
        "huge_traj_len.ds",
        join(
            &text_edit(
                side,
                "\"traj_len\": 3,\n  \"obs_shape\"",
                "\"traj_len\": 18446744073709551615,\n  \"obs_shape\"",
            ),
            archive,
        ),
        Some("`traj_len` is out of range"),
    );
    add(
        "inconsistent_traj_len.ds",
        join(
            &text_edit(side, "\"traj_len\": 3,", "\"traj_len\": 4,"),
            archive,
        ),
        Some("disagree with `data_config`"),
    );
    let deep = format!("\"n_traj\": {}2{}", "[".repeat(300), "]".repeat(300));
    add(
        "deep_sidecar.ds",
        join(&text_edit(side, "\"n_traj\": 2", &deep), archive),
        Some("invalid type"),
    );
    add(
        "kind_mismatch.ds",
        join(
            &text_edit(side, "\"env\": \"two-rooms\"", "\"env\": \"maze\""),
            archive,
        ),
        Some("`env` is \"maze\""),
    );
    let zeros = vec![0u8; 1 << 20];
    let mut bomb = Entry::deflated("observations.npy", &[]);
    (bomb.payload, bomb.crc, bomb.size) = (
        compress_to_vec(&zeros, 10),
        crc32fast::hash(&zeros),
        1 << 40,
    );
    bomb.zip64 = true;
    add("zip_bomb.ds", join(side, &build(&[bomb])), Some("zip bomb"));
}
