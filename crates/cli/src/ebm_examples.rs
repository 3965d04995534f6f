//! `ami ebm example <name>`: the worked examples of the energy-based-model lectures, each
//! computed with `ami-energy`, plotted to `<out>/<name>.png`, and summarised in
//! `<out>/<name>.json` (also printed).

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use ami_energy::autoencoder::{normal, Autoencoder, AutoencoderTraining, Mlp64};
use ami_energy::hopfield::Hopfield;
use ami_energy::inference::{free_energy, infer_y, minimise, DescentSettings, Energy};
use ami_energy::rng::SplitMix64;
use ami_energy::{Fit, GaussianMixture, KMeans, Matrix, SampleEnergy};

use ami_io::raster::{Canvas, Panel, BLACK, BLUE, ORANGE, RED, WHITE};

/// The examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Example {
    /// A learned EBM of y = x²: its energy landscape and argmin inference.
    Parabola,
    /// A latent-variable EBM whose latent is the angle on an ellipse: zero temperature vs
    /// free energies at several β.
    Ellipse,
    /// K-means and Gaussian-mixture energy surfaces on the same data.
    KmeansGmm,
    /// Hopfield retrieval accuracy vs the number of stored patterns (capacity ≈ 0.138 N).
    Hopfield,
    /// A denoising auto-encoder pulling noisy points back to a spiral, and the point between
    /// two branches it cannot fix.
    Spiral,
    /// How many negatives a contrastive loss (NCE) needs as the dimension grows, against
    /// denoising score matching and k-means (no negatives) on the same data.
    ContrastiveVsRegularised,
}

impl Example {
    fn name(self) -> &'static str {
        match self {
            Example::Parabola => "parabola",
            Example::Ellipse => "ellipse",
            Example::KmeansGmm => "kmeans-gmm",
            Example::Hopfield => "hopfield",
            Example::Spiral => "spiral",
            Example::ContrastiveVsRegularised => "contrastive-vs-regularised",
        }
    }
}

/// Runs `example`, writing `<out>/<name>.png` and `<out>/<name>.json`; `quick` shrinks the
/// sweeps of the long examples (for smoke tests).
pub fn run(example: Example, out: &Path, seed: u64, quick: bool) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let png = out.join(format!("{}.png", example.name()));
    let summary = match example {
        Example::Parabola => parabola(&png, seed)?,
        Example::Ellipse => ellipse(&png)?,
        Example::KmeansGmm => kmeans_gmm(&png, seed)?,
        Example::Hopfield => hopfield(&png, seed)?,
        Example::Spiral => spiral(&png, seed)?,
        Example::ContrastiveVsRegularised => {
            let sweep = if quick {
                crate::ebm_negatives::Sweep::quick()
            } else {
                crate::ebm_negatives::Sweep::full()
            };
            crate::ebm_negatives::run(&png, seed, &sweep)?
        }
    };
    let text = serde_json::to_string_pretty(&summary)?;
    let json_path = out.join(format!("{}.json", example.name()));
    ami_io::write_atomic(&json_path, text.as_bytes())
        .with_context(|| format!("writing {}", json_path.display()))?;
    println!("{text}");
    eprintln!("wrote {} and {}", png.display(), json_path.display());
    Ok(())
}

const PANEL: i64 = 320;
const LEFT: i64 = 60;
const TOP: i64 = 60;
const GAP: i64 = 70;

/// The `k`-th square panel of a row of panels, with data ranges `xr`, `yr`.
pub(crate) fn panel_at(k: i64, xr: (f64, f64), yr: (f64, f64)) -> Panel {
    Panel {
        left: LEFT + k * (PANEL + GAP),
        top: TOP,
        width: PANEL,
        height: PANEL,
        xr,
        yr,
    }
}

/// A white canvas wide enough for `panels` panels and the caption, which it writes below them.
pub(crate) fn canvas(panels: i64, caption: &str) -> Canvas {
    let width = (LEFT + panels * (PANEL + GAP)).max(2 * LEFT + Canvas::text_width(caption, 1));
    let mut c = Canvas::new(width as usize, (TOP + PANEL + 60) as usize);
    c.text(LEFT, TOP + PANEL + 30, caption, BLACK, 1);
    c
}

/// `F_w(x, y) = (y − wᵀφ(x))²`, `φ(x) = [1, x, x², x³]`.
struct PolyEnergy {
    w: [f64; 4],
}

fn features(x: f64) -> [f64; 4] {
    [1.0, x, x * x, x * x * x]
}

