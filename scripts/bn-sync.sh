#!/usr/bin/env bash
# What per-rank BatchNorm statistics cost, measured with real ranks: the mlp with BatchNorm
# trained one epoch of MNIST at a fixed global batch of 64 (--drop-last: the last batch of 32 would
# leave 32 ranks 1 image each, which local statistics cannot take), on 2, 8 and 32 ranks (32, 8 and 2
# images per rank) with --bn-sync global (SyncBatchNorm) and --bn-sync local, against one
# process at batch 64. Writes docs/results/bn-sync.md: per run, the test accuracy, the epoch's
# training loss and the median gradient norm over its steps (from the log).
# The ranks oversubscribe the cores (mpirun --oversubscribe, one thread each, yielding when
# idle), so this is slow on a small machine (some minutes on 2 cores) but measures what the
# ranks compute, not their speed.
# Usage: scripts/bn-sync.sh [RANKS...]   (default: 2 8 32)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/scripts/build.sh" release normgrad_cli >/dev/null
"$root/data/fetch_mnist.sh" >/dev/null
ranks=("$@")
[ ${#ranks[@]} -gt 0 ] || ranks=(2 8 32)
batch=64
dir=runs/bn-sync
mkdir -p "$dir" docs/results
mpirun=(mpirun --allow-run-as-root --oversubscribe --mca mpi_yield_when_idle 1 -x OMP_NUM_THREADS=1)
common=(--model mlp --batchnorm on --batch "$batch" --drop-last --seed 0 --threads 1 --no-progress)

./build/normgrad train "${common[@]}" --log "$dir/one.jsonl" --checkpoint "$dir/one.ck" >/dev/null
for n in "${ranks[@]}"; do
    for mode in global local; do
        echo "scripts/bn-sync.sh: $n ranks, --bn-sync $mode" >&2
        "${mpirun[@]}" -np "$n" ./build/normgrad train "${common[@]}" --bn-sync "$mode" \
            --log "$dir/$n-$mode.jsonl" --checkpoint "$dir/$n-$mode.ck" >/dev/null
    done
done

/usr/bin/python3 - "$dir" "$batch" "${ranks[@]}" >docs/results/bn-sync.md <<'PY'
import json, statistics, subprocess, sys
dir_, batch, ranks = sys.argv[1], int(sys.argv[2]), [int(r) for r in sys.argv[3:]]
def summary(path):
    steps, epoch = [], None
    for line in open(path):
        r = json.loads(line)
        if r.get("type") == "step":
            steps.append(r["grad_norm"])
        elif r.get("type") == "epoch":
            epoch = r
    return epoch["test_accuracy"], epoch["train_loss"], statistics.median(steps)
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                        text=True).stdout.strip()
print("# BatchNorm's statistics across ranks: global (SyncBatchNorm) against local")
print()
print(f"scripts/bn-sync.sh at {commit}: the mlp with BatchNorm, one epoch of MNIST at a global "
      f"batch of {batch} with --drop-last (SGD lr 0.05, momentum 0.9, seed 0), every run from the same weights "
      "and data order.")
print()
print("| run | images per rank | test accuracy | epoch train loss | median grad norm |")
print("|---|---:|---:|---:|---:|")
acc, loss, g = summary(f"{dir_}/one.jsonl")
print(f"| 1 process | {batch} | {100 * acc:.2f}% | {loss:.4f} | {g:.4f} |")
for n in ranks:
    for mode in ("global", "local"):
        acc, loss, g = summary(f"{dir_}/{n}-{mode}.jsonl")
        print(f"| {n} ranks, --bn-sync {mode} | {batch // n} | {100 * acc:.2f}% | {loss:.4f} | "
              f"{g:.4f} |")
PY
cat docs/results/bn-sync.md
