//! The committed regression corpus (`corpus/<target>/`, outcomes in each folder's `EXPECT`):
//! every file goes through its loader without a panic, within the allocation bound, and with
//! the expected outcome — valid files load; bad ones fail with a message naming the file and
//! the field or array at fault.

use std::path::{Path, PathBuf};

use ami_fuzz::corpus::cases;
use ami_fuzz::runner::run_one;
use ami_fuzz::{all_targets, target};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Rewrites the corpus from `ami_fuzz::corpus::cases` (run with `--ignored` after changing
/// the cases).
#[test]
#[ignore]
fn regenerate() {
    for t in all_targets() {
        let dir = corpus_dir().join(t.name());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut expect = String::new();
        for c in cases().into_iter().filter(|c| c.target == t.name()) {
            std::fs::write(dir.join(&c.file), &c.bytes).unwrap();
            match c.needle {
                None => expect.push_str(&format!("{}\tok\n", c.file)),
                Some(n) => expect.push_str(&format!("{}\terr\t{n}\n", c.file)),
            }
        }
        std::fs::write(dir.join("EXPECT"), expect).unwrap();
    }
}

#[test]
fn every_corpus_file_gives_its_expected_outcome() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for t in all_targets() {
        let dir = corpus_dir().join(t.name());
        let expect = std::fs::read_to_string(dir.join("EXPECT")).unwrap();
        let (mut ok, mut bad) = (0, 0);
        for line in expect.lines() {
            let parts: Vec<&str> = line.split('\t').collect();
            let path = dir.join(parts[0]);
            let bytes = std::fs::read(&path).unwrap();
            let o = run_one(t.as_ref(), &bytes, &path);
            let bound = t.bound(bytes.len());
            if o.alloc > bound {
                failures.push(format!("{line}: allocated {} > bound {bound}", o.alloc));
            }
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            // The needle must name the fault, not merely echo the file name.
            let sidecar = path.with_extension("json").display().to_string();
            let without_name = |m: &str| {
                m.replace(&path.display().to_string(), "")
                    .replace(&sidecar, "")
            };
            match (o.result, parts.get(1..)) {
                (None, _) => failures.push(format!("{}/{line}: panicked", t.name())),
                (Some(Ok(())), Some(["ok"])) => ok += 1,
                (Some(Err(m)), Some(["err", needle]))
                    if without_name(&m).contains(needle) && m.contains(&stem) =>
                {
                    bad += 1
                }
                (r, _) => failures.push(format!("{}/{line}: got {r:?}", t.name())),
            }
            checked += 1;
        }
        if ok < 1 || bad < 7 {
            failures.push(format!("{}: {ok} valid, {bad} bad files", t.name()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 60, "only {checked} corpus files");
}

#[test]
fn committed_corpus_matches_the_cases() {
    for c in cases() {
        let path = corpus_dir().join(c.target).join(&c.file);
        let on_disk = std::fs::read(&path).unwrap_or_default();
        assert!(
            on_disk == c.bytes,
            "{} differs from its case: run `regenerate`",
            path.display()
        );
    }
}

#[test]
fn oversized_text_files_are_refused_before_parsing() {
    let big = vec![b' '; (1 << 20) + 1];
    for (name, file) in [("checkpoint", "checkpoint.json"), ("config", "config.toml")] {
        let t = target(name).unwrap();
        let o = run_one(t.as_ref(), &big, Path::new(file));
        let msg = o.result.unwrap().unwrap_err();
        assert!(
            msg.contains("more than the 1048576 allowed") && msg.contains(file),
            "{msg}"
        );
        assert!(
            o.alloc < 4096,
            "{name}: {} bytes allocated before refusing",
            o.alloc
        );
    }
    let t = target("dataset").unwrap();
    let container = ami_fuzz::targets::dataset::join(&big, &ami_io::npz_bytes(&[]).unwrap());
    let msg = t.load(&container, Path::new("big.npz")).unwrap_err();
    assert!(
        msg.contains("big.json") && msg.contains("more than"),
        "{msg}"
    );
}
