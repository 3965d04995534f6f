//! The solvers against known solutions and invariants. Each test prints what it measured
//! (`cargo test --release -p ami-pde --test solvers -- --nocapture`).

use std::f64::consts::PI;

use ami_pde::exact::{burgers_accuracy, cole_hopf};
use ami_pde::invariants::{kdv_invariants, ks_energy_terms};
use ami_pde::{solve, Equation, PdeError, Schedule, Spectral};

#[test]
fn burgers_matches_cole_hopf_with_fourth_order_in_time_and_spectral_order_in_space() {
    let acc = burgers_accuracy().unwrap();
    let u_max = (0..1000)
        .map(|j| cole_hopf(acc.nu, 2.0 * PI * j as f64 / 1000.0, 0.0).abs())
        .fold(0.0, f64::max);
    println!(
        "Cole–Hopf, ν = {}, t = {}, max|u₀| = {u_max:.3}",
        acc.nu, acc.t_end
    );
    // Time: a grid fine enough that the spatial error is far below the temporal one.
    for e in &acc.time {
        println!(
            "  X = {}, dt = {}: max error {:.3e}",
            e.grid, e.dt, e.max_error
        );
    }
    for &order in &acc.order_in_time {
        println!("  observed order in time: {order:.2}");
        assert!(
            order > 3.5,
            "ETDRK4 should be fourth order, observed {order:.2}"
        );
    }
    assert_eq!(acc.order_in_time.len(), 2);
    // Space: a step small enough that the temporal error is far below the spatial one.
    for e in &acc.space {
        println!(
            "  dt = {}, X = {}: max error {:.3e}",
            e.dt, e.grid, e.max_error
        );
    }
    for &ratio in &acc.ratio_in_space {
        println!("  error ratio on doubling X: {ratio:.1}");
        // Spectral: doubling X gains far more than any fixed algebraic order would.
        assert!(
            ratio > 100.0,
            "spectral convergence expected, ratio {ratio:.1}"
        );
    }
    assert_eq!(acc.ratio_in_space.len(), 2);
    assert!(
        acc.space[2].max_error < 1e-9 && acc.time[2].max_error < 1e-7,
        "{acc:?}"
    );
}

/// The KdV soliton `u = (c/2) sech²(√c/2 (x − ct − x₀))`, periodised (the tails are below
/// 1e-15 at half the domain).
fn soliton(c: f64, x0: f64, length: f64, x: f64, t: f64) -> f64 {
    let mut xi = (x - c * t - x0).rem_euclid(length);
    if xi > length / 2.0 {
        xi -= length;
    }
    let s = 1.0 / (c.sqrt() / 2.0 * xi).cosh();
    c / 2.0 * s * s
}

/// The soliton `c = 4` from `x₀ = 10` on `L = 50` integrated to `t = 5` on `X = n` with step
/// `dt`: (relative speed error, max shape error / amplitude).
fn soliton_errors(n: usize, dt: f64) -> (f64, f64) {
    let (c, x0, length, t_end) = (4.0, 10.0, 50.0, 5.0);
    let spec = Spectral::new(length, n).unwrap();
    let x = spec.points();
    let u0: Vec<f64> = x.iter().map(|&x| soliton(c, x0, length, x, 0.0)).collect();
    let schedule = Schedule {
        dt,
        warmup: (t_end / dt).round() as usize,
        save_every: 1,
        frames: 1,
    };
    let u = solve(Equation::Kdv, 1.0, &spec, &u0, schedule).unwrap();
    // Speed from the phase of the first Fourier mode: a travelling wave u₀(x − s) has
    // û₁(t) = û₁(0)·e^{−i k₁ s} (here k₁ s = 2.5 < π, so the phase is not wrapped).
    let (f0, f1) = (spec.forward(&u0), spec.forward(&u));
    let speed = -(f1[1] / f0[1]).arg() / spec.k[1] / t_end;
    let shape_err = x
        .iter()
        .zip(&u)
        .map(|(&x, &u)| (u - soliton(c, x0, length, x, t_end)).abs())
        .fold(0.0, f64::max)
        / (c / 2.0);
    ((speed - c).abs() / c, shape_err)
}

