#!/usr/bin/env bash
# The choice of GEMM library, by measurement: the benchmark models' products (the im2col/dense
# shapes of build/bench/sgemm_ceiling) timed at one thread with every library Debian offers here:
# OpenBLAS held to its AVX2 kernels (OPENBLAS_CORETYPE=Haswell, as these machines export it),
# OpenBLAS with the kernels it picks for this processor (OPENBLAS_CORETYPE unset), oneDNN's
# sgemm and BLIS. Writes docs/results/gemm-libraries.md: per library and model, the sum of the
# products' median times scaled to one epoch, and GFLOP/s. Correctness of the libraries normgrad
# uses is tests/test_gemm_libraries.cpp's job; BLIS is measured only.
# Usage: bench/gemm_libraries.sh [--threads T]   (needs libdnnl-dev and libblis-dev)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
threads=1
[ "${1:-}" = "--threads" ] && threads="$2"
"$root/scripts/install-deps.sh" libdnnl-dev libblis-dev
"$root/scripts/build.sh" release sgemm_ceiling sgemm_ceiling_blis >/dev/null
out=docs/results/gemm-libraries.md
mkdir -p docs/results runs
raw=runs/gemm-libraries.jsonl
: >"$raw"
run() {  # label, command...
    local label="$1"
    shift
    env OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" "$@" --threads "$threads" |
        sed "s/^{/{\"label\":\"$label\",/" >>"$raw"
}
run "OpenBLAS, OPENBLAS_CORETYPE=Haswell" env OPENBLAS_CORETYPE=Haswell build/bench/sgemm_ceiling --library openblas
run "OpenBLAS, its own choice" env -u OPENBLAS_CORETYPE build/bench/sgemm_ceiling --library openblas
run "oneDNN" build/bench/sgemm_ceiling --library onednn
run "BLIS" build/bench/sgemm_ceiling_blis --library blis
/usr/bin/python3 - "$raw" "$threads" >"$out.tmp" <<'PY'
import json, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
threads = sys.argv[2]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
import os, re
env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
env["NORMGRAD_GEMM"] = "openblas"
version = subprocess.run(["build/normgrad", "--version"], capture_output=True, text=True,
                         env=env).stdout
core = re.search(r"GEMM openblas \((.*)\)", version)
print("# GEMM libraries on the benchmark's products\n")
print(f"Made by `bench/gemm_libraries.sh --threads {threads}` on {cpu}; OpenBLAS's own choice of "
      f"kernels there: {core.group(1) if core else 'unknown'}.")
print("Seconds per epoch of the products alone (60,000 images at batch 128), and GFLOP/s:\n")
print("| library | mlp s | mlp GFLOP/s | cnn s | cnn GFLOP/s |")
print("|---|---|---|---|---|")
labels = []
for r in rows:
    if r["label"] not in labels:
        labels.append(r["label"])
for label in labels:
    m = {r["model"]: r for r in rows if r["label"] == label and r["type"] == "model"}
    print(f"| {label} | {m['mlp']['ceiling_seconds']:.2f} | {m['mlp']['ceiling_gflops']:.1f} | "
          f"{m['cnn']['ceiling_seconds']:.2f} | {m['cnn']['ceiling_gflops']:.1f} |")
PY
mv "$out.tmp" "$out"
cat "$out"
