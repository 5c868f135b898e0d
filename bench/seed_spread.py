#!/usr/bin/env python3
"""How far one seed's test accuracy scatters, in normgrad and in PyTorch, on the same protocol.

    ./scripts/build.sh release normgrad_cli
    /usr/bin/python3 bench/seed_spread.py --model cnn --batchnorm on --seeds 0-19 --target 98.4

Each seed is one `normgrad train` run and one bench/torch_train.py run (batch 128, SGD lr 0.05
momentum 0.9, one epoch unless --epochs says otherwise), started by bench.py's runners: every
run a fresh process with --threads threads (OMP, MKL and OpenBLAS thread variables set to it); --jobs runs that many at once (each on its own core at the default of one
thread and two jobs on a two-core machine). A seed means different initial weights and batches
in the two frameworks, so the seeds are not paired: what compares is the two distributions.
Prints a Markdown table of every seed, then each framework's mean, its standard error, the
lowest and highest run, and how many runs fall below --target.
"""
import argparse
import os
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor

from bench import DATA, MODELS, NORMGRAD, run_normgrad, run_torch  # the benchmark's runners


def parse_seeds(text):
    """'0-19' or '0,3,7' or a mix: '0-4,10'."""
    seeds = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        try:
            a = int(first)
            b = int(last) if last else a
        except ValueError:
            sys.exit(f"seed_spread.py: --seeds: expected numbers and ranges like 0-19,25, got '{text}'")
        if b < a:
            sys.exit(f"seed_spread.py: --seeds: the range '{part}' runs backwards")
        seeds.extend(range(a, b + 1))
    return seeds


def normgrad_accuracy(model, seed, args):
    return 100.0 * run_normgrad(model, args.threads, seed, "off", True, args.epochs,
                                args.data)["test_accuracy"]


def pytorch_accuracy(model, seed, args):
    return 100.0 * run_torch(model, args.threads, seed, args.epochs, args.data)["test_accuracy"]


def summary(name, values, target):
    n = len(values)
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if n > 1 else float("nan")
    below = "" if target is None else f" | {sum(v < target for v in values)} of {n}"
    return (f"| {name} | {n} | {mean:.2f}% ± {sd / n ** 0.5:.2f} | {sd:.2f} | "
            f"{min(values):.2f}% | {max(values):.2f}%{below} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--batchnorm", choices=["on", "off"], default="on")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seeds", default="0-9", help="e.g. 0-19 or 0,5,9")
    ap.add_argument("--threads", type=int, default=1, help="threads of each run")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once")
    ap.add_argument("--target", type=float, default=None, help="count the runs below this (in %%)")
    ap.add_argument("--no-pytorch", action="store_true", help="normgrad alone")
    ap.add_argument("--data", default=DATA)
    args = ap.parse_args()
    if not os.access(NORMGRAD, os.X_OK):
        sys.exit(f"seed_spread.py: {NORMGRAD} is missing; run ./scripts/build.sh release normgrad_cli")
    seeds = parse_seeds(args.seeds)
    model = next(name for name, flags in MODELS.items()
                 if flags == ["--model", args.model, "--batchnorm", args.batchnorm])

    frameworks = [("normgrad", normgrad_accuracy)]
    if not args.no_pytorch:
        frameworks.append(("PyTorch", pytorch_accuracy))
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {(name, s): pool.submit(fn, model, s, args)
                   for s in seeds for name, fn in frameworks}
        acc = {key: f.result() for key, f in futures.items()}

    names = [name for name, _ in frameworks]
    print(f"{args.model}, BatchNorm {args.batchnorm}, {args.epochs} epoch(s), batch 128, SGD lr 0.05 "
          f"momentum 0.9, {args.threads} thread(s) per run, OPENBLAS_CORETYPE "
          f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')}; test accuracy per seed:\n")
    print("| seed | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for s in seeds:
        print(f"| {s} | " + " | ".join(f"{acc[(n, s)]:.2f}%" for n in names) + " |")
    below = "" if args.target is None else f" | below {args.target}%"
    print(f"\n| framework | runs | mean ± standard error | standard deviation | lowest | highest{below} |")
    print("|---|---|---|---|---|---|" + ("---|" if args.target is not None else ""))
    for n in names:
        print(summary(n, [acc[(n, s)] for s in seeds], args.target))


if __name__ == "__main__":
    main()