impl PolyEnergy {
    fn mean(&self, x: f64) -> f64 {
        features(x).iter().zip(&self.w).map(|(f, w)| f * w).sum()
    }
}

impl Energy for PolyEnergy {
    fn energy(&self, x: &[f64], y: &[f64]) -> f64 {
        (y[0] - self.mean(x[0])).powi(2)
    }
    fn grad_y(&self, x: &[f64], y: &[f64], grad: &mut [f64]) -> f64 {
        let r = y[0] - self.mean(x[0]);
        grad[0] = 2.0 * r;
        r * r
    }
}

/// A learned EBM of `y = x²`: `F_w(x, y) = (y − wᵀφ(x))²` trained with the energy loss on
/// noisy samples (the architecture limits the volume of low energy, so pushing the data's
/// energy down is enough), then `ŷ(x) = argmin_y F_w(x, y)` by gradient descent.
fn parabola(png: &Path, seed: u64) -> Result<Value> {
    let mut rng = SplitMix64::new(seed);
    let data: Vec<(f64, f64)> = (0..200)
        .map(|_| {
            let x = -2.0 + 4.0 * rng.uniform();
            (x, x * x + 0.05 * normal(&mut rng))
        })
        .collect();
    // Training: minimise the mean energy of the data over w.
    let loss = |w: &[f64], g: &mut [f64]| -> f64 {
        g.fill(0.0);
        let mut total = 0.0;
        for &(x, y) in &data {
            let phi = features(x);
            let r = y - phi.iter().zip(w).map(|(f, w)| f * w).sum::<f64>();
            total += r * r;
            g.iter_mut().zip(&phi).for_each(|(g, f)| *g -= 2.0 * r * f);
        }
        let n = data.len() as f64;
        g.iter_mut().for_each(|g| *g /= n);
        total / n
    };
    let settings = DescentSettings {
        step: 1.0,
        max_iter: 50_000,
        tol: 1e-7,
    };
    let fit = minimise(loss, &[0.0; 4], settings)?;
    warn_unconverged(
        "parabola training (gradient descent)",
        fit.converged,
        fit.iterations,
    );
    let model = PolyEnergy {
        w: [fit.point[0], fit.point[1], fit.point[2], fit.point[3]],
    };
    // Inference: ŷ(x) = argmin_y F(x, y) from y0 = 0.
    let xs: Vec<f64> = (0..=40).map(|i| -2.0 + 0.1 * i as f64).collect();
    let mut yhat = Vec::new();
    let mut worst: f64 = 0.0;
    for &x in &xs {
        let m = infer_y(&model, &[x], &[0.0], DescentSettings::default())?;
        warn_unconverged(
            "parabola inference argmin_y F(x, y)",
            m.converged,
            m.iterations,
        );
        worst = worst.max((m.point[0] - x * x).abs());
        yhat.push((x, m.point[0]));
    }
    let mut c = canvas(
        1,
        "F(x,y) = (y - w.phi(x))^2 learned from 200 noisy samples; red: argmin inference",
    );
    let p = panel_at(0, (-2.0, 2.0), (-1.0, 4.5));
    let (lo, hi) = p.heatmap(&mut c, |x, y| model.energy(&[x], &[y]), true);
    p.points(&mut c, &data, 1, WHITE);
    p.polyline(&mut c, &yhat, RED);
    p.points(&mut c, &yhat, 2, RED);
    p.frame(&mut c, "PARABOLA: ENERGY (LOG)");
    c.save(png)?;
    Ok(json!({
        "example": "parabola",
        "energy": "F_w(x, y) = (y - w·[1, x, x², x³])²",
        "training": {"loss": "energy loss (mean F over the data)", "iterations": fit.iterations,
                      "converged": fit.converged, "final_mean_energy": fit.energy},
        "learned_w": model.w,
        "max_abs_error_of_argmin_vs_x2_on_[-2,2]": worst,
        "energy_range_plotted": [lo, hi],
        "plot": png.display().to_string(),
    }))
}

