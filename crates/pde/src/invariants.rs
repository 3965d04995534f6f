//! Conserved and balanced quantities used to check the solvers.
//!
//! **KdV** `u_t + 6uu_x + δu_xxx = 0` is Hamiltonian, `u_t = ∂ₓ δH/δu` with
//! `H = ∫(½δu_x² − u³) dx` (check: `δH/δu = −3u² − δu_xx`, and `∂ₓ` of it is `−6uu_x − δu_xxx`).
//! Its first three conserved quantities on a periodic domain are
//!
//! ```text
//! mass  M = ∫ u dx,   momentum  P = ∫ u² dx,   energy  E = ∫ (u³ − ½ δ u_x²) dx  (= −H)
//! ```
//!
//! **KS** `u_t + uu_x + u_xx + νu_xxxx = 0`: multiplying by `u` and integrating (the advection
//! term integrates to zero on a periodic domain) gives the energy budget
//!
//! ```text
//! d/dt ½⟨u²⟩ = ⟨u_x²⟩ − ν ⟨u_xx²⟩
//! ```
//!
//! (`⟨·⟩` the spatial mean): long-wave forcing balances short-wave dissipation, so on the
//! attractor the time averages satisfy `⟨u_x²⟩ ≈ ν⟨u_xx²⟩`.
//!
//! Integrals are `L·mean` over the grid (the trapezoidal rule, exact for band-limited
//! integrands on a periodic grid).

use crate::spectral::Spectral;

/// KdV's `[M, P, E]` of one frame `u` (see the module docs).
pub fn kdv_invariants(spec: &Spectral, u: &[f64], delta: f64) -> [f64; 3] {
    let ux = spec.derivative(u, 1);
    let l = spec.length;
    let mass = l * spec.mean(u);
    let momentum = l * spec.mean(&u.iter().map(|v| v * v).collect::<Vec<_>>());
    let energy: Vec<f64> = u
        .iter()
        .zip(&ux)
        .map(|(v, d)| v * v * v - 0.5 * delta * d * d)
        .collect();
    [mass, momentum, l * spec.mean(&energy)]
}

/// KS's energy-budget terms of one frame: `[½⟨u²⟩, ⟨u_x²⟩, ⟨u_xx²⟩]`.
pub fn ks_energy_terms(spec: &Spectral, u: &[f64]) -> [f64; 3] {
    let sq_mean = |f: &[f64]| spec.mean(&f.iter().map(|v| v * v).collect::<Vec<_>>());
    [
        0.5 * sq_mean(u),
        sq_mean(&spec.derivative(u, 1)),
        sq_mean(&spec.derivative(u, 2)),
    ]
}
