//! Gradient planning on the dense kernel: Adam on the actions of `n` sequences, the gradient
//! back-propagated through the rollout of the frozen dynamics (benchmark workload C).
//!
//! Objective `L(a) = Σ_{i,t} ‖s_{i,t}(a) − g‖²` over the states after each planned action, so
//! `∂L/∂s_{i,t} = 2 (s_{i,t} − g)`; the gradient with respect to the actions is the agent's
//! vector–Jacobian product of the rollout ([`ami_agent::kernel::adjoint`], the hot path of the
//! `gradient` planner) and the update is the agent's [`Adam`] (PyTorch's Adam, no weight
//! decay). The loop here is the workload's definition, identical to the PyTorch and JAX peers:
//! no action bound, no restarts, the given initial actions.

use rayon::prelude::*;

use ami_agent::kernel::gemm::{Threads, PARALLEL_MIN_MACS};
use ami_agent::kernel::{DenseDynamics, VjpWorkspace};
use ami_agent::{Adam, AgentError};

/// Adam settings of a gradient plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamSettings {
    /// Step size.
    pub lr: f32,
    /// First-moment decay `β₁`.
    pub beta1: f32,
    /// Second-moment decay `β₂`.
    pub beta2: f32,
    /// `ε` added to `√v̂`.
    pub eps: f32,
    /// Number of Adam steps.
    pub steps: usize,
}

impl Default for AdamSettings {
    /// Workload C: lr 0.1, betas (0.9, 0.999), eps 1e-8, 20 steps.
    fn default() -> Self {
        Self {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            steps: 20,
        }
    }
}

/// Buffers of a gradient plan, reused across steps and calls.
#[derive(Debug, Clone, Default)]
pub struct GradientPlanBuffers {
    vjp: VjpWorkspace,
    /// `∂L/∂a [n, h, A]` of the last [`loss_and_grad`] call.
    pub grad: Vec<f32>,
    adam: Adam,
    /// Buffers of the per-core blocks of a split plan.
    parts: Vec<GradientPlanBuffers>,
}

/// `L(a)` and `∂L/∂a` (into `buf.grad`) for `n` sequences of `h` actions from `s0`.
///
/// # Shapes
/// `s0 [D]`, `goal [D]`, `actions [n, h, A]`.
pub fn loss_and_grad(
    dynamics: &DenseDynamics,
    (s0, goal): (&[f32], &[f32]),
    actions: &[f32],
    (n, h): (usize, usize),
    buf: &mut GradientPlanBuffers,
) -> Result<f32, AgentError> {
    loss_and_grad_with(dynamics, (s0, goal), actions, (n, h), buf, None)
}

/// [`loss_and_grad`] with every product on `threads` (`None`: chosen per shape).
fn loss_and_grad_with(
    dynamics: &DenseDynamics,
    (s0, goal): (&[f32], &[f32]),
    actions: &[f32],
    (n, h): (usize, usize),
    buf: &mut GradientPlanBuffers,
    threads: Option<Threads>,
) -> Result<f32, AgentError> {
    let (d, a) = (dynamics.state_dim(), dynamics.action_dim());
    if goal.len() != d {
        return Err(AgentError::shape(
            "gradient plan goal",
            goal.len(),
            format!("[D={d}]"),
        ));
    }
    if actions.len() != n * h * a || s0.len() != d {
        return Err(AgentError::shape(
            "gradient plan s0/actions",
            actions.len(),
            format!("s0 [{d}], actions [n={n}, h={h}, A={a}]"),
        ));
    }
    let mut loss = 0.0f64;
    let mut cotangent = |states: &[f32], states_bar: &mut [f32]| {
        let rows = states_bar.chunks_exact_mut(d).zip(states.chunks_exact(d));
        for (bar, s) in rows {
            for ((b, x), g) in bar.iter_mut().zip(s).zip(goal) {
                loss += f64::from(x - g).powi(2);
                *b = 2.0 * (x - g);
            }
        }
        Ok(())
    };
    buf.grad.clear();
    buf.grad.resize(n * h * a, 0.0);
    let (vjp, grad) = (&mut buf.vjp, &mut buf.grad);
    dynamics.rollout_and_vjp_with(s0, actions, (n, h), vjp, &mut cotangent, grad, threads)?;
    Ok(loss as f32)
}

