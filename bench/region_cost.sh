#!/usr/bin/env bash
# What an OpenMP parallel region costs on this machine when waiting threads spin (ACTIVE) and
# when they sleep (PASSIVE, the command line's default): build/bench/region_cost under both,
# the median of three runs of each. The thresholds of src/kernels/parallel.hpp come from it.
# Writes OUT (default docs/results/region-cost.md), never half-written.
# Usage: bench/region_cost.sh [OUT]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="${1:-docs/results/region-cost.md}"
"$root/scripts/build.sh" release region_cost >/dev/null
mkdir -p "$(dirname "$out")"
rows=()
for policy in ACTIVE PASSIVE; do
    runs=()
    for _ in 1 2 3; do runs+=("$(OMP_WAIT_POLICY=$policy build/bench/region_cost)"); done
    # Per size, the run whose two-thread time is the median of the three.
    while IFS= read -r row; do rows+=("$row"); done < <(
        printf '%s\n' "${runs[@]}" | /usr/bin/python3 -c '
import sys
rows = {}
for line in sys.stdin:
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    rows.setdefault(int(cells[1]), []).append(cells)
for n in sorted(rows):
    r = sorted(rows[n], key=lambda c: float(c[3]))[len(rows[n]) // 2]
    print("| " + " | ".join(r) + " |")
')
done
{
    echo "# What a parallel region costs"
    echo
    echo "Made by \`bench/region_cost.sh\` at $(git rev-parse --short HEAD) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores."
    echo "Microseconds per elementwise loop (y = max(x, 0)) over N floats, on one thread and on two"
    echo "(a parallel region per loop); of three runs, the one with the median two-thread time."
    echo
    echo "| OMP_WAIT_POLICY | N floats | 1 thread us | 2 threads us |"
    echo "|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
