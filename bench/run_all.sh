#!/usr/bin/env bash
# Runs `ami bench --json` and the PyTorch / JAX peers, then prints a comparison table.
# Usage: bench/run_all.sh [--quick] [--runs N]
# --runs N repeats the whole sequence (ami, PyTorch, JAX) N times (default 1) and reports each
# side's best figure and the spread (max - min) / best over the runs.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
VENV="$HERE/.venv"
QUICK=""
RUNS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK="--quick"; shift ;;
    --runs) RUNS="$2"; shift 2 ;;
    *) echo "usage: $0 [--quick] [--runs N]" >&2; exit 2 ;;
  esac
done
case "$RUNS" in ''|*[!0-9]*|0) echo "error: --runs expects a positive integer, got '$RUNS'" >&2; exit 2 ;; esac

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || { echo "error: cannot create $VENV" >&2; exit 1; }
fi
"$VENV/bin/pip" install -q -r "$HERE/requirements.txt" || { echo "error: pip install failed" >&2; exit 1; }

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

echo "== building ami (release)" >&2
AMI=""
if (cd "$ROOT" && cargo build --release -p ami) >&2; then
  AMI="${CARGO_TARGET_DIR:-$ROOT/target}/release/ami"
else
  echo "warning: cargo build FAILED; showing peers only" >&2
fi

# Everything runs one after the other so that nothing competes for the cores.
# Timings are only meaningful on an otherwise idle machine: with 2 cores, one busy core slows
# PyTorch's OpenMP-parallel ops by 10-50x (JAX ~2x). Show the load so a bad run is recognisable.
for run in $(seq 1 "$RUNS"); do
  if [ -n "$AMI" ]; then
    echo "== run $run/$RUNS: ami bench --json $QUICK (loadavg: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    if ! "$AMI" bench --json $QUICK >"$OUT/ami.$run.out" 2>"$OUT/ami.$run.err"; then
      echo "warning: 'ami bench --json' FAILED (exit $?); stderr:" >&2
      tail -n 20 "$OUT/ami.$run.err" >&2
      : >"$OUT/ami.$run.out"
    fi
  fi
  for peer in torch jax; do
    echo "== run $run/$RUNS: ${peer} peer $QUICK (loadavg: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    if ! "$VENV/bin/python" "$HERE/peers/${peer}_peer.py" $QUICK >"$OUT/$peer.$run.out" 2>"$OUT/$peer.$run.err"; then
      echo "warning: $peer peer FAILED; stderr:" >&2
      tail -n 20 "$OUT/$peer.$run.err" >&2
    fi
  done
done

"$VENV/bin/python" - "$OUT" "$RUNS" <<'PY'
import json, os, sys

out, runs = sys.argv[1], int(sys.argv[2])

def load_runs(name):
    """The JSON objects of every run of one side (failed runs left out)."""
    return [r for r in (load(f"{name}.{i}") for i in range(1, runs + 1)) if r is not None]


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

all_runs = {"ami": load_runs("ami"), "pytorch-eager": load_runs("torch"),
            "jax-jit": load_runs("jax")}
ami = all_runs["ami"][0] if all_runs["ami"] else None
peers = {n: (r[0] if r else None) for n, r in all_runs.items() if n != "ami"}
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
    ("conv train steps/s (E)", lambda d: d.get("conv_train_steps_per_s"), True),
    ("GEMM 1024^3 GFLOP/s", gemm, True),
]
fmt = lambda v: "n/a" if v is None else f"{v:.4g}"
names = ["ami"] + list(peers)
head = f"{'metric':<22}" + "".join(f"{n:>15}" for n in names) + f"{'ami/best peer':>16}"
print(head)
print("-" * len(head))
spreads = []
for label, get, higher in rows:
    vals = {}
    for n in names:
        got = [v for v in (get(r) for r in all_runs[n]) if isinstance(v, (int, float))]
        vals[n] = (max(got) if higher else min(got)) if got else None
        if len(got) > 1 and vals[n]:
            spreads.append(f"{label} {n}: {100 * (max(got) - min(got)) / vals[n]:.0f}%")
    pv = [vals[n] for n in peers if vals[n]]
    best = (max(pv) if higher else min(pv)) if pv else None
    ratio = vals["ami"] / best if (vals["ami"] and best) else None
    print(f"{label:<22}" + "".join(f"{fmt(vals[n]):>15}" for n in names) + f"{fmt(ratio):>16}")
if runs > 1:
    print(f"\nbest of {runs} runs per side; spread (max - min) / best over the runs:")
    print("  " + "\n  ".join(spreads) if spreads else "  (fewer than two successful runs)")
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
