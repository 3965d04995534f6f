#!/usr/bin/env bash
# Builds the Python package with maturin into a fresh virtual environment under the cargo
# target directory and runs its tests; skips (exit 0, with a line saying so) when no Python
# >= 3.9 is found. Run from anywhere; `PYTHON` picks the interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    echo "Python tests skipped: no $python found"
    exit 0
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)'; then
    echo "Python tests skipped: $("$python" --version 2>&1) is older than 3.9"
    exit 0
fi
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "Python tests skipped: $python has no venv/ensurepip module (e.g. apt install python3-venv)"
    exit 0
fi
target="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TARGET_DIR="$target"
venv="$target/python-ci-venv"
# The maturin build backend runs `maturin` from PATH.
export PATH="$venv/bin:$PATH"
rm -rf "$venv"
"$python" -m venv "$venv"
# pip >= 21.3 builds the package in place (older ones copy python/ away from crates/). The
# tools come from the package index: without it, say so and skip (nothing of ours was tested).
if ! { "$venv/bin/python" -m pip install --quiet --upgrade pip &&
    "$venv/bin/python" -m pip install --quiet "maturin>=1.5,<2" numpy pytest; }; then
    echo "Python tests skipped: could not install pip, maturin, numpy and pytest from the package index"
    exit 0
fi
t0=$(date +%s)
"$venv/bin/python" -m pip install --quiet --no-build-isolation ./python
echo "built and installed the ami Python package in $(( $(date +%s) - t0 )) s"
AMI_BIN="$target/release/ami" "$venv/bin/python" -m pytest python/tests -q
