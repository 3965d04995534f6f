//! Models without a scikit-learn twin, against numpy reference values written straight from
//! the formulas (`tests/fixtures/models.py` → `models.json`), to 1e-10 relative; dictionary
//! learning and AUROC against scikit-learn.

use ami_energy::autoencoder::Autoencoder;
use ami_energy::dictionary::{learn_dictionary_from, DictionarySettings};
use ami_energy::hopfield::{modern_retrieve, Hopfield};
use ami_energy::langevin::RbfEnergy;
use ami_energy::lista::Lista;
use ami_energy::metrics::auroc;
use ami_energy::mlp::Mlp64;
use ami_energy::mlp_energy::{MlpEnergy, SetLoss};
use ami_energy::vae::Vae;
use ami_energy::{SampleEnergy, SparseCoder};
use serde_json::Value;

mod common;
use common::{f, mat, vec1};

fn fixture() -> Value {
    common::fixture("models.json")
}

fn mlp(v: &Value) -> Mlp64 {
    let layers = v
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| (mat(&l["w"]), vec1(&l["b"])))
        .collect();
    Mlp64::from_layers(layers).expect("valid layers")
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-10 * want.abs().max(1e-12),
        "{what}: {got} vs numpy {want}"
    );
}

fn close_all(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        close(*g, *w, &format!("{what}[{i}]"));
    }
}

#[test]
fn hopfield_energies_and_modern_retrieval_equal_numpy() {
    let fx = fixture();
    let h = &fx["hopfield"];
    let net = Hopfield::store(&mat(&h["patterns"])).unwrap();
    let states = mat(&h["states"]);
    for (i, (s, want)) in states.row_iter().zip(vec1(&h["energies"])).enumerate() {
        close(net.energy(s).unwrap(), want, &format!("E(state {i})"));
    }
    let m = &fx["modern_hopfield"];
    let (x, q, beta) = (mat(&m["patterns"]), vec1(&m["query"]), f(&m["beta"]));
    for case in m["cases"].as_array().unwrap() {
        let steps = case["steps"].as_u64().unwrap() as usize;
        let (xi, e) = modern_retrieve(&x, &q, beta, steps).unwrap();
        close_all(&xi, &vec1(&case["xi"]), &format!("ξ after {steps}"));
        close(e, f(&case["energy"]), &format!("E(ξ) after {steps}"));
    }
}

#[test]
fn mlp_and_autoencoder_equal_numpy() {
    let fx = fixture();
    let m = &fx["mlp"];
    let net = mlp(&m["layers"]);
    let x = mat(&m["x"]);
    for (i, (r, want)) in x.row_iter().zip(mat(&m["out"]).row_iter()).enumerate() {
        close_all(&net.forward(r), want, &format!("MLP(x{i})"));
    }
    let ae = Autoencoder::new(mlp(&m["ae_layers"])).unwrap();
    close_all(
        &ae.energy(&x).unwrap(),
        &vec1(&m["ae_energy"]),
        "auto-encoder energy",
    );
}

#[test]
fn mlp_energy_losses_equal_numpy() {
    let fx = fixture();
    let m = &fx["mlp_energy"];
    let mut e = MlpEnergy::new(mlp(&m["layers"])).unwrap();
    e.log_partition = f(&m["log_partition"]);
    let (xd, yn) = (mat(&m["data"]), mat(&m["noise"]));
    let (ld, ln) = (vec1(&m["log_pn_data"]), vec1(&m["log_pn_noise"]));
    close_all(&e.energy(&xd).unwrap(), &vec1(&m["energy_data"]), "E");
    close_all(
        e.grad_x(&xd).unwrap().as_slice(),
        mat(&m["grad_x_data"]).as_slice(),
        "∇ₓE",
    );
    let nce = e
        .loss_and_grad(SetLoss::Nce, (&xd, &ld), (&yn, &ln))
        .unwrap()
        .0;
    close(nce, f(&m["nce"]), "NCE");
    let sq = e
        .loss_and_grad(
            SetLoss::SquareSquare { margin: 1.0 },
            (&xd, &ld),
            (&yn, &ln),
        )
        .unwrap()
        .0;
    close(sq, f(&m["square_square_margin_1"]), "square-square");
    let dsm = e
        .dsm_loss_and_grad(&xd, &mat(&m["dsm_noisy"]), f(&m["dsm_sigma"]))
        .unwrap()
        .0;
    close(dsm, f(&m["dsm"]), "DSM");
}

