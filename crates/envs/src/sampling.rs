//! Random draws the generator needs, written out so the dataset depends only on `rand`'s
//! uniform stream: von Mises angles, standard normals, truncated normals.

use std::f64::consts::PI;

use ami_sampling::box_muller;
use rand::Rng;

/// Below this concentration the von Mises distribution is drawn as uniform on `[−π, π)`.
const KAPPA_UNIFORM: f64 = 1e-6;
/// Resampling budget of [`truncated_normal`].
const TRUNCATION_DRAWS: usize = 1000;

/// FNV-1a (64-bit) over the little-endian bytes of `values`' bits: the seed of a random
/// stream that must be a function of a state (a step's noise, a plan's latent paths), so
/// that an episode repeats exactly from its start.
pub fn fnv1a_f32(values: &[f32]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    values
        .iter()
        .flat_map(|v| v.to_bits().to_le_bytes())
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// One draw from the von Mises distribution VM(0, κ), density ∝ `exp(κ cos θ)` on `(−π, π]`.
///
/// Best & Fisher (1979), "Efficient simulation of the von Mises distribution" (the algorithm
/// numpy used for years): with `τ = 1 + √(1 + 4κ²)`, `ρ = (τ − √(2τ))/(2κ)`,
/// `r = (1 + ρ²)/(2ρ)`, repeat: `z = cos(πU₁)`, `f = (1 + rz)/(r + z)`, `c = κ(r − f)`; accept
/// when `c(2 − c) > U₂` or `ln(c/U₂) + 1 − c ≥ 0`; return `sign(U₃ − ½)·acos(f)`.
/// For κ < 1e-6 the draw is uniform. Its mean resultant length is `E cos θ = I₁(κ)/I₀(κ)`.
pub fn von_mises<R: Rng + ?Sized>(rng: &mut R, kappa: f32) -> f32 {
    let k = kappa as f64;
    if k.is_nan() || k < KAPPA_UNIFORM {
        return rng.gen_range(-PI..PI) as f32;
    }
    let tau = 1.0 + (1.0 + 4.0 * k * k).sqrt();
    let rho = (tau - (2.0 * tau).sqrt()) / (2.0 * k);
    let r = (1.0 + rho * rho) / (2.0 * rho);
    loop {
        let z = (PI * rng.gen::<f64>()).cos();
        let f = (1.0 + r * z) / (r + z);
        let c = k * (r - f);
        let u2: f64 = rng.gen();
        if c * (2.0 - c) - u2 > 0.0 || (c / u2).ln() + 1.0 - c >= 0.0 {
            let sign = if rng.gen::<f64>() > 0.5 { 1.0 } else { -1.0 };
            return (sign * f.clamp(-1.0, 1.0).acos()) as f32;
        }
    }
}

/// One standard normal draw: the cosine output of [`box_muller`]`(u₁, u₂)` with
/// `u₁ ~ U[ε, 1)` (ε = `f64::EPSILON`) and `u₂ ~ U[0, 1)`, rounded to f32.
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    box_muller(u1, u2).0 as f32
}

