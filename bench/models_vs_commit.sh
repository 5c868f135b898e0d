#!/usr/bin/env bash
# This version against an earlier one on the benchmark's convolutional models, for a change to
# the engine or to operations they use: `normgrad train` for STEPS steps (default 100) of each
# model of LIST, at 1 and 2 threads (--adapt-threads off, so both builds keep the count), the two
# builds alternated, the median of three runs each; and each build's largest peak resident memory
# over its runs of the model (GNU time's %M).
# LIST (comma-separated, default cnn,cnn-bn,resnet-none,resnet-batch,resnet-layer): cnn and
# cnn-bn, the cnn without and with BatchNorm; resnet-none, resnet-batch, resnet-layer,
# resnet-group4, the ResNet of examples/specs/resnet-mnist.arch under --norm none, batch, layer
# and group:4.
# COMMIT is built in runs/vs-commit/COMMIT (a git worktree; OLD_NORMGRAD=PATH uses a binary built
# elsewhere). Writes OUT (default docs/results/models-vs-COMMIT.md), never half-written.
# Usage: bench/models_vs_commit.sh [--models LIST] [--steps STEPS] COMMIT [OUT]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. "$root/bench/timing.sh"
list=cnn,cnn-bn,resnet-none,resnet-batch,resnet-layer
steps=100
options=()  # as given, for the report's "Made by" line
while [ $# -gt 0 ]; do
    case "$1" in
        --models | --steps)
            [ $# -ge 2 ] || { echo "bench/models_vs_commit.sh: $1 needs a value" >&2; exit 2; }
            options+=("$1" "$2")
            if [ "$1" = --models ]; then list="$2"; else steps="$2"; fi
            shift 2
            ;;
        -*) echo "bench/models_vs_commit.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[[ "$steps" =~ ^[1-9][0-9]*$ ]] ||
    { echo "bench/models_vs_commit.sh: --steps must be a positive whole number, not '$steps'" >&2; exit 2; }
resnet="--arch @examples/specs/resnet-mnist.arch --norm"
model_args() {  # model -> its name in the table and its arguments of `normgrad train`
    case "$1" in
        cnn) echo "cnn|--model cnn --batchnorm off" ;;
        cnn-bn) echo "cnn+BN|--model cnn --batchnorm on" ;;
        resnet-none) echo "ResNet, none|$resnet none" ;;
        resnet-batch) echo "ResNet, BatchNorm|$resnet batch" ;;
        resnet-layer) echo "ResNet, LayerNorm|$resnet layer" ;;
        resnet-group4) echo "ResNet, GroupNorm 4|$resnet group:4" ;;
        *) return 1 ;;
    esac
}
models=()
IFS=, read -r -a names <<<"$list"
for m in "${names[@]}"; do
    entry=$(model_args "$m") || {
        echo "bench/models_vs_commit.sh: unknown model '$m' in --models (expected cnn, cnn-bn," \
            "resnet-none, resnet-batch, resnet-layer or resnet-group4)" >&2
        exit 2
    }
    models+=("$entry")
done
[ ${#models[@]} -gt 0 ] || { echo "bench/models_vs_commit.sh: --models is empty" >&2; exit 2; }
[ -x /usr/bin/time ] || scripts/install-deps.sh time
vs_commit_setup bench/models_vs_commit.sh models "$@"
train() {  # binary threads model-arguments... -> seconds of the training loop (peak KB: time.txt)
    local bin="$1" threads="$2" fixed=()
    shift 2
    [ "$threads" -gt 1 ] && fixed=(--adapt-threads off)
    OMP_NUM_THREADS="$threads" /usr/bin/time -f %M -o "$dir/time.txt" "$bin" train "$@" \
        --epochs 1 --max-steps "$steps" --threads "$threads" "${fixed[@]}" --grad-stats off \
        --no-progress --data data/mnist --log "$dir/log.jsonl" --checkpoint "$dir/ck" \
        >"$dir/out.txt" 2>&1 || { cat "$dir/out.txt" >&2; return 1; }
    epoch_seconds "$dir/log.jsonl"
}
peak() {  # KB so far -> the larger of it and the last run's
    local kb
    kb=$(tail -1 "$dir/time.txt")
    echo $((kb > $1 ? kb : $1))
}
rows=()
for entry in "${models[@]}"; do
    name="${entry%%|*}"
    read -r -a args <<<"${entry#*|}"
    for t in 1 2; do
        a=() b=() ra=0 rb=0
        for _ in 1 2 3; do
            a+=("$(train "$old" "$t" "${args[@]}")")
            ra=$(peak "$ra")
            b+=("$(train build/normgrad "$t" "${args[@]}")")
            rb=$(peak "$rb")
        done
        ma=$(median "${a[@]}") mb=$(median "${b[@]}")
        rows+=("| $name | $t | $ma | $mb | $(ratio "$mb" "$ma") | $((ra / 1024)) | $((rb / 1024)) |")
    done
done
{
    echo "# The convolutional models against normgrad $commit"
    echo
    echo "Made by \`bench/models_vs_commit.sh ${options[*]:+${options[*]} }$commit\` at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include layers optim train examples || echo ' with uncommitted changes') on"
    echo "$(cpu_model), $(nproc) cores: seconds of the training loop for $steps steps"
    echo "(batch 128, --adapt-threads off, --grad-stats off), the median of three alternated runs;"
    echo "peak RSS: the largest of the three runs, data loading and evaluation included."
    echo
    echo "| model | threads | $commit s | this version s | ratio | $commit peak MB | this version peak MB |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
