#!/usr/bin/env bash
# What the per-layer gradient statistics cost a training step, measured inside one process
# (build/bench/grad_stats_cost: blocks of steps with them on and off alternate in one run, each
# step timed), for each model of LIST, RUNS runs each (default 3), at one thread. The mlp models
# run 3000 steps in blocks of 20, the cnn models 469 (an epoch) in blocks of 10.
# With --against COMMIT, that commit's grad_stats_cost (built in runs/vs-commit/COMMIT, a git
# worktree) runs too, the two builds alternated run by run.
# LIST (comma-separated, default mlp,mlp-bn,cnn,cnn-bn). Writes OUT (default
# docs/results/grad-stats-cost.md, or docs/results/grad-stats-cost-vs-COMMIT.md with --against),
# never half-written.
# Usage: bench/grad_stats_cost.sh [--runs N] [--models LIST] [--against COMMIT] [OUT]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. "$root/bench/timing.sh"
script=bench/grad_stats_cost.sh
runs=3 list=mlp,mlp-bn,cnn,cnn-bn against= options=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs | --models | --against)
            [ $# -ge 2 ] || { echo "$script: $1 needs a value" >&2; exit 2; }
            options+=("$1" "$2")
            case "$1" in
                --runs) runs="$2" ;;
                --models) list="$2" ;;
                --against) against="$2" ;;
            esac
            shift 2
            ;;
        -*) echo "$script: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -le 1 ] || { echo "usage: $script [--runs N] [--models LIST] [--against COMMIT] [OUT]" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "$script: --runs must be a positive whole number, not '$runs'" >&2; exit 2; }
model_args() {  # model -> its name in the table | the tool's arguments
    case "$1" in
        mlp) echo "mlp|--model mlp --batchnorm off --steps 3000 --block 20" ;;
        mlp-bn) echo "mlp+BN|--model mlp --batchnorm on --steps 3000 --block 20" ;;
        cnn) echo "cnn|--model cnn --batchnorm off --steps 469 --block 10" ;;
        cnn-bn) echo "cnn+BN|--model cnn --batchnorm on --steps 469 --block 10" ;;
        *) return 1 ;;
    esac
}
models=()
IFS=, read -r -a names <<<"$list"
for m in "${names[@]}"; do
    entry=$(model_args "$m") ||
        { echo "$script: unknown model '$m' in --models (expected mlp, mlp-bn, cnn or cnn-bn)" >&2; exit 2; }
    models+=("$entry")
done
[ ${#models[@]} -gt 0 ] || { echo "$script: --models is empty" >&2; exit 2; }
if [ -n "$against" ]; then
    git rev-parse --verify --quiet "$against^{commit}" >/dev/null ||
        { echo "$script: $against is not a commit of this repository" >&2; exit 2; }
fi
out="${1:-docs/results/grad-stats-cost${against:+-vs-$against}.md}"
mkdir -p "$(dirname "$out")" runs/vs-commit
scripts/build.sh release grad_stats_cost >/dev/null
data/fetch_mnist.sh >/dev/null
builds=("this|build/bench/grad_stats_cost")
if [ -n "$against" ]; then
    src=runs/vs-commit/$against
    [ -d "$src" ] || git worktree add --detach "$src" "$against" >/dev/null
    (cd "$src" && cmake --preset release -DNORMGRAD_BUILD_TESTS=OFF -DNORMGRAD_BUILD_BENCH=ON \
        >/dev/null && cmake --build build --target grad_stats_cost >/dev/null)
    [ -x "$src/build/bench/grad_stats_cost" ] ||
        { echo "$script: $against has no bench/grad_stats_cost to build" >&2; exit 2; }
    builds+=("$against|$src/build/bench/grad_stats_cost")
fi
cost() {  # binary args... -> "cost q1 q3" in percent
    OMP_NUM_THREADS=1 "$@" --threads 1 --data data/mnist | /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
off = d["seconds_off"]
print(" ".join(f"{100 * d[k]:+.1f}" for k in ("cost", "pair_cost_q1", "pair_cost_q3")),
      f"{1e3 * off:.3f}")'
}
rows=()
for entry in "${models[@]}"; do
    name="${entry%%|*}"
    read -r -a args <<<"${entry#*|}"
    declare -A all=()
    for r in $(seq 1 "$runs"); do
        for b in "${builds[@]}"; do
            label="${b%%|*}" bin="${b#*|}"
            read -r c q1 q3 ms < <(cost "$bin" "${args[@]}")
            echo "$script: $name, $label, run $r: $c% (pairs of blocks $q1% to $q3%), ${ms} ms a step off" >&2
            all[$label]+="$c "
            rows+=("| $name | $label | $r | $ms | $c% | $q1% to $q3% |")
        done
    done
    for b in "${builds[@]}"; do
        label="${b%%|*}"
        read -r -a cs <<<"${all[$label]}"
        med=$(printf '%s\n' "${cs[@]}" | sort -g | sed -n "$(((${#cs[@]} + 1) / 2))p")
        rows+=("| $name | $label | median | | **$med%** | |")
    done
    unset all
done
{
    echo "# What the gradient statistics cost a step, in one process"
    echo
    echo "Made by \`$script${options[*]:+ ${options[*]}}\` at $(git rev-parse --short HEAD) on $(cpu_model), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M') UTC."
    echo "Each run is one process of build/bench/grad_stats_cost at one thread: blocks of steps with the"
    echo "statistics on and off alternated (off, on, on, off, ...), each step timed. Cost: mean step time"
    echo "on / off - 1; the quartiles of that ratio over the pairs of neighbouring blocks beside it."
    echo "\"this\" is the build at the commit above$( [ -n "$against" ] && echo "; $against the build at that commit, run by run alternated with it")."
    echo
    echo "| model | build | run | ms a step, off | cost | pairs of blocks, quartiles |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
