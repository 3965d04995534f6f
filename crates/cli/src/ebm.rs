//! `ami ebm`: the classic energy-based models of `ami-energy` on `.npy` data, results as JSON
//! with scikit-learn attribute names, written atomically.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use ami_energy::{
    Dictionary, DictionaryInit, DictionaryParams, Fit, GaussianMixture, GmmInit, KMeans,
    KMeansInit, Matrix, Pca, Rbm, RbmLearning, RbmParams, SparseAlgorithm, SparseCoder,
};
use ami_io::{read_npy_f64, NpyArrayF64};

use crate::ebm_bench;

/// `ami ebm …` commands.
#[derive(Subcommand)]
pub enum EbmCommand {
    /// Fit a model to data and write its parameters as JSON.
    Fit {
        #[command(subcommand)]
        model: FitModel,
    },
    /// Sparse codes minimising ½‖x − zD‖² + λ‖z‖₁ for a fixed dictionary (atoms = rows of D).
    SparseCode {
        /// Data `[n_samples, n_features]` (.npy, float64 or float32).
        #[arg(long)]
        data: PathBuf,
        /// Dictionary `[n_atoms, n_features]` (.npy).
        #[arg(long)]
        dictionary: PathBuf,
        /// Penalty λ ≥ 0.
        #[arg(long, allow_negative_numbers = true)]
        lambda: f64,
        /// Minimisation algorithm.
        #[arg(long, value_enum, default_value = "fista")]
        algorithm: Algorithm,
        /// Iteration limit per sample.
        #[arg(long, default_value_t = 1000)]
        iters: usize,
        /// Stop when no code entry moves by more than this.
        #[arg(long, default_value_t = 1e-10, allow_negative_numbers = true)]
        tol: f64,
        /// Output JSON (`codes`, `energy`, `n_iter`, `converged`).
        #[arg(long)]
        out: PathBuf,
    },
    /// Time PCA, k-means and GMM fits (compare with bench/peers/sklearn_ebm.py).
    Bench(ebm_bench::BenchArgs),
    /// Run a worked example of the lectures and plot it (`<out>/<name>.png`, `.json`).
    Example {
        /// Which example.
        #[arg(value_enum)]
        name: crate::ebm_examples::Example,
        /// Output directory.
        #[arg(long, default_value = "runs/ebm-examples")]
        out: PathBuf,
        /// Seed of the example's data.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// A smaller sweep for the long examples (contrastive-vs-regularised: d ∈ {2, 4},
        /// K ∈ {16, 1024}, 4000 steps, ≈10 s instead of ≈4 min).
        #[arg(long)]
        quick: bool,
    },
}

/// Sparse-coding algorithm on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Algorithm {
    /// Iterative shrinkage-thresholding.
    Ista,
    /// Fast ISTA (Beck & Teboulle).
    Fista,
    /// Cyclic coordinate descent.
    Cd,
}

