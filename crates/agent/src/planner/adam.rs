//! Adam (Kingma & Ba 2015) on a flat vector, as PyTorch's `torch.optim.Adam` without weight
//! decay: at step `k = 1, 2, …` with gradient `∇`,
//!
//! `m ← β₁ m + (1 − β₁) ∇`, `v ← β₂ v + (1 − β₂) ∇²`,
//! `x ← x − lr · m̂ / (√v̂ + ε)` with `m̂ = m / (1 − β₁ᵏ)`, `v̂ = v / (1 − β₂ᵏ)`.
//!
//! The update is elementwise, so independent problems stacked in one vector (the restarts of
//! the gradient planner, the sequences of workload C) are optimised exactly as if apart.
//!
//! **Blocks.** With [`Adam::per_block`]`(b)` the second moment is shared by each block of `b`
//! consecutive entries (one action `a_t`): `v_B ← β₂ v_B + (1 − β₂) · mean_{j∈B} ∇_j²`, and
//! every entry of the block is divided by the same `√v̂_B + ε`. The step then keeps the
//! direction of `m̂` within each block. The gradient planner needs this: an action projected
//! back onto the ball `‖a_t‖ ≤ r` after each step stops where the step points along the
//! outward normal, and that is the constrained optimum only if the step is parallel to the
//! gradient there. Elementwise Adam's step is close to `lr · sign(∇)`, which is not: on the
//! point mass of `tests/gradient_planners.rs` it settles 1–2 % above the optimal cost, on
//! a point of the circle tilted towards the diagonal. `b = 1` is PyTorch's Adam.

/// Adam's moment estimates and step count for one vector of parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adam {
    beta1: f32,
    beta2: f32,
    eps: f32,
    /// Entries sharing one second moment (1: elementwise).
    block: usize,
    m: Vec<f32>,
    /// One entry per block.
    v: Vec<f32>,
    k: i32,
}

impl Adam {
    /// Moment decays `β₁`, `β₂` and `ε` (checked by the caller's config: `β ∈ [0, 1)`,
    /// `ε > 0`); no parameters yet ([`Adam::restart`] sizes them).
    pub fn new(beta1: f32, beta2: f32, eps: f32) -> Self {
        Self {
            beta1,
            beta2,
            eps,
            block: 1,
            ..Self::default()
        }
    }

    /// Share the second moment over blocks of `block ≥ 1` consecutive entries (module docs);
    /// the length given to [`Adam::restart`] must be a multiple of it.
    pub fn per_block(mut self, block: usize) -> Self {
        self.block = block.max(1);
        self
    }

    /// Zero moments for `len` parameters and step count 0 (a fresh optimisation).
    pub fn restart(&mut self, len: usize) {
        self.m.clear();
        self.m.resize(len, 0.0);
        self.v.clear();
        self.v.resize(len / self.block, 0.0);
        self.k = 0;
    }

