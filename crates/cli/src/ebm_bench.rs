//! `ami ebm bench`: fit times of PCA, k-means and a Gaussian mixture on 10 000 × 32 f64 data,
//! for comparison with scikit-learn (`bench/peers/sklearn_ebm.py`, `bench/run_ebm.sh`).
//!
//! The data are 16 overlapping Gaussian blobs generated from a fixed seed (SplitMix64 +
//! Box–Muller); `--write-data DIR` writes them and the initialisations as `.npy` so that the
//! peer fits exactly the same arrays, and `--data-dir DIR` reads them back. Both sides run a
//! fixed amount of work: PCA with 8 components; k-means with k = 16, given initial centres,
//! tol = 0 and at most 30 iterations; GMM with k = 8, given weights/means/precisions,
//! tol = 0 and exactly 20 EM iterations. Times are medians over repetitions after warm-up.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;

use ami_energy::rng::SplitMix64;
use ami_energy::{Fit, GaussianMixture, GmmInit, KMeans, KMeansInit, Matrix, Pca};
use ami_io::{write_npy_f64, NpyArrayF64};

use crate::ebm::{load, load_matrix};

/// Samples of the benchmark data.
pub const N_SAMPLES: usize = 10_000;
/// Features of the benchmark data.
pub const N_FEATURES: usize = 32;
/// Seed of the benchmark data.
pub const SEED: u64 = 2024;
/// Blobs the data are drawn from.
const BLOBS: usize = 16;
/// PCA components.
const PCA_COMPONENTS: usize = 8;
/// k-means clusters and iteration cap.
const KMEANS_K: usize = 16;
const KMEANS_MAX_ITER: usize = 30;
/// Mixture components and EM iterations.
const GMM_K: usize = 8;
const GMM_ITER: usize = 20;

/// Arguments of `ami ebm bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Also print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Few repetitions (a smoke test, not a measurement).
    #[arg(long)]
    quick: bool,
    /// Write the data and initialisations as .npy files into DIR and exit.
    #[arg(long, value_name = "DIR", conflicts_with = "data_dir")]
    write_data: Option<PathBuf>,
    /// Read the data and initialisations from DIR (written by --write-data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// The benchmark inputs.
struct Inputs {
    x: Matrix,
    kmeans_init: Matrix,
    gmm_weights: Vec<f64>,
    gmm_means: Matrix,
    gmm_precisions: Vec<Matrix>,
}

/// Deterministic inputs: blobs with centres ~ N(0, 1.5²) and unit noise; k-means starts from
/// the first 16 samples, the mixture from the first 8 samples with uniform weights and
/// identity precisions.
fn generate() -> Result<Inputs> {
    let mut rng = SplitMix64::new(SEED);
    let mut normal = move || {
        let u1 = 1.0 - rng.uniform();
        let u2 = rng.uniform();
        ami_sampling::box_muller(u1, u2).0
    };
    let centres: Vec<f64> = (0..BLOBS * N_FEATURES).map(|_| 1.5 * normal()).collect();
    let mut data = Vec::with_capacity(N_SAMPLES * N_FEATURES);
    for i in 0..N_SAMPLES {
        let c = (i * 7 + i / 3) % BLOBS;
        for j in 0..N_FEATURES {
            data.push(centres[c * N_FEATURES + j] + normal());
        }
    }
    let x = Matrix::new(N_SAMPLES, N_FEATURES, data)?;
    let first = |k: usize| Matrix::new(k, N_FEATURES, x.as_slice()[..k * N_FEATURES].to_vec());
    Ok(Inputs {
        kmeans_init: first(KMEANS_K)?,
        gmm_weights: vec![1.0 / GMM_K as f64; GMM_K],
        gmm_means: first(GMM_K)?,
        gmm_precisions: vec![Matrix::identity(N_FEATURES); GMM_K],
        x,
    })
}

