//! Helpers shared by the integration tests.

use ami_ssl::ImageSet;

/// `n` generated shapes images (`ami_envs::ShapesConfig::default()`, seed `seed`), loaded the
/// way `ami ssl train` loads a file.
pub fn shapes(n: usize, seed: u64) -> ImageSet {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.npz");
    ami_envs::ShapesConfig::default()
        .generate(n, seed)
        .unwrap()
        .save(&p)
        .unwrap();
    ImageSet::load(&p).unwrap()
}
