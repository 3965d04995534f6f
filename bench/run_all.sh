#!/usr/bin/env bash
# Runs `ami bench --json` and the PyTorch / JAX peers, then prints a comparison table.
# Usage: bench/run_all.sh [--quick]
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
VENV="$HERE/.venv"
QUICK=""
[ "${1:-}" = "--quick" ] && QUICK="--quick"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || { echo "error: cannot create $VENV" >&2; exit 1; }
fi
"$VENV/bin/pip" install -q -r "$HERE/requirements.txt" || { echo "error: pip install failed" >&2; exit 1; }

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

echo "== building ami (release)" >&2
if (cd "$ROOT" && cargo build --release -p ami) >&2; then
  echo "== ami bench --json" >&2
  AMI="${CARGO_TARGET_DIR:-$ROOT/target}/release/ami"
  if ! "$AMI" bench --json >"$OUT/ami.out" 2>"$OUT/ami.err"; then
    echo "warning: 'ami bench --json' FAILED (exit $?); stderr:" >&2
    tail -n 20 "$OUT/ami.err" >&2
    : >"$OUT/ami.out"
  fi
else
  echo "warning: cargo build FAILED; showing peers only" >&2
  : >"$OUT/ami.out"
fi

# Peers run one after the other so they do not compete for the cores.
# Timings are only meaningful on an otherwise idle machine: with 2 cores, one busy core slows
# PyTorch's OpenMP-parallel ops by 10-50x (JAX ~2x). Show the load so a bad run is recognisable.
for peer in torch jax; do
  echo "== ${peer} peer $QUICK (loadavg: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  if ! "$VENV/bin/python" "$HERE/peers/${peer}_peer.py" $QUICK >"$OUT/$peer.out" 2>"$OUT/$peer.err"; then
    echo "warning: $peer peer FAILED; stderr:" >&2
    tail -n 20 "$OUT/$peer.err" >&2
  fi
done

"$VENV/bin/python" - "$OUT" <<'PY'
import json, os, sys

out = sys.argv[1]

def load(name):
    """Last stdout line that parses as a JSON object, else the whole stdout, else None."""
    try:
        text = open(os.path.join(out, name + ".out")).read()
    except OSError:
        return None
    for cand in [l for l in text.splitlines() if l.strip().startswith("{")][::-1] + [text]:
        try:
            obj = json.loads(cand)
            if isinstance(obj, dict):
                return obj
        except ValueError:
            pass
    return None

ami, peers = load("ami"), {"pytorch-eager": load("torch"), "jax-jit": load("jax")}
if ami is None:
    print("NOTE: no ami result (build or `ami bench --json` failed); ratios are n/a\n")

def gemm(d):
    """A single GEMM GFLOP/s figure: the 1024^3 entry when a dict is given."""
    if d is None:
        return None
    g = d.get("gflops", d.get("gemm_gflops"))
    if isinstance(g, dict):
        # The 1024^3 figure; ami reports it for burn, the gemm crate and the packed kernel:
        # take the best of those (its "peak" may come from another shape).
        vals = [v for k, v in g.items() if k.endswith("1024") and isinstance(v, (int, float))]
        g = max(vals) if vals else None
    return g

rows = [  # (label, getter, higher_is_better)
    ("train steps/s (A)", lambda d: d.get("train_steps_per_s"), True),
    ("sampling plan ms (B)", lambda d: d.get("sampling_plan_ms"), False),
    ("gradient plan ms (C)", lambda d: d.get("gradient_plan_ms"), False),
    ("GEMM 1024^3 GFLOP/s", gemm, True),
]
fmt = lambda v: "n/a" if v is None else f"{v:.4g}"
names = ["ami"] + list(peers)
head = f"{'metric':<22}" + "".join(f"{n:>15}" for n in names) + f"{'ami/best peer':>16}"
print(head)
print("-" * len(head))
for label, get, higher in rows:
    vals = {"ami": get(ami) if ami else None}
    vals.update({n: get(p) if p else None for n, p in peers.items()})
    pv = [vals[n] for n in peers if vals[n]]
    best = (max(pv) if higher else min(pv)) if pv else None
    ratio = vals["ami"] / best if (vals["ami"] and best) else None
    print(f"{label:<22}" + "".join(f"{fmt(vals[n]):>15}" for n in names) + f"{fmt(ratio):>16}")
print("\nratio = ami / best peer: for steps/s and GFLOP/s higher is better (>1 = ami faster);"
      "\n                         for ms lower is better (<1 = ami faster).")
info = [f"ami: backend={ami.get('backend')} threads={ami.get('threads')}"] if ami else []
info += [f"{n}: {p.get('version')} threads={p.get('threads')} weight_decay={p.get('weight_decay')}"
         for n, p in peers.items() if p]
print("\n".join(info))
if ami and isinstance(ami.get("fraction_of_gemm_peak"), dict):
    fr = ami["fraction_of_gemm_peak"]
    print("ami fraction of its measured GEMM peak: " +
          ", ".join(f"{k}={v:.2f}" for k, v in fr.items() if "generic" not in k))
wg = next((p["workload_gflop"] for p in peers.values() if p and "workload_gflop" in p), None)
if wg:
    print("workload GFLOP (analytic): " + ", ".join(f"{k}={v:.3g}" for k, v in wg.items()))
PY
