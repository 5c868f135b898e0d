#!/usr/bin/env bash
# This version against an earlier one at two threads, on an idle machine and beside one busy
# process (a shell loop taking one core, as bench/wait_policy.sh): `normgrad train --threads 2`
# with the command line's default waiting (OMP_WAIT_POLICY unset: PASSIVE until a52394a, since
# then libgomp's default with --adapt-threads on; examples/cli/wait_policy.hpp), the mlp and the
# mlp with BatchNorm for 300 steps, the cnn with BatchNorm and the LayerNorm ResNet for 30; the
# two builds alternated, the median of five runs each, and this version at one thread under the
# same load for reference. For changes to when loops use the second thread
# (src/kernels/parallel.hpp) and to how threads wait.
# COMMIT is built in runs/vs-commit/COMMIT (a git worktree; OLD_NORMGRAD=PATH uses a binary built
# elsewhere). Writes OUT (default docs/results/threads-vs-COMMIT.md), never half-written.
# Usage: bench/threads_vs_commit.sh COMMIT [OUT]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. "$root/bench/timing.sh"
vs_commit_setup bench/threads_vs_commit.sh threads "$@"
train() {  # binary threads steps model-arguments... -> seconds of the training loop
    local bin="$1" threads="$2" steps="$3"
    shift 3
    env -u OMP_WAIT_POLICY OMP_NUM_THREADS="$threads" "$bin" train "$@" --epochs 1 \
        --max-steps "$steps" --threads "$threads" --grad-stats off --no-progress --data data/mnist \
        --log "$dir/log.jsonl" --checkpoint "$dir/ck" >/dev/null 2>&1
    epoch_seconds "$dir/log.jsonl"
}
models=(
    "mlp|300|--model mlp --batchnorm off"
    "mlp+BN|300|--model mlp --batchnorm on"
    "cnn+BN|30|--model cnn --batchnorm on"
    "ResNet, LayerNorm|30|--arch @examples/specs/resnet-mnist.arch --norm layer"
)
trap stop_busy EXIT
rows=()
for load in idle busy; do
    [ "$load" = busy ] && start_busy
    for m in "${models[@]}"; do
        IFS='|' read -r name steps args <<<"$m"
        a=() b=() one=()
        for _ in 1 2 3 4 5; do
            # shellcheck disable=SC2086
            a+=("$(train "$old" 2 "$steps" $args)")
            # shellcheck disable=SC2086
            b+=("$(train build/normgrad 2 "$steps" $args)")
            # shellcheck disable=SC2086
            one+=("$(train build/normgrad 1 "$steps" $args)")
        done
        ma=$(median "${a[@]}") mb=$(median "${b[@]}")
        rows+=("| $name | $steps | $load | $ma | $mb | $(ratio "$mb" "$ma") | $(median "${one[@]}") |")
    done
    stop_busy
done
{
    echo "# Two threads against normgrad $commit"
    echo
    echo "Made by \`bench/threads_vs_commit.sh $commit\` at $(git rev-parse --short HEAD) on"
    echo "$(cpu_model), $(nproc) cores: seconds of the training loop, the median of five"
    echo "alternated runs, with the command line's default waiting (OMP_WAIT_POLICY unset: PASSIVE"
    echo "before a52394a, libgomp's default and --adapt-threads on since); busy: one other process"
    echo "spinning on one core."
    echo
    echo "| model | steps | machine | 2 threads, $commit s | 2 threads, this version s | ratio | 1 thread, this version s |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$out.tmp"
mv "$out.tmp" "$out"  # never a half-written table
cat "$out"
