//! A small `f64` multilayer perceptron ([`Mlp64`]: `tanh` between layers, linear output) with
//! its exact backward pass, its input gradient, and the second-order pass that denoising score
//! matching needs; plus the Adam step and the normal draw the trainers share.

use ami_sampling::box_muller;

use crate::error::{invalid, EnergyError, Result};
use crate::matrix::Matrix;
use crate::rng::SplitMix64;

/// One affine layer `y = xW + b`, `W [in, out]`.
#[derive(Debug, Clone, PartialEq)]
struct Layer {
    w: Vec<f64>,
    b: Vec<f64>,
    fan_in: usize,
    fan_out: usize,
}

impl Layer {
    /// `W g` (`[in]`), the gradient at the layer's input from `g` at its output.
    fn times_w(&self, g: &[f64]) -> Vec<f64> {
        self.w
            .chunks_exact(self.fan_out)
            .map(|row| row.iter().zip(g).map(|(w, g)| w * g).sum())
            .collect()
    }

    /// `Wᵀ a` (`[out]`).
    fn times_wt(&self, a: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.fan_out];
        for (row, ai) in self.w.chunks_exact(self.fan_out).zip(a) {
            out.iter_mut().zip(row).for_each(|(o, w)| *o += ai * w);
        }
        out
    }

    /// Adds `a gᵀ` (`a [in]`, `g [out]`) into the flat weight gradient `gw`.
    fn add_outer(&self, gw: &mut [f64], a: &[f64], g: &[f64]) {
        for (row, ai) in gw.chunks_exact_mut(self.fan_out).zip(a) {
            row.iter_mut().zip(g).for_each(|(gw, g)| *gw += ai * g);
        }
    }
}

/// The backward pass of a scalar-output [`Mlp64`] for its input gradient: `g_l` at each
/// layer's output and `s_l` at its input ([`Mlp64::input_grad_tape`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InputGradTape {
    g: Vec<Vec<f64>>,
    s: Vec<Vec<f64>>,
}

impl InputGradTape {
    /// `∇ₓMLP(x)`, the gradient at the network's input.
    pub(crate) fn input_grad(&self) -> &[f64] {
        &self.s[0]
    }
}

/// A multilayer perceptron in `f64`: `tanh` after every layer but the last.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp64 {
    layers: Vec<Layer>,
}

/// One Adam step (β = (0.9, 0.999), ε = 1e-8, `t` the 1-based step) on `params` with
/// gradients `grads` and moment buffers `m`, `v` (all the same length and order).
pub(crate) fn adam_step<'a>(
    params: impl Iterator<Item = &'a mut f64>,
    grads: impl Iterator<Item = &'a f64>,
    (m, v): (&mut [f64], &mut [f64]),
    t: usize,
    lr: f64,
) {
    let (c1, c2) = (1.0 - 0.9f64.powi(t as i32), 1.0 - 0.999f64.powi(t as i32));
    for (((w, g), m), v) in params.zip(grads).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = 0.9 * *m + 0.1 * g;
        *v = 0.999 * *v + 0.001 * g * g;
        *w -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
    }
}

/// Checks the settings shared by the minibatch Adam trainers: `batch`, `steps >= 1` and a
/// finite `lr > 0`.
pub(crate) fn check_minibatch_adam(batch: usize, steps: usize, lr: f64) -> Result<()> {
    if batch == 0 || steps == 0 {
        return Err(invalid(
            "batch/steps",
            format!("{batch}/{steps}"),
            "both >= 1",
        ));
    }
    if !(lr.is_finite() && lr > 0.0) {
        return Err(invalid("lr", lr, "a finite number > 0"));
    }
    Ok(())
}

/// A standard normal draw: the cosine output of [`box_muller`]`(u₁, u₂)` with
/// `u₁ = max(U, 1e-300)` and `u₂ = U'`, two uniforms of `rng` in that order.
pub fn normal(rng: &mut SplitMix64) -> f64 {
    let u1 = rng.uniform().max(1e-300);
    box_muller(u1, rng.uniform()).0
}