    /// One step on `x` with gradient `grad` and step size `lr`.
    ///
    /// # Shapes
    /// `x [len]`, `grad [len]` with `len` that of the last [`Adam::restart`] (extra entries
    /// of longer slices are left alone).
    pub fn step(&mut self, lr: f32, x: &mut [f32], grad: &[f32]) {
        self.k += 1;
        let (b1, b2, block) = (self.beta1, self.beta2, self.block);
        let (c1, c2) = (1.0 - b1.powi(self.k), 1.0 - b2.powi(self.k));
        let blocks = x
            .chunks_exact_mut(block)
            .zip(grad.chunks_exact(block))
            .zip(self.m.chunks_exact_mut(block))
            .zip(&mut self.v);
        for (((x, g), m), v) in blocks {
            let g2 = g.iter().map(|g| g * g).sum::<f32>() / block as f32;
            *v = b2 * *v + (1.0 - b2) * g2;
            let denom = (*v / c2).sqrt() + self.eps;
            for ((x, g), m) in x.iter_mut().zip(g).zip(m) {
                *m = b1 * *m + (1.0 - b1) * g;
                *x -= lr * (*m / c1) / denom;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_entry_by_lr_against_its_gradient_sign() {
        // k = 1: m̂ = ∇, v̂ = ∇², so the step is lr · ∇ / (|∇| + ε).
        let mut adam = Adam::new(0.9, 0.999, 1e-8);
        adam.restart(3);
        let mut x = vec![1.0, 2.0, 3.0];
        adam.step(0.1, &mut x, &[4.0, -0.5, 0.0]);
        assert!(
            (x[0] - 0.9).abs() < 1e-6 && (x[1] - 2.1).abs() < 1e-6,
            "{x:?}"
        );
        assert_eq!(x[2], 3.0);
    }

    #[test]
    fn second_step_matches_hand_computation_and_restart_forgets() {
        let (b1, b2, eps, lr) = (0.5f32, 0.75f32, 1e-8f32, 0.1f32);
        let mut adam = Adam::new(b1, b2, eps);
        adam.restart(1);
        let mut x = [0.0f32];
        adam.step(lr, &mut x, &[1.0]);
        adam.step(lr, &mut x, &[3.0]);
        // m = 0.5·0.5 + 0.5·3 = 1.75, v = 0.75·0.25 + 0.25·9 = 2.4375;
        // m̂ = 1.75 / 0.75, v̂ = 2.4375 / 0.4375.
        let second = lr * (1.75 / 0.75) / ((2.4375f32 / 0.4375).sqrt() + eps);
        assert!((x[0] - (-lr - second)).abs() < 1e-6, "{x:?}");
        adam.restart(1);
        let mut y = [0.0f32];
        adam.step(lr, &mut y, &[3.0]);
        assert!((y[0] + lr).abs() < 1e-6, "{y:?}");
    }

    /// Projected Adam on `min ‖x − c‖²` s.t. `‖x‖ ≤ 1`, `c` outside the ball: the optimum is
    /// `c / ‖c‖`. Returns the distance of the last iterate to it.
    fn projected_error(block: usize) -> f32 {
        let c = [3.0f32, -2.0];
        let norm = (13.0f32).sqrt();
        let mut adam = Adam::new(0.9, 0.999, 1e-8).per_block(block);
        adam.restart(2);
        let mut x = [0.0f32, 0.0];
        for _ in 0..300 {
            let g = [2.0 * (x[0] - c[0]), 2.0 * (x[1] - c[1])];
            adam.step(0.05, &mut x, &g);
            crate::planner::project_to_ball(&mut x, 2, 1.0);
        }
        ((x[0] - c[0] / norm).powi(2) + (x[1] - c[1] / norm).powi(2)).sqrt()
    }

    #[test]
    fn a_shared_second_moment_lets_projected_adam_reach_a_boundary_optimum() {
        let (blocked, elementwise) = (projected_error(2), projected_error(1));
        assert!(blocked < 1e-3, "per-action second moment: error {blocked}");
        // Elementwise Adam steps ≈ lr · sign(∇) and stall on the circle towards the diagonal.
        assert!(elementwise > 0.05, "elementwise: error {elementwise}");
    }

    #[test]
    fn block_one_is_elementwise() {
        let g = [0.3f32, -2.0, 0.7, 0.0];
        let (mut a, mut b) = (
            Adam::new(0.8, 0.9, 1e-8),
            Adam::new(0.8, 0.9, 1e-8).per_block(1),
        );
        a.restart(4);
        b.restart(4);
        let (mut x, mut y) = ([1.0f32; 4], [1.0f32; 4]);
        for _ in 0..3 {
            a.step(0.1, &mut x, &g);
            b.step(0.1, &mut y, &g);
        }
        assert_eq!(x, y);
        // Shared over pairs the step of a pair keeps the gradient's direction.
        let mut c = Adam::new(0.8, 0.9, 1e-8).per_block(2);
        c.restart(4);
        let mut z = [0.0f32; 4];
        c.step(0.1, &mut z, &g);
        assert!((z[0] / z[1] - g[0] / g[1]).abs() < 1e-5, "{z:?}");
    }
}