/// `E(y, z) = ‖y − (a cos z, b sin z)‖²` with the angle `z` as latent, enumerated on a grid:
/// the zero-temperature free energy `min_z E` and `F_β` at several β.
fn ellipse(png: &Path) -> Result<Value> {
    let (a, b) = (2.0, 1.0);
    let zs: Vec<f64> = (0..180)
        .map(|i| i as f64 * std::f64::consts::TAU / 180.0)
        .collect();
    let energies = |x: f64, y: f64| -> Vec<f64> {
        zs.iter()
            .map(|z| (x - a * z.cos()).powi(2) + (y - b * z.sin()).powi(2))
            .collect()
    };
    let betas = [f64::INFINITY, 5.0, 1.0, 0.1];
    let mut c = canvas(4, "E(y,z) = |y - (2 cos z, sin z)|^2, z on 180 angles; F_beta = -1/beta log mean_z exp(-beta E)");
    let mut rows = Vec::new();
    for (k, &beta) in betas.iter().enumerate() {
        let p = panel_at(k as i64, (-3.0, 3.0), (-2.0, 2.0));
        let f = |x: f64, y: f64| free_energy(&energies(x, y), beta).map_or(f64::NAN, |f| f.value);
        p.heatmap(&mut c, f, true);
        let ring: Vec<(f64, f64)> = zs
            .iter()
            .step_by(6)
            .map(|z| (a * z.cos(), b * z.sin()))
            .collect();
        p.points(&mut c, &ring, 1, WHITE);
        let title = if beta.is_infinite() {
            "BETA = INF (MIN OVER Z)".to_string()
        } else {
            format!("BETA = {beta}")
        };
        p.frame(&mut c, &title);
        let centre = free_energy(&energies(0.0, 0.0), beta)?.value;
        let on = free_energy(&energies(a, 0.0), beta)?.value;
        let out = free_energy(&energies(3.0, 0.0), beta)?.value;
        rows.push(
            json!({"beta": if beta.is_infinite() { json!("inf") } else { json!(beta) },
                         "F_at_centre": centre, "F_on_ellipse_(2,0)": on, "F_outside_(3,0)": out}),
        );
    }
    c.save(png)?;
    Ok(json!({
        "example": "ellipse",
        "energy": "E(y, z) = ‖y − (2 cos z, sin z)‖², z ∈ 180 angles",
        "free_energies": rows,
        "note": "at β = ∞ the data ring is the zero-energy set and the centre is a local maximum; as β falls F_β smooths towards the mean energy, which is lowest at the centre",
        "plot": png.display().to_string(),
    }))
}

/// K-means (`F∞(x) = min_k ‖x − c_k‖²`) and a Gaussian mixture (`−log p(x)`) fitted to the
/// same three blobs.
fn kmeans_gmm(png: &Path, seed: u64) -> Result<Value> {
    let mut rng = SplitMix64::new(seed);
    let centres = [(-2.0, -1.0), (2.0, -1.5), (0.5, 2.0)];
    let scales = [(0.5, 0.3), (0.3, 0.8), (0.7, 0.4)];
    let mut pts = Vec::new();
    for (&(cx, cy), &(sx, sy)) in centres.iter().zip(&scales) {
        for _ in 0..150 {
            pts.push((cx + sx * normal(&mut rng), cy + sy * normal(&mut rng)));
        }
    }
    let x = Matrix::from_rows(&pts.iter().map(|&(a, b)| vec![a, b]).collect::<Vec<_>>())?;
    let km = KMeans::params(3).fit(&x)?;
    let gmm = GaussianMixture::params(3).fit(&x)?;
    let one = |a: f64, b: f64| Matrix::new(1, 2, vec![a, b]).map_err(anyhow::Error::from);
    let mut c = canvas(2, "left: k-means F(x) = min_k |x - c_k|^2; right: GMM free energy -log p(x); 450 points, 3 blobs");
    let (xr, yr) = ((-4.0, 4.0), (-4.0, 4.0));
    let p = panel_at(0, xr, yr);
    p.heatmap(
        &mut c,
        |a, b| {
            one(a, b)
                .and_then(|m| Ok(km.energy(&m)?[0]))
                .unwrap_or(f64::NAN)
        },
        true,
    );
    p.points(&mut c, &pts, 1, WHITE);
    let kc: Vec<(f64, f64)> = km
        .cluster_centers
        .row_iter()
        .map(|r| (r[0], r[1]))
        .collect();
    p.points(&mut c, &kc, 4, RED);
    p.frame(&mut c, "K-MEANS ENERGY (LOG)");
    let p = panel_at(1, xr, yr);
    p.heatmap(
        &mut c,
        |a, b| {
            one(a, b)
                .and_then(|m| Ok(gmm.energy(&m)?[0]))
                .unwrap_or(f64::NAN)
        },
        true,
    );
    p.points(&mut c, &pts, 1, WHITE);
    let gm: Vec<(f64, f64)> = gmm.means.row_iter().map(|r| (r[0], r[1])).collect();
    p.points(&mut c, &gm, 4, ORANGE);
    p.frame(&mut c, "GMM -LOG P(X)");
    c.save(png)?;
    warn_unconverged("k-means", km.converged, km.n_iter);
    warn_unconverged("Gaussian mixture (EM)", gmm.converged, gmm.n_iter);
    Ok(json!({
        "example": "kmeans-gmm",
        "kmeans": {"centres": kc, "inertia": km.inertia, "n_iter": km.n_iter,
                   "converged": km.converged},
        "gmm": {"means": gm, "weights": gmm.weights, "mean_log_likelihood": gmm.score(&x)?,
                "n_iter": gmm.n_iter, "converged": gmm.converged},
        "plot": png.display().to_string(),
    }))
}

