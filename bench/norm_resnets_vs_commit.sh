#!/usr/bin/env bash
# This version against an earlier one on the ResNet of examples/specs/resnet-mnist.arch, under no
# normalisation, LayerNorm and GroupNorm with 4 groups: `normgrad train` for 150 steps at 1 and 2
# threads, the two builds alternated, the median of three runs each, on the same machine and
# with the same defaults (for a change to the normalisations, whose effect the benchmark against
# PyTorch measures only through a ratio that moves with PyTorch's own times).
# COMMIT is built in runs/vs-commit/COMMIT (a git worktree; OLD_NORMGRAD=PATH uses a binary built
# elsewhere). Writes OUT (default docs/results/norm-resnets-vs-COMMIT.md), never half-written.
# Usage: bench/norm_resnets_vs_commit.sh COMMIT [OUT]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. "$root/bench/timing.sh"
vs_commit_setup bench/norm_resnets_vs_commit.sh norm-resnets "$@"
steps=150
train() {  # binary norm threads -> seconds of the training loop
    OMP_NUM_THREADS="$3" "$1" train --arch @examples/specs/resnet-mnist.arch --norm "$2" \
        --epochs 1 --max-steps "$steps" --threads "$3" --grad-stats off --no-progress \
        --data data/mnist --log "$dir/log.jsonl" --checkpoint "$dir/ck" >/dev/null 2>&1
    epoch_seconds "$dir/log.jsonl"
}
rows=()
for norm in none layer group:4; do
    for t in 1 2; do
        a=() b=()
        for _ in 1 2 3; do
            a+=("$(train "$old" "$norm" "$t")")
            b+=("$(train build/normgrad "$norm" "$t")")
        done
        ma=$(median "${a[@]}") mb=$(median "${b[@]}")
        rows+=("| $norm | $t | $ma | $mb | $(ratio "$mb" "$ma") |")
    done
done
{
    echo "# The normalised ResNets against normgrad $commit"
    echo
    echo "Made by \`bench/norm_resnets_vs_commit.sh $commit\` at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include layers optim train examples || echo ' with uncommitted changes') on"
    echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores: seconds of the training loop of"
    echo "\`--arch @examples/specs/resnet-mnist.arch\` for $steps steps, the median of three alternated runs."
    echo
    echo "| --norm | threads | $commit s | this version s | ratio |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
