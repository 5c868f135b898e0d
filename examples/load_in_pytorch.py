#!/usr/bin/env python3
"""Loads a normgrad checkpoint into the equivalent PyTorch model and reports its test accuracy.

    ./build/normgrad train --model cnn --batchnorm on --save runs/cnn.safetensors
    (or any --arch SPEC --norm N: the file records the spec and the normalisation)
    ./build/normgrad eval --load runs/cnn.safetensors
    /usr/bin/python3 examples/load_in_pytorch.py runs/cnn.safetensors --data data/mnist

Both print the same accuracy: the file holds everything the model is (weights, biases, BatchNorm
gamma, beta and running statistics) under PyTorch's state_dict names.
"""
import argparse
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "bench"))
sys.path.insert(0, os.path.join(here, "..", "tests", "reference"))
from check_safetensors_torch import load_normgrad_checkpoint  # noqa: E402
from torch_train import build, evaluate, load  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--data", default="data/mnist")
    args = ap.parse_args()

    tensors, meta = load_normgrad_checkpoint(args.checkpoint)
    # The model from the file's metadata alone: its spec (normgrad.arch, the presets' included)
    # and normalisation; files written before --arch name the preset and normgrad.batchnorm.
    norm = meta.get("normgrad.norm") or ("batch" if meta.get("normgrad.batchnorm") == "on"
                                         else "none")
    model = build(meta["normgrad.model"], hidden=int(meta["normgrad.hidden"]),
                  depth=int(meta["normgrad.depth"]), activation=meta["normgrad.activation"],
                  arch=meta.get("normgrad.arch"), norm=norm)
    state = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):  # PyTorch keeps this counter as int64
            state[k] = state[k].to(v.dtype)
    model.load_state_dict(state, strict=True)
    x, y = load(args.data, "t10k", meta.get("normgrad.input", "standardize"))
    acc = evaluate(model, x, y)
    print(f"{args.checkpoint}: PyTorch {torch.__version__}: test accuracy {100 * acc:.2f}% "
          f"on {x.shape[0]} images")


if __name__ == "__main__":
    main()
