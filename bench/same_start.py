#!/usr/bin/env python3
"""normgrad and PyTorch from the same start: the same initial weights, the same batches.

    ./scripts/build.sh release normgrad_cli same_start
    /usr/bin/python3 bench/same_start.py --model cnn --batchnorm on --seed 0 --steps 100
    /usr/bin/python3 bench/same_start.py --arch @examples/specs/resnet-mnist.arch --norm group --steps 50

build/bench/same_start writes the weights a `normgrad train` run with this seed starts from and
its order of training images; PyTorch (bench/torch_train.py's model) loads those weights and
trains on the same batches with the same SGD. The two losses are printed side by side. If the
two frameworks compute the same functions and gradients, the losses agree to float rounding at
first; any later drift is rounding amplified by training, and a real difference in the math
(a wrong term, a different update rule) shows up at the first steps instead. --float64 measures
that amplification: both float32 runs against PyTorch computing the same steps in float64.
One thread on both sides, so each side is deterministic.

--arch SPEC (or @FILE) with --norm none|batch|layer|group|group:G|rms runs any --arch model
(bench/arch_torch.py builds it in PyTorch under the same names); --model/--batchnorm run the
presets. A spec with dropout cannot follow the same trajectory: the two frameworks draw different
masks. With fewer steps than an epoch, the test accuracies are those at the last step.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
from check_safetensors_torch import load_normgrad_checkpoint  # noqa: E402
from torch_train import build, evaluate, load, read_arch  # noqa: E402

NORMGRAD = os.path.join(ROOT, "build", "normgrad")
SAME_START = os.path.join(ROOT, "build", "bench", "same_start")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--batchnorm", choices=["on", "off"], default=None,
                    help="short for --norm batch|none (default off)")
    ap.add_argument("--arch", default=None,
                    help="a normgrad --arch spec, or @FILE holding one (instead of --model)")
    ap.add_argument("--norm", default=None,
                    help="none, batch, layer, group, group:G, rms: what the model's norm layers "
                         "are (default none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=None,
                    help="training steps (default: one epoch, then the test accuracy)")
    ap.add_argument("--float64", action="store_true",
                    help="also train PyTorch in float64 from the same start: how far float32 "
                         "rounding alone takes each framework from the exact trajectory")
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"))
    args = ap.parse_args()
    if args.batchnorm and args.norm:
        sys.exit("same_start.py: --batchnorm is the short form of --norm: give one of them")
    norm = args.norm or ("batch" if args.batchnorm == "on" else "none")
    if args.arch:
        # The same spec for both programs; normgrad reads @FILE itself, as PyTorch does here.
        model_args = ["--arch", args.arch]
        train_args = ["--arch", args.arch, "--norm", norm]
        title = f"--arch {args.arch} --norm {norm}"
    else:
        model_args = [args.model]
        train_args = ["--model", args.model, "--norm", norm]
        title = (f"{args.model} --norm {norm}" if args.norm
                 else f"{args.model} BatchNorm {args.batchnorm or 'off'}")
    for tool in (NORMGRAD, SAME_START):
        if not os.access(tool, os.X_OK):
            sys.exit(f"same_start.py: {tool} is missing; run "
                     "./scripts/build.sh release normgrad_cli same_start")
    torch.set_num_threads(1)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")

    xtr, ytr = load(args.data, "train")
    xte, yte = load(args.data, "t10k")
    epoch_steps = (xtr.shape[0] + 127) // 128
    steps = epoch_steps if args.steps is None else args.steps
    if not 1 <= steps <= epoch_steps:  # order.txt holds the first epoch's order only
        sys.exit(f"same_start.py: --steps: expected 1 to {epoch_steps} (one epoch), got {steps}")

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([SAME_START, *model_args, norm, str(args.seed), str(xtr.shape[0]), tmp],
                       check=True)
        log = os.path.join(tmp, "log.jsonl")
        # Its checkpoint (written only if stopped) in tmp too: the default, in the current
        # directory, is locked by any other run there, a second same_start.py included.
        subprocess.run([NORMGRAD, "train", *train_args, "--seed", str(args.seed), "--threads", "1",
                        "--max-steps", str(steps), "--grad-stats", "off", "--no-progress",
                        "--data", args.data, "--log", log,
                        "--checkpoint", os.path.join(tmp, "checkpoint.safetensors")],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        with open(log) as f:
            lines = [json.loads(line) for line in f]
        ng_losses = [r["loss"] for r in lines if r["type"] == "step"]
        ng_accuracy = [r["test_accuracy"] for r in lines if r["type"] == "epoch"][-1]
        init, _ = load_normgrad_checkpoint(os.path.join(tmp, "init.safetensors"))
        with open(os.path.join(tmp, "order.txt")) as f:
            order = torch.tensor([int(line) for line in f])

    def train_pytorch(dtype):
        """PyTorch from normgrad's start, computing in dtype."""
        model = build(args.model, arch=read_arch(args.arch) if args.arch else None, norm=norm)
        state = model.state_dict()
        model.load_state_dict({k: init[k].reshape(v.shape).to(v.dtype) for k, v in state.items()})
        model.to(dtype)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        model.train()
        losses = []
        for step in range(len(ng_losses)):
            idx = order[step * 128:(step + 1) * 128]
            loss = F.cross_entropy(model(xtr[idx].to(dtype)), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return model, losses

    model, pt_losses = train_pytorch(torch.float32)
    if args.float64:
        exact_model, exact_losses = train_pytorch(torch.float64)

    print(f"{title}, seed {args.seed}: the same initial weights "
          "and batches, SGD lr 0.05 momentum 0.9, batch 128, one thread")
    extra = f" {'normgrad vs float64':>20} {'PyTorch vs float64':>20}" if args.float64 else ""
    print(f"{'step':>5} {'normgrad loss':>14} {'PyTorch loss':>14} {'relative difference':>20}{extra}")
    shown = [s for s in (1, 2, 3, 5, 10, 20, 50, 100, 200, 300, 400) if s < len(ng_losses)]
    shown.append(len(ng_losses))
    for s in shown:
        a, b = ng_losses[s - 1], pt_losses[s - 1]
        line = f"{s:5d} {a:14.6f} {b:14.6f} {abs(a - b) / abs(b):20.1e}"
        if args.float64:
            c = exact_losses[s - 1]
            line += f" {abs(a - c) / abs(c):20.1e} {abs(b - c) / abs(c):20.1e}"
        print(line)
    exact = (f", PyTorch in float64 {100 * evaluate(exact_model, xte.double(), yte):.2f}%"
             if args.float64 else "")
    when = "the epoch" if len(ng_losses) == epoch_steps else f"{len(ng_losses)} steps"
    print(f"test accuracy after {when}: normgrad {100 * ng_accuracy:.2f}%, PyTorch "
          f"{100 * evaluate(model, xte, yte):.2f}%{exact}")


if __name__ == "__main__":
    main()
