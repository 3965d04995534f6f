//! `ami-energy` against scikit-learn: the fixtures were written by `fixtures/generate.py`
//! (numpy + scikit-learn, fixed seeds; the version is recorded in each file). Same data,
//! same initialisation → same numbers, to 1e-8 (sparse codes to 1e-6).

use ami_energy::{
    Fit, GaussianMixture, GmmInit, KMeans, KMeansInit, Pca, SampleEnergy, SparseAlgorithm,
    SparseCoder,
};

mod common;
use common::{fixture, mat, mats, vec1 as vec};

/// |a − b| ≤ tol·max(1, |b|) elementwise, with a message naming the quantity.
fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}[{i}]: ami {g} vs scikit-learn {w} (tol {tol})"
        );
    }
}

#[test]
fn pca_matches_scikit_learn() {
    for c in fixture("pca.json")["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let x = mat(&c["x"]);
        let k = c["n_components"].as_u64().unwrap() as usize;
        let m = Pca::params(k).fit(&x).unwrap();
        let t = |s: &str| format!("{name}: {s}");
        assert_close(&t("mean_"), &m.mean, &vec(&c["mean_"]), 1e-10);
        assert_close(
            &t("components_"),
            m.components.as_slice(),
            mat(&c["components_"]).as_slice(),
            1e-8,
        );
        let ev = vec(&c["explained_variance_"]);
        assert_close(&t("explained_variance_"), &m.explained_variance, &ev, 1e-8);
        let ratio = vec(&c["explained_variance_ratio_"]);
        assert_close(&t("ratio"), &m.explained_variance_ratio, &ratio, 1e-8);
        let sv = vec(&c["singular_values_"]);
        assert_close(&t("singular_values_"), &m.singular_values, &sv, 1e-8);
        let nv = c["noise_variance_"].as_f64().unwrap();
        assert_close(&t("noise_variance_"), &[m.noise_variance], &[nv], 1e-8);
        let z = m.transform(&x).unwrap();
        assert_close(
            &t("transform"),
            z.as_slice(),
            mat(&c["transform"]).as_slice(),
            1e-8,
        );
        if !c["score_samples"].is_null() {
            let s = m.score_samples(&x).unwrap();
            assert_close(&t("score_samples"), &s, &vec(&c["score_samples"]), 1e-8);
        }
    }
}

