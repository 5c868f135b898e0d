#!/usr/bin/env bash
# This version against an earlier one on the ResNet of examples/specs/resnet-mnist.arch under no
# normalisation, LayerNorm and GroupNorm with 4 groups, 150 steps: bench/models_vs_commit.sh with
# those models (for a change to the normalisations, whose effect the benchmark against PyTorch
# measures only through a ratio that moves with PyTorch's own times). Writes OUT (default
# docs/results/norm-resnets-vs-COMMIT.md). Until 2026-12-07 this was a script of its own, which
# left the thread count to --adapt-threads at two threads and recorded no peak memory.
# Usage: bench/norm_resnets_vs_commit.sh COMMIT [OUT]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 1 ] || { echo "usage: bench/norm_resnets_vs_commit.sh COMMIT [OUT]" >&2; exit 2; }
exec "$root/bench/models_vs_commit.sh" --models resnet-none,resnet-layer,resnet-group4 \
    --steps 150 "$1" "${2:-docs/results/norm-resnets-vs-$1.md}"
