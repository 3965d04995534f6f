//! `ami-sampling`: transforms of uniform draws into other distributions, shared by crates that
//! share no other dependency (`ami-energy` and `ami-pde` on [`SplitMix64`], `ami-envs` and
//! `ami-agent` on `rand`'s `StdRng`). The transforms take uniforms drawn by the caller from its
//! own stream; the one generator here, [`SplitMix64`], is the dependency-free one `ami-energy`
//! and `ami-pde` seed their streams with.
//!
//! Why a crate of its own: `ami-envs` may depend on none of the model crates and `ami-energy`
//! on no environment, so the lowest crate both reach would otherwise be `ami-io`, which holds
//! file formats only.

pub mod splitmix;
pub use splitmix::SplitMix64;

/// The Box–Muller transform (Box & Muller 1958): two independent uniforms
/// `u₁ ∈ (0, 1]`, `u₂ ∈ [0, 1)` give two independent standard normals
///
/// `r = √(−2 ln u₁)`, `θ = 2π u₂`, `(z₀, z₁) = (r cos θ, r sin θ)`,
///
/// evaluated in f64 in exactly that order (`2π` is `τ`, so `2.0 * PI * u₂` and `TAU * u₂`
/// are the same bits). `u₁ = 0` gives `r = ∞`; callers keep `u₁` away from 0.
#[inline]
pub fn box_muller(u1: f64, u2: f64) -> (f64, f64) {
    let r = (-2.0 * u1.ln()).sqrt();
    let theta = std::f64::consts::TAU * u2;
    (r * theta.cos(), r * theta.sin())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// The formulas the callers had written out, kept here so the shared transform is seen to
    /// give the same bits for every one of them.
    #[test]
    fn same_bits_as_the_written_out_formulas() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u1 = 1.0 - (state >> 11) as f64 / (1u64 << 53) as f64;
            let u2 = (state.rotate_left(29) >> 11) as f64 / (1u64 << 53) as f64;
            let (z0, z1) = box_muller(u1, u2);
            // ami-agent's planners (pairs, f64 then f32).
            let r = (-2.0 * u1.ln()).sqrt();
            let theta = 2.0 * PI * u2;
            assert_eq!(z0.to_bits(), (r * theta.cos()).to_bits());
            assert_eq!(z1.to_bits(), (r * theta.sin()).to_bits());
            // ami-envs's cosine branch and the CLI's benchmark data.
            let envs = (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos();
            assert_eq!(z0.to_bits(), envs.to_bits());
            // ami-energy (TAU).
            let energy = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            assert_eq!(z0.to_bits(), energy.to_bits());
        }
    }

    /// Moments of the pairs: mean 0, variance 1, the two coordinates uncorrelated.
    #[test]
    fn pairs_are_standard_normal() {
        let n = 100_000;
        let (mut s0, mut s1, mut q0, mut q1, mut c) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..n {
            // A low-discrepancy grid of (u₁, u₂) in (0, 1] × [0, 1).
            let u1 = (i as f64 + 0.5) / n as f64;
            let u2 = (i as f64 * 0.618_033_988_749_895).fract();
            let (z0, z1) = box_muller(u1, u2);
            (s0, s1, q0, q1, c) = (s0 + z0, s1 + z1, q0 + z0 * z0, q1 + z1 * z1, c + z0 * z1);
        }
        let n = n as f64;
        for (m, v) in [(s0 / n, q0 / n), (s1 / n, q1 / n)] {
            assert!(m.abs() < 0.01, "mean {m}");
            assert!((v - 1.0).abs() < 0.01, "variance {v}");
        }
        assert!((c / n).abs() < 0.01, "covariance {}", c / n);
    }
}
