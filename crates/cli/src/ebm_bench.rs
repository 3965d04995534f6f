//! `ami ebm bench`: fit times of PCA, k-means and a Gaussian mixture at several data sizes,
//! for comparison with scikit-learn (`bench/peers/sklearn_ebm.py`, `bench/run_ebm.sh`).
//!
//! Each case's data are 16 overlapping Gaussian blobs generated from a fixed seed
//! (SplitMix64 + Box–Muller); `--write-data DIR` writes them, the initialisations and the
//! list of cases (`cases.json`) as files under `DIR/<case>/` so that the peer fits exactly the
//! same arrays with the same settings, and `--data-dir DIR` reads them back. The work is
//! fixed on both sides (see [`CASES`]): PCA with a given number of components; k-means from
//! the first k samples, tol = 0 and an iteration cap; a GMM with given weights/means/
//! precisions, tol = 0 and a fixed number of EM iterations. Times are medians over
//! repetitions after warm-up. `--quick` runs only the small first case, with few repetitions.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use ami_energy::rng::SplitMix64;
use ami_energy::{Fit, GaussianMixture, GmmInit, KMeans, KMeansInit, Matrix, Pca};
use ami_io::{write_npy_f64, NpyArrayF64};

use crate::ebm::{load, load_matrix};

/// Seed of the benchmark data.
pub const SEED: u64 = 2024;
/// Blobs the data are drawn from.
const BLOBS: usize = 16;

/// One benchmark size and the fits timed on it.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// Name, `<n>x<p>`; also the data sub-directory.
    pub name: &'static str,
    /// Samples.
    pub n: usize,
    /// Features.
    pub p: usize,
    /// PCA components, if PCA is timed.
    pub pca: Option<usize>,
    /// k-means clusters and iteration cap, if k-means is timed.
    pub kmeans: Option<(usize, usize)>,
    /// Mixture components and EM iterations, if the GMM is timed.
    pub gmm: Option<(usize, usize)>,
    /// Warm-up and timed repetitions.
    pub reps: (usize, usize),
}

/// The cases, smallest first; `--quick` runs only the first.
pub const CASES: [Case; 5] = [
    Case {
        name: "10000x32",
        n: 10_000,
        p: 32,
        pca: Some(8),
        kmeans: Some((16, 30)),
        gmm: Some((8, 20)),
        reps: (2, 9),
    },
    Case {
        name: "10000x256",
        n: 10_000,
        p: 256,
        pca: Some(16),
        kmeans: Some((16, 30)),
        gmm: None,
        reps: (1, 5),
    },
    Case {
        name: "5000x784",
        n: 5_000,
        p: 784,
        pca: Some(16),
        kmeans: None,
        gmm: None,
        reps: (1, 5),
    },
    Case {
        name: "20000x784",
        n: 20_000,
        p: 784,
        pca: Some(16),
        kmeans: Some((32, 30)),
        gmm: None,
        reps: (1, 3),
    },
    Case {
        name: "100000x1000",
        n: 100_000,
        p: 1_000,
        pca: Some(16),
        kmeans: Some((32, 10)),
        gmm: None,
        reps: (1, 2),
    },
];

/// Arguments of `ami ebm bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Also print one JSON object per case on stdout.
    #[arg(long)]
    json: bool,
    /// Only the smallest case, few repetitions (a smoke test, not a measurement).
    #[arg(long)]
    quick: bool,
    /// Write the data, initialisations and cases.json under DIR and exit.
    #[arg(long, value_name = "DIR", conflicts_with = "data_dir")]
    write_data: Option<PathBuf>,
    /// Read the data and initialisations from DIR (written by --write-data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Only these cases (repeatable; names as in the output, e.g. 10000x256).
    #[arg(long = "case", value_name = "NAME")]
    cases: Vec<String>,
}

/// The cases selected by `--quick` (the first only) and `--case`.
fn selected(args: &BenchArgs) -> Result<Vec<Case>> {
    if let Some(bad) = args
        .cases
        .iter()
        .find(|c| !CASES.iter().any(|k| k.name == *c))
    {
        let known: Vec<&str> = CASES.iter().map(|c| c.name).collect();
        bail!("--case {bad}: unknown case; known: {}", known.join(", "));
    }
    let all: &[Case] = if args.quick { &CASES[..1] } else { &CASES };
    Ok(all
        .iter()
        .filter(|c| args.cases.is_empty() || args.cases.iter().any(|n| n == c.name))
        .copied()
        .collect())
}

