#!/usr/bin/env bash
# The code an AVX2-only processor runs, against the version before the AVX-512 work: on this
# machine, normgrad with NORMGRAD_ISA=avx2 NORMGRAD_GEMM=openblas OPENBLAS_CORETYPE=Haswell (the
# AVX2 builds of the kernels, OpenBLAS held to its AVX2 kernels) against COMMIT (default a4bc123,
# whose kernels were AVX2 at most and whose GEMM was OpenBLAS) under OPENBLAS_CORETYPE=Haswell,
# each with its own defaults otherwise. The cnn with BatchNorm for 100 steps and the mlp with
# BatchNorm for 300, at 1 and 2 threads, alternated, the median of three runs each.
# COMMIT is built in runs/avx2-paths/COMMIT (a git worktree; OLD_NORMGRAD=PATH uses a binary
# built elsewhere). Writes docs/results/avx2-paths.md.
# Usage: bench/avx2_paths.sh [COMMIT]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. "$root/bench/timing.sh"
commit="${1:-a4bc123}"
dir=runs/avx2-paths
mkdir -p "$dir" docs/results
old="$(old_normgrad bench/avx2_paths.sh "$commit" "$dir")"
train() {  # binary model steps threads -> seconds of the training loop
    local bin="$1"
    shift
    env OPENBLAS_CORETYPE=Haswell NORMGRAD_ISA=avx2 NORMGRAD_GEMM=openblas OMP_NUM_THREADS="$3" \
        "$bin" train --model "$1" --batchnorm on --epochs 1 --max-steps "$2" --threads "$3" \
        --grad-stats off --no-progress --data data/mnist --log "$dir/log.jsonl" \
        --checkpoint "$dir/ck" >/dev/null 2>&1
    epoch_seconds "$dir/log.jsonl"
}
rows=()
for m in "cnn 100" "mlp 300"; do
    set -- $m
    for t in 1 2; do
        a=() b=()
        for _ in 1 2 3; do
            a+=("$(train "$old" "$1" "$2" "$t")")
            b+=("$(train build/normgrad "$1" "$2" "$t")")
        done
        ma=$(median "${a[@]}") mb=$(median "${b[@]}")
        rows+=("| $1+BN | $2 | $t | $ma | $mb | $(ratio "$mb" "$ma") |")
    done
done
{
    echo "# The AVX2 code paths against normgrad $commit"
    echo
    echo "Made by \`bench/avx2_paths.sh $commit\` on $(cpu_model):"
    echo "seconds of the training loop, the median of three alternated runs; this version with"
    echo "NORMGRAD_ISA=avx2 NORMGRAD_GEMM=openblas, both with OPENBLAS_CORETYPE=Haswell."
    echo
    echo "| model | steps | threads | $commit s | this version s | ratio |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >docs/results/avx2-paths.md
cat docs/results/avx2-paths.md
