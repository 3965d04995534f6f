//! Data sets: the default settings of each equation give finite, resolved, non-trivial
//! trajectories; generation does not depend on the number of threads; files round-trip.

use ami_pde::invariants::ks_energy_terms;
use ami_pde::{Equation, PdeConfig, PdeDataset, PdeError};

fn small(eq: Equation, frames: usize) -> PdeConfig {
    PdeConfig {
        frames,
        ..PdeConfig::default_for(eq)
    }
}

/// Largest |Fourier coefficient| in the top quarter of the dealiased band (`X/4 ≤ m < X/3`)
/// relative to the largest one, over all frames: a resolved trajectory has a tiny tail.
fn spectral_tail(ds: &PdeDataset, i: usize) -> f64 {
    let traj = ds.trajectory(i);
    let spec = traj.spectral().unwrap();
    let n = traj.grid;
    let mut worst: f64 = 0.0;
    for k in 0..traj.frames {
        let f = spec.forward(traj.frame(k));
        let peak = f.iter().map(|c| c.norm()).fold(0.0, f64::max);
        let tail = (n / 4..n / 3).map(|m| f[m].norm()).fold(0.0, f64::max);
        worst = worst.max(tail / peak);
    }
    worst
}

#[test]
fn default_settings_give_resolved_nontrivial_trajectories() {
    for eq in Equation::ALL {
        let cfg = small(eq, 100);
        let ds = PdeDataset::generate(&cfg, 4, 1, 2, &|_| {}).unwrap();
        assert!(ds.u.iter().all(|v| v.is_finite()));
        let tails: Vec<f64> = (0..4).map(|i| spectral_tail(&ds, i)).collect();
        let changes: Vec<f64> = (0..4)
            .map(|i| {
                let t = ds.trajectory(i);
                let (a, b) = (t.frame(0), t.frame(t.frames - 1));
                let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
                let s: f64 = a.iter().map(|x| x * x).sum();
                (d / s).sqrt()
            })
            .collect();
        println!(
            "{}: coefficients {:?}, spectral tail {:.1e}, relative change first→last frame {:?}",
            eq.name(),
            ds.coef
                .iter()
                .map(|c| format!("{c:.4}"))
                .collect::<Vec<_>>(),
            tails.iter().fold(0.0f64, |a, &b| a.max(b)),
            changes
                .iter()
                .map(|c| format!("{c:.2}"))
                .collect::<Vec<_>>()
        );
        for &c in &ds.coef {
            assert!(c >= cfg.coef_min && c <= cfg.coef_max);
        }
        for &t in &tails {
            assert!(t < 1e-5, "{}: under-resolved, tail {t:.1e}", eq.name());
        }
        // Every trajectory evolves visibly over the saved window (KS is not a steady state).
        for &c in &changes {
            assert!(c > 0.1, "{}: change {c}", eq.name());
        }
        if eq == Equation::Ks {
            // The energy budget ⟨u_x²⟩ ≈ ν⟨u_xx²⟩ of the attractor holds on average.
            for i in 0..4 {
                let t = ds.trajectory(i);
                let spec = t.spectral().unwrap();
                let (mut a, mut b) = (0.0, 0.0);
                for k in 0..t.frames {
                    let e = ks_energy_terms(&spec, t.frame(k));
                    a += e[1];
                    b += t.coef * e[2];
                }
                assert!((a / b - 1.0).abs() < 0.1, "budget {}", a / b);
            }
        }
    }
}

#[test]
fn generation_is_independent_of_threads_and_of_n() {
    let cfg = small(Equation::Kdv, 5);
    let one = PdeDataset::generate(&cfg, 4, 9, 1, &|_| {}).unwrap();
    let three = PdeDataset::generate(&cfg, 4, 9, 3, &|_| {}).unwrap();
    let two = PdeDataset::generate(&cfg, 2, 9, 2, &|_| {}).unwrap();
    assert_eq!(one, three);
    assert_eq!(two.u[..], one.u[..two.u.len()]);
    let other = PdeDataset::generate(&cfg, 2, 10, 2, &|_| {}).unwrap();
    assert_ne!(other.u, two.u);
}

#[test]
fn a_saved_dataset_loads_back_with_its_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.npz");
    let cfg = small(Equation::Burgers, 6);
    let ds = PdeDataset::generate(&cfg, 3, 4, 2, &|_| {}).unwrap();
    ds.save(&path).unwrap();
    let back = PdeDataset::load(&path).unwrap();
    assert_eq!(back.u, ds.u);
    assert_eq!(back.config, ds.config);
    for (a, b) in back.coef.iter().zip(&ds.coef) {
        assert!((a - b).abs() < 1e-6 * b);
    }
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("b.json")).unwrap()).unwrap();
    assert_eq!(side["equation"], "burgers");
    assert_eq!(side["coefficient"], "nu");
    assert_eq!(side["n_traj"], 3);
    // A file without its sidecar is refused with the sidecar's name.
    std::fs::remove_file(dir.path().join("b.json")).unwrap();
    let msg = PdeDataset::load(&path).unwrap_err().to_string();
    assert!(msg.contains("b.json") && msg.contains("sidecar"), "{msg}");
}

#[test]
fn a_step_too_large_for_the_solution_is_refused_before_or_during_the_run() {
    // Before: the bound U = J·A of the initial condition already breaks the Courant limit.
    let cfg = PdeConfig {
        dt: 0.05,
        ..small(Equation::Kdv, 3)
    };
    let err = PdeDataset::generate(&cfg, 2, 0, 1, &|_| {}).unwrap_err();
    assert!(
        matches!(err, PdeError::InvalidSetting { key: "dt", .. }),
        "{err}"
    );
    // During: KS grows a tiny initial condition (U = 5·0.01) to |u| ≈ 3 on its attractor,
    // so dt = 0.2 passes the check before the run and breaks the limit in it.
    let cfg = PdeConfig {
        dt: 0.2,
        warmup: 0,
        save_every: 50,
        ic_amplitude: 0.01,
        ..small(Equation::Ks, 20)
    };
    cfg.validate().unwrap();
    let msg = PdeDataset::generate(&cfg, 2, 0, 1, &|_| {})
        .unwrap_err()
        .to_string();
    println!("{msg}");
    assert!(
        msg.contains("`dt` = 0.2 is too large") && msg.contains("lower `dt`"),
        "{msg}"
    );
}
