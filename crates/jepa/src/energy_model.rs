//! Burn models as energies for `ami_energy::inference`: `F(x, y)` is any function of burn
//! tensors, and `∂F/∂y` comes from burn's autodiff, so gradient inference
//! (`ŷ = argmin_y F(x, y)`, [`ami_energy::inference::infer_y`]) works for any differentiable
//! model (values in `f32` on the device, converted to `f64` at the boundary).

use ami_energy::inference::Energy;
use burn::tensor::{Device, Tensor, TensorData};

/// `F(x, y) = f(x [1, dx], y [1, dy])`, a scalar tensor `[1]`, on `device` (autodiff is enabled
/// on it for the gradient).
pub struct AutodiffEnergy<F> {
    f: F,
    device: Device,
}

impl<F> AutodiffEnergy<F>
where
    F: Fn(Tensor<2>, Tensor<2>) -> Tensor<1>,
{
    /// Wraps `f`; tensors are created on `device.autodiff()`.
    pub fn new(f: F, device: &Device) -> Self {
        Self {
            f,
            device: device.clone().autodiff(),
        }
    }

    fn row(&self, v: &[f64]) -> Tensor<2> {
        to_tensor(v, [1, v.len()], &self.device)
    }
}

/// `values` (row-major, `shape`) as an `f32` tensor on `device`.
fn to_tensor(values: &[f64], shape: [usize; 2], device: &Device) -> Tensor<2> {
    let data: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Tensor::<2>::from_data(TensorData::new(data, shape), device)
}

/// The first value of `t` as `f64` (NaN if it cannot be read).
fn scalar(t: Tensor<1>) -> f64 {
    t.into_data()
        .try_to_vec::<f32>()
        .ok()
        .and_then(|v| v.first().copied())
        .map_or(f64::NAN, f64::from)
}

impl<F> Energy for AutodiffEnergy<F>
where
    F: Fn(Tensor<2>, Tensor<2>) -> Tensor<1>,
{
    fn energy(&self, x: &[f64], y: &[f64]) -> f64 {
        scalar((self.f)(self.row(x), self.row(y)))
    }

    /// A non-finite energy or a missing gradient give NaN gradients, which
    /// [`ami_energy::inference::minimise`] reports as an error.
    fn grad_y(&self, x: &[f64], y: &[f64], grad: &mut [f64]) -> f64 {
        let yt = self.row(y).require_grad();
        let e = (self.f)(self.row(x), yt.clone());
        let value = scalar(e.clone());
        let g = yt
            .grad(&e.backward())
            .and_then(|g| g.into_data().try_to_vec::<f32>().ok());
        match g {
            Some(g) if g.len() == grad.len() => {
                grad.iter_mut().zip(g).for_each(|(o, v)| *o = f64::from(v));
            }
            _ => grad.fill(f64::NAN),
        }
        value
    }
}

/// A neural energy `E_θ(x) = MLP_θ(x)` (scalar output) trained by maximum likelihood with
/// Langevin negatives from a replay buffer (Du & Mordatch 2019, REFERENCE §6):
/// `L = mean E(x⁺) − mean E(x⁻) + α·(mean E(x⁺)² + mean E(x⁻)²)`, the negatives `x⁻` drawn by
/// `x ← x − (ε/2)∇ₓE(x) + √ε·n` from [`ami_energy::langevin::ReplayBuffer`] starts and not
/// differentiated through; `∇ₓE` comes from burn's autodiff.
pub struct NeuralEnergy {
    /// The network, `[d] → [1]`.
    pub net: crate::mlp::Mlp,
    device: Device,
}

impl NeuralEnergy {
    /// An MLP energy with widths `dims` (the last must be 1) on `device.autodiff()`.
    pub fn new(dims: &[usize], device: &Device) -> Result<Self, crate::error::JepaError> {
        if dims.len() < 2 || dims[dims.len() - 1] != 1 {
            return Err(crate::error::JepaError::config(
                "energy.dims",
                format!("{dims:?}"),
                "at least 2 widths, the last one 1 (a scalar energy)",
            ));
        }
        let ad = device.clone().autodiff();
        Ok(Self {
            net: crate::mlp::Mlp::new(dims, &ad),
            device: ad,
        })
    }

    fn tensor(&self, x: &ami_energy::Matrix) -> Tensor<2> {
        to_tensor(x.as_slice(), [x.rows(), x.cols()], &self.device)
    }

