#!/usr/bin/env bash
# Fuzzes every file loader: builds ami-fuzz (release) and runs N generated inputs per loader
# (default 1000000), seed S (default 1). Inputs that panic, hang or exceed their loader's
# allocation bound are saved under target/fuzz-crashes/. Exit status 1 if there was any.
#   scripts/fuzz.sh [N] [SEED] [extra ami-fuzz flags, e.g. --json]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
seed="${2:-1}"
shift $(( $# > 2 ? 2 : $# ))
cargo build --release -p ami-fuzz
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/ami-fuzz" --target all --inputs "$n" --seed "$seed" \
    --crashes "$target_dir/fuzz-crashes" "$@"