fn write_data(dir: &Path, inp: &Inputs) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let m = |a: &Matrix| NpyArrayF64 {
        shape: vec![a.rows(), a.cols()],
        data: a.as_slice().to_vec(),
    };
    write_npy_f64(&dir.join("X.npy"), &m(&inp.x))?;
    write_npy_f64(&dir.join("kmeans_init.npy"), &m(&inp.kmeans_init))?;
    write_npy_f64(&dir.join("gmm_means.npy"), &m(&inp.gmm_means))?;
    let w = NpyArrayF64 {
        shape: vec![GMM_K],
        data: inp.gmm_weights.clone(),
    };
    write_npy_f64(&dir.join("gmm_weights.npy"), &w)?;
    let p = NpyArrayF64 {
        shape: vec![GMM_K, N_FEATURES, N_FEATURES],
        data: inp
            .gmm_precisions
            .iter()
            .flat_map(|p| p.as_slice().to_vec())
            .collect(),
    };
    write_npy_f64(&dir.join("gmm_precisions.npy"), &p)?;
    eprintln!("wrote the benchmark data into {}", dir.display());
    Ok(())
}

fn read_data(dir: &Path) -> Result<Inputs> {
    let x = load_matrix(&dir.join("X.npy"), "data-dir", "[n_samples, n_features]")?;
    let prec = load(&dir.join("gmm_precisions.npy"), "data-dir", 3, "[k, p, p]")?;
    let (k, p) = (prec.shape[0], prec.shape[1]);
    if prec.shape[2] != p || p != x.cols() {
        bail!(
            "gmm_precisions.npy: shape {:?} does not fit the data",
            prec.shape
        );
    }
    Ok(Inputs {
        kmeans_init: load_matrix(&dir.join("kmeans_init.npy"), "data-dir", "[k, p]")?,
        gmm_weights: load(&dir.join("gmm_weights.npy"), "data-dir", 1, "[k]")?.data,
        gmm_means: load_matrix(&dir.join("gmm_means.npy"), "data-dir", "[k, p]")?,
        gmm_precisions: (0..k)
            .map(|i| Matrix::new(p, p, prec.data[i * p * p..(i + 1) * p * p].to_vec()))
            .collect::<Result<_, _>>()?,
        x,
    })
}

/// Median wall time in ms of `f` over `timed` runs after `warmup` runs.
fn median_ms<T>(warmup: usize, timed: usize, mut f: impl FnMut() -> Result<T>) -> Result<f64> {
    for _ in 0..warmup {
        f()?;
    }
    let mut t = Vec::with_capacity(timed);
    for _ in 0..timed {
        let s = Instant::now();
        f()?;
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}

/// Runs `ami ebm bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    let inp = match &args.data_dir {
        Some(d) => read_data(d)?,
        None => generate()?,
    };
    if let Some(dir) = &args.write_data {
        return write_data(dir, &inp);
    }
    let (w, t) = if args.quick { (1, 2) } else { (2, 9) };
    let x = &inp.x;
    let pca = Pca::params(PCA_COMPONENTS);
    let pca_ms = median_ms(w, t, || Ok(pca.fit(x)?))?;
    let km = KMeans::params(KMEANS_K)
        .init(KMeansInit::Given(inp.kmeans_init.clone()))
        .max_iter(KMEANS_MAX_ITER)
        .tol(0.0);
    let km_iter = km.fit(x)?.n_iter;
    let km_ms = median_ms(w, t, || Ok(km.fit(x)?))?;
    let gmm = GaussianMixture::params(GMM_K)
        .init(GmmInit::Given {
            weights: inp.gmm_weights.clone(),
            means: inp.gmm_means.clone(),
            precisions: inp.gmm_precisions.clone(),
        })
        .max_iter(GMM_ITER)
        .tol(0.0);
    let gmm_iter = gmm.fit(x)?.n_iter;
    let gmm_ms = median_ms(w, t, || Ok(gmm.fit(x)?))?;
    let threads = rayon::current_num_threads();
    eprintln!(
        "ami ebm bench: {}×{} f64, {threads} threads",
        x.rows(),
        x.cols()
    );
    eprintln!("  pca    k={PCA_COMPONENTS:<3}            {pca_ms:9.2} ms");
    eprintln!("  kmeans k={KMEANS_K:<3} {km_iter:>3} iterations {km_ms:9.2} ms");
    eprintln!("  gmm    k={GMM_K:<3} {gmm_iter:>3} iterations {gmm_ms:9.2} ms");
    if args.json {
        let out = json!({
            "impl": "ami",
            "n_samples": x.rows(),
            "n_features": x.cols(),
            "threads": threads,
            "pca_ms": pca_ms,
            "kmeans_ms": km_ms,
            "kmeans_n_iter": km_iter,
            "gmm_ms": gmm_ms,
            "gmm_n_iter": gmm_iter,
        });
        println!("{out}");
    }
    Ok(())
}