/// Smallest block of sequences worth a core of its own in [`gradient_plan`].
const MIN_SEQUENCES_PER_PART: usize = 8;

/// Runs `adam.steps` Adam steps on `actions` in place; returns the loss before the last step.
///
/// The sequences are independent (the loss is a sum over them and Adam is elementwise), so
/// large enough plans run one block of sequences per core, each block's whole optimisation on
/// one thread: no synchronisation per product.
///
/// # Shapes
/// `s0 [D]`, `goal [D]`, `actions [n, h, A]`.
pub fn gradient_plan(
    dynamics: &DenseDynamics,
    (s0, goal): (&[f32], &[f32]),
    actions: &mut [f32],
    (n, h): (usize, usize),
    adam: AdamSettings,
    buf: &mut GradientPlanBuffers,
) -> Result<f32, AgentError> {
    let a = dynamics.action_dim();
    let macs = dynamics.mlp().forward_macs(n);
    let parts = if macs < PARALLEL_MIN_MACS || actions.len() != n * h * a || h == 0 {
        1
    } else {
        rayon::current_num_threads().min(n / MIN_SEQUENCES_PER_PART)
    };
    if parts > 1 {
        let chunk = n.div_ceil(parts);
        buf.parts.resize_with(parts, GradientPlanBuffers::default);
        let losses = buf.parts[..parts]
            .par_iter_mut()
            .zip(actions.par_chunks_mut(chunk * h * a))
            .map(|(b, acts)| {
                let rows = acts.len() / (h * a);
                let one = Some(Threads::One);
                gradient_plan_block(dynamics, (s0, goal), acts, (rows, h), adam, b, one)
            })
            .collect::<Result<Vec<f32>, AgentError>>()?;
        return Ok(losses.iter().sum());
    }
    gradient_plan_block(dynamics, (s0, goal), actions, (n, h), adam, buf, None)
}

