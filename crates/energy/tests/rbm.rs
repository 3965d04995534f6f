//! The RBM against scikit-learn's `BernoulliRBM` (`tests/fixtures/rbm.py` → `rbm.json`): the
//! free energy, and one PCD step replayed from the same uniforms, to 1e-12.

use ami_energy::rbm::Rbm;
use serde_json::Value;

mod common;
use common::{mat, vec1};

fn fixture() -> Value {
    common::fixture("rbm.json")
}

fn close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs().max(1.0),
            "{what}: {g} vs scikit-learn {w}"
        );
    }
}

#[test]
fn free_energy_and_one_pcd_step_equal_scikit_learn() {
    let fx = fixture();
    let mut rbm = Rbm::new(mat(&fx["W"]), vec1(&fx["c"]), vec1(&fx["b"])).unwrap();
    let x = mat(&fx["X"]);
    close(
        &rbm.free_energy(&x).unwrap(),
        &vec1(&fx["free_energy"]),
        "free energy",
    );
    let uniforms = vec1(&fx["uniforms"]);
    let mut next = uniforms.iter().copied();
    let mut chains = mat(&fx["chains"]);
    let lr = fx["learning_rate"].as_f64().unwrap();
    rbm.pcd_step(&x, &mut chains, lr, &mut || {
        next.next().expect("enough uniforms")
    })
    .unwrap();
    assert!(
        next.next().is_none(),
        "the step must consume exactly scikit-learn's uniforms"
    );
    let after = &fx["after"];
    close(rbm.weights.as_slice(), mat(&after["W"]).as_slice(), "W");
    close(&rbm.hidden_bias, &vec1(&after["c"]), "hidden bias");
    close(&rbm.visible_bias, &vec1(&after["b"]), "visible bias");
    close(
        chains.as_slice(),
        mat(&after["chains"]).as_slice(),
        "persistent chains",
    );
}