#[test]
fn a_kdv_soliton_keeps_its_speed_and_shape() {
    let mut errors = vec![];
    for (n, dt) in [(256, 0.005), (256, 0.0025), (512, 0.0025)] {
        let (speed, shape) = soliton_errors(n, dt);
        println!("KdV soliton c = 4, X = {n}, dt = {dt}, t = 5: relative speed error {speed:.2e}, max error / amplitude {shape:.2e}");
        errors.push((speed, shape));
    }
    // The error is the time discretisation's: it falls with dt, not with X.
    assert!(errors[0].1 / errors[1].1 > 8.0, "{errors:?}");
    assert!(errors[1].0 < 1e-6 && errors[1].1 < 1e-5, "{errors:?}");
    assert!(
        (errors[2].1 - errors[1].1).abs() < 0.5 * errors[1].1,
        "{errors:?}"
    );
}

/// Max relative drift of KdV's `[M, P, E]` over `t ≤ 20` from a three-mode initial
/// condition with a mean, and the largest |u| reached.
fn kdv_drift(n: usize, dt: f64) -> ([f64; 3], f64) {
    let length = 64.0;
    let spec = Spectral::new(length, n).unwrap();
    let w = 2.0 * PI / length;
    let u0: Vec<f64> = spec
        .points()
        .iter()
        .map(|&x| {
            0.2 + 0.5 * (w * x).sin() - 0.4 * (2.0 * w * x + 1.0).cos()
                + 0.3 * (3.0 * w * x + 2.0).sin()
        })
        .collect();
    let schedule = Schedule {
        dt,
        warmup: 0,
        save_every: (2.0 / dt).round() as usize,
        frames: 11,
    };
    let frames = solve(Equation::Kdv, 1.0, &spec, &u0, schedule).unwrap();
    let first = kdv_invariants(&spec, &frames[..n], 1.0);
    let mut drift = [0.0f64; 3];
    for k in 1..schedule.frames {
        let inv = kdv_invariants(&spec, &frames[k * n..(k + 1) * n], 1.0);
        for i in 0..3 {
            drift[i] = drift[i].max(((inv[i] - first[i]) / first[i]).abs());
        }
    }
    (drift, frames.iter().fold(0.0f64, |m, v| m.max(v.abs())))
}

#[test]
fn kdv_conserves_mass_momentum_and_energy_on_a_random_initial_condition() {
    let mut previous: Option<[f64; 3]> = None;
    for dt in [0.005, 0.0025] {
        let (drift, u_max) = kdv_drift(256, dt);
        println!(
            "KdV, L = 64, X = 256, dt = {dt}, t ≤ 20 (max|u| reached {u_max:.2}, from 0.83): \
             max relative drift M {:.1e}, P {:.1e}, E {:.1e}",
            drift[0], drift[1], drift[2]
        );
        // The wave steepened into solitons: the run was nonlinear.
        assert!(u_max > 2.0, "{u_max}");
        // Mass is conserved exactly by the scheme (the k = 0 mode never changes).
        assert!(drift[0] < 1e-12, "mass drift {:.2e}", drift[0]);
        if let Some(p) = previous {
            // P and E are conserved by the PDE, not by the scheme: their drift is the time
            // discretisation error and falls at least as fast as dt³ when dt halves.
            assert!(
                p[1] / drift[1] > 8.0 && p[2] / drift[2] > 8.0,
                "{p:?} → {drift:?}"
            );
            assert!(drift[1] < 1e-5 && drift[2] < 1e-5, "drift {drift:?}");
        }
        previous = Some(drift);
    }
}

