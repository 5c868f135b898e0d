#!/usr/bin/env bash
# The code an AVX2-only processor runs, against the version before the AVX-512 work: on this
# machine, normgrad with NORMGRAD_ISA=avx2 NORMGRAD_GEMM=openblas OPENBLAS_CORETYPE=Haswell (the
# AVX2 builds of the kernels, OpenBLAS held to its AVX2 kernels) against COMMIT (default a4bc123,
# whose kernels were AVX2 at most and whose GEMM was OpenBLAS) under OPENBLAS_CORETYPE=Haswell,
# each with its own defaults otherwise. The cnn and the mlp, each without and with BatchNorm, the
# cnn's for 100 steps and the mlp's for 300, at 1 and 2 threads, alternated, the median of three
# runs each.
# COMMIT is built in runs/avx2-paths/COMMIT (a git worktree; OLD_NORMGRAD=PATH uses a binary
# built elsewhere). Writes OUT (default docs/results/avx2-paths.md), never half-written. On a
# processor without AVX-512 the variables ask for what this version would choose there anyway.
# Usage: bench/avx2_paths.sh [COMMIT [OUT]]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. "$root/bench/timing.sh"
commit="${1:-a4bc123}"
out="${2:-docs/results/avx2-paths.md}"
dir=runs/avx2-paths
mkdir -p "$dir" "$(dirname "$out")"
old="$(old_normgrad bench/avx2_paths.sh "$commit" "$dir")"
train() {  # binary model batchnorm steps threads -> seconds of the training loop
    local bin="$1"
    shift
    env OPENBLAS_CORETYPE=Haswell NORMGRAD_ISA=avx2 NORMGRAD_GEMM=openblas OMP_NUM_THREADS="$4" \
        "$bin" train --model "$1" --batchnorm "$2" --epochs 1 --max-steps "$3" --threads "$4" \
        --grad-stats off --no-progress --data data/mnist --log "$dir/log.jsonl" \
        --checkpoint "$dir/ck" >/dev/null 2>&1
    epoch_seconds "$dir/log.jsonl"
}
rows=()
for m in "cnn off 100" "cnn on 100" "mlp off 300" "mlp on 300"; do
    set -- $m
    name="$1"
    [ "$2" = off ] || name+="+BN"
    for t in 1 2; do
        a=() b=()
        for _ in 1 2 3; do
            a+=("$(train "$old" "$1" "$2" "$3" "$t")")
            b+=("$(train build/normgrad "$1" "$2" "$3" "$t")")
        done
        ma=$(median "${a[@]}") mb=$(median "${b[@]}")
        rows+=("| $name | $3 | $t | $ma | $mb | $(ratio "$mb" "$ma") |")
    done
done
{
    echo "# The AVX2 code paths against normgrad $commit"
    echo
    made="bench/avx2_paths.sh $commit"
    [ "$out" = docs/results/avx2-paths.md ] || made+=" $out"
    echo "Made by \`$made\` on $(cpu_model) ($(cpu_flags_line)):"
    echo "seconds of the training loop, the median of three alternated runs; this version with"
    echo "NORMGRAD_ISA=avx2 NORMGRAD_GEMM=openblas, both with OPENBLAS_CORETYPE=Haswell."
    echo
    echo "| model | steps | threads | $commit s | this version s | ratio |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
