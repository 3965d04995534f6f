#!/usr/bin/env bash
# Kill campaign for `ami train --resume` (docs/RELIABILITY.md, "Kill anywhere, lose nothing").
#
# Trains one reference run of the tiny preset uninterrupted, then TRIALS runs of the same
# seed that are each SIGKILLed up to KILLS times at uniformly random moments (checkpoint
# writes included: nothing here avoids them) and resumed with `ami train --resume` until they
# finish. A trial counts as identical when every file of its final checkpoint (the weights in
# model.safetensors, burn's records of the weights and of the AdamW state, checkpoint.json)
# and its metrics.jsonl are byte-identical to the reference's, and as a resume failure when
# `--resume` refused to continue. Prints one line per trial and a summary line:
#   kills=K trials=T identical=I resume_failures=F
#
# Usage: scripts/kill_resume.sh [TRIALS=20] [KILLS=3] [STEPS=800]
# Needs the release binary: cargo build --release -p ami
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS=${1:-20}
KILLS=${2:-3}
STEPS=${3:-800}
AMI=${AMI:-target/release/ami}
[ -x "$AMI" ] || { echo "build first: cargo build --release -p ami ($AMI missing)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$AMI" data two-rooms --preset tiny --transitions 640 --seed 7 --out "$WORK/d.npz" >/dev/null 2>&1
train() { # train OUT [extra args...]
    local out=$1
    shift
    "$AMI" train --preset tiny --data "$WORK/d.npz" --out "$out" \
        --set "train.steps=$STEPS" --set train.log_every=1 "$@" >/dev/null 2>&1
}

t0=$(date +%s%N)
train "$WORK/ref"
ref_ns=$(($(date +%s%N) - t0))
echo "reference: $STEPS steps in $((ref_ns / 1000000)) ms"

kills=0 identical=0 failures=0
for trial in $(seq 1 "$TRIALS"); do
    run="$WORK/t$trial"
    killed=0
    finished=0
    for _ in $(seq 1 "$KILLS"); do
        if [ -f "$run/config.toml" ]; then
            args=(--resume)
        else
            args=()
        fi
        # Resumes need the same data and steps; --resume reads the rest from the run.
        "$AMI" train --preset tiny --data "$WORK/d.npz" --out "$run" \
            --set "train.steps=$STEPS" --set train.log_every=1 "${args[@]}" >/dev/null 2>"$WORK/err" &
        pid=$!
        # A uniformly random moment within one uninterrupted run's duration.
        delay_us=$(shuf -i "0-$((ref_ns / 1000))" -n 1)
        sleep "$(printf '%d.%06d' $((delay_us / 1000000)) $((delay_us % 1000000)))"
        if kill -KILL "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            killed=$((killed + 1))
        else
            if wait "$pid"; then finished=1; break; fi
            break
        fi
    done
    kills=$((kills + killed))
    ok=1
    if [ "$finished" = 0 ]; then
        if [ -f "$run/config.toml" ]; then
            "$AMI" train --data "$WORK/d.npz" --out "$run" --resume >/dev/null 2>"$WORK/err" || ok=0
        else
            train "$run" || ok=0
        fi
    fi
    if [ "$ok" = 0 ]; then
        failures=$((failures + 1))
        echo "trial $trial: $killed kills, resume FAILED: $(tail -1 "$WORK/err")"
        continue
    fi
    same=1
    for f in checkpoint/model.safetensors checkpoint/model.bpk checkpoint/optimizer.bpk \
        checkpoint/checkpoint.json metrics.jsonl; do
        cmp -s "$WORK/ref/$f" "$run/$f" || same=0
    done
    if [ "$same" = 1 ]; then
        identical=$((identical + 1))
        echo "trial $trial: $killed kills, identical"
    else
        echo "trial $trial: $killed kills, DIFFERENT"
    fi
done
echo "kills=$kills trials=$TRIALS identical=$identical resume_failures=$failures"
[ "$identical" = "$TRIALS" ]
