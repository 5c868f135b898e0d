#!/usr/bin/env bash
# Trains the issue's accuracy protocol on the real MNIST and prints a Markdown table:
# batch 128, SGD momentum 0.9, lr 0.05, one epoch, seed 0 (SEEDS="0 1 2" for more seeds), for
# mlp, mlp+BN, cnn, cnn+BN, then cnn+BN for 10 epochs. Logs and checkpoints go to runs/accuracy/.
#   scripts/accuracy.sh [--pytorch]   (--pytorch also runs bench/torch_train.py, the same protocol)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
with_torch=0
[ "${1:-}" = "--pytorch" ] && with_torch=1
threads="${THREADS:-1}"
# A fixed thread count (--adapt-threads off when above 1): figures for the docs must not depend on
# what else the machine runs (examples/cli/wait_policy.hpp).
fixed=()
[ "$threads" -gt 1 ] && fixed=(--adapt-threads off)
seeds="${SEEDS:-0}"
"$root/scripts/build.sh" release normgrad_cli >/dev/null
"$root/data/fetch_mnist.sh" >/dev/null
out=runs/accuracy
mkdir -p "$out"

printf '| model | BatchNorm | epochs | seed | normgrad test accuracy |%s\n' \
    "$([ $with_torch = 1 ] && echo ' PyTorch test accuracy |')"
printf '|---|---|---|---|---|%s\n' "$([ $with_torch = 1 ] && echo '---|')"
run() {  # model bn epochs seed
    local tag="$1-bn-$2-e$3-s$4"
    ./build/normgrad train --model "$1" --batchnorm "$2" --epochs "$3" --batch 128 --optimizer sgd \
        --lr 0.05 --momentum 0.9 --seed "$4" --threads "$threads" "${fixed[@]}" --no-progress \
        --log "$out/$tag.jsonl" --save "$out/$tag.safetensors" >"$out/$tag.txt"
    local acc
    acc=$(grep "^epoch $3:" "$out/$tag.txt" | sed -E 's/.*test accuracy ([0-9.]+)%.*/\1/')
    local torch_col=""
    if [ $with_torch = 1 ]; then
        torch_col=$(/usr/bin/python3 bench/torch_train.py --model "$1" --batchnorm "$2" --epochs "$3" \
            --seed "$4" --threads "$threads" |
            /usr/bin/python3 -c 'import json,sys; print("%.2f%%" % (100*json.load(sys.stdin)["epochs"][-1]["test_accuracy"]))')
        torch_col=" $torch_col |"
    fi
    printf '| %s | %s | %s | %s | %s%% |%s\n' "$1" "$2" "$3" "$4" "$acc" "$torch_col"
}
for seed in $seeds; do
    run mlp off 1 "$seed"
    run mlp on 1 "$seed"
    run cnn off 1 "$seed"
    run cnn on 1 "$seed"
done
run cnn on 10 0
