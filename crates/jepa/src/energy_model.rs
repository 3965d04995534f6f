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
        let data: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        Tensor::<2>::from_data(TensorData::new(data, [1, v.len()]), &self.device)
    }

    fn scalar(t: Tensor<1>) -> f64 {
        t.into_data()
            .try_to_vec::<f32>()
            .ok()
            .and_then(|v| v.first().copied())
            .map_or(f64::NAN, f64::from)
    }
}

impl<F> Energy for AutodiffEnergy<F>
where
    F: Fn(Tensor<2>, Tensor<2>) -> Tensor<1>,
{
    fn energy(&self, x: &[f64], y: &[f64]) -> f64 {
        Self::scalar((self.f)(self.row(x), self.row(y)))
    }

    /// A non-finite energy or a missing gradient give NaN gradients, which
    /// [`ami_energy::inference::minimise`] reports as an error.
    fn grad_y(&self, x: &[f64], y: &[f64], grad: &mut [f64]) -> f64 {
        let yt = self.row(y).require_grad();
        let e = (self.f)(self.row(x), yt.clone());
        let value = Self::scalar(e.clone());
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
}