impl Mlp64 {
    /// Widths `dims[0] → … → dims[L]`, weights `U(±1/√fan_in)` from `seed` (PyTorch's
    /// `nn.Linear` rule), biases 0.
    pub fn new(dims: &[usize], seed: u64) -> Result<Self> {
        if dims.len() < 2 || dims.contains(&0) {
            return Err(invalid(
                "dims",
                format!("{dims:?}"),
                "at least 2 widths, all >= 1",
            ));
        }
        let mut rng = SplitMix64::new(seed);
        let layers = dims
            .windows(2)
            .map(|w| {
                let bound = 1.0 / (w[0] as f64).sqrt();
                Layer {
                    w: (0..w[0] * w[1])
                        .map(|_| bound * (2.0 * rng.uniform() - 1.0))
                        .collect(),
                    b: vec![0.0; w[1]],
                    fan_in: w[0],
                    fan_out: w[1],
                }
            })
            .collect();
        Ok(Self { layers })
    }

    /// A network with the given layers, each `(W [in, out], b [out])`, in order; consecutive
    /// widths must agree and every value must be finite.
    pub fn from_layers(layers: Vec<(Matrix, Vec<f64>)>) -> Result<Self> {
        if layers.is_empty() {
            return Err(invalid("layers", "none", "at least one (W, b) layer"));
        }
        let mut out = Vec::with_capacity(layers.len());
        for (l, (w, b)) in layers.into_iter().enumerate() {
            if w.rows() == 0 || w.cols() == 0 || b.len() != w.cols() {
                return Err(EnergyError::Shape {
                    what: "layer (W, b)",
                    found: format!("layer {l}: W {}, b [{}]", w.shape_str(), b.len()),
                    expected: "W [in >= 1, out >= 1] and b [out]".into(),
                });
            }
            if let Some(prev) = out.last().map(|p: &Layer| p.fan_out) {
                if w.rows() != prev {
                    return Err(EnergyError::Shape {
                        what: "layer W",
                        found: format!("layer {l}: W {}", w.shape_str()),
                        expected: format!("[{prev}, out] (the previous layer's width)"),
                    });
                }
            }
            w.check_finite("layer W")?;
            if let Some(v) = b.iter().find(|v| !v.is_finite()) {
                return Err(invalid("layer b", v, "finite values"));
            }
            out.push(Layer {
                fan_in: w.rows(),
                fan_out: w.cols(),
                w: w.into_vec(),
                b,
            });
        }
        Ok(Self { layers: out })
    }

    /// Input width.
    pub fn input_dim(&self) -> usize {
        self.layers[0].fan_in
    }

