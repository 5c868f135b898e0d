#!/usr/bin/env bash
# Runs the BatchNorm study's presets and the depth sweep on the real MNIST, copies the charts that
# docs/batchnorm.md shows into docs/img/, and writes what each command printed into docs/results/
# (tests/test_docs.cpp checks the figures docs/batchnorm.md quotes against those files). Each
# block is also a single command you can run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/build.sh" release normgrad_cli >/dev/null
"$root/data/fetch_mnist.sh" >/dev/null
mkdir -p docs/img docs/results runs
for preset in explode speed high-lr; do
    # Two threads and seed 0, as the main job runs the explode preset, but a fixed thread count
    # (--adapt-threads off): the figures must not depend on what else the machine runs.
    ./build/normgrad compare --preset "$preset" --threads 2 --adapt-threads off --seed 0 --no-progress \
        --out "runs/compare-$preset" | tee "docs/results/compare-$preset.txt"
    for chart in loss accuracy grad-norm layer-fc1; do
        cp "runs/compare-$preset/chart-$chart.svg" "docs/img/$preset-$chart.svg"
    done
done
./build/normgrad gradnorms --depths 2,4,8,16,32 --per-layer | tee docs/results/gradnorms.txt
./build/normgrad gradnorms --depths 2,4,8,16,32 --init he | tee docs/results/gradnorms-he.txt
./build/normgrad gradnorms --model resmlp --depths 2,4,8,16,32 | tee docs/results/gradnorms-resmlp.txt
# Inside a BatchNorm layer, the second pass and folding (docs/batchnorm.md section 6), on the cnn
# with BatchNorm after one epoch.
./build/normgrad train --model cnn --batchnorm on --threads 2 --adapt-threads off --seed 0 --no-progress \
    --save runs/cnn-bn-1ep.safetensors --checkpoint runs/cnn-bn-1ep.checkpoint.safetensors
./build/normgrad inspect --load runs/cnn-bn-1ep.safetensors --threads 2 | tee docs/results/inspect-cnn-bn.txt
./build/normgrad recalibrate --load runs/cnn-bn-1ep.safetensors --threads 2 | tee docs/results/recalibrate-cnn-bn.txt
./build/normgrad fold --load runs/cnn-bn-1ep.safetensors --save runs/cnn-bn-1ep-folded.safetensors \
    --repeats 5 --threads 1 | tee docs/results/fold-cnn-bn.txt
./build/normgrad fold --load runs/cnn-bn-1ep.safetensors --save runs/cnn-bn-1ep-folded.safetensors \
    --repeats 5 --threads 2 | tee docs/results/fold-cnn-bn-2-threads.txt