#[test]
fn rbf_energy_and_dsm_equal_numpy() {
    let fx = fixture();
    let r = &fx["rbf"];
    let mut e = RbfEnergy::grid_2d(
        r["grid"].as_u64().unwrap() as usize,
        (f(&r["lo"]), f(&r["hi"])),
        f(&r["width"]),
        f(&r["confine"]),
    )
    .unwrap();
    e.theta = vec1(&r["theta"]);
    let x = mat(&r["x"]);
    let got: Vec<f64> = x.row_iter().map(|row| e.energy(row)).collect();
    close_all(&got, &vec1(&r["energy"]), "RBF energy");
    let dsm = e
        .dsm_loss_and_grad(&x, &mat(&r["noisy"]), f(&r["sigma"]))
        .unwrap()
        .0;
    close(dsm, f(&r["dsm"]), "RBF DSM");
}

#[test]
fn vae_loss_equals_numpy() {
    let fx = fixture();
    let v = &fx["vae"];
    let vae = Vae::new(mlp(&v["encoder"]), mlp(&v["decoder"]), f(&v["beta"])).unwrap();
    let (loss, _, _) = vae.loss_and_grad(&mat(&v["x"]), &mat(&v["eps"])).unwrap();
    close(
        loss.reconstruction,
        f(&v["reconstruction"]),
        "VAE reconstruction",
    );
    close(loss.kl, f(&v["kl"]), "VAE KL");
    close(loss.total, f(&v["total"]), "VAE total");
}

#[test]
fn lista_codes_equal_numpy() {
    let fx = fixture();
    let l = &fx["lista"];
    let lambda = f(&l["lambda"]);
    let coder = SparseCoder::params(mat(&l["dictionary"]), lambda)
        .check()
        .unwrap();
    let lista = Lista::from_coder(&coder, lambda, l["steps"].as_u64().unwrap() as usize).unwrap();
    let codes = lista.encode(&mat(&l["x"])).unwrap();
    let want = mat(&l["codes"]);
    for (g, w) in codes.as_slice().iter().zip(want.as_slice()) {
        // Exact zeros of the soft threshold stay exact.
        if *w == 0.0 {
            assert!(g.abs() < 1e-12, "LISTA code {g} vs numpy 0");
        } else {
            assert!(
                (g - w).abs() <= 1e-9 * w.abs().max(1e-12),
                "LISTA code {g} vs numpy {w}"
            );
        }
    }
}

#[test]
fn auroc_equals_scikit_learn() {
    let fx = fixture();
    let a = &fx["auroc"];
    close(
        auroc(&vec1(&a["positive"]), &vec1(&a["negative"])).unwrap(),
        f(&a["auroc"]),
        "AUROC",
    );
}

/// Three alternations from the same atoms as scikit-learn's `dict_learning(method="lars")`.
/// Our code step is FISTA to 1e-9 where scikit-learn's is exact LARS, hence 1e-6.
#[test]
fn dictionary_learning_equals_scikit_learn_from_the_same_atoms() {
    let fx = fixture();
    let d = &fx["dictionary"];
    let s = DictionarySettings {
        atoms: 4,
        lambda: f(&d["lambda"]),
        iterations: d["iterations"].as_u64().unwrap() as usize,
        seed: 0,
    };
    let got = learn_dictionary_from(&mat(&d["x"]), mat(&d["init"]), s).unwrap();
    let near = |g: &[f64], w: &[f64], what: &str| {
        assert_eq!(g.len(), w.len());
        for (i, (g, w)) in g.iter().zip(w).enumerate() {
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{what}[{i}]: {g} vs scikit-learn {w}"
            );
        }
    };
    near(got.atoms.as_slice(), mat(&d["atoms"]).as_slice(), "atoms");
    near(got.codes.as_slice(), mat(&d["codes"]).as_slice(), "codes");
    near(&got.objective, &vec1(&d["objective"]), "objective");
}
