#!/usr/bin/env bash
# `ami ebm bench` against scikit-learn on identical data: PCA, k-means and GMM fit times at
# each data size (case) and the ami / scikit-learn ratios (< 1 = ami faster).
# Usage: bench/run_ebm.sh [--quick] [--rounds N] [--single-thread] [--case NAME]...
# --quick: only the 10000x32 case, few repetitions. --case (repeatable) picks cases by name
# (10000x32, 10000x256, 5000x784, 20000x784, 100000x1000); the largest writes 800 MB of data.
# --single-thread pins both sides to one thread (RAYON_NUM_THREADS, OMP/OpenBLAS/MKL), which
# is less sensitive to other load on the machine than the default all-core comparison.
# The two sides run alternately for N rounds (default 3) and each side's best median is kept,
# so that load from other processes on a small machine skews both sides alike.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
VENV="$HERE/.venv"
QUICK=""
ROUNDS=3
CASES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK="--quick"; shift ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --case) CASES+=(--case "$2"); shift 2 ;;
    --single-thread)
      export RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
      shift ;;
    *) echo "usage: $0 [--quick] [--rounds N] [--single-thread] [--case NAME]..." >&2; exit 2 ;;
  esac
done

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || { echo "error: cannot create $VENV" >&2; exit 1; }
  "$VENV/bin/pip" install -q -r "$HERE/requirements.txt" || { echo "error: pip install failed" >&2; exit 1; }
fi
"$VENV/bin/python" -c "import sklearn" 2>/dev/null || "$VENV/bin/pip" install -q scikit-learn \
  || { echo "error: cannot install scikit-learn" >&2; exit 1; }

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --release -p ami) >&2 || { echo "error: cargo build failed" >&2; exit 1; }
AMI="$TARGET/release/ami"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
"$AMI" ebm bench $QUICK "${CASES[@]}" --write-data "$OUT/data" >&2 || exit 1

for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r/$ROUNDS (loadavg: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  "$AMI" ebm bench --json $QUICK "${CASES[@]}" --data-dir "$OUT/data" >>"$OUT/ami.jsonl" || exit 1
  "$VENV/bin/python" "$HERE/peers/sklearn_ebm.py" --json $QUICK "${CASES[@]}" --data-dir "$OUT/data" \
    >>"$OUT/sklearn.jsonl" || exit 1
done

"$VENV/bin/python" - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def runs(name):
    return [json.loads(l) for l in open(os.path.join(out, name + ".jsonl")) if l.strip().startswith("{")]
ami, sk = runs("ami"), runs("sklearn")
cases = list(dict.fromkeys(r["case"] for r in ami))
print(f"{'case (f64)':<13}{'fit':<16}{'ami ms':>11}{'sklearn ms':>12}{'ami/sklearn':>13}{'iters ami/sk':>14}")
for case in cases:
    a_runs = [r for r in ami if r["case"] == case]
    s_runs = [r for r in sk if r["case"] == case]
    for key, it, label in [("pca_ms", None, "PCA"), ("kmeans_ms", "kmeans_n_iter", "k-means"),
                           ("gmm_ms", "gmm_n_iter", "GMM full")]:
        if key not in a_runs[0]:
            continue
        a, s = min(r[key] for r in a_runs), min(r[key] for r in s_runs)
        iters = f"{a_runs[0][it]}/{s_runs[0][it]}" if it else "-"
        print(f"{case:<13}{label:<16}{a:>11.2f}{s:>12.2f}{a / s:>13.3f}{iters:>14}")
print(f"\nbest of {len(ami) // max(len(cases), 1)} rounds (each a median of repetitions); ratio < 1 = ami faster."
      f"\nami threads={ami[0]['threads']}; scikit-learn {sk[0]['version']} cpus={sk[0]['threads']}"
      f" OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
PY
