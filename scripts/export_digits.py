#!/usr/bin/env python3
"""Export scikit-learn's bundled 8x8 digits to the image-set layout `ami ssl train` reads.

    python3 scripts/export_digits.py --out data/digits.npz
    python3 scripts/export_digits.py --out crates/ssl/tests/fixtures/digits40.npz --limit 40
                                                   (the committed test fixture)

Writes OUT (.npz) with
    images  float32 [N, 1, 8, 8]  pixel counts 0..16 scaled to [0, 1]
    labels  int64   [N]           the digit 0..9
and the sidecar OUT with suffix .json: {"kind": "digits", "factors": [], "classes": ["0", ...]}.
Needs numpy and scikit-learn (the data ships inside scikit-learn: no download).
The exported data is not committed; CI does not need Python.
"""
import argparse
import json
import pathlib

import numpy as np
from sklearn.datasets import load_digits


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=pathlib.Path, help="output .npz")
    ap.add_argument("--limit", type=int, default=None, help="keep only the first N digits")
    args = ap.parse_args()
    d = load_digits()
    images = (d.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)[: args.limit]
    labels = d.target.astype(np.int64)[: args.limit]
    assert images.min() >= 0.0 and images.max() <= 1.0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, images=images, labels=labels)
    sidecar = {
        "kind": "digits",
        "seed": 0,
        "factors": [],
        "classes": [str(k) for k in range(10)],
        "config": {"source": "sklearn.datasets.load_digits", "scale": "pixel / 16"},
    }
    args.out.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    print(f"wrote images {images.shape} labels {labels.shape} to {args.out}")


if __name__ == "__main__":
    main()