#[test]
fn kmeans_matches_scikit_learn() {
    let f = fixture("kmeans.json");
    let x = mat(&f["x"]);
    let k = f["k"].as_u64().unwrap() as usize;
    for c in f["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let m = KMeans::params(k)
            .init(KMeansInit::Given(mat(&c["init"])))
            .max_iter(c["max_iter"].as_u64().unwrap() as usize)
            .tol(c["tol"].as_f64().unwrap())
            .fit(&x)
            .unwrap();
        let labels: Vec<usize> = c["labels_"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(m.labels, labels, "{name}: labels_");
        assert_eq!(
            m.n_iter as u64,
            c["n_iter_"].as_u64().unwrap(),
            "{name}: n_iter_"
        );
        assert_close(
            &format!("{name}: cluster_centers_"),
            m.cluster_centers.as_slice(),
            mat(&c["cluster_centers_"]).as_slice(),
            1e-8,
        );
        let inertia = c["inertia_"].as_f64().unwrap();
        assert_close(&format!("{name}: inertia_"), &[m.inertia], &[inertia], 1e-8);
        let e: f64 = m.energy(&x).unwrap().iter().sum();
        assert_close(&format!("{name}: Σ energy"), &[e], &[inertia], 1e-8);
    }
}

#[test]
fn gaussian_mixture_matches_scikit_learn() {
    let datasets = fixture("gmm.json");
    for f in datasets["datasets"].as_array().unwrap() {
        let x = mat(&f["x"]);
        let k = f["k"].as_u64().unwrap() as usize;
        for c in f["cases"].as_array().unwrap() {
            let name = format!(
                "{}/{}",
                f["name"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            );
            let t = |s: &str| format!("{name}: {s}");
            let g = GaussianMixture::params(k)
                .init(GmmInit::Given {
                    weights: vec(&f["weights_init"]),
                    means: mat(&f["means_init"]),
                    precisions: mats(&f["precisions_init"]),
                })
                .max_iter(c["max_iter"].as_u64().unwrap() as usize)
                .tol(c["tol"].as_f64().unwrap())
                .reg_covar(c["reg_covar"].as_f64().unwrap())
                .fit(&x)
                .unwrap();
            assert_eq!(g.n_iter as u64, c["n_iter_"].as_u64().unwrap(), "{name}");
            assert_eq!(g.converged, c["converged_"].as_bool().unwrap(), "{name}");
            assert_close(&t("weights_"), &g.weights, &vec(&c["weights_"]), 1e-8);
            assert_close(
                &t("means_"),
                g.means.as_slice(),
                mat(&c["means_"]).as_slice(),
                1e-8,
            );
            for (i, (cov, want)) in g
                .covariances
                .iter()
                .zip(mats(&c["covariances_"]))
                .enumerate()
            {
                assert_close(
                    &t(&format!("covariances_[{i}]")),
                    cov.as_slice(),
                    want.as_slice(),
                    1e-8,
                );
            }
            let pc = mats(&c["precisions_cholesky_"]);
            for (i, (u, want)) in g.precisions_cholesky.iter().zip(pc).enumerate() {
                let what = t(&format!("precisions_cholesky_[{i}]"));
                assert_close(&what, u.as_slice(), want.as_slice(), 1e-8);
            }
            let lb = c["lower_bound_"].as_f64().unwrap();
            assert_close(&t("lower_bound_"), &[g.lower_bound], &[lb], 1e-8);
            let score = c["score"].as_f64().unwrap();
            assert_close(&t("score"), &[g.score(&x).unwrap()], &[score], 1e-8);
            let s = g.score_samples(&x).unwrap();
            assert_close(&t("score_samples"), &s, &vec(&c["score_samples"]), 1e-8);
            // The energy is −log p: compared with scikit-learn's own log-densities (not with
            // ours, which is how it is defined), on the data and on points away from it.
            let minus = |v: Vec<f64>| v.iter().map(|s| -s).collect::<Vec<_>>();
            let e = g.energy(&x).unwrap();
            let want = minus(vec(&c["score_samples"]));
            assert_close(&t("energy = −score_samples"), &e, &want, 1e-8);
            let query = mat(&f["query"]);
            let e = g.energy(&query).unwrap();
            let want = minus(vec(&c["score_samples_query"]));
            assert_close(&t("energy = −score_samples (query)"), &e, &want, 1e-8);
            let s = g.score_samples(&query).unwrap();
            let want = vec(&c["score_samples_query"]);
            assert_close(&t("score_samples (query)"), &s, &want, 1e-8);
            let pr = g.predict_proba(&x).unwrap();
            let want = mat(&c["predict_proba"]);
            assert_close(&t("predict_proba"), pr.as_slice(), want.as_slice(), 1e-8);
        }
    }
}

#[test]
fn sparse_codes_match_scikit_learn_lasso_lars() {
    for c in fixture("sparse.json")["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let d = mat(&c["dictionary"]);
        let x = mat(&c["x"]);
        let lambda = c["lambda"].as_f64().unwrap();
        let want = mat(&c["codes"]);
        let energy = vec(&c["energy"]);
        for (alg, iters) in [
            (SparseAlgorithm::CoordinateDescent, 10_000),
            (SparseAlgorithm::Fista, 20_000),
            (SparseAlgorithm::Ista, 200_000),
        ] {
            let codes = SparseCoder::params(d.clone(), lambda)
                .algorithm(alg)
                .max_iter(iters)
                .tol(1e-13)
                .check()
                .unwrap()
                .encode(&x)
                .unwrap();
            let what = format!("{name} {alg:?}");
            assert!(codes.converged.iter().all(|&c| c), "{what}: not converged");
            assert_close(&what, codes.codes.as_slice(), want.as_slice(), 1e-6);
            assert_close(&format!("{what} energy"), &codes.energy, &energy, 1e-8);
        }
    }
}
