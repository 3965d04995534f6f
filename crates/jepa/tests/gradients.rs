//! Autodiff gradients of the VICReg terms and of the JEPA objective checked against central
//! finite differences, and against the analytic VICReg gradients of REFERENCE.md §1.
//!
//! The JEPA objective ([`jepa_loss`]) is checked on the reference model of
//! `tests/fixtures/jepa_loss.json`: burn's gradient of every term and of the total with respect
//! to one entry of every parameter tensor, against the float64 numpy finite differences stored
//! there, and against float32 finite differences of `jepa_loss` itself.

use ami_jepa::burn::tensor::{Device, Tensor, TensorData};
use ami_jepa::jepa_loss;
use ami_jepa::vicreg::{covariance, invariance, variance, vicreg, VicregConfig};

mod common;

fn device() -> Device {
    Device::flex().autodiff()
}

fn input(v: &[f32], n: usize, d: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [n, d]), &device()).require_grad()
}

fn value(t: Tensor<1>) -> f64 {
    t.into_data().try_to_vec::<f32>().unwrap()[0] as f64
}

/// Data with both std < 1 and std > 1 columns so every branch of the hinge is exercised.
fn data() -> (Vec<f32>, usize, usize) {
    let (n, d) = (6, 3);
    let v = (0..n * d)
        .map(|i| ((i * 37 % 11) as f32 - 5.0) * if i % 3 == 0 { 0.1 } else { 0.7 })
        .collect();
    (v, n, d)
}

fn check(f: &dyn Fn(Tensor<2>) -> Tensor<1>, tol: f64) {
    let (v, n, d) = data();
    let x = input(&v, n, d);
    let grads = f(x.clone()).backward();
    let g = x
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let h = 1e-2f32;
    for i in 0..v.len() {
        let mut p = v.clone();
        p[i] += h;
        let mut m = v.clone();
        m[i] -= h;
        let fd = (value(f(input(&p, n, d))) - value(f(input(&m, n, d)))) / (2.0 * h as f64);
        assert!(
            (fd - g[i] as f64).abs() < tol * (1.0 + fd.abs()),
            "entry {i}: autodiff {} vs finite difference {fd}",
            g[i]
        );
    }
}

#[test]
fn variance_gradient_matches_finite_differences() {
    check(&|x| variance(x, 1.0), 2e-3);
}

#[test]
fn covariance_gradient_matches_finite_differences() {
    check(&|x| covariance(x), 2e-3);
}

#[test]
fn vicreg_gradient_matches_finite_differences() {
    let (v, n, d) = data();
    let y: Vec<f32> = v.iter().map(|a| a * 0.5 + 0.3).collect();
    check(
        &move |x| {
            let y = Tensor::from_data(TensorData::new(y.clone(), [n, d]), &device());
            vicreg(x, y, &VicregConfig::default()).loss
        },
        3e-3,
    );
}

/// ∂inv/∂x = 2(x−y)/(ND) and ∂cov/∂x = 4·xc·off(C)/(D(N−1)) (REFERENCE.md §1).
#[test]
fn invariance_and_covariance_gradients_match_analytic_formulas() {
    let (v, n, d) = data();
    let y: Vec<f32> = v.iter().map(|a| a * 0.5 + 0.3).collect();
    let x = input(&v, n, d);
    let yt = Tensor::from_data(TensorData::new(y.clone(), [n, d]), &device());
    let g = x
        .grad(&invariance(x.clone(), yt).backward())
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for i in 0..v.len() {
        let expected = 2.0 * (v[i] - y[i]) / (n * d) as f32;
        assert!((g[i] - expected).abs() < 1e-6);
    }
    let x = input(&v, n, d);
    let g = x
        .grad(&covariance(x.clone()).backward())
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let mean: Vec<f32> = (0..d)
        .map(|j| (0..n).map(|i| v[i * d + j]).sum::<f32>() / n as f32)
        .collect();
    let xc: Vec<f32> = (0..n * d).map(|k| v[k] - mean[k % d]).collect();
    let c = |a: usize, b: usize| {
        (0..n).map(|i| xc[i * d + a] * xc[i * d + b]).sum::<f32>() / (n - 1) as f32
    };
    for i in 0..n {
        for j in 0..d {
            let s: f32 = (0..d)
                .filter(|k| *k != j)
                .map(|k| xc[i * d + k] * c(k, j))
                .sum();
            let expected = 4.0 * s / (d * (n - 1)) as f32;
            assert!(
                (g[i * d + j] - expected).abs() < 1e-5,
                "({i},{j}): {} vs {expected}",
                g[i * d + j]
            );
        }
    }
}

