#!/usr/bin/env bash
# Runs the BatchNorm study's presets and the depth sweep on the real MNIST, and copies the charts
# that docs/batchnorm.md shows into docs/img/. Each block is also a single command you can run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/build.sh" release normgrad_cli >/dev/null
"$root/data/fetch_mnist.sh" >/dev/null
mkdir -p docs/img runs
for preset in explode speed high-lr; do
    ./build/normgrad compare --preset "$preset" --no-progress --out "runs/compare-$preset" |
        tee "runs/compare-$preset.txt"
    for chart in loss accuracy grad-norm layer-fc1; do
        cp "runs/compare-$preset/chart-$chart.svg" "docs/img/$preset-$chart.svg"
    done
done
./build/normgrad gradnorms --depths 2,4,8,16,32 --per-layer | tee runs/gradnorms.txt
./build/normgrad gradnorms --depths 2,4,8,16,32 --init he | tee runs/gradnorms-he.txt
