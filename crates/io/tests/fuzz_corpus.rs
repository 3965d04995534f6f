//! The `.npy` and `.npz` files of the fuzz regression corpus (`crates/fuzz/corpus/`, outcomes
//! in each folder's `EXPECT`), run here too so that this crate's own tests see them: valid
//! files load, bad ones fail with a message naming the file and the expected fault. (The
//! `ami-fuzz` corpus test also checks the allocation bound.)

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn check(target: &str, load: impl Fn(&[u8], &Path) -> Result<(), String>) -> usize {
    let dir = corpus(target);
    let expect = std::fs::read_to_string(dir.join("EXPECT")).unwrap();
    let mut n = 0;
    for line in expect.lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        let path = dir.join(parts[0]);
        let got = load(&std::fs::read(&path).unwrap(), &path);
        match (&got, &parts[1..]) {
            (Ok(()), ["ok"]) => {}
            (Err(m), ["err", needle])
                if m.replace(parts[0], "").contains(needle) && m.contains(parts[0]) => {}
            _ => panic!("{target}/{line}: got {got:?}"),
        }
        n += 1;
    }
    n
}

#[test]
fn npy_corpus_files_give_their_expected_outcome() {
    let n = check("npy", |b, p| {
        ami_io::npy::parse_npy(b, p, "data").map_err(|e| e.to_string())?;
        ami_io::npy::parse_npy_f64(b, p, "data").map_err(|e| e.to_string())?;
        Ok(())
    });
    assert!(n >= 8, "{n} files");
}

#[test]
fn npz_corpus_files_give_their_expected_outcome() {
    let n = check("npz", |b, p| {
        ami_io::parse_npz(b, p).map(drop).map_err(|e| e.to_string())
    });
    assert!(n >= 10, "{n} files");
}