/// The benchmark inputs of one case.
struct Inputs {
    x: Matrix,
    kmeans_init: Option<Matrix>,
    gmm: Option<(Vec<f64>, Matrix, Vec<Matrix>)>,
}

/// Deterministic inputs: blobs with centres ~ N(0, 1.5²) and unit noise; k-means starts from
/// the first k samples, the mixture from the first k samples with uniform weights and
/// identity precisions.
fn generate(case: &Case) -> Result<Inputs> {
    let (n, p) = (case.n, case.p);
    let mut rng = SplitMix64::new(SEED);
    let mut normal = move || {
        let u1 = 1.0 - rng.uniform();
        let u2 = rng.uniform();
        ami_sampling::box_muller(u1, u2).0
    };
    let centres: Vec<f64> = (0..BLOBS * p).map(|_| 1.5 * normal()).collect();
    let mut data = Vec::with_capacity(n * p);
    for i in 0..n {
        let c = (i * 7 + i / 3) % BLOBS;
        for j in 0..p {
            data.push(centres[c * p + j] + normal());
        }
    }
    let x = Matrix::new(n, p, data)?;
    let first = |k: usize| Matrix::new(k, p, x.as_slice()[..k * p].to_vec());
    Ok(Inputs {
        kmeans_init: case.kmeans.map(|(k, _)| first(k)).transpose()?,
        gmm: match case.gmm {
            Some((k, _)) => Some((
                vec![1.0 / k as f64; k],
                first(k)?,
                vec![Matrix::identity(p); k],
            )),
            None => None,
        },
        x,
    })
}

/// The case's settings as the peer reads them from `cases.json`.
fn case_json(c: &Case) -> Value {
    json!({
        "case": c.name,
        "pca_components": c.pca,
        "kmeans_k": c.kmeans.map(|k| k.0),
        "kmeans_max_iter": c.kmeans.map(|k| k.1),
        "gmm_k": c.gmm.map(|g| g.0),
        "gmm_iter": c.gmm.map(|g| g.1),
        "warmup": c.reps.0,
        "timed": c.reps.1,
    })
}

fn npy(a: &Matrix) -> NpyArrayF64 {
    NpyArrayF64 {
        shape: vec![a.rows(), a.cols()],
        data: a.as_slice().to_vec(),
    }
}