#[test]
fn kuramoto_sivashinsky_is_chaotic_and_balances_its_energy_budget() {
    // Kassam & Trefethen's run: L = 32π, u₀ = cos(x/16)(1 + sin(x/16)).
    let (length, n, dt) = (32.0 * PI, 256, 0.025);
    let spec = Spectral::new(length, n).unwrap();
    let w = 2.0 * PI / length;
    let u0 = |eps: f64| -> Vec<f64> {
        spec.points()
            .iter()
            .map(|&x| (w * x).cos() * (1.0 + (w * x).sin()) + eps * (5.0 * w * x).sin())
            .collect()
    };
    // 100 time units of warm-up, then 500 time units with a frame every 0.5.
    let schedule = Schedule {
        dt,
        warmup: 4000,
        save_every: 20,
        frames: 1001,
    };
    let a = solve(Equation::Ks, 1.0, &spec, &u0(0.0), schedule).unwrap();
    let b = solve(Equation::Ks, 1.0, &spec, &u0(1e-10), schedule).unwrap();
    let (mut e, mut ux2, mut uxx2, mut mean) = (0.0, 0.0, 0.0, 0.0f64);
    for k in 0..schedule.frames {
        let terms = ks_energy_terms(&spec, &a[k * n..(k + 1) * n]);
        e += terms[0];
        ux2 += terms[1];
        uxx2 += terms[2];
        mean = mean.max(spec.mean(&a[k * n..(k + 1) * n]).abs());
    }
    let frames = schedule.frames as f64;
    let (e, ux2, uxx2) = (e / frames, ux2 / frames, uxx2 / frames);
    let rms = (2.0 * e).sqrt();
    let budget = ux2 / uxx2;
    let dist = |k: usize| {
        let d: f64 = (0..n).map(|j| (a[k * n + j] - b[k * n + j]).powi(2)).sum();
        (d / n as f64).sqrt()
    };
    let (d_start, d_end) = (dist(0), dist(schedule.frames - 1));
    println!("KS, L = 32π: time-averaged rms u = {rms:.3}, ⟨u_x²⟩/⟨u_xx²⟩ = {budget:.4} (budget: 1), max |mean u| = {mean:.1e}");
    println!(
        "  separation of two runs 1e-10 apart: {d_start:.2e} at t = 100, {d_end:.2e} at t = 600"
    );
    assert!(a.iter().all(|v| v.is_finite()));
    assert!((budget - 1.0).abs() < 0.02, "energy budget ratio {budget}");
    assert!(mean < 1e-12, "the mean is conserved: {mean}");
    assert!(rms > 0.5 && rms < 3.0, "rms {rms}");
    // Chaos: an initial difference of 1e-10 grows to the size of the solution itself.
    assert!(d_end > 0.1 * rms, "separation {d_end:.2e}");
}

#[test]
fn blow_ups_and_too_large_steps_are_errors() {
    let spec = Spectral::new(50.0, 256).unwrap();
    let mut u0: Vec<f64> = spec
        .points()
        .iter()
        .map(|&x| soliton(4.0, 10.0, 50.0, x, 0.0))
        .collect();
    let schedule = Schedule {
        dt: 0.03,
        warmup: 0,
        save_every: 10,
        frames: 3,
    };
    let msg = solve(Equation::Kdv, 1.0, &spec, &u0, schedule)
        .unwrap_err()
        .to_string();
    println!("{msg}");
    assert!(
        msg.contains("`dt` = 0.03 is too large") && msg.contains("limit is 1"),
        "{msg}"
    );
    u0[7] = f64::NAN;
    let err = solve(
        Equation::Kdv,
        1.0,
        &spec,
        &u0,
        Schedule {
            dt: 0.005,
            ..schedule
        },
    )
    .unwrap_err();
    assert!(matches!(err, PdeError::NonFinite { step: 0, .. }), "{err}");
}