/// `N(mean, std²)` conditioned on `[lo, hi]` by resampling; after 1000 rejected draws (the
/// interval is far in a tail) it returns `mean` clamped to `[lo, hi]`.
pub fn truncated_normal<R: Rng + ?Sized>(
    rng: &mut R,
    mean: f32,
    std: f32,
    lo: f32,
    hi: f32,
) -> f32 {
    for _ in 0..TRUNCATION_DRAWS {
        let x = mean + std * standard_normal(rng);
        if (lo..=hi).contains(&x) {
            return x;
        }
    }
    mean.clamp(lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn fnv1a_matches_hand_computed_values() {
        // FNV-1a 64 of no bytes is its offset basis; of the 8 bytes of (1.0, −2.5) as
        // little-endian f32 (computed with Python's struct.pack('<ff', 1.0, -2.5)).
        assert_eq!(fnv1a_f32(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_f32(&[1.0, -2.5]), 0x09e6_29ee_2dfd_b3f8);
        assert_ne!(fnv1a_f32(&[0.0]), fnv1a_f32(&[-0.0]));
    }

    /// `I₁(κ)/I₀(κ)` from the power series `I_ν(κ) = Σ (κ/2)^{2m+ν} / (m! (m+ν)!)`.
    fn bessel_ratio(k: f64) -> f64 {
        let (mut i0, mut i1, mut term) = (0.0, 0.0, 1.0);
        for m in 0..60 {
            let mf = m as f64;
            if m > 0 {
                term *= (k / 2.0) * (k / 2.0) / (mf * mf);
            }
            i0 += term;
            i1 += term * (k / 2.0) / (mf + 1.0);
        }
        i1 / i0
    }

    fn moments(kappa: f32, n: usize) -> (f64, f64) {
        let mut rng = StdRng::seed_from_u64(3);
        let (mut c, mut s) = (0f64, 0f64);
        for _ in 0..n {
            let x = von_mises(&mut rng, kappa) as f64;
            assert!(x.abs() <= PI + 1e-6, "{x} outside (−π, π]");
            c += x.cos();
            s += x.sin();
        }
        let (c, s) = (c / n as f64, s / n as f64);
        (s.atan2(c), c.hypot(s))
    }

    #[test]
    fn bessel_ratio_matches_tabulated_values() {
        assert!((bessel_ratio(5.0) - 0.893_383).abs() < 1e-5);
        assert!((bessel_ratio(1.0) - 0.446_390).abs() < 1e-5);
    }

    #[test]
    fn von_mises_has_circular_mean_zero_and_resultant_length_i1_over_i0() {
        for kappa in [0.5f32, 5.0, 50.0] {
            let (mean, len) = moments(kappa, 200_000);
            let want = bessel_ratio(kappa as f64);
            assert!(
                (mean * len).abs() < 0.01,
                "κ = {kappa}: circular mean {mean}"
            );
            assert!(mean.abs() < 0.05, "κ = {kappa}: circular mean {mean}");
            assert!(
                (len - want).abs() < 0.005,
                "κ = {kappa}: R = {len}, want {want}"
            );
        }
        let (_, len) = moments(0.0, 100_000);
        assert!(len < 0.01, "κ = 0 must be uniform, R = {len}");
    }

    #[test]
    fn truncated_normal_stays_in_range_with_the_right_mean() {
        let mut rng = StdRng::seed_from_u64(4);
        let n = 50_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let x = truncated_normal(&mut rng, 1.0, 0.5, 0.0, 2.0);
            assert!((0.0..=2.0).contains(&x));
            sum += x as f64;
        }
        // Symmetric truncation around the mean keeps the mean.
        assert!((sum / n as f64 - 1.0).abs() < 0.01);
    }

    /// PLDM's step length TruncNormal(1.0, 0.4, [0.2, 1.8]): the bounds are ±2σ, so the mean
    /// stays 1.0 and the variance is `σ²(1 − 2·2φ(2)/(Φ(2) − Φ(−2)))`, std 0.4 · 0.87961 =
    /// 0.35184 (φ(2) = 0.0539910, Φ(2) − Φ(−2) = 0.9544997).
    #[test]
    fn truncated_normal_has_pldms_step_length_moments() {
        let mut rng = StdRng::seed_from_u64(8);
        let n = 200_000;
        let (mut s, mut s2, mut lo, mut hi) = (0f64, 0f64, f32::MAX, f32::MIN);
        for _ in 0..n {
            let x = truncated_normal(&mut rng, 1.0, 0.4, 0.2, 1.8);
            (s, s2) = (s + x as f64, s2 + (x as f64).powi(2));
            (lo, hi) = (lo.min(x), hi.max(x));
        }
        let mean = s / n as f64;
        let std = (s2 / n as f64 - mean * mean).sqrt();
        let want = 0.4 * (1.0f64 - 4.0 * 0.053_991 / 0.954_500).sqrt();
        assert!((want - 0.351_84).abs() < 1e-4, "{want}");
        assert!((mean - 1.0).abs() < 0.003, "mean {mean}");
        assert!((std - want).abs() < 0.003, "std {std}, want {want}");
        assert!(
            lo >= 0.2 && hi <= 1.8 && lo < 0.22 && hi > 1.78,
            "[{lo}, {hi}]"
        );
    }
}
