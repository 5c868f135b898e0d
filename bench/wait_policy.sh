#!/usr/bin/env bash
# What waiting OpenMP threads cost on a busy machine: `normgrad train --threads 2` (the mlp for
# 300 steps, the cnn with BatchNorm for 30) as the command line runs it by default (OMP_WAIT_POLICY
# unset: libgomp's spin-then-sleep, and --adapt-threads on, fewer threads while other processes
# keep the cores busy; examples/cli/wait_policy.hpp), and with --adapt-threads off and
# OMP_WAIT_POLICY=ACTIVE (waiting threads spin) or PASSIVE (they sleep at once), on an idle
# machine and beside one busy process (a shell loop taking one core), against --threads 1 under
# the same load. Writes docs/results/wait-policy.md, or OUT.
# Usage: bench/wait_policy.sh [OUT]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. "$root/bench/timing.sh"
out="${1:-docs/results/wait-policy.md}"
"$root/scripts/build.sh" release normgrad_cli >/dev/null
"$root/data/fetch_mnist.sh" >/dev/null
dir=runs/wait-policy
mkdir -p "$dir" "$(dirname "$out")"
train() {  # model bn steps threads policy -> seconds of the training loop
    # policy: ACTIVE or PASSIVE (a fixed thread count), or adapt (the default: neither set)
    local env=(env -u OMP_WAIT_POLICY) flags=()
    [ "$5" = adapt ] || env+=(OMP_WAIT_POLICY="$5")
    [ "$5" = adapt ] || [ "$4" = 1 ] || flags=(--adapt-threads off)
    "${env[@]}" OMP_NUM_THREADS="$4" build/normgrad train --model "$1" --batchnorm "$2" \
        --epochs 1 --max-steps "$3" --threads "$4" --grad-stats off --no-progress \
        "${flags[@]}" --log "$dir/log.jsonl" --checkpoint "$dir/ck" >/dev/null 2>&1
    epoch_seconds "$dir/log.jsonl"
}
trap stop_busy EXIT
rows=()
for load in idle busy; do
    [ "$load" = busy ] && start_busy
    for m in "mlp off 300" "cnn on 30"; do
        set -- $m
        d=() a=() p=() one=()
        for _ in 1 2 3 4 5; do  # alternated, the median of five
            d+=("$(train "$1" "$2" "$3" 2 adapt)")
            a+=("$(train "$1" "$2" "$3" 2 ACTIVE)")
            p+=("$(train "$1" "$2" "$3" 2 PASSIVE)")
            one+=("$(train "$1" "$2" "$3" 1 PASSIVE)")
        done
        rows+=("| $1$([ "$2" = on ] && echo +BN) | $3 | $load | $(median "${d[@]}") | $(median "${a[@]}") | $(median "${p[@]}") | $(median "${one[@]}") |")
    done
    stop_busy
done
{
    echo "# Waiting OpenMP threads on an idle and a busy machine"
    echo
    echo "Made by \`bench/wait_policy.sh\` on $(cpu_model), $(nproc) cores."
    echo "Seconds of the training loop, the median of five runs (alternated); busy: one other"
    echo "process spinning on one core. Default: OMP_WAIT_POLICY unset and --adapt-threads on;"
    echo "ACTIVE and PASSIVE: that OMP_WAIT_POLICY and --adapt-threads off."
    echo
    echo "| model | steps | machine | 2 threads default s | 2 threads ACTIVE s | 2 threads PASSIVE s | 1 thread s |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$out.tmp"
mv "$out.tmp" "$out"  # never a half-written table
cat "$out"