/// `ami ebm fit …` models.
#[derive(Subcommand)]
pub enum FitModel {
    /// Principal component analysis.
    Pca {
        /// Data `[n_samples, n_features]` (.npy, float64 or float32).
        #[arg(long)]
        data: PathBuf,
        /// Number of components, 1 ≤ K ≤ min(n_samples, n_features).
        #[arg(long)]
        components: usize,
        /// Output JSON.
        #[arg(long)]
        out: PathBuf,
    },
    /// K-means (Lloyd).
    Kmeans {
        /// Data `[n_samples, n_features]` (.npy).
        #[arg(long)]
        data: PathBuf,
        /// Number of clusters.
        #[arg(long)]
        k: usize,
        /// Initial centres `[k, n_features]` (.npy); default k-means++ seeded with --seed.
        #[arg(long)]
        init: Option<PathBuf>,
        /// Iteration limit.
        #[arg(long, default_value_t = 300)]
        max_iter: usize,
        /// Relative tolerance (scaled by the mean feature variance, as scikit-learn).
        #[arg(long, default_value_t = 1e-4, allow_negative_numbers = true)]
        tol: f64,
        /// Seed of k-means++.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output JSON.
        #[arg(long)]
        out: PathBuf,
    },
    /// Gaussian mixture with full covariances (EM).
    Gmm(GmmArgs),
    /// Dictionary learning: atoms D and sparse codes Z minimising
    /// Σ_i ½‖x_i − z_i D‖² + λ‖z_i‖₁ with ‖d_k‖ ≤ 1 (alternating FISTA codes and
    /// block-coordinate atom updates, as scikit-learn's `dict_learning`).
    Dictionary {
        /// Data `[n_samples, n_features]` (.npy).
        #[arg(long)]
        data: PathBuf,
        /// Number of atoms, 1 ≤ K ≤ n_samples.
        #[arg(long)]
        atoms: usize,
        /// Penalty λ > 0.
        #[arg(long, allow_negative_numbers = true)]
        lambda: f64,
        /// Alternations of code and atom steps.
        #[arg(long, default_value_t = 30)]
        iterations: usize,
        /// Initial atoms `[K, n_features]` (.npy); default: random data rows (from --seed).
        #[arg(long)]
        init: Option<PathBuf>,
        /// Seed of the initial atoms and of re-drawn unused atoms.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output JSON (`components_`, `codes`, `error_`, `n_iter_`).
        #[arg(long)]
        out: PathBuf,
    },
    /// Bernoulli restricted Boltzmann machine (scikit-learn's `BernoulliRBM.fit` schedule);
    /// data in [0, 1].
    Rbm {
        /// Data `[n_samples, n_features]` (.npy), values in [0, 1].
        #[arg(long)]
        data: PathBuf,
        /// Hidden units.
        #[arg(long)]
        components: usize,
        /// Learning rate.
        #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
        learning_rate: f64,
        /// Rows per update.
        #[arg(long, default_value_t = 10)]
        batch_size: usize,
        /// Epochs.
        #[arg(long, default_value_t = 10)]
        n_iter: usize,
        /// Use CD-k with this many Gibbs steps instead of persistent CD.
        #[arg(long)]
        cd: Option<usize>,
        /// Seed of the initial weights and of the Gibbs sampling.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output JSON (`components_`, `intercept_hidden_`, `intercept_visible_`,
        /// `free_energy`).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Arguments of `ami ebm fit gmm`.
#[derive(clap::Args)]
pub struct GmmArgs {
    /// Data `[n_samples, n_features]` (.npy).
    #[arg(long)]
    data: PathBuf,
    /// Number of components.
    #[arg(long)]
    k: usize,
    /// Initial weights `[k]` (.npy); needs --means-init and --precisions-init too.
    #[arg(long, requires_all = ["means_init", "precisions_init"])]
    weights_init: Option<PathBuf>,
    /// Initial means `[k, n_features]` (.npy).
    #[arg(long, requires_all = ["weights_init", "precisions_init"])]
    means_init: Option<PathBuf>,
    /// Initial precision matrices `[k, n_features, n_features]` (.npy).
    #[arg(long, requires_all = ["weights_init", "means_init"])]
    precisions_init: Option<PathBuf>,
    /// EM iteration limit.
    #[arg(long, default_value_t = 100)]
    max_iter: usize,
    /// Convergence threshold on the change of the mean log-likelihood.
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    tol: f64,
    /// Added to each covariance diagonal.
    #[arg(long, default_value_t = 1e-6, allow_negative_numbers = true)]
    reg_covar: f64,
    /// Seed of the k-means initialisation (without the *-init files).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output JSON.
    #[arg(long)]
    out: PathBuf,
}

/// Runs one `ami ebm` command.
pub fn run(cmd: EbmCommand) -> Result<()> {
    match cmd {
        EbmCommand::Example {
            name,
            out,
            seed,
            quick,
        } => crate::ebm_examples::run(name, &out, seed, quick),
        EbmCommand::Fit { model } => match model {
            FitModel::Pca {
                data,
                components,
                out,
            } => fit_pca(&data, components, &out),
            FitModel::Kmeans {
                data,
                k,
                init,
                max_iter,
                tol,
                seed,
                out,
            } => fit_kmeans(&data, k, init.as_deref(), max_iter, tol, seed, &out),
            FitModel::Gmm(a) => fit_gmm(&a),
            FitModel::Dictionary {
                data,
                atoms,
                lambda,
                iterations,
                init,
                seed,
                out,
            } => {
                let params = Dictionary::params(atoms, lambda)
                    .iterations(iterations)
                    .seed(seed);
                fit_dictionary(&data, params, init.as_deref(), &out)
            }
            FitModel::Rbm {
                data,
                components,
                learning_rate,
                batch_size,
                n_iter,
                cd,
                seed,
                out,
            } => {
                let learning = cd.map_or(RbmLearning::Pcd, |k| RbmLearning::Cd { k });
                let params = Rbm::params(components)
                    .learning_rate(learning_rate)
                    .batch_size(batch_size)
                    .n_iter(n_iter)
                    .learning(learning)
                    .seed(seed);
                fit_rbm(&data, &params, &out)
            }
        },
        EbmCommand::SparseCode {
            data,
            dictionary,
            lambda,
            algorithm,
            iters,
            tol,
            out,
        } => sparse_code(&data, &dictionary, lambda, algorithm, iters, tol, &out),
        EbmCommand::Bench(args) => ebm_bench::run(&args),
    }
}

/// Reads an `.npy` array of exactly `ndim` dimensions; errors name the flag and the file.
pub fn load(path: &Path, flag: &str, ndim: usize, expected: &str) -> Result<NpyArrayF64> {
    // Formatted, not chained: the I/O error's source is already part of its message.
    let a = read_npy_f64(path).map_err(|e| anyhow!("--{flag}: {e}"))?;
    if a.shape.len() != ndim {
        bail!(
            "--{flag} {}: expected a {ndim}-D array {expected}, found shape {:?}",
            path.display(),
            a.shape
        );
    }
    Ok(a)
}

/// Reads a 2-D `.npy` array as a [`Matrix`].
pub fn load_matrix(path: &Path, flag: &str, expected: &str) -> Result<Matrix> {
    let a = load(path, flag, 2, expected)?;
    Ok(Matrix::new(a.shape[0], a.shape[1], a.data)?)
}

/// Writes `value` as pretty JSON, atomically.
fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    ami_io::write_atomic(path, text.as_bytes())?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn fit_pca(data: &Path, components: usize, out: &Path) -> Result<()> {
    let x = load_matrix(data, "data", "[n_samples, n_features]")?;
    let m = Pca::params(components)
        .fit(&x)
        .with_context(|| format!("PCA of --data {}", data.display()))?;
    write_json(
        out,
        &json!({
            "model": "pca",
            "n_components": components,
            "n_samples": m.n_samples,
            "mean_": m.mean,
            "components_": m.components.to_rows(),
            "explained_variance_": m.explained_variance,
            "explained_variance_ratio_": m.explained_variance_ratio,
            "singular_values_": m.singular_values,
            "noise_variance_": m.noise_variance,
        }),
    )
}

fn fit_kmeans(
    data: &Path,
    k: usize,
    init: Option<&Path>,
    max_iter: usize,
    tol: f64,
    seed: u64,
    out: &Path,
) -> Result<()> {
    let x = load_matrix(data, "data", "[n_samples, n_features]")?;
    let init = match init {
        Some(p) => KMeansInit::Given(load_matrix(p, "init", "[k, n_features]")?),
        None => KMeansInit::KMeansPlusPlus { seed },
    };
    let m = KMeans::params(k)
        .init(init)
        .max_iter(max_iter)
        .tol(tol)
        .fit(&x)
        .with_context(|| format!("k-means of --data {}", data.display()))?;
    write_json(
        out,
        &json!({
            "model": "kmeans",
            "cluster_centers_": m.cluster_centers.to_rows(),
            "labels_": m.labels,
            "inertia_": m.inertia,
            "n_iter_": m.n_iter,
            "converged": m.converged,
        }),
    )?;
    if !m.converged {
        eprintln!(
            "warning: k-means stopped unconverged at --max-iter {max_iter} (the centres still \
             moved by more than --tol {tol}); raise --max-iter"
        );
    }
    Ok(())
}

fn fit_dictionary(
    data: &Path,
    params: DictionaryParams,
    init: Option<&Path>,
    out: &Path,
) -> Result<()> {
    let x = load_matrix(data, "data", "[n_samples, n_features]")?;
    let params = match init {
        Some(p) => params.init(DictionaryInit::Given(load_matrix(
            p,
            "init",
            "[atoms, n_features]",
        )?)),
        None => params,
    };
    let m = params
        .fit(&x)
        .with_context(|| format!("dictionary learning on --data {}", data.display()))?;
    let n = x.rows() as f64;
    write_json(
        out,
        &json!({
            "model": "dictionary",
            "components_": m.atoms.to_rows(),
            "codes": m.codes.to_rows(),
            "lambda": m.lambda,
            // scikit-learn's error_: the summed objective after each alternation.
            "error_": m.objective.iter().map(|j| j * n).collect::<Vec<_>>(),
            "n_iter_": m.objective.len(),
        }),
    )
}

fn fit_rbm(data: &Path, params: &RbmParams, out: &Path) -> Result<()> {
    let x = load_matrix(
        data,
        "data",
        "[n_samples, n_features] with values in [0, 1]",
    )?;
    let m = params
        .fit(&x)
        .with_context(|| format!("RBM on --data {}", data.display()))?;
    let f = m.free_energy(&x)?;
    write_json(
        out,
        &json!({
            "model": "rbm",
            "components_": m.weights.to_rows(),
            "intercept_hidden_": m.hidden_bias,
            "intercept_visible_": m.visible_bias,
            "free_energy": f,
            "mean_free_energy": f.iter().sum::<f64>() / f.len() as f64,
        }),
    )
}

fn fit_gmm(a: &GmmArgs) -> Result<()> {
    let x = load_matrix(&a.data, "data", "[n_samples, n_features]")?;
    let init = match (&a.weights_init, &a.means_init, &a.precisions_init) {
        (Some(w), Some(m), Some(p)) => GmmInit::Given {
            weights: load(w, "weights-init", 1, "[k]")?.data,
            means: load_matrix(m, "means-init", "[k, n_features]")?,
            precisions: load_precisions(p)?,
        },
        _ => GmmInit::KMeans { seed: a.seed },
    };
    let g = GaussianMixture::params(a.k)
        .init(init)
        .max_iter(a.max_iter)
        .tol(a.tol)
        .reg_covar(a.reg_covar)
        .fit(&x)
        .with_context(|| format!("Gaussian mixture of --data {}", a.data.display()))?;
    let score = g.score(&x)?;
    let rows = |ms: &[Matrix]| ms.iter().map(Matrix::to_rows).collect::<Vec<_>>();
    write_json(
        &a.out,
        &json!({
            "model": "gmm",
            "weights_": g.weights,
            "means_": g.means.to_rows(),
            "covariances_": rows(&g.covariances),
            "precisions_cholesky_": rows(&g.precisions_cholesky),
            "n_iter_": g.n_iter,
            "converged_": g.converged,
            "lower_bound_": g.lower_bound,
            "score": score,
        }),
    )?;
    if !g.converged {
        eprintln!(
            "warning: EM stopped unconverged at --max-iter {} (the lower bound still changed by \
             more than --tol {}); raise --max-iter",
            a.max_iter, a.tol
        );
    }
    Ok(())
}

fn load_precisions(path: &Path) -> Result<Vec<Matrix>> {
    let a = load(path, "precisions-init", 3, "[k, n_features, n_features]")?;
    let (k, r, c) = (a.shape[0], a.shape[1], a.shape[2]);
    if r != c {
        bail!(
            "--precisions-init {}: expected square matrices [k, p, p], found shape {:?}",
            path.display(),
            a.shape
        );
    }
    (0..k)
        .map(|i| {
            Ok(Matrix::new(
                r,
                c,
                a.data[i * r * c..(i + 1) * r * c].to_vec(),
            )?)
        })
        .collect()
}

fn sparse_code(
    data: &Path,
    dictionary: &Path,
    lambda: f64,
    algorithm: Algorithm,
    iters: usize,
    tol: f64,
    out: &Path,
) -> Result<()> {
    let x = load_matrix(data, "data", "[n_samples, n_features]")?;
    let d = load_matrix(dictionary, "dictionary", "[n_atoms, n_features]")?;
    if d.cols() != x.cols() {
        bail!(
            "--dictionary {} has {} features per atom but --data {} has {}; they must agree",
            dictionary.display(),
            d.cols(),
            data.display(),
            x.cols()
        );
    }
    let algorithm = match algorithm {
        Algorithm::Ista => SparseAlgorithm::Ista,
        Algorithm::Fista => SparseAlgorithm::Fista,
        Algorithm::Cd => SparseAlgorithm::CoordinateDescent,
    };
    let coder = SparseCoder::params(d, lambda)
        .algorithm(algorithm)
        .max_iter(iters)
        .tol(tol)
        .check()?;
    let c = coder.encode(&x)?;
    let unconverged = c.converged.iter().filter(|&&v| !v).count();
    if unconverged > 0 {
        eprintln!("warning: {unconverged} samples did not reach --tol {tol} in {iters} iterations");
    }
    write_json(
        out,
        &json!({
            "model": "sparse_code",
            "lambda": lambda,
            "codes": c.codes.to_rows(),
            "energy": c.energy,
            "n_iter": c.n_iter,
            "converged": c.converged,
        }),
    )
}
