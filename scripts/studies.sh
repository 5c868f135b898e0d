#!/usr/bin/env bash
# Runs the BatchNorm lab's studies (`normgrad study NAME`) on the real data and writes each one's
# table, CSV, report and charts into docs/results/study-NAME/, where docs/studies/NAME.md quotes
# them (tests/test_docs.cpp checks the quotes against those files).
# Usage: scripts/studies.sh [NAME ...]   (default: every study)
# Each study is also the single command it prints before it runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# The batch-size study runs on Fashion-MNIST too (Debian's dataset-fashion-mnist).
"$root/scripts/install-deps.sh" dataset-fashion-mnist >/dev/null
"$root/scripts/build.sh" release normgrad_cli >/dev/null
"$root/data/fetch_mnist.sh" >/dev/null
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(depth batch-size lr ioffe-figure1)
for name in "${names[@]}"; do
    cmd=(./build/normgrad study "$name" --threads 2 --seed 0 --no-progress
         --out "docs/results/study-$name")
    echo "== ${cmd[*]}"
    "${cmd[@]}"
done
