#!/usr/bin/env bash
# The normalisation table of the README: the ResNet-style CNN and the 20-layer residual MLP of
# examples/specs/ trained from the command line with each normalisation, on MNIST and on
# Fashion-MNIST (Debian's dataset-fashion-mnist), by normgrad and by PyTorch on the same protocol
# (bench/torch_train.py builds the same spec): one epoch, batch 128, SGD momentum 0.9 at lr 0.05
# (both models) and 0.01 (the residual MLP), PyTorch's default initialisation, standardised
# input, seed 0, THREADS threads (default 2).
#
# Writes docs/results/norm-accuracy.md and copies its table into the README between the
# norm-accuracy markers (tests/test_docs.cpp checks that the two agree). Logs and models go to
# runs/norm-accuracy/. About 30 minutes on 2 cores. REUSE=1 keeps the rows whose outputs are
# already in runs/norm-accuracy/ (to finish an interrupted run; the outputs must come from the
# same program).
#   scripts/norm-accuracy.sh [--no-pytorch]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
with_torch=1
[ "${1:-}" = "--no-pytorch" ] && with_torch=0
threads="${THREADS:-2}"
"$root/scripts/install-deps.sh" dataset-fashion-mnist python3-torch >/dev/null
"$root/scripts/build.sh" release normgrad_cli >/dev/null
"$root/data/fetch_mnist.sh" >/dev/null
out=runs/norm-accuracy
mkdir -p "$out" docs/results
fashion=/usr/share/datasets/fashion-mnist
norms="none batch layer group rms"
# A copy of the program, so that a rebuild while the runs go on does not change it under them.
cp build/normgrad "$out/normgrad"
commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- . ':!docs/results' ':!README.md' || commit="$commit (with local changes)"
protocol="--epochs 1 --batch 128 --optimizer sgd --momentum 0.9 --seed 0 --threads $threads"
# A fixed thread count (--adapt-threads off when above 1): figures for the docs must not depend on
# what else the machine runs (examples/cli/wait_policy.hpp).
[ "$threads" -gt 1 ] && protocol="$protocol --adapt-threads off"
reuse="${REUSE:-0}"

accuracy_of() {  # the normgrad output file
    grep '^epoch 1:' "$1" | sed -E 's/.*test accuracy ([0-9.]+)%.*/\1/'
}

table="$out/table.md"
{
    printf '| model | lr | data | normalisation | normgrad test accuracy |%s\n' \
        "$([ $with_torch = 1 ] && echo ' PyTorch test accuracy |')"
    printf '|---|---|---|---|---|%s\n' "$([ $with_torch = 1 ] && echo '---|')"
} >"$table"
for combo in resnet-mnist:0.05 resmlp20:0.05 resmlp20:0.01; do
    spec=${combo%%:*} lr=${combo##*:}
    for data in mnist fashion; do
        dir=data/mnist
        [ $data = fashion ] && dir=$fashion
        for norm in $norms; do
            tag="$spec-lr$lr-$data-$norm"
            echo "== $tag" >&2
            [ "$reuse" = 1 ] && [ -s "$out/$tag.txt" ] ||
            # shellcheck disable=SC2086
            "$out/normgrad" train --arch "@examples/specs/$spec.arch" --norm "$norm" --lr "$lr" $protocol \
                --data "$dir" --no-progress --grad-stats off --log "$out/$tag.jsonl" \
                --save "$out/$tag.safetensors" >"$out/$tag.txt"
            acc=$(accuracy_of "$out/$tag.txt")
            row="| \`$spec\` | $lr | $data | $norm | $acc% |"
            if [ $with_torch = 1 ]; then
                [ "$reuse" = 1 ] && [ -s "$out/$tag.torch.json" ] ||
                /usr/bin/python3 bench/torch_train.py --arch "@examples/specs/$spec.arch" \
                    --norm "$norm" --epochs 1 --batch 128 --lr "$lr" --momentum 0.9 --seed 0 \
                    --threads "$threads" --data "$dir" >"$out/$tag.torch.json"
                torch=$(/usr/bin/python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["epochs"][-1]; print("%.2f%%" % (100*e["test_accuracy"]))' "$out/$tag.torch.json")
                row="$row $torch |"
            fi
            echo "$row" >>"$table"
        done
    done
done

{
    echo "# Each normalisation on two models and two data sets, normgrad and PyTorch"
    echo
    echo "Made by \`scripts/norm-accuracy.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), normgrad $commit, PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), $threads threads."
    echo
    echo "Protocol, the same for both: one epoch, batch 128, SGD momentum 0.9 at the row's lr, each framework's"
    echo "default initialisation (PyTorch's), input standardised with MNIST's mean and deviation, seed 0"
    echo "(each framework draws its own weights and data order from it). Models: \`resnet-mnist\` is"
    echo "\`examples/specs/resnet-mnist.arch\` (conv3x3:32, one residual block of two 3x3 convolutions, global"
    echo "average pooling), \`resmlp20\` is \`examples/specs/resmlp20.arch\` (20 dense layers of 128, nine"
    echo "residual blocks); \`norm\` is each row's normalisation. (Speed is the benchmark's subject,"
    echo "bench/results-KIND.md; these runs shared the machine with other work.)"
    echo
    cat "$table"
} >docs/results/norm-accuracy.md

# The README's copy, between its markers.
/usr/bin/python3 - <<'EOF'
import re
readme = open("README.md").read()
table = open("runs/norm-accuracy/table.md").read()
begin, end = "<!-- norm-accuracy begin -->\n", "<!-- norm-accuracy end -->"
a, b = readme.index(begin) + len(begin), readme.index(end)
open("README.md", "w").write(readme[:a] + table + readme[b:])
EOF
cat docs/results/norm-accuracy.md