    /// `E(x)` for every row of `x [n, d]`.
    pub fn energy(&self, x: &ami_energy::Matrix) -> Vec<f64> {
        self.net
            .forward(self.tensor(x))
            .into_data()
            .try_to_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect())
            .unwrap_or_default()
    }

    /// `∇ₓE(x)` for every row of `x [n, d]` (one backward pass of `Σ_i E(x_i)`).
    pub fn grad_x(&self, x: &ami_energy::Matrix) -> Option<Vec<f64>> {
        let xt = self.tensor(x).require_grad();
        let e = self.net.forward(xt.clone()).sum();
        let g = xt.grad(&e.backward())?;
        let v = g.into_data().try_to_vec::<f32>().ok()?;
        Some(v.into_iter().map(f64::from).collect())
    }

    /// Langevin dynamics on the rows of `x` in place: `steps` steps of size `step`.
    pub fn langevin(
        &self,
        x: &mut ami_energy::Matrix,
        step: f64,
        steps: usize,
        rng: &mut ami_energy::rng::SplitMix64,
    ) -> Result<(), crate::error::JepaError> {
        let noise = step.sqrt();
        for _ in 0..steps {
            let g = self
                .grad_x(x)
                .filter(|g| g.iter().all(|v| v.is_finite()))
                .ok_or_else(|| crate::error::JepaError::NonFinite {
                    step: 0,
                    what: "the energy gradient during Langevin sampling".into(),
                })?;
            for (v, g) in x.as_mut_slice().iter_mut().zip(&g) {
                *v += -0.5 * step * g + noise * ami_energy::autoencoder::normal(rng);
            }
        }
        Ok(())
    }

    /// One maximum-likelihood step on `data` against `negatives` with `optimizer` (lr `lr`,
    /// regulariser weight `alpha`); returns `(mean E(x⁺), mean E(x⁻))` before the step.
    pub fn ml_step(
        &mut self,
        data: &ami_energy::Matrix,
        negatives: &ami_energy::Matrix,
        optimizer: &mut burn::optim::ModuleOptimizer,
        (lr, alpha): (f64, f32),
    ) -> Result<(f64, f64), crate::error::JepaError> {
        use burn::optim::GradientsParams;
        let ep = self.net.forward(self.tensor(data)).mean();
        let en = self.net.forward(self.tensor(negatives).detach()).mean();
        let reg = (ep.clone().powi_scalar(2) + en.clone().powi_scalar(2)).mul_scalar(alpha);
        let loss = ep.clone() - en.clone() + reg;
        let (vp, vn) = (scalar(ep), scalar(en));
        if !(vp.is_finite() && vn.is_finite()) {
            return Err(crate::error::JepaError::NonFinite {
                step: 0,
                what: "the maximum-likelihood energies".into(),
            });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        // The optimiser consumes the module; a (reference-counted) clone holds the slot.
        let placeholder = self.net.clone();
        let net = std::mem::replace(&mut self.net, placeholder);
        self.net = optimizer.step(lr, net, grads);
        Ok((vp, vn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::Mlp;
    use ami_energy::inference::{infer_y, DescentSettings};
    use burn::module::Module;

    #[test]
    fn autodiff_gradient_inference_recovers_the_model_prediction() {
        let device = Device::flex();
        device.seed(3);
        let ad = device.clone().autodiff();
        let mlp = Mlp::new(&[2, 16, 3], &ad).no_grad();
        // F(x, y) = ‖y − MLP(x)‖²: the minimiser is MLP(x).
        let model = AutodiffEnergy::new(|x, y| (y - mlp.forward(x)).powi_scalar(2).sum(), &device);
        let x = [0.4, -0.7];
        // The autodiff gradient agrees with finite differences of the energy.
        let y0 = [0.1, 0.2, -0.3];
        let mut g = [0.0; 3];
        model.grad_y(&x, &y0, &mut g);
        for k in 0..3 {
            let (mut p, mut m) = (y0, y0);
            p[k] += 1e-2;
            m[k] -= 1e-2;
            let fd = (model.energy(&x, &p) - model.energy(&x, &m)) / 2e-2;
            assert!((fd - g[k]).abs() < 1e-3, "∂F/∂y[{k}]: {fd} vs {}", g[k]);
        }
        let s = DescentSettings {
            step: 1.0,
            max_iter: 200,
            tol: 1e-4,
        };
        let min = infer_y(&model, &x, &[0.0; 3], s).unwrap();
        let want = mlp
            .forward(Tensor::<2>::from_data(
                TensorData::new(vec![0.4f32, -0.7], [1, 2]),
                &ad,
            ))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (a, b) in min.point.iter().zip(&want) {
            assert!(
                (a - f64::from(*b)).abs() < 1e-3,
                "{:?} vs {want:?}",
                min.point
            );
        }
        assert!(min.energy < 1e-5);
    }

    #[test]
    fn neural_energy_learns_two_blobs_by_maximum_likelihood() {
        use ami_energy::langevin::ReplayBuffer;
        use ami_energy::rng::SplitMix64;
        use ami_energy::Matrix;
        let device = Device::flex();
        device.seed(5);
        let mut model = NeuralEnergy::new(&[2, 32, 32, 1], &device).unwrap();
        let mut rng = SplitMix64::new(6);
        let rows: Vec<Vec<f64>> = (0..128)
            .map(|i| {
                let c = if i % 2 == 0 { -1.0 } else { 1.0 };
                let n = ami_energy::autoencoder::normal;
                vec![c + 0.15 * n(&mut rng), 0.15 * n(&mut rng)]
            })
            .collect();
        let data = Matrix::from_rows(&rows).unwrap();
        let mut buffer = ReplayBuffer::new(2000, 2, (-2.0, 2.0), 0.05).unwrap();
        let mut opt = burn::optim::AdamConfig::new().with_beta_1(0.0).init();
        for _ in 0..150 {
            let mut neg = buffer.starts(128, &mut rng).unwrap();
            model.langevin(&mut neg, 0.01, 20, &mut rng).unwrap();
            buffer.push(&neg);
            model.ml_step(&data, &neg, &mut opt, (3e-3, 1.0)).unwrap();
        }
        let probes = Matrix::from_rows(&[
            vec![1.0, 0.0],
            vec![-1.0, 0.0],
            vec![0.0, 1.6],
            vec![0.0, -1.6],
        ])
        .unwrap();
        let e = model.energy(&probes);
        assert!(
            e[0].max(e[1]) < e[2].min(e[3]),
            "blobs must have lower energy than far points: {e:?}"
        );
        assert!(model.grad_x(&probes).unwrap().iter().all(|g| g.is_finite()));
        assert!(NeuralEnergy::new(&[2, 3], &device).is_err());
    }
}
