//! Autodiff gradients of the VICReg terms and of the JEPA objective checked against central
//! finite differences, and against the analytic VICReg gradients of REFERENCE.md §1.

use ami_jepa::burn::tensor::{Device, Tensor, TensorData};
use ami_jepa::vicreg::{covariance, invariance, variance, vicreg, VicregConfig};

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
