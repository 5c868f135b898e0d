#!/usr/bin/env python3
"""The PyTorch peer of `normgrad train`: the same models, data, normalisation and protocol.

Run with Debian's PyTorch:  /usr/bin/python3 bench/torch_train.py --model mlp --batchnorm on
                            /usr/bin/python3 bench/torch_train.py --arch dense:64,norm,relu,dense:10 --norm layer
The data stay in memory as ready tensors (no DataLoader), the fastest fair PyTorch loop.
Prints one JSON line: accuracy, wall time of the training loop alone, peak resident memory.
"""
import argparse
import json
import os
import resource
import struct
import sys
import time
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arch_torch import build_from_spec, preset_spec  # noqa: E402

MEAN, STD = 0.1307, 0.3081


def read_idx(path):
    import gzip
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def find(dir_, name):
    for candidate in (name, name + ".gz"):
        p = os.path.join(dir_, candidate)
        if os.path.exists(p):
            return p
    sys.exit(f"{dir_}: missing {name}")


def load(dir_, split, input_scaling="standardize"):
    """Images as normgrad's --input gives them: standardize, (p/255 - 0.1307) / 0.3081 (for
    Fashion-MNIST too), or unit, p/255."""
    images = read_idx(find(dir_, f"{split}-images-idx3-ubyte"))
    labels = read_idx(find(dir_, f"{split}-labels-idx1-ubyte"))
    x = images.float() / 255.0
    if input_scaling == "standardize":
        x = (x - MEAN) / STD
    return x.unsqueeze(1).contiguous(), labels.long()


def build(model, batchnorm=False, hidden=256, depth=2, activation="relu", arch=None,
          norm=None, init="pytorch", init_std=0.01):
    """The model normgrad builds (train/models.cpp), with the same layer names (fc1, bn1, act1,
    res1.conv1, ...), so a normgrad checkpoint's tensor names are this model's state_dict keys:
    --model mlp|cnn as their specs, or an --arch spec (bench/arch_torch.py)."""
    spec = arch if arch else preset_spec(model, hidden, depth)
    if norm is None:
        norm = "batch" if batchnorm else "none"
    return build_from_spec(spec, norm=norm, activation=activation, init=init, init_std=init_std)


def read_arch(arch):
    """An --arch value as normgrad reads it: the spec, or @FILE, a file holding it (lines starting
    with '#' are comments, line breaks are spaces)."""
    if not arch.startswith("@"):
        return arch
    with open(arch[1:]) as f:
        return " ".join(line for line in f.read().splitlines()
                        if line.strip() and not line.strip().startswith("#"))


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
                      for i in range(0, x.shape[0], 1000))
    return correct / x.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "resmlp", "cnn"], default="mlp")
    ap.add_argument("--batchnorm", choices=["on", "off"], default=None,
                    help="short for --norm batch|none")
    ap.add_argument("--arch", default=None, help="a normgrad --arch spec, or @FILE")
    ap.add_argument("--norm", default=None, help="none, batch, layer, group, group:G, rms")
    ap.add_argument("--activation", choices=["relu", "sigmoid", "tanh"], default="relu")
    ap.add_argument("--init", choices=["pytorch", "he", "xavier", "normal"], default="pytorch")
    ap.add_argument("--init-std", type=float, default=0.01)
    ap.add_argument("--input", choices=["standardize", "unit"], default="standardize")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", default="data/mnist")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr, ytr = load(args.data, "train", args.input)
    xte, yte = load(args.data, "t10k", args.input)
    arch = read_arch(args.arch) if args.arch else None
    norm = args.norm or ("batch" if args.batchnorm == "on" else "none")
    model = build(args.model, hidden=args.hidden, depth=args.depth, activation=args.activation,
                  arch=arch, norm=norm, init=args.init, init_std=args.init_std)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    n = xtr.shape[0]
    epochs = []
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(n)
        start = time.perf_counter()
        total, steps = 0.0, 0
        for first in range(0, n, args.batch):
            idx = perm[first:first + args.batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
        seconds = time.perf_counter() - start
        epochs.append({"epoch": epoch + 1, "train_loss": total / steps,
                       "test_accuracy": evaluate(model, xte, yte), "train_seconds": seconds})
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"framework": "pytorch", "torch": torch.__version__, "model": args.model,
                      "arch": arch, "norm": norm, "batchnorm": "on" if norm == "batch" else "off",
                      "threads": args.threads, "epochs": epochs,
                      "peak_rss_mb": peak_kb / 1024.0}))


if __name__ == "__main__":
    main()
