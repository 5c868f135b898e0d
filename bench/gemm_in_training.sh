#!/usr/bin/env bash
# OpenBLAS against oneDNN as normgrad's GEMM in training, on this machine: `normgrad train` for a
# number of steps of each model, at 1 and 2 threads, with NORMGRAD_GEMM=openblas and =onednn
# alternated, the median of three runs each (the same build, the same kernels otherwise). The
# measure behind the choice of library per kind of processor (src/kernels/gemm.cpp,
# default_library; docs/performance.md, section 1). Models: the four presets (100 steps of the cnn
# models, 300 of the mlp's) and the ResNet of examples/specs/resnet-mnist.arch without
# normalisation and with LayerNorm (100 steps). Writes OUT (default
# docs/results/gemm-in-training.md), never half-written.
# Usage: bench/gemm_in_training.sh [OUT]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. "$root/bench/timing.sh"
out="${1:-docs/results/gemm-in-training.md}"
dir=runs/gemm-in-training
mkdir -p "$dir" "$(dirname "$out")"
scripts/build.sh release normgrad_cli >/dev/null
data/fetch_mnist.sh >/dev/null
NORMGRAD_GEMM=onednn build/normgrad --version 2>/dev/null | grep -q 'GEMM onednn' ||
    { echo "bench/gemm_in_training.sh: this build has no oneDNN (libdnnl-dev)" >&2; exit 2; }
train() {  # library threads steps model-flags... -> seconds of the training loop
    local lib="$1" t="$2" steps="$3"
    shift 3
    env NORMGRAD_GEMM="$lib" OMP_NUM_THREADS="$t" build/normgrad train "$@" --epochs 1 \
        --max-steps "$steps" --threads "$t" --grad-stats off --no-progress --data data/mnist \
        --log "$dir/log.jsonl" --checkpoint "$dir/ck" >/dev/null 2>&1
    epoch_seconds "$dir/log.jsonl"
}
models=(
    "cnn|100|--model cnn --batchnorm off"
    "cnn+BN|100|--model cnn --batchnorm on"
    "mlp|300|--model mlp --batchnorm off"
    "mlp+BN|300|--model mlp --batchnorm on"
    "resnet none|100|--arch @examples/specs/resnet-mnist.arch --norm none"
    "resnet layer|100|--arch @examples/specs/resnet-mnist.arch --norm layer"
)
rows=()
for m in "${models[@]}"; do
    IFS='|' read -r name steps flags <<<"$m"
    for t in 1 2; do
        a=() b=()
        for _ in 1 2 3; do
            # shellcheck disable=SC2086  # flags: several words
            a+=("$(train openblas "$t" "$steps" $flags)")
            # shellcheck disable=SC2086
            b+=("$(train onednn "$t" "$steps" $flags)")
        done
        ma=$(median "${a[@]}") mb=$(median "${b[@]}")
        rows+=("| $name | $steps | $t | $ma | $mb | $(ratio "$mb" "$ma") |")
        echo "${rows[-1]}" >&2
    done
done
{
    echo "# OpenBLAS against oneDNN in training"
    echo
    made="bench/gemm_in_training.sh"
    [ "$out" = docs/results/gemm-in-training.md ] || made+=" $out"
    echo "Made by \`$made\` at $(git rev-parse --short HEAD) on $(cpu_model) ($(cpu_flags_line)):"
    echo "seconds of the training loop, the median of three alternated runs of the same build,"
    echo "\`$(NORMGRAD_GEMM=openblas build/normgrad --version | tail -1)\` against"
    echo "NORMGRAD_GEMM=onednn; OPENBLAS_CORETYPE ${OPENBLAS_CORETYPE:-unset}."
    echo
    echo "| model | steps | threads | OpenBLAS s | oneDNN s | oneDNN / OpenBLAS |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
