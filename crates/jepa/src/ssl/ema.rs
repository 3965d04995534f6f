//! The exponential-moving-average target of BYOL and I-JEPA (REFERENCE.md §3, §4): after every
//! optimiser step of the online network `θ`, every float parameter of the target `ξ` moves
//!
//! ```text
//! ξ ← m·ξ + (1 − m)·θ
//! ```
//!
//! with the momentum `m` of a [`super::MomentumSchedule`] at that step (BYOL's
//! `target_ema`, I-JEPA's `momentum_scheduler`). The target is a copy of the online module
//! with the same structure (`online.clone()` or `online.valid()` at step 0); it is never
//! trained, so it may live on the plain device (no autodiff) or on the autodiff device. The
//! update reads the online parameters without their graph and keeps the target's own
//! device, autodiff association and parameter ids.
//!
//! The parameters are paired in visiting order ([`Module::visit`] / [`Module::map`]), which
//! is the declaration order of the fields and so the same for two modules of one type and one
//! configuration; their shapes are checked first.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

use crate::error::JepaError;

/// Collects every float parameter, detached and flattened, in visiting order.
struct Collect {
    params: Vec<(Vec<usize>, Tensor<1>)>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val().inner();
        let shape = value.dims().to_vec();
        let n = shape.iter().product::<usize>();
        self.params.push((shape, value.reshape([n])));
    }
}

/// Moves every float parameter towards the next collected online parameter.
struct Blend {
    online: std::vec::IntoIter<(Vec<usize>, Tensor<1>)>,
    momentum: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, xi, mapper) = param.consume();
        let (_, theta) = self
            .online
            .next()
            .expect("the shapes were checked before the update");
        let (autodiff, require_grad) = (xi.is_autodiff(), xi.is_require_grad());
        let xi = xi.inner();
        let theta = theta.to_device(&xi.device()).reshape(xi.dims());
        let mut updated = xi.mul_scalar(self.momentum) + theta.mul_scalar(1.0 - self.momentum);
        if autodiff {
            updated = updated.autodiff();
            if require_grad {
                updated = updated.require_grad();
            }
        }
        Param::from_mapped_value(id, updated, mapper)
    }
}

fn float_params<M: Module>(module: &M) -> Vec<(Vec<usize>, Tensor<1>)> {
    let mut c = Collect { params: vec![] };
    module.visit(&mut c);
    c.params
}

