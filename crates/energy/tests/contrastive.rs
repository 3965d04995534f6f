//! The contrastive losses of `ami_energy::contrastive` against numpy reference values
//! (`tests/fixtures/contrastive.py` → `contrastive.json`), to 1e-10 relative.

use ami_energy::contrastive::*;
use serde_json::Value;

mod common;
use common::{f, mat, vec1};

fn fixture() -> Value {
    common::fixture("contrastive.json")
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-10 * want.abs().max(1e-300),
        "{what}: {got} vs numpy {want}"
    );
}

#[test]
fn pair_losses_equal_numpy() {
    let fx = fixture();
    let (m, gamma, cap) = (f(&fx["margin"]), f(&fx["gamma"]), f(&fx["lvq2_saturation"]));
    for case in fx["pairs"].as_array().expect("pairs") {
        let (p, n) = (f(&case["e_pos"]), f(&case["e_neg"]));
        let want = |k: &str| f(&case[k]);
        let hinge_v = hinge(p, n, m).unwrap().value;
        if want("hinge") == 0.0 {
            assert_eq!(hinge_v, 0.0);
        } else {
            close(hinge_v, want("hinge"), "hinge");
        }
        close(log_loss(p, n).unwrap().value, want("log"), "log");
        close(mce(p, n).unwrap().value, want("mce"), "mce");
        let lv = lvq2(p, f(&case["e_neg_lvq2"]), cap).unwrap().value;
        if want("lvq2") == 0.0 {
            assert_eq!(lv, 0.0);
        } else {
            close(lv, want("lvq2"), "lvq2");
        }
        close(
            square_square(p, n, m).unwrap().value,
            want("square_square"),
            "square-square",
        );
        close(
            square_exponential(p, n, gamma).unwrap().value,
            want("square_exponential"),
            "square-exponential",
        );
    }
}

#[test]
fn nll_perceptron_and_hadsell_equal_numpy() {
    let fx = fixture();
    let nll = &fx["nll"];
    let e = vec1(&nll["energies"]);
    let t = nll["target"].as_u64().expect("target") as usize;
    close(
        nll_mmi(&e, t, f(&nll["beta"])).unwrap().value,
        f(&nll["value"]),
        "NLL/MMI",
    );
    close(
        perceptron(&e, t).unwrap().value,
        f(&nll["perceptron"]),
        "perceptron",
    );
    let h = &fx["hadsell"];
    let (g1, g2, m) = (vec1(&h["g1"]), vec1(&h["g2"]), f(&h["margin"]));
    close(
        hadsell_embeddings(&g1, &g2, false, m).unwrap().value,
        f(&h["similar"]),
        "Hadsell similar",
    );
    close(
        hadsell_embeddings(&g1, &g2, true, m).unwrap().value,
        f(&h["dissimilar"]),
        "Hadsell dissimilar",
    );
}

#[test]
fn infonce_ntxent_and_nce_equal_numpy() {
    let fx = fixture();
    let c = &fx["infonce"];
    let pos: Vec<usize> = c["positives"]
        .as_array()
        .expect("positives")
        .iter()
        .map(|v| v.as_u64().expect("index") as usize)
        .collect();
    let got = info_nce(&mat(&c["scores"]), &pos, f(&c["temperature"]))
        .unwrap()
        .value;
    close(got, f(&c["value"]), "InfoNCE");
    let c = &fx["infonce_cosine"];
    let got = info_nce_cosine(&mat(&c["hx"]), &mat(&c["hy"]), f(&c["temperature"]))
        .unwrap()
        .0;
    close(got, f(&c["value"]), "InfoNCE (cosine)");
    let c = &fx["nt_xent"];
    let got = nt_xent(&mat(&c["z"]), f(&c["temperature"])).unwrap().value;
    close(got, f(&c["value"]), "NT-Xent");
    let c = &fx["nce"];
    let got = nce(
        (&vec1(&c["e_data"]), &vec1(&c["log_pn_data"])),
        (&vec1(&c["e_noise"]), &vec1(&c["log_pn_noise"])),
        f(&c["log_partition"]),
        f(&c["nu"]),
    )
    .unwrap()
    .value;
    close(got, f(&c["value"]), "NCE");
}
