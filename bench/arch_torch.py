"""normgrad's --arch specs in PyTorch: the same grammar (include/normgrad/train/arch.hpp), the
same layers with the same names (train/models.cpp), so that a normgrad checkpoint's tensor names
are the state_dict keys of the model built here, and bench/torch_train.py trains the same models.

    model = build_from_spec("conv3x3:32,norm,relu,maxpool2,res(conv3x3:32,norm,relu,"
                            "conv3x3:32,norm),relu,gap,dense:10", norm="batch")

This parser is a mirror for the PyTorch side; normgrad's own (train/arch.cpp) is the reference
and gives the error messages.
"""
import math
import re
from collections import OrderedDict

import torch
import torch.nn as nn


def preset_spec(model, hidden=256, depth=2, classes=10):
    """The specs of --model mlp and --model cnn (models.hpp: spec_text)."""
    if model == "mlp":
        return "".join(f"dense:{hidden},norm,act," for _ in range(depth)) + f"dense:{classes}"
    if model == "resmlp":
        return (f"dense:{hidden},norm,act" + "".join(f",res(dense:{hidden},norm,act)"
                                                     for _ in range(depth)) + f",dense:{classes}")
    if model == "cnn":
        return ("conv3x3:32,norm,act,maxpool2,conv3x3:64,norm,act,maxpool2,flatten,dense:128,"
                f"norm,act,dense:{classes}")
    raise ValueError(f"unknown model {model!r}")


def parse(spec):
    """The spec as a list of (token, arguments) and ("res", [inner list]) items."""
    pos = 0

    def items():
        nonlocal pos
        out = []
        while True:
            m = re.compile(r"\s*([^,()\s]+)\s*").match(spec, pos)
            if not m:
                raise ValueError(f"spec {spec!r}: expected a layer at character {pos + 1}")
            word, pos = m.group(1), m.end()
            if word == "res":
                if spec[pos:pos + 1] != "(":
                    raise ValueError(f"spec {spec!r}: expected '(' after res")
                pos += 1
                inner = items()
                pos = len(spec) - len(spec[pos:].lstrip())
                if spec[pos:pos + 1] != ")":
                    raise ValueError(f"spec {spec!r}: expected ')' at character {pos + 1}")
                pos += 1
                out.append(("res", inner))
            else:
                out.append((word, None))
            rest = spec[pos:].lstrip()
            pos = len(spec) - len(rest)
            if rest.startswith(","):
                pos += 1
                continue
            return out

    result = items()
    if spec[pos:].strip():
        raise ValueError(f"spec {spec!r}: unexpected {spec[pos:]!r}")
    return result


class Residual(nn.Module):
    """y = body(x) + (proj(x) or x); the body's layers are this module's children under their
    own names (res1.conv1.weight), as normgrad's Residual."""

    def __init__(self, body, proj=None):
        super().__init__()
        self.names = [name for name, _ in body]
        for name, m in body:
            self.add_module(name, m)
        self.proj = proj

    def forward(self, x):
        y = x
        for name in self.names:
            y = getattr(self, name)(y)
        return y + (self.proj(x) if self.proj is not None else x)


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight over the last dims (this torch has no nn.RMSNorm);
    eps 1e-6 as normgrad's."""

    def __init__(self, shape, eps=1e-6):
        super().__init__()
        self.dims = tuple(range(-len(shape), 0))
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(shape))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(dim=self.dims, keepdim=True) + self.eps) * self.weight


def default_groups(channels):
    for g in range(8, 1, -1):
        if channels % g == 0:
            return g
    return 1


ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def init_layer(m, init, init_std):
    """--init: pytorch leaves torch's default; he, xavier and normal set biases to 0."""
    if init == "pytorch":
        return
    if init == "he":
        nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
    elif init == "xavier":
        nn.init.xavier_uniform_(m.weight)
    elif init == "normal":
        nn.init.normal_(m.weight, 0.0, init_std)
    else:
        raise ValueError(f"unknown init {init!r}")
    if m.bias is not None:
        nn.init.zeros_(m.bias)