fn write_data(dir: &Path, case: &Case, inp: &Inputs) -> Result<()> {
    let dir = dir.join(case.name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_npy_f64(&dir.join("X.npy"), &npy(&inp.x))?;
    if let Some(init) = &inp.kmeans_init {
        write_npy_f64(&dir.join("kmeans_init.npy"), &npy(init))?;
    }
    if let Some((weights, means, precisions)) = &inp.gmm {
        write_npy_f64(&dir.join("gmm_means.npy"), &npy(means))?;
        let w = NpyArrayF64 {
            shape: vec![weights.len()],
            data: weights.clone(),
        };
        write_npy_f64(&dir.join("gmm_weights.npy"), &w)?;
        let p = NpyArrayF64 {
            shape: vec![precisions.len(), case.p, case.p],
            data: precisions
                .iter()
                .flat_map(|p| p.as_slice().to_vec())
                .collect(),
        };
        write_npy_f64(&dir.join("gmm_precisions.npy"), &p)?;
    }
    eprintln!(
        "wrote the {} benchmark data into {}",
        case.name,
        dir.display()
    );
    Ok(())
}

fn read_data(dir: &Path, case: &Case) -> Result<Inputs> {
    let dir = dir.join(case.name);
    let x = load_matrix(&dir.join("X.npy"), "data-dir", "[n_samples, n_features]")?;
    if (x.rows(), x.cols()) != (case.n, case.p) {
        bail!(
            "{}: X.npy has shape {}; case {} expects [{}, {}]",
            dir.display(),
            x.shape_str(),
            case.name,
            case.n,
            case.p
        );
    }
    let kmeans_init = match case.kmeans {
        Some(_) => Some(load_matrix(
            &dir.join("kmeans_init.npy"),
            "data-dir",
            "[k, p]",
        )?),
        None => None,
    };
    let gmm = match case.gmm {
        Some(_) => {
            let prec = load(&dir.join("gmm_precisions.npy"), "data-dir", 3, "[k, p, p]")?;
            let (k, p) = (prec.shape[0], prec.shape[1]);
            if prec.shape[2] != p || p != x.cols() {
                bail!(
                    "gmm_precisions.npy: shape {:?} does not fit the data",
                    prec.shape
                );
            }
            Some((
                load(&dir.join("gmm_weights.npy"), "data-dir", 1, "[k]")?.data,
                load_matrix(&dir.join("gmm_means.npy"), "data-dir", "[k, p]")?,
                (0..k)
                    .map(|i| Matrix::new(p, p, prec.data[i * p * p..(i + 1) * p * p].to_vec()))
                    .collect::<Result<_, _>>()?,
            ))
        }
        None => None,
    };
    Ok(Inputs {
        x,
        kmeans_init,
        gmm,
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
    let cases = &selected(args)?;
    if let Some(dir) = &args.write_data {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let list: Vec<Value> = cases.iter().map(case_json).collect();
        std::fs::write(dir.join("cases.json"), serde_json::to_string_pretty(&list)?)
            .with_context(|| format!("writing {}", dir.join("cases.json").display()))?;
        for case in cases {
            write_data(dir, case, &generate(case)?)?;
        }
        return Ok(());
    }
    for case in cases {
        let inp = match &args.data_dir {
            Some(d) => read_data(d, case)?,
            None => generate(case)?,
        };
        let reps = if args.quick { (1, 2) } else { case.reps };
        let out = run_case(case, &inp, reps)?;
        if args.json {
            println!("{out}");
        }
    }
    Ok(())
}

/// Times the case's fits; prints a summary on stderr and returns the JSON record.
fn run_case(case: &Case, inp: &Inputs, (w, t): (usize, usize)) -> Result<Value> {
    let x = &inp.x;
    let threads = rayon::current_num_threads();
    let scatter = ami_energy::scatter::ScatterPath::active().name();
    eprintln!(
        "ami ebm bench {}: {}×{} f64, {threads} threads, covariance kernel {scatter}",
        case.name,
        x.rows(),
        x.cols()
    );
    let mut out = json!({
        "impl": "ami",
        "case": case.name,
        "n_samples": x.rows(),
        "n_features": x.cols(),
        "threads": threads,
        "covariance_kernel": scatter,
    });
    if let Some(k) = case.pca {
        let pca = Pca::params(k);
        let ms = median_ms(w, t, || Ok(pca.fit(x)?))?;
        eprintln!("  pca    k={k:<3}                {ms:9.2} ms");
        out["pca_ms"] = json!(ms);
    }
    if let (Some((k, max_iter)), Some(init)) = (case.kmeans, &inp.kmeans_init) {
        let km = KMeans::params(k)
            .init(KMeansInit::Given(init.clone()))
            .max_iter(max_iter)
            .tol(0.0);
        let iters = km.fit(x)?.n_iter;
        let ms = median_ms(w, t, || Ok(km.fit(x)?))?;
        eprintln!("  kmeans k={k:<3} {iters:>3} iterations {ms:9.2} ms");
        out["kmeans_ms"] = json!(ms);
        out["kmeans_n_iter"] = json!(iters);
    }
    if let (Some((k, iter)), Some((weights, means, precisions))) = (case.gmm, &inp.gmm) {
        let gmm = GaussianMixture::params(k)
            .init(GmmInit::Given {
                weights: weights.clone(),
                means: means.clone(),
                precisions: precisions.clone(),
            })
            .max_iter(iter)
            .tol(0.0);
        let iters = gmm.fit(x)?.n_iter;
        let ms = median_ms(w, t, || Ok(gmm.fit(x)?))?;
        eprintln!("  gmm    k={k:<3} {iters:>3} iterations {ms:9.2} ms");
        out["gmm_ms"] = json!(ms);
        out["gmm_n_iter"] = json!(iters);
    }
    Ok(out)
}