/// [`gradient_plan`] of one block of sequences, every product on `threads`.
fn gradient_plan_block(
    dynamics: &DenseDynamics,
    (s0, goal): (&[f32], &[f32]),
    actions: &mut [f32],
    (n, h): (usize, usize),
    adam: AdamSettings,
    buf: &mut GradientPlanBuffers,
    threads: Option<Threads>,
) -> Result<f32, AgentError> {
    buf.adam = Adam::new(adam.beta1, adam.beta2, adam.eps);
    buf.adam.restart(actions.len());
    let mut loss = f32::NAN;
    for k in 1..=adam.steps {
        loss = loss_and_grad_with(dynamics, (s0, goal), actions, (n, h), buf, threads)?;
        if !loss.is_finite() {
            return Err(AgentError::NonFinite {
                what: format!("gradient plan loss at Adam step {k}"),
            });
        }
        buf.adam.step(adam.lr, actions, &buf.grad);
    }
    Ok(loss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_agent::kernel::{DenseLayer, DenseMlp, StepKind};

    fn wave(len: usize, phase: f32) -> Vec<f32> {
        (0..len)
            .map(|i| (i as f32 * 0.731 + phase).sin() * 0.6)
            .collect()
    }

    /// `(D=3, A=2) → 6 → 3`, residual, action scale 0.5, repeat 2.
    fn tiny_dynamics() -> DenseDynamics {
        let l1 = DenseLayer::new(wave(5 * 6, 0.1), wave(6, 0.2), 5, 6).unwrap();
        let l2 = DenseLayer::new(wave(6 * 3, 0.3), wave(3, 0.4), 6, 3).unwrap();
        let mlp = DenseMlp::from_layers(vec![l1, l2]).unwrap();
        DenseDynamics::new(mlp, StepKind::Residual, 0.5, 2).unwrap()
    }

    #[test]
    fn gradient_matches_central_finite_differences() {
        let dynamics = tiny_dynamics();
        let (n, h) = (2, 3);
        let (s0, goal) = (wave(3, 1.0), wave(3, 2.0));
        let actions = wave(n * h * 2, 3.0);
        let mut buf = GradientPlanBuffers::default();
        loss_and_grad(&dynamics, (&s0, &goal), &actions, (n, h), &mut buf).unwrap();
        let grad = buf.grad.clone();
        let eps = 1e-3;
        let scale = grad.iter().fold(1e-6f32, |m, g| m.max(g.abs()));
        for j in 0..actions.len() {
            let mut plus = actions.clone();
            plus[j] += eps;
            let mut minus = actions.clone();
            minus[j] -= eps;
            let lp = loss_and_grad(&dynamics, (&s0, &goal), &plus, (n, h), &mut buf).unwrap();
            let lm = loss_and_grad(&dynamics, (&s0, &goal), &minus, (n, h), &mut buf).unwrap();
            let fd = (lp - lm) / (2.0 * eps);
            assert!(
                (fd - grad[j]).abs() < 1e-2 * scale,
                "[{j}] fd {fd} vs {}",
                grad[j]
            );
        }
    }

    #[test]
    fn adam_lowers_the_loss_and_first_step_is_lr_sign() {
        let dynamics = tiny_dynamics();
        let (n, h) = (2, 3);
        let (s0, goal) = (wave(3, 1.0), wave(3, 2.0));
        let init = wave(n * h * 2, 3.0);
        let mut buf = GradientPlanBuffers::default();
        let l0 = loss_and_grad(&dynamics, (&s0, &goal), &init, (n, h), &mut buf).unwrap();
        let g0 = buf.grad.clone();
        let adam = AdamSettings {
            lr: 0.01,
            steps: 1,
            ..AdamSettings::default()
        };
        let mut a = init.clone();
        gradient_plan(&dynamics, (&s0, &goal), &mut a, (n, h), adam, &mut buf).unwrap();
        for ((a, x), g) in a.iter().zip(&init).zip(&g0) {
            assert!((a - (x - 0.01 * g.signum())).abs() < 1e-5, "{a} {x} {g}");
        }
        let adam = AdamSettings {
            lr: 0.01,
            steps: 30,
            ..AdamSettings::default()
        };
        let mut a = init.clone();
        gradient_plan(&dynamics, (&s0, &goal), &mut a, (n, h), adam, &mut buf).unwrap();
        let l1 = loss_and_grad(&dynamics, (&s0, &goal), &a, (n, h), &mut buf).unwrap();
        assert!(l1 < l0, "{l1} >= {l0}");
    }

    #[test]
    fn split_plan_equals_one_block() {
        // 130 → 192 → 128 with 32 sequences: large enough to run one block per core.
        let l1 = DenseLayer::new(wave(130 * 192, 0.5), wave(192, 0.6), 130, 192).unwrap();
        let l2 = DenseLayer::new(wave(192 * 128, 0.7), wave(128, 0.8), 192, 128).unwrap();
        let mlp = DenseMlp::from_layers(vec![l1.clone(), l2.clone()]).unwrap();
        let dynamics = DenseDynamics::new(mlp, StepKind::Residual, 0.1, 1).unwrap();
        let (n, h) = (32, 4);
        let (s0, goal) = (wave(128, 1.5), wave(128, 2.5));
        let init: Vec<f32> = wave(n * h * 2, 3.5).iter().map(|v| 0.1 * v).collect();
        let adam = AdamSettings {
            steps: 3,
            lr: 0.01,
            ..AdamSettings::default()
        };
        let mut split = init.clone();
        let mut buf = GradientPlanBuffers::default();
        let l_split =
            gradient_plan(&dynamics, (&s0, &goal), &mut split, (n, h), adam, &mut buf).unwrap();
        if rayon::current_num_threads() >= 2 {
            assert_eq!(buf.parts.len(), 2, "the plan must have been split");
        }
        let mut one = init.clone();
        let mut buf = GradientPlanBuffers::default();
        let l_one = gradient_plan_block(
            &dynamics,
            (&s0, &goal),
            &mut one,
            (n, h),
            adam,
            &mut buf,
            None,
        )
        .unwrap();
        assert!(
            (l_split - l_one).abs() <= 1e-5 * l_one.abs(),
            "{l_split} vs {l_one}"
        );
        for (a, b) in split.iter().zip(&one) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        assert!(split.iter().zip(&init).any(|(a, b)| (a - b).abs() > 1e-3));
    }
}