/// Retrieval accuracy of a classic Hopfield network (N = 200) from 5 % corrupted cues as the
/// number of stored random patterns grows.
fn hopfield(png: &Path, seed: u64) -> Result<Value> {
    let n = 200;
    let mut rng = SplitMix64::new(seed);
    let loads: Vec<usize> = (1..=20).map(|i| i * 4).collect();
    let mut curve = Vec::new();
    for &p in &loads {
        let (mut ok, mut tried) = (0usize, 0usize);
        for _rep in 0..3 {
            let pats: Vec<f64> = (0..p * n)
                .map(|_| if rng.uniform() < 0.5 { -1.0 } else { 1.0 })
                .collect();
            let pats = Matrix::new(p, n, pats)?;
            let net = Hopfield::store(&pats)?;
            for mu in 0..p.min(10) {
                let mut cue = pats.row(mu).to_vec();
                for v in cue.iter_mut() {
                    if rng.uniform() < 0.05 {
                        *v = -*v;
                    }
                }
                let (out, _) = net.retrieve(&cue, 50, rng.next_u64())?;
                let wrong = out.iter().zip(pats.row(mu)).filter(|(a, b)| a != b).count();
                tried += 1;
                if wrong as f64 <= 0.01 * n as f64 {
                    ok += 1;
                }
            }
        }
        curve.push((p as f64 / n as f64, ok as f64 / tried as f64));
    }
    let mut c = canvas(
        1,
        "N = 200, cues with 5% flipped bits, success = at most 1% wrong bits; line at P/N = 0.138",
    );
    let p = panel_at(0, (0.0, 0.4), (0.0, 1.05));
    // Light background, the capacity line, then the measured curve.
    for j in 0..PANEL {
        for i in 0..PANEL {
            c.set(p.left + i, p.top + j, [245, 245, 245]);
        }
    }
    p.polyline(&mut c, &[(0.138, 0.0), (0.138, 1.05)], BLUE);
    p.polyline(&mut c, &curve, RED);
    p.points(&mut c, &curve, 2, RED);
    p.frame(&mut c, "HOPFIELD RETRIEVAL VS P/N");
    c.save(png)?;
    let half = curve.iter().find(|(_, acc)| *acc < 0.5).map(|(a, _)| *a);
    Ok(json!({
        "example": "hopfield",
        "neurons": n,
        "accuracy_vs_load": curve.iter().map(|(a, acc)| json!({"patterns_per_neuron": a, "accuracy": acc})).collect::<Vec<_>>(),
        "first_load_below_50pct": half,
        "theory": "capacity ≈ 0.138 N (Amit, Gutfreund, Sompolinsky 1985)",
        "plot": png.display().to_string(),
    }))
}

/// The spiral `r(θ) = 0.25 + 0.35·θ/π`, θ ∈ [0, 3π] (1.5 turns; adjacent branches 0.7 apart).
fn spiral_point(theta: f64) -> (f64, f64) {
    let r = 0.25 + 0.35 * theta / std::f64::consts::PI;
    (r * theta.cos(), r * theta.sin())
}

/// Distance from `p` to the spiral (to a dense sampling of it).
fn spiral_distance(curve: &[(f64, f64)], p: (f64, f64)) -> f64 {
    curve
        .iter()
        .map(|c| ((c.0 - p.0).powi(2) + (c.1 - p.1).powi(2)).sqrt())
        .fold(f64::INFINITY, f64::min)
}

