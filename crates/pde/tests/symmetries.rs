//! A transformed solution still satisfies its PDE: the residual of the discretised equation
//! (spectral x-derivatives, fourth-order differences in t on the frames) stays at the level
//! of the original's, while a transformation that is *not* a symmetry (a Galilean boost
//! without its `+ε`) leaves a residual orders of magnitude larger.
//! (`cargo test --release -p ami-pde --test symmetries -- --nocapture` prints the numbers.)

use ami_pde::{apply, residual, simulate, Equation, PdeConfig, Symmetry, Trajectory};

/// A trajectory with frames close enough in time for the fourth-order differences.
fn trajectory(eq: Equation) -> Trajectory {
    let base = PdeConfig::default_for(eq);
    let cfg = match eq {
        // ν fixed at 0.05: a steep but resolved solution.
        Equation::Burgers => PdeConfig {
            grid: 256,
            dt: 0.002,
            save_every: 5,
            frames: 40,
            coef_min: 0.05,
            coef_max: 0.05,
            ..base
        },
        Equation::Kdv => PdeConfig {
            grid: 256,
            dt: 0.0025,
            save_every: 4,
            frames: 40,
            ic_amplitude: 0.3,
            ..base
        },
        Equation::Ks => PdeConfig {
            dt: 0.01,
            save_every: 2,
            frames: 40,
            warmup: 5000,
            ..base
        },
    };
    simulate(&cfg, 3, 0).unwrap()
}

fn symmetries(eq: Equation) -> Vec<Symmetry> {
    let mut s = vec![
        Symmetry::SpaceShift(1.234),
        Symmetry::TimeShift { start: 7, len: 30 },
        Symmetry::Galilean(0.3),
        Symmetry::Galilean(-0.2),
    ];
    match eq {
        Equation::Burgers => s.extend([Symmetry::Scaling(1.5), Symmetry::Scaling(0.7)]),
        Equation::Kdv => s.extend([Symmetry::Scaling(1.3), Symmetry::Scaling(0.8)]),
        Equation::Ks => {}
    }
    s
}

#[test]
fn transformed_solutions_satisfy_the_equation_as_well_as_the_original() {
    for eq in Equation::ALL {
        let traj = trajectory(eq);
        let r0 = residual(&traj).unwrap().relative();
        println!("{}: original relative residual {r0:.2e}", eq.name());
        for s in symmetries(eq) {
            let t = apply(&traj, s).unwrap();
            let r = residual(&t).unwrap().relative();
            println!("  {s:?}: {r:.2e} (× {:.2})", r / r0);
            assert!(
                r < 3.0 * r0,
                "{}: {s:?} residual {r:.2e} vs {r0:.2e}",
                eq.name()
            );
        }
        // A composition of symmetries is a symmetry.
        let mut t = traj.clone();
        for s in symmetries(eq) {
            t = apply(&t, s).unwrap();
        }
        let r = residual(&t).unwrap().relative();
        println!("  all of them composed: {r:.2e}");
        assert!(r < 3.0 * r0);
        // Not a symmetry: the boost's frame change without the added constant.
        let mut wrong = apply(&traj, Symmetry::Galilean(0.3)).unwrap();
        wrong.u.iter_mut().for_each(|v| *v -= 0.3);
        let r_wrong = residual(&wrong).unwrap().relative();
        println!("  boost without +ε (not a symmetry): {r_wrong:.2e}");
        assert!(r_wrong > 1000.0 * r0, "{r_wrong:.2e} vs {r0:.2e}");
        assert!(
            r0 < 1e-5,
            "the original residual is already large: {r0:.2e}"
        );
    }
}

#[test]
fn kdv_needs_its_own_exponents_and_boost_speed() {
    let traj = trajectory(Equation::Kdv);
    let r0 = residual(&traj).unwrap().relative();
    // Burgers' scaling λu(λx, λ²t) applied to KdV.
    let lambda: f64 = 1.3;
    let burgers_scaling = Trajectory {
        length: traj.length / lambda,
        frame_dt: traj.frame_dt / lambda.powi(2),
        u: traj.u.iter().map(|v| v * lambda).collect(),
        ..traj.clone()
    };
    // A boost moving the frame at ε instead of 6ε.
    let eps = 0.3;
    let spec = traj.spectral().unwrap();
    let times = traj.times();
    let mut slow_boost = traj.clone();
    slow_boost.u.clear();
    for (k, &t) in times.iter().enumerate() {
        let f = spec.shift(traj.frame(k), eps * t);
        slow_boost.u.extend(f.iter().map(|v| v + eps));
    }
    for (name, t) in [
        ("λu(λx, λ²t)", burgers_scaling),
        ("u(x − εt) + ε", slow_boost),
    ] {
        let r = residual(&t).unwrap().relative();
        println!("kdv with {name} (not a symmetry of KdV): {r:.2e} vs {r0:.2e}");
        assert!(r > 1000.0 * r0, "{name}: {r:.2e}");
    }
}

#[test]
fn scaling_ks_is_refused_and_crops_are_checked() {
    let traj = trajectory(Equation::Ks);
    let msg = apply(&traj, Symmetry::Scaling(1.5))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("ks does not admit a scaling"), "{msg}");
    let msg = apply(&traj, Symmetry::TimeShift { start: 30, len: 20 })
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("frames 30..50") && msg.contains("40 frames"),
        "{msg}"
    );
}

#[test]
fn the_symmetries_move_the_grid_and_the_values_as_stated() {
    let traj = trajectory(Equation::Kdv);
    let s = apply(&traj, Symmetry::Scaling(2.0)).unwrap();
    assert_eq!(s.length, traj.length / 2.0);
    assert_eq!(s.frame_dt, traj.frame_dt / 8.0);
    assert_eq!(s.u[5], 4.0 * traj.u[5]);
    let g = apply(&traj, Symmetry::Galilean(0.5)).unwrap();
    // Frame 0 is at t = 0: no shift, only the added constant.
    for j in 0..traj.grid {
        assert!((g.u[j] - traj.u[j] - 0.5).abs() < 1e-12);
    }
    // A shift by a whole number of grid points moves the samples exactly.
    let dx = traj.length / traj.grid as f64;
    let sh = apply(&traj, Symmetry::SpaceShift(3.0 * dx)).unwrap();
    assert!((sh.u[10] - traj.u[7]).abs() < 1e-12);
}