    /// Output width.
    pub fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].fan_out
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        self.layers.iter().map(|l| l.w.len() + l.b.len()).sum()
    }

    /// Forward pass of one input; returns every layer's output (after tanh for hidden ones).
    pub(crate) fn forward_all(&self, x: &[f64]) -> Vec<Vec<f64>> {
        let mut outs: Vec<Vec<f64>> = Vec::with_capacity(self.layers.len());
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let input: &[f64] = if l == 0 { x } else { &outs[l - 1] };
            let mut y = layer.b.clone();
            for (i, xi) in input.iter().enumerate() {
                let row = &layer.w[i * layer.fan_out..(i + 1) * layer.fan_out];
                y.iter_mut().zip(row).for_each(|(y, w)| *y += xi * w);
            }
            if l < last {
                y.iter_mut().for_each(|v| *v = v.tanh());
            }
            outs.push(y);
        }
        outs
    }

    /// `MLP(x)` for one input `x [in]`.
    pub fn forward(&self, x: &[f64]) -> Vec<f64> {
        self.forward_all(x).pop().unwrap_or_default()
    }

    /// Where each layer's `W` starts in the flat parameter (and gradient) vector.
    fn offsets(&self) -> Vec<usize> {
        self.layers
            .iter()
            .scan(0, |off, l| {
                let o = *off;
                *off += l.w.len() + l.b.len();
                Some(o)
            })
            .collect()
    }

    /// Adds `a gᵀ` and `g` into layer `l`'s slice `(W̄, b̄)` of the flat gradient.
    fn add_layer_grad(&self, grad: &mut [f64], o: usize, l: usize, a: &[f64], g: &[f64]) {
        let layer = &self.layers[l];
        let (gw, gb) = grad[o..o + layer.w.len() + layer.b.len()].split_at_mut(layer.w.len());
        layer.add_outer(gw, a, g);
        gb.iter_mut().zip(g).for_each(|(gb, g)| *gb += g);
    }

    /// Adds `∂L/∂θ` of one sample into `grad` (flat, layer by layer: `W` then `b`), given
    /// `g_out = ∂L/∂MLP(x)`.
    pub(crate) fn backward(&self, x: &[f64], outs: &[Vec<f64>], g_out: &[f64], grad: &mut [f64]) {
        let mut g = g_out.to_vec();
        let offsets = self.offsets();
        for l in (0..self.layers.len()).rev() {
            let input: &[f64] = if l == 0 { x } else { &outs[l - 1] };
            self.add_layer_grad(grad, offsets[l], l, input, &g);
            if l > 0 {
                // Through W, then tanh' = 1 − y² of the previous layer's output.
                g = self.layers[l]
                    .times_w(&g)
                    .iter()
                    .zip(&outs[l - 1])
                    .map(|(s, y)| s * (1.0 - y * y))
                    .collect();
            }
        }
    }

    /// `∂L/∂x` of one sample given `g_out = ∂L/∂MLP(x)` and the forward outputs.
    pub(crate) fn input_grad(&self, outs: &[Vec<f64>], g_out: &[f64]) -> Vec<f64> {
        let mut g = g_out.to_vec();
        for l in (0..self.layers.len()).rev() {
            let through = self.layers[l].times_w(&g);
            g = if l > 0 {
                let prev = &outs[l - 1];
                through
                    .iter()
                    .zip(prev)
                    .map(|(s, y)| s * (1.0 - y * y))
                    .collect()
            } else {
                through
            };
        }
        g
    }

    /// The backward pass of a scalar-output network for its input gradient, kept for
    /// [`Self::input_grad_backward`]: `g_{L−1} = 1`, `s_l = W_l g_l` (the gradient at layer
    /// `l`'s input), `g_{l−1} = s_l ⊙ (1 − h_{l−1}²)`; `s_0 = ∇ₓMLP(x)`.
    pub(crate) fn input_grad_tape(&self, outs: &[Vec<f64>]) -> InputGradTape {
        let nl = self.layers.len();
        let mut g: Vec<Vec<f64>> = vec![Vec::new(); nl];
        let mut s: Vec<Vec<f64>> = vec![Vec::new(); nl];
        g[nl - 1] = vec![1.0];
        for l in (0..nl).rev() {
            s[l] = self.layers[l].times_w(&g[l]);
            if l > 0 {
                g[l - 1] = s[l]
                    .iter()
                    .zip(&outs[l - 1])
                    .map(|(s, h)| s * (1.0 - h * h))
                    .collect();
            }
        }
        InputGradTape { g, s }
    }

    /// For a scalar-output network: given the forward outputs at `x`, the tape of its input
    /// gradient `s = ∇ₓMLP(x)` ([`Self::input_grad_tape`]) and `r = ∂L/∂s`, adds `∂L/∂θ` into
    /// `grad` (flat, as [`Self::backward`]). This is reverse mode through the backward pass
    /// ("double backprop"), written out: the adjoints of the tape, from `s̄_0 = r` upward, are
    /// `W̄_l += s̄_l g_lᵀ`, `ḡ_l = W_lᵀ s̄_l`, `s̄_{l+1} = ḡ_l ⊙ (1 − h_l²)` and
    /// `h̄_l = −2 h_l ⊙ ḡ_l ⊙ s_{l+1}`; the `h̄_l` then flow back through the forward pass
    /// (`ā_l = (h̄_l + W_{l+1} ā_{l+1}) ⊙ (1 − h_l²)`, `W̄_l += h_{l−1} ā_lᵀ`, `b̄_l += ā_l`).
    pub(crate) fn input_grad_backward(
        &self,
        x: &[f64],
        outs: &[Vec<f64>],
        tape: &InputGradTape,
        r: &[f64],
        grad: &mut [f64],
    ) {
        let nl = self.layers.len();
        let offsets = self.offsets();
        let (g, s) = (&tape.g, &tape.s);
        // Its adjoints, from the input upward; h_bar[l] is ∂L/∂h_l through the tanh′ terms.
        let mut h_bar: Vec<Vec<f64>> = vec![Vec::new(); nl];
        let mut s_bar = r.to_vec();
        for l in 0..nl {
            let layer = &self.layers[l];
            layer.add_outer(
                &mut grad[offsets[l]..offsets[l] + layer.w.len()],
                &s_bar,
                &g[l],
            );
            if l + 1 < nl {
                let g_bar = layer.times_wt(&s_bar);
                let h = &outs[l];
                h_bar[l] = (0..layer.fan_out)
                    .map(|j| -2.0 * h[j] * g_bar[j] * s[l + 1][j])
                    .collect();
                s_bar = (0..layer.fan_out)
                    .map(|j| g_bar[j] * (1.0 - h[j] * h[j]))
                    .collect();
            }
        }
        // Through the forward pass; the output itself is not in the loss (ā_{L−1} = 0).
        let mut from_above: Vec<f64> = vec![0.0; self.layers[nl - 1].fan_in];
        for l in (0..nl - 1).rev() {
            let layer = &self.layers[l];
            let h = &outs[l];
            let a_bar: Vec<f64> = (0..layer.fan_out)
                .map(|j| (h_bar[l][j] + from_above[j]) * (1.0 - h[j] * h[j]))
                .collect();
            let input: &[f64] = if l == 0 { x } else { &outs[l - 1] };
            self.add_layer_grad(grad, offsets[l], l, input, &a_bar);
            from_above = layer.times_w(&a_bar);
        }
    }

    pub(crate) fn params_mut(&mut self) -> impl Iterator<Item = &mut f64> {
        self.layers
            .iter_mut()
            .flat_map(|l| l.w.iter_mut().chain(l.b.iter_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `L = ½‖∇ₓMLP(x) − t‖²`: the second-order pass against finite differences of `L`.
    #[test]
    fn input_grad_backward_matches_finite_differences() {
        for dims in [vec![3, 1], vec![3, 5, 1], vec![2, 4, 3, 1]] {
            let mut net = Mlp64::new(&dims, 4).unwrap();
            // Non-zero biases so every term is exercised.
            for (k, p) in net.params_mut().enumerate() {
                *p += 0.05 * ((k * 37 % 11) as f64 - 5.0) / 5.0;
            }
            let x: Vec<f64> = (0..dims[0]).map(|i| 0.3 - 0.4 * i as f64).collect();
            let t: Vec<f64> = (0..dims[0]).map(|i| 0.2 * i as f64 - 0.1).collect();
            let loss = |n: &Mlp64| {
                let outs = n.forward_all(&x);
                let s = n.input_grad(&outs, &[1.0]);
                0.5 * s.iter().zip(&t).map(|(s, t)| (s - t).powi(2)).sum::<f64>()
            };
            let outs = net.forward_all(&x);
            let tape = net.input_grad_tape(&outs);
            let s = tape.input_grad();
            assert_eq!(s, net.input_grad(&outs, &[1.0]), "tape vs input_grad");
            let r: Vec<f64> = s.iter().zip(&t).map(|(s, t)| s - t).collect();
            let mut grad = vec![0.0; net.num_params()];
            net.input_grad_backward(&x, &outs, &tape, &r, &mut grad);
            for (k, gk) in grad.iter().enumerate() {
                let at = |d: f64| {
                    let mut n = net.clone();
                    *n.params_mut().nth(k).unwrap() += d;
                    loss(&n)
                };
                let h = 1e-6;
                let want = (at(h) - at(-h)) / (2.0 * h);
                assert!(
                    (want - gk).abs() <= 1e-7 * want.abs().max(1.0),
                    "{dims:?} θ[{k}]: analytic {gk} vs finite difference {want}"
                );
            }
        }
    }
}
