//! `jepa_loss` against an independent float64 numpy implementation of the documented
//! objective (`tests/fixtures/jepa_loss.py` → `jepa_loss.json`): the same weights, the same
//! batch, every term and the weighted total to 1e-5 relative.

use ami_jepa::burn::tensor::{Device, Tensor};
use ami_jepa::jepa_loss;

/// The terms of the default (VICReg-regularised) objective, in order.
const NAMES: [&str; 5] = [
    "prediction",
    "variance",
    "covariance",
    "time_smoothness",
    "inverse_dynamics",
];

mod common;

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data().try_to_vec::<f32>().unwrap()[0] as f64
}

/// `|got − want| ≤ 1e-5·|want|`; every reference term is at least 1e-3 (the script checks).
fn assert_rel(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-5 * want.abs(),
        "{what}: ami {got} vs numpy {want} (relative error {:.2e})",
        (got - want).abs() / want.abs()
    );
}

/// Every term (by name, in order) and the total of `jepa_loss` on `device` against numpy.
fn check_against_reference(device: Device) {
    let r = common::reference();
    let jepa = r.jepa(&device);
    let (obs, actions) = r.batch(&device);
    let loss = jepa_loss(&jepa, obs, actions, &r.objective);
    let names: Vec<&str> = loss.terms.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, NAMES);
    for (name, term) in loss.terms {
        assert_rel(name, scalar(term), r.terms[name]);
    }
    assert_rel("total", scalar(loss.total), r.terms["total"]);
}

#[test]
fn every_term_and_the_total_match_the_numpy_reference() {
    check_against_reference(Device::flex());
}

/// The same on the autodiff device that training uses (the forward pass must not depend on
/// whether a graph is recorded).
#[test]
fn the_autodiff_device_gives_the_same_values() {
    check_against_reference(Device::flex().autodiff());
}
