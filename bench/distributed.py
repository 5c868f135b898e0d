#!/usr/bin/env python3
"""Data-parallel training on one machine: normgrad on 2 processes x 1 thread (mpirun) against
PyTorch's DDP with Gloo on 2 processes x 1 thread, and against normgrad on 1 process x 2 threads,
with both frameworks on 1 process x 1 thread as the baseline (issue 16).

  /usr/bin/python3 bench/distributed.py [--runs 3] [--models mlp-bn,cnn-bn] [--out FILE]

Each configuration trains one epoch of MNIST (batch 128: the global batch, 64 per rank on 2
ranks; SGD lr 0.05 momentum 0.9) in a fresh run, the configurations alternating run by run; the
table gives the median wall time of the training loop (what each program measures around its
loop, rank 0's on 2 ranks), images per second, the test accuracy, and the scaling efficiency
t(1 x 1) / (2 t), 100% when 2 cores give twice the speed. normgrad on 2 ranks uses
--bn-sync global (SyncBatchNorm: two small all-reduces per BatchNorm layer per step); PyTorch's
DDP on CPU has only per-rank BatchNorm (its SyncBatchNorm is GPU-only), so the row also has
normgrad with --bn-sync local, the like-for-like comparison. Writes bench/results-distributed.md
(or --out) and prints it. Needs build/normgrad built with MPI, mpirun, python3-torch, data/mnist.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NORMGRAD = os.path.join(ROOT, "build", "normgrad")
PYTHON = "/usr/bin/python3"
DATA = os.path.join(ROOT, "data", "mnist")
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-x", "OMP_NUM_THREADS=1"]
SCRATCH = tempfile.mkdtemp(prefix="normgrad-bench-")  # where a stopped run's checkpoint would go
MODELS = {"mlp-bn": ("mlp", "on"), "cnn-bn": ("cnn", "on"), "mlp": ("mlp", "off"),
          "cnn": ("cnn", "off")}


def env(threads):
    e = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        e[k] = str(threads)
    return e


def normgrad(model, bn, ranks, threads, bn_sync="global"):
    cmd = [NORMGRAD, "train", "--model", model, "--batchnorm", bn, "--threads", str(threads),
           "--data", DATA, "--no-progress", "--checkpoint", os.path.join(SCRATCH, "stopped.ck")]
    if ranks > 1:
        cmd = MPIRUN + ["-np", str(ranks)] + cmd + ["--bn-sync", bn_sync]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env(threads), check=True).stdout
    m = re.search(r"test accuracy ([0-9.]+)%  train time ([0-9.]+) s", out)
    if not m:
        sys.exit(f"no epoch line in normgrad's output:\n{out}")
    return float(m.group(2)), float(m.group(1)) / 100


def pytorch(model, bn, ranks, threads):
    if ranks > 1:
        cmd = [PYTHON, os.path.join(ROOT, "bench", "torch_ddp.py"), "--ranks", str(ranks)]
    else:
        cmd = [PYTHON, os.path.join(ROOT, "bench", "torch_train.py")]
    cmd += ["--model", model, "--batchnorm", bn, "--threads", str(threads), "--data", DATA]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env(threads), check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    e = r["epochs"][0]
    return e["train_seconds"], e["test_accuracy"]


CONFIGS = [
    ("normgrad 1 x 1", lambda m, b: normgrad(m, b, 1, 1)),
    ("normgrad 1 x 2 threads", lambda m, b: normgrad(m, b, 1, 2)),
    ("normgrad 2 x 1, BN global", lambda m, b: normgrad(m, b, 2, 1, "global")),
    ("normgrad 2 x 1, BN local", lambda m, b: normgrad(m, b, 2, 1, "local")),
    ("PyTorch 1 x 1", lambda m, b: pytorch(m, b, 1, 1)),
    ("PyTorch DDP Gloo 2 x 1", lambda m, b: pytorch(m, b, 2, 1)),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", default="mlp-bn,cnn-bn")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results-distributed.md"))
    args = ap.parse_args()
    models = args.models.split(",")
    load_before = os.getloadavg()
    times = {(m, c): [] for m in models for c, _ in CONFIGS}
    accuracy = {}
    for run in range(args.runs):
        for m in models:
            model, bn = MODELS[m]
            for name, f in CONFIGS:
                seconds, acc = f(model, bn)
                times[(m, name)].append(seconds)
                accuracy[(m, name)] = acc
                print(f"run {run + 1}/{args.runs} {m:7} {name:26} {seconds:7.2f} s "
                      f"{100 * acc:.2f}%", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    lines = [
        "# Data-parallel training on one machine (bench/distributed.py)",
        "",
        f"{datetime.date.today()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores; median of {args.runs} runs of one MNIST epoch at global batch "
        f"128; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (other work "
        "on the machine shows there and slows every configuration).",
        "",
        "Efficiency: t(1 x 1) / (2 t), against the same framework on one process and one thread.",
        "",
        "| model | configuration | s per epoch | img/s | efficiency | test accuracy |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for m in models:
        for name, _ in CONFIGS:
            t = statistics.median(times[(m, name)])
            base = statistics.median(times[(m, ("PyTorch" if name.startswith("PyTorch")
                                                 else "normgrad") + " 1 x 1")])
            eff = "-" if name.endswith("1 x 1") else f"{100 * base / (2 * t):.0f}%"
            lines.append(f"| {m} | {name} | {t:.2f} | {60000 / t:.0f} | {eff} | "
                         f"{100 * accuracy[(m, name)]:.2f}% |")
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