/// The target after one EMA step towards `online`: `ξ ← m·ξ + (1 − m)·θ` for every float
/// parameter (`m = 1` leaves the target as it is, `m = 0` copies the online weights).
///
/// Errors ([`JepaError::InvalidConfig`]) when `momentum` is not in `[0, 1]`, and
/// ([`JepaError::Shape`]) when the two modules' float parameters differ in number or shape
/// (build the target as a copy of the online module).
pub fn ema_update<M: Module>(target: M, online: &M, momentum: f64) -> Result<M, JepaError> {
    if !(0.0..=1.0).contains(&momentum) {
        return Err(JepaError::config(
            "ema momentum",
            momentum,
            "a number in [0, 1]",
        ));
    }
    let theta = float_params(online);
    let xi = float_params(&target);
    if theta.len() != xi.len() {
        return Err(JepaError::Shape {
            what: "EMA target parameters".into(),
            got: vec![xi.len()],
            expected: format!(
                "{} float parameters (those of the online module)",
                theta.len()
            ),
        });
    }
    if let Some(i) = (0..xi.len()).find(|&i| xi[i].0 != theta[i].0) {
        return Err(JepaError::Shape {
            what: format!("EMA target parameter {i} (in visiting order)"),
            got: xi[i].0.clone(),
            expected: format!("{:?} (the online parameter's shape)", theta[i].0),
        });
    }
    let mut blend = Blend {
        online: theta.into_iter(),
        momentum,
    };
    Ok(target.map(&mut blend))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlp::Mlp;
    use burn::nn::Linear;
    use burn::tensor::Device;

    fn values(m: &impl Module) -> Vec<f32> {
        float_params(m)
            .into_iter()
            .flat_map(|(_, t)| t.into_data().try_to_vec::<f32>().unwrap())
            .collect()
    }

    /// A linear layer with every weight `w` and every bias `b`.
    fn linear(w: f32, b: f32, device: &Device) -> Linear {
        Linear {
            weight: Param::from_tensor(Tensor::full([3, 2], w, device)),
            bias: Some(Param::from_tensor(Tensor::full([2], b, device))),
        }
    }

    #[test]
    fn one_step_gives_exact_values() {
        let dev = Device::flex();
        let ad = dev.clone().autodiff();
        // Target on the plain device, online on the autodiff device (as in training).
        let target = linear(1.0, -2.0, &dev);
        let online = linear(3.0, 4.0, &ad);
        let ids: Vec<_> = [target.weight.id, target.bias.as_ref().unwrap().id].into();
        let updated = ema_update(target, &online, 0.75).unwrap();
        // 0.75·1 + 0.25·3 = 1.5; 0.75·(−2) + 0.25·4 = −0.5.
        let v = values(&updated);
        assert_eq!(&v[..6], &[1.5; 6]);
        assert_eq!(&v[6..], &[-0.5; 2]);
        assert!(
            !updated.weight.val().is_autodiff(),
            "the target stays on its device"
        );
        assert_eq!(ids, [updated.weight.id, updated.bias.as_ref().unwrap().id]);
    }

    #[test]
    fn momentum_one_keeps_the_target_and_zero_copies_the_online() {
        let dev = Device::flex();
        let ad = dev.clone().autodiff();
        let online = Mlp::new(&[4, 5, 3], &ad);
        let target = Mlp::new(&[4, 5, 3], &dev);
        let (before, theta) = (values(&target), values(&online));
        assert_ne!(before, theta);
        let kept = ema_update(target, &online, 1.0).unwrap();
        assert_eq!(values(&kept), before);
        let copied = ema_update(kept, &online, 0.0).unwrap();
        assert_eq!(values(&copied), theta);
        // Halfway, every parameter: (ξ + θ)/2.
        let target = Mlp::new(&[4, 5, 3], &dev);
        let xi = values(&target);
        let half = values(&ema_update(target, &online, 0.5).unwrap());
        for ((h, x), t) in half.iter().zip(&xi).zip(&theta) {
            assert!((h - (0.5 * x + 0.5 * t)).abs() <= 1e-7, "{h} vs {x}, {t}");
        }
        // The autodiff target of a copy keeps requiring gradients.
        let target = online.clone();
        let updated = ema_update(target, &online, 0.9).unwrap();
        assert!(updated.layers[0].weight.val().is_require_grad());
        // 0.9·θ + 0.1·θ = θ up to f32 rounding.
        for (u, t) in values(&updated).iter().zip(&theta) {
            assert!((u - t).abs() <= 1e-7, "{u} vs {t}");
        }
    }

    #[test]
    fn mismatched_modules_and_momenta_are_errors() {
        let dev = Device::flex();
        let online = Mlp::new(&[4, 5, 3], &dev);
        let e = ema_update(Mlp::new(&[4, 6, 3], &dev), &online, 0.9).unwrap_err();
        assert!(e.to_string().contains("EMA target parameter 0"), "{e}");
        let e = ema_update(Mlp::new(&[4, 3], &dev), &online, 0.9).unwrap_err();
        assert!(e.to_string().contains("4 float parameters"), "{e}");
        for m in [-0.1, 1.5, f64::NAN] {
            let e = ema_update(Mlp::new(&[4, 5, 3], &dev), &online, m).unwrap_err();
            assert!(e.to_string().contains("ema momentum"), "{e}");
        }
    }
}