class Builder:
    def __init__(self, norm="none", activation="relu", init="pytorch", init_std=0.01):
        self.norm, self.activation, self.init, self.init_std = norm, activation, init, init_std

    def seq(self, items, shape):
        """Layers for `items` from one image's `shape` ([C, H, W] or [F]); returns
        (list of (name, module), output shape)."""
        count = {}
        out = []

        def name(base, plain_first=False):
            count[base] = count.get(base, 0) + 1
            n = count[base]
            return base if plain_first and n == 1 else f"{base}{n}"

        for token, inner in items:
            if token == "res":
                block, y = self.seq(inner, shape)
                proj = None
                if y != shape:
                    if len(y) == 1:
                        proj = nn.Linear(shape[0], y[0])
                    else:
                        stride = next(s for s in range(1, shape[1] + 1)
                                      if (shape[1] - 1) // s + 1 == y[1]
                                      and (shape[2] - 1) // s + 1 == y[2])
                        proj = nn.Conv2d(shape[0], y[0], 1, stride=stride)
                    init_layer(proj, self.init, self.init_std)
                out.append((name("res"), Residual(block, proj)))
                shape = y
                continue
            head, *args = token.split(":")
            if head == "dense":
                if len(shape) == 3:
                    out.append((name("flatten", True), nn.Flatten()))
                    shape = [shape[0] * shape[1] * shape[2]]
                m = nn.Linear(shape[0], int(args[0]))
                init_layer(m, self.init, self.init_std)
                out.append((name("fc"), m))
                shape = [int(args[0])]
            elif head.startswith("conv"):
                k = int(head[4:].split("x")[0])
                stride, pad = 1, k // 2
                for a in args[1:]:
                    if a[0] == "s":
                        stride = int(a[1:])
                    elif a[0] == "p":
                        pad = int(a[1:])
                m = nn.Conv2d(shape[0], int(args[0]), k, stride=stride, padding=pad)
                init_layer(m, self.init, self.init_std)
                out.append((name("conv"), m))
                shape = [int(args[0]), (shape[1] + 2 * pad - k) // stride + 1,
                         (shape[2] + 2 * pad - k) // stride + 1]
            elif head in ("norm", "batchnorm", "layernorm", "groupnorm", "rmsnorm"):
                which = {"norm": self.norm, "batchnorm": "batch", "layernorm": "layer",
                         "rmsnorm": "rms"}.get(head) or f"group:{args[0]}"
                kind, _, groups = which.partition(":")
                if kind == "none":
                    continue
                # One counter for every normalisation, as normgrad's (bn1, ln2, ...).
                count["norm"] = count.get("norm", 0) + 1
                n = count["norm"]
                if kind == "batch":
                    m = nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])
                    out.append((f"bn{n}", m))
                elif kind == "layer":
                    out.append((f"ln{n}", nn.LayerNorm(list(shape))))
                elif kind == "rms":
                    out.append((f"rms{n}", RMSNorm(list(shape))))
                elif kind == "group":
                    g = int(groups) if groups else default_groups(shape[0])
                    out.append((f"gn{n}", nn.GroupNorm(g, shape[0])))
                else:
                    raise ValueError(f"unknown normalisation {which!r}")
            elif head in ("relu", "sigmoid", "tanh", "act"):
                act = self.activation if head == "act" else head
                out.append((name("act"), ACTIVATIONS[act]()))
            elif head.startswith("maxpool") or head.startswith("avgpool"):
                k = int(head[7:])
                pool = nn.MaxPool2d(k) if head[0] == "m" else nn.AvgPool2d(k)
                out.append((name("pool"), pool))
                shape = [shape[0], shape[1] // k, shape[2] // k]
            elif head == "gap":
                out.append((name("gap", True), GlobalAvgPool()))
                shape = [shape[0]]
            elif head == "dropout":
                out.append((name("drop"), nn.Dropout(float(args[0]))))
            elif head == "flatten":
                if len(shape) == 3:
                    out.append((name("flatten", True), nn.Flatten()))
                    shape = [shape[0] * shape[1] * shape[2]]
            else:
                raise ValueError(f"unknown layer {token!r}")
        return out, shape


def build_from_spec(spec, norm="none", activation="relu", init="pytorch", init_std=0.01,
                    image_shape=(1, 28, 28)):
    layers, shape = Builder(norm, activation, init, init_std).seq(parse(spec), list(image_shape))
    return nn.Sequential(OrderedDict(layers))