/// A denoising auto-encoder trained on points of a spiral (σ = 0.15): it maps noisy points
/// back towards the curve, except a point midway between two branches, where the two
/// branches pull equally and the reconstruction stays in between.
fn spiral(png: &Path, seed: u64) -> Result<Value> {
    let mut rng = SplitMix64::new(seed);
    let turns = 3.0 * std::f64::consts::PI;
    let data: Vec<(f64, f64)> = (0..1000)
        .map(|_| spiral_point(turns * rng.uniform()))
        .collect();
    let curve: Vec<(f64, f64)> = (0..3000)
        .map(|i| spiral_point(turns * i as f64 / 2999.0))
        .collect();
    let x = Matrix::from_rows(&data.iter().map(|p| vec![p.0, p.1]).collect::<Vec<_>>())?;
    let mut dae = Autoencoder::new(Mlp64::new(&[2, 64, 64, 2], seed.wrapping_add(1))?)?;
    let training = AutoencoderTraining {
        noise: 0.15,
        steps: 20000,
        batch: 128,
        lr: 3e-3,
        seed: seed.wrapping_add(2),
    };
    let losses = dae.fit(&x, training)?;
    // Noisy test points: on the curve plus N(0, 0.15²).
    let test: Vec<(f64, f64)> = (0..60)
        .map(|i| {
            let (a, b) = spiral_point(turns * (i as f64 + 0.5) / 60.0);
            (a + 0.15 * normal(&mut rng), b + 0.15 * normal(&mut rng))
        })
        .collect();
    let tm = Matrix::from_rows(&test.iter().map(|p| vec![p.0, p.1]).collect::<Vec<_>>())?;
    let out = dae.reconstruct(&tm)?;
    let outs: Vec<(f64, f64)> = out.row_iter().map(|r| (r[0], r[1])).collect();
    let mean_dist = |pts: &[(f64, f64)]| {
        pts.iter().map(|&p| spiral_distance(&curve, p)).sum::<f64>() / pts.len() as f64
    };
    // Midway between the branches at θ = π and θ = 3π (both on the negative x axis).
    let (inner, outer) = (spiral_point(std::f64::consts::PI), spiral_point(turns));
    let mid = ((inner.0 + outer.0) / 2.0, (inner.1 + outer.1) / 2.0);
    let mid_out = dae.reconstruct(&Matrix::new(1, 2, vec![mid.0, mid.1])?)?;
    let mid_out = (mid_out.row(0)[0], mid_out.row(0)[1]);

    let mut c = canvas(1, "DAE trained on a spiral with noise 0.15: orange noisy points -> red reconstructions; blue: between two branches");
    let p = panel_at(0, (-1.6, 1.6), (-1.6, 1.6));
    p.heatmap(
        &mut c,
        |a, b| {
            Matrix::new(1, 2, vec![a, b])
                .and_then(|m| dae.energy(&m))
                .map_or(f64::NAN, |e| e[0])
        },
        true,
    );
    p.points(&mut c, &data, 1, WHITE);
    for (t, o) in test.iter().zip(&outs) {
        p.polyline(&mut c, &[*t, *o], RED);
    }
    p.points(&mut c, &test, 2, ORANGE);
    p.points(&mut c, &outs, 2, RED);
    p.polyline(&mut c, &[mid, mid_out], BLUE);
    p.points(&mut c, &[mid], 4, BLUE);
    p.points(&mut c, &[mid_out], 3, BLUE);
    p.frame(&mut c, "SPIRAL: DAE ENERGY (LOG)");
    c.save(png)?;
    Ok(json!({
        "example": "spiral",
        "model": "denoising auto-encoder 2-64-64-2 (tanh), noise 0.15, 20000 Adam steps of 128, lr 3e-3",
        "loss_first_100_mean": losses[..100].iter().sum::<f64>() / 100.0,
        "loss_last_100_mean": losses[losses.len() - 100..].iter().sum::<f64>() / 100.0,
        "mean_distance_to_spiral_noisy": mean_dist(&test),
        "mean_distance_to_spiral_denoised": mean_dist(&outs),
        "between_branches": {"point": [mid.0, mid.1], "reconstruction": [mid_out.0, mid_out.1],
                              "distance_to_spiral_before": spiral_distance(&curve, mid),
                              "distance_to_spiral_after": spiral_distance(&curve, mid_out)},
        "plot": png.display().to_string(),
    }))
}

/// Says on stderr that an iterative solver stopped at its iteration cap (the JSON has it too).
fn warn_unconverged(what: &str, converged: bool, iterations: usize) {
    if !converged {
        eprintln!("warning: {what} stopped unconverged after {iterations} iterations");
    }
}