/// `∂loss/∂param[index]` by burn's autodiff for each entry of the fixture, where the loss is
/// term `term` of `jepa_loss` (index into its named terms) or, for `None`, the weighted total.
fn jepa_autodiff_gradients(r: &common::Reference, term: Option<usize>) -> Vec<f64> {
    let jepa = r.jepa(&device());
    let (obs, actions) = r.batch(&device());
    let loss = jepa_loss(&jepa, obs, actions, &r.objective);
    let grads = match term {
        Some(i) => loss.terms[i].1.backward(),
        None => loss.total.backward(),
    };
    r.gradients
        .iter()
        .map(|e| {
            let (mlp, l) = common::layer_of(&jepa, &e.param);
            let layer = &mlp.layers[l];
            let g = if e.param.ends_with("weight") {
                layer.weight.grad(&grads)
            } else {
                let b = layer.bias.as_ref().expect("bias").grad(&grads);
                b.map(|b| b.unsqueeze::<2>())
            };
            // No gradient: the parameter is not in this term's graph (e.g. the predictor in
            // the variance term), so the derivative is 0.
            let Some(g) = g else { return 0.0 };
            let shape = g.dims();
            let g = g.into_data().try_to_vec::<f32>().unwrap();
            let index = if e.index.len() == 1 {
                vec![0, e.index[0]]
            } else {
                e.index.clone()
            };
            g[common::offset(&shape, &index)] as f64
        })
        .collect()
}

/// burn's gradient of each term and of the total against numpy's float64 central differences
/// (step 1e-6, checked there against step 1e-4 so that no ReLU/hinge kink lies in between):
/// `|autodiff − fd| ≤ 1e-5·max(1, |fd|)` (the float32 backward pass is within 3e-7 here).
#[test]
fn jepa_loss_gradients_match_numpy_finite_differences() {
    let r = common::reference();
    let names = [
        "prediction",
        "variance",
        "covariance",
        "time_smoothness",
        "inverse_dynamics",
    ];
    let losses = (0..names.len())
        .map(|i| (names[i], Some(i)))
        .chain([("total", None)]);
    for (name, term) in losses {
        let got = jepa_autodiff_gradients(&r, term);
        for (e, g) in r.gradients.iter().zip(got) {
            let want = e.by_term[name];
            assert!(
                (g - want).abs() <= 1e-5 * want.abs().max(1.0),
                "∂{name}/∂{}{:?}: autodiff {g} vs numpy {want}",
                e.param,
                e.index
            );
        }
    }
}

/// burn's gradient of the total against central differences of `jepa_loss` itself in float32
/// (step 1e-3; the rounding of a loss of about 9 over 2e-3 is about 3e-4, hence 2e-3 relative).
#[test]
fn jepa_loss_gradient_matches_its_own_finite_differences() {
    let r = common::reference();
    let autodiff = jepa_autodiff_gradients(&r, None);
    let dev = Device::flex();
    let total = |params: &common::Params| {
        let jepa = r.jepa_with(params, &dev);
        let (obs, actions) = r.batch(&dev);
        value(jepa_loss(&jepa, obs, actions, &r.objective).total)
    };
    let h = 1e-3f32;
    for (e, g) in r.gradients.iter().zip(autodiff) {
        let at = |delta: f32| {
            let mut p = r.params.clone();
            let (shape, v) = p.get_mut(&e.param).unwrap();
            v[common::offset(shape, &e.index)] += delta;
            total(&p)
        };
        let fd = (at(h) - at(-h)) / (2.0 * h as f64);
        assert!(
            (fd - g).abs() < 2e-3 * (1.0 + fd.abs()),
            "∂total/∂{}{:?}: autodiff {g} vs finite difference {fd}",
            e.param,
            e.index
        );
    }
}
