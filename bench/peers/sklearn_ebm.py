"""scikit-learn peer of `ami ebm bench`: the same fits on the same arrays.

Usage: sklearn_ebm.py --data-dir DIR [--json] [--quick]
DIR is written by `ami ebm bench --write-data DIR` (X.npy [10000, 32] f64 and the
initialisations). PCA(n_components=8, svd_solver='auto' -> covariance_eigh for this shape);
KMeans(k=16, given init, n_init=1, algorithm='lloyd', tol=0, max_iter=30);
GaussianMixture(k=8, full, given weights/means/precisions, tol=0, max_iter=20).
Times are medians over repetitions after warm-up, like `ami ebm bench`.
"""
import argparse
import json
import os
import statistics
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    load = lambda n: np.load(os.path.join(a.data_dir, n))
    x = load("X.npy")
    km_init = load("kmeans_init.npy")
    w, m, p = load("gmm_weights.npy"), load("gmm_means.npy"), load("gmm_precisions.npy")
    warmup, timed = (1, 2) if a.quick else (2, 9)
    warnings.simplefilter("ignore", ConvergenceWarning)

    pca = lambda: PCA(n_components=8).fit(x)
    km = lambda: KMeans(n_clusters=16, init=km_init, n_init=1, algorithm="lloyd", tol=0.0, max_iter=30).fit(x)
    gmm = lambda: GaussianMixture(
        n_components=8, covariance_type="full", weights_init=w, means_init=m, precisions_init=p,
        tol=0.0, max_iter=20, n_init=1,
    ).fit(x)
    out = {
        "impl": "sklearn",
        "version": sklearn.__version__,
        "n_samples": x.shape[0],
        "n_features": x.shape[1],
        "threads": os.cpu_count(),
        "pca_ms": median_ms(warmup, timed, pca),
        "kmeans_ms": median_ms(warmup, timed, km),
        "kmeans_n_iter": int(km().n_iter_),
        "gmm_ms": median_ms(warmup, timed, gmm),
        "gmm_n_iter": int(gmm().n_iter_),
    }
    for k in ["pca_ms", "kmeans_ms", "gmm_ms"]:
        print(f"  {k:<10} {out[k]:9.2f}", file=__import__("sys").stderr)
    if a.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
