#!/usr/bin/env bash
# Which build of each of normgrad's kernels runs fastest on this processor: the cnn with BatchNorm
# trained for 100 steps at one thread under `perf record`, once with NORMGRAD_ISA=avx2 and once
# with NORMGRAD_ISA=avx512 (each kernel's AVX-512 slot as built: 512-bit vectors, or the AVX2 code
# where src/kernels/isa.hpp's NORMGRAD_KERNEL_AVX2_ON_AVX512 says so), and perf's samples per
# kernel (1,000 a second of CPU time) set side by side, three runs of each alternated.
# Writes docs/results/kernel-builds.md.
# Needs linux-perf and a processor with AVX-512. (To re-measure the choice of AVX2 code for a
# kernel's AVX-512 slot, change its NORMGRAD_KERNEL_AVX2_ON_AVX512 to NORMGRAD_KERNEL and rerun.)
# Usage: bench/kernel_builds.sh [STEPS]   (default 100)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
steps="${1:-100}"
"$root/scripts/install-deps.sh" linux-perf
"$root/scripts/build.sh" release normgrad_cli >/dev/null
"$root/data/fetch_mnist.sh" >/dev/null
dir=runs/kernel-builds
mkdir -p "$dir" docs/results
# Three runs of each, alternated (one run's samples of a kernel move by up to 30% here).
for isa in avx2 avx512; do : >"$dir/$isa.txt" && : >"$dir/$isa.jsonl"; done
for run in 1 2 3; do
    for isa in avx2 avx512; do
        NORMGRAD_ISA=$isa OMP_NUM_THREADS=1 perf record -q -F 1000 -o "$dir/$isa.perf" \
            build/normgrad train --model cnn --batchnorm on --epochs 1 --max-steps "$steps" \
            --threads 1 --grad-stats off --no-progress --log "$dir/$isa-$run.jsonl" \
            --checkpoint "$dir/$isa.ck" >/dev/null 2>&1
        perf report -q -i "$dir/$isa.perf" -n --no-children --sort symbol 2>/dev/null \
            >>"$dir/$isa.txt"
        cat "$dir/$isa-$run.jsonl" >>"$dir/$isa.jsonl"
    done
done
/usr/bin/python3 - "$dir" "$steps" >docs/results/kernel-builds.md.tmp <<'PY'
import json, re, sys
d, steps = sys.argv[1], sys.argv[2]
def samples(isa):
    out = {}
    for line in open(f"{d}/{isa}.txt"):
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+\[\.\]\s+(.*\S)", line)
        if not m:
            continue
        name = re.sub(r"\s+-\s+-$", "", m.group(2)).strip()
        name = re.sub(r"_(avx2|avx512|baseline)\b", "", name)
        name = re.sub(r"\(anonymous namespace\)::", "", name)
        name = re.sub(r"normgrad::(kernels::)?(bn::)?", "", name)
        name = re.sub(r"\{lambda\(long\)#1\}>.*", "}", name)
        out[name] = out.get(name, 0) + int(m.group(1))
    return out
def seconds(isa):  # the median of the three runs
    t = sorted(json.loads(l)["train_seconds"] for l in open(f"{d}/{isa}.jsonl")
               if '"type":"epoch"' in l)
    return t[len(t) // 2]
a, b = samples("avx2"), samples("avx512")
print("# normgrad's kernels: AVX2 build against AVX-512 build\n")
print(f"Made by `bench/kernel_builds.sh {steps}`: the cnn with BatchNorm, {steps} steps at one thread, "
      "three runs of each build alternated; median train time "
      f"{seconds('avx2'):.2f} s with NORMGRAD_ISA=avx2 and {seconds('avx512'):.2f} s "
      "with NORMGRAD_ISA=avx512; perf samples per kernel summed over the runs (the 12 largest):\n")
print("| kernel | avx2 samples | avx512 samples | avx512 / avx2 |")
print("|---|---|---|---|")
for name in sorted(a, key=lambda n: -a[n])[:12]:
    print(f"| {name} | {a[name]} | {b.get(name, 0)} | {b.get(name, 0) / a[name]:.2f} |")
PY
mv docs/results/kernel-builds.md.tmp docs/results/kernel-builds.md
cat docs/results/kernel-builds.md
