#!/usr/bin/env python3
"""The PyTorch peer of `normgrad train`: the same models, data, normalisation and protocol.

Run with Debian's PyTorch:  /usr/bin/python3 bench/torch_train.py --model mlp --batchnorm on
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


def load(dir_, split):
    images = read_idx(find(dir_, f"{split}-images-idx3-ubyte"))
    labels = read_idx(find(dir_, f"{split}-labels-idx1-ubyte"))
    x = ((images.float() / 255.0) - MEAN) / STD
    return x.unsqueeze(1).contiguous(), labels.long()


def build(model, batchnorm, hidden=256, depth=2, activation="relu"):
    """The model of normgrad's train/models.cpp, with the same layer names (fc1, bn1, act1, ...),
    so a normgrad checkpoint's tensor names are this model's state_dict keys."""
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation]
    layers = []
    if model == "mlp":
        layers.append(("flatten", nn.Flatten()))
        width = 784
        for i in range(1, depth + 1):
            layers.append((f"fc{i}", nn.Linear(width, hidden)))
            if batchnorm:
                layers.append((f"bn{i}", nn.BatchNorm1d(hidden)))
            layers.append((f"act{i}", act()))
            width = hidden
        layers.append((f"fc{depth + 1}", nn.Linear(width, 10)))
    else:
        layers.append(("conv1", nn.Conv2d(1, 32, 3, padding=1)))
        if batchnorm:
            layers.append(("bn1", nn.BatchNorm2d(32)))
        layers += [("act1", act()), ("pool1", nn.MaxPool2d(2)),
                   ("conv2", nn.Conv2d(32, 64, 3, padding=1))]
        if batchnorm:
            layers.append(("bn2", nn.BatchNorm2d(64)))
        layers += [("act2", act()), ("pool2", nn.MaxPool2d(2)), ("flatten", nn.Flatten()),
                   ("fc1", nn.Linear(64 * 7 * 7, 128))]
        if batchnorm:
            layers.append(("bn3", nn.BatchNorm1d(128)))
        layers += [("act3", act()), ("fc2", nn.Linear(128, 10))]
    return nn.Sequential(OrderedDict(layers))


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
                      for i in range(0, x.shape[0], 1000))
    return correct / x.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--batchnorm", choices=["on", "off"], default="off")
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
    xtr, ytr = load(args.data, "train")
    xte, yte = load(args.data, "t10k")
    model = build(args.model, args.batchnorm == "on")
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
                      "batchnorm": args.batchnorm, "threads": args.threads, "epochs": epochs,
                      "peak_rss_mb": peak_kb / 1024.0}))


if __name__ == "__main__":
    main()
