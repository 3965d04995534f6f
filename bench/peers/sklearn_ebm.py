"""scikit-learn peer of `ami ebm bench`: the same fits on the same arrays.

Usage: sklearn_ebm.py --data-dir DIR [--json] [--quick] [--case NAME ...]
DIR is written by `ami ebm bench --write-data DIR`: cases.json lists the cases and their
settings, DIR/<case>/ holds X.npy and the initialisations. Per case:
PCA(n_components) with the default svd_solver='auto' (scikit-learn picks covariance_eigh,
full or randomized by shape); KMeans(k, given init, n_init=1, algorithm='lloyd', tol=0,
max_iter); GaussianMixture(k, full, given weights/means/precisions, tol=0, max_iter).
Times are medians over repetitions after warm-up, like `ami ebm bench`; --quick runs only the
first case with 1 warm-up and 2 timed runs. One JSON line per case with --json.
"""
import argparse
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture


def median_ms(warmup, timed, f):
    for _ in range(warmup):
        f()
    ts = []
    for _ in range(timed):
        s = time.perf_counter()
        f()
        ts.append((time.perf_counter() - s) * 1e3)
    return statistics.median(ts)


def run_case(data_dir, c, quick):
    load = lambda n: np.load(os.path.join(data_dir, c["case"], n))
    x = load("X.npy")
    warmup, timed = (1, 2) if quick else (c["warmup"], c["timed"])
    out = {
        "impl": "sklearn",
        "case": c["case"],
        "version": sklearn.__version__,
        "n_samples": x.shape[0],
        "n_features": x.shape[1],
        "threads": os.cpu_count(),
    }
    if c["pca_components"]:
        pca = lambda: PCA(n_components=c["pca_components"]).fit(x)
        out["pca_ms"] = median_ms(warmup, timed, pca)
    if c["kmeans_k"]:
        init = load("kmeans_init.npy")
        km = lambda: KMeans(n_clusters=c["kmeans_k"], init=init, n_init=1, algorithm="lloyd",
                            tol=0.0, max_iter=c["kmeans_max_iter"]).fit(x)
        out["kmeans_n_iter"] = int(km().n_iter_)
        out["kmeans_ms"] = median_ms(warmup, timed, km)
    if c["gmm_k"]:
        w, m, p = load("gmm_weights.npy"), load("gmm_means.npy"), load("gmm_precisions.npy")
        gmm = lambda: GaussianMixture(
            n_components=c["gmm_k"], covariance_type="full", weights_init=w, means_init=m,
            precisions_init=p, tol=0.0, max_iter=c["gmm_iter"], n_init=1,
        ).fit(x)
        out["gmm_n_iter"] = int(gmm().n_iter_)
        out["gmm_ms"] = median_ms(warmup, timed, gmm)
    for k in ["pca_ms", "kmeans_ms", "gmm_ms"]:
        if k in out:
            print(f"  {c['case']:<12} {k:<10} {out[k]:9.2f}", file=sys.stderr)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--case", action="append", default=[])
    a = ap.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    with open(os.path.join(a.data_dir, "cases.json")) as f:
        cases = json.load(f)
    for c in cases[:1] if a.quick else cases:
        if a.case and c["case"] not in a.case:
            continue
        out = run_case(a.data_dir, c, a.quick)
        if a.json:
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
