#!/usr/bin/env python3
"""PyTorch reference values for batch normalisation -> tests/fixtures/batchnorm.txt.

Regenerate (from the repository root):

    /usr/bin/python3 tests/reference/gen_batchnorm.py

Deterministic: fixed seed, float32, single thread. The output is committed; the C++ tests
(tests/test_batchnorm_reference.cpp) read it with normgrad::testing::Fixture (tests/fixture.hpp).

File format (one file per topic): lines starting with '#' are comments; each tensor is two lines,
    tensor <name> <rank> <d0> <d1> ...
    <all values, row-major, space separated, each printed with %.9g (exact float32 round-trip)>
Scalars have rank 0 and one value.

Naming (see NAMING below, which is also written into the fixture's header):
  Functional cases <case> in {bn2d_a [5,3], bn2d_b [2,4], bn4d_a [3,2,4,5], bn4d_b [2,3,3,3]}:
    <case>.eps                                   rank 0, the eps every mode of this case uses
    <case>.train.{x,gamma,beta,dy}               inputs; F.batch_norm(training=True)
    <case>.train.{y,dx,dgamma,dbeta}             output and gradients of y.backward(dy)
    <case>.train.{batch_mean,batch_var}          per-channel batch mean and BIASED variance
    <case>.eval.{x,gamma,beta,running_mean,running_var,dy}   inputs; F.batch_norm(training=False)
    <case>.eval.{y,dx,dgamma,dbeta}
    <case>.train_noaffine.{x,dy,y,dx,batch_mean,batch_var}   gamma = beta = None
    <case>.eval_noaffine.{x,running_mean,running_var,dy,y,dx}
  Running statistics of the layers, <run> in {bn1d_run ([6,3], nn.BatchNorm1d(3)),
  bn2d_run ([4,3,3,4], nn.BatchNorm2d(3))}:
    <run>.momentum, <run>.eps                    rank 0 (0.1, 1e-5)
    <run>.gamma, <run>.beta                      module weight / bias (random, set before training)
    <run>.x0, <run>.x1, <run>.x2                 the three training batches, in order
    <run>.y0, <run>.y1, <run>.y2                 the module's training-mode outputs for them
    <run>.running_mean, <run>.running_var        after the 3 steps (start: 0 and 1; PyTorch
                                                 updates running_var with the UNBIASED variance)
    <run>.num_batches_tracked                    rank 0 (3)
    <run>.eval_x, <run>.eval_y                   module.eval() output on eval_x
    <run>_cma.{running_mean,running_var,num_batches_tracked,eval_y}
        the same with momentum=None (cumulative moving average), trained on the same
        <run>.x0..x2 with the same <run>.gamma/beta, evaluated on the same <run>.eval_x.
"""

import os
import sys

import torch
import torch.nn.functional as F

SEED = 20240517
EPS_DEFAULT = 1e-5

NAMING = """\
Naming. Functional cases <case> (input shape): bn2d_a [5,3], bn2d_b [2,4], bn4d_a [3,2,4,5],
bn4d_b [2,3,3,3]. Inputs have per-channel non-zero mean and non-unit scale.
  <case>.eps                                  rank 0, eps used by every mode of the case
  <case>.train.{x,gamma,beta,dy}              inputs of F.batch_norm(training=True)
  <case>.train.{y,dx,dgamma,dbeta}            output; gradients of y.backward(dy)
  <case>.train.{batch_mean,batch_var}         per-channel batch mean, BIASED batch variance
  <case>.eval.{x,gamma,beta,running_mean,running_var,dy}   inputs of F.batch_norm(training=False)
  <case>.eval.{y,dx,dgamma,dbeta}
  <case>.train_noaffine.{x,dy,y,dx,batch_mean,batch_var}   weight = bias = None
  <case>.eval_noaffine.{x,running_mean,running_var,dy,y,dx}
Layer running statistics, <run>: bn1d_run (nn.BatchNorm1d(3), batches [6,3]),
bn2d_run (nn.BatchNorm2d(3), batches [4,3,3,4]):
  <run>.momentum, <run>.eps                   rank 0 (0.1, 1e-5)
  <run>.gamma, <run>.beta                     module weight and bias, set before training
  <run>.x0 .x1 .x2                            three training-mode batches, in this order
  <run>.y0 .y1 .y2                            training-mode outputs for them
  <run>.running_mean, <run>.running_var       after the 3 steps (initial 0 and 1; running_var
                                              is updated with the UNBIASED batch variance)
  <run>.num_batches_tracked                   rank 0 (3)
  <run>.eval_x, <run>.eval_y                  module.eval() output on eval_x
  <run>_cma.{running_mean,running_var,num_batches_tracked,eval_y}
      momentum=None (cumulative average), same x0..x2, gamma, beta and eval_x as <run>."""

FUNCTIONAL_CASES = [
    ("bn2d_a", [5, 3], 1e-5),
    ("bn2d_b", [2, 4], 1e-3),
    ("bn4d_a", [3, 2, 4, 5], 1e-5),
    ("bn4d_b", [2, 3, 3, 3], 1e-5),
]


class Writer:
    def __init__(self):
        self.lines = []
        self.names = set()
        self.max_dev = 0.0  # float32 reference vs float64 recomputation, relative (max(1,|b|))

    def comment(self, text):
        for line in text.splitlines() or [""]:
            self.lines.append(("# " + line).rstrip())

    def tensor(self, name, t):
        assert name not in self.names, name
        self.names.add(name)
        t = t.detach().to(torch.float32).contiguous()
        dims = list(t.shape)
        self.lines.append(" ".join(["tensor", name, str(len(dims))] + [str(d) for d in dims]))
        self.lines.append(" ".join("%.9g" % v for v in t.reshape(-1).tolist()))

    def scalar(self, name, value):
        self.tensor(name, torch.tensor(value, dtype=torch.float32))

    def check(self, ref32, ref64):
        dev = ((ref32.double() - ref64).abs() / ref64.abs().clamp(min=1.0)).max().item()
        self.max_dev = max(self.max_dev, dev)


def channel_input(shape, gen_scale=(0.5, 3.0), gen_shift=(-4.0, 4.0)):
    """randn with a random per-channel (dim 1) scale and shift."""
    c = shape[1]
    lo, hi = gen_scale
    scale = torch.rand(c) * (hi - lo) + lo
    lo, hi = gen_shift
    shift = torch.rand(c) * (hi - lo) + lo
    view = [1, c] + [1] * (len(shape) - 2)
    return torch.randn(shape) * scale.view(view) + shift.view(view)


def affine_params(c):
    gamma = torch.randn(c) * 0.5 + 1.0
    beta = torch.randn(c) * 0.5
    return gamma, beta


def reduce_dims(x):
    return [0] + list(range(2, x.dim()))


def run_functional(x, gamma, beta, rm, rv, dy, training, eps, dtype):
    """F.batch_norm forward + backward(dy) in `dtype`; returns y, dx, dgamma, dbeta."""
    xx = x.to(dtype).clone().requires_grad_(True)
    gg = None if gamma is None else gamma.to(dtype).clone().requires_grad_(True)
    bb = None if beta is None else beta.to(dtype).clone().requires_grad_(True)
    rrm = None if rm is None else rm.to(dtype).clone()
    rrv = None if rv is None else rv.to(dtype).clone()
    y = F.batch_norm(xx, rrm, rrv, gg, bb, training=training, momentum=0.1, eps=eps)
    y.backward(dy.to(dtype))
    return (y.detach(), xx.grad, None if gg is None else gg.grad, None if bb is None else bb.grad)


def functional_case(w, name, shape, eps):
    c = shape[1]
    w.comment("")
    w.comment("%s: input %s, eps %g" % (name, shape, eps))
    w.scalar(name + ".eps", eps)
    for mode in ("train", "eval", "train_noaffine", "eval_noaffine"):
        training = mode.startswith("train")
        affine = not mode.endswith("noaffine")
        p = "%s.%s." % (name, mode)
        x = channel_input(shape)
        gamma, beta = affine_params(c) if affine else (None, None)
        rm = rv = None
        if not training:
            rm = torch.randn(c) * 2.0
            rv = torch.rand(c) * 3.0 + 0.2
        dy = torch.randn(shape)

        w.tensor(p + "x", x)
        if affine:
            w.tensor(p + "gamma", gamma)
            w.tensor(p + "beta", beta)
        if not training:
            w.tensor(p + "running_mean", rm)
            w.tensor(p + "running_var", rv)
        w.tensor(p + "dy", dy)

        outs32 = run_functional(x, gamma, beta, rm, rv, dy, training, eps, torch.float32)
        outs64 = run_functional(x, gamma, beta, rm, rv, dy, training, eps, torch.float64)
        for suffix, r32, r64 in zip(("y", "dx", "dgamma", "dbeta"), outs32, outs64):
            if r32 is None:
                continue
            w.tensor(p + suffix, r32)
            w.check(r32, r64)
        if training:
            var, mean = torch.var_mean(x, dim=reduce_dims(x), unbiased=False)
            w.tensor(p + "batch_mean", mean)
            w.tensor(p + "batch_var", var)


def running_case(w, name, module_cls, shape):
    c = shape[1]
    momentum, eps = 0.1, 1e-5
    w.comment("")
    w.comment("%s: %s(%d, momentum=%g, eps=%g), batches %s" %
              (name, module_cls.__name__, c, momentum, eps, shape))
    gamma, beta = affine_params(c)
    xs = [channel_input(shape) for _ in range(3)]
    eval_x = channel_input(shape)
    w.scalar(name + ".momentum", momentum)
    w.scalar(name + ".eps", eps)
    w.tensor(name + ".gamma", gamma)
    w.tensor(name + ".beta", beta)
    for i, x in enumerate(xs):
        w.tensor("%s.x%d" % (name, i), x)
    w.tensor(name + ".eval_x", eval_x)

    for tag, mom in ((name, momentum), (name + "_cma", None)):
        m = module_cls(c, eps=eps, momentum=mom)
        with torch.no_grad():
            m.weight.copy_(gamma)
            m.bias.copy_(beta)
        m.train()
        with torch.no_grad():
            ys = [m(x) for x in xs]
        if mom is not None:
            for i, y in enumerate(ys):
                w.tensor("%s.y%d" % (tag, i), y)
        w.tensor(tag + ".running_mean", m.running_mean)
        w.tensor(tag + ".running_var", m.running_var)
        w.scalar(tag + ".num_batches_tracked", float(m.num_batches_tracked.item()))
        m.eval()
        with torch.no_grad():
            w.tensor(tag + ".eval_y", m(eval_x))


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)

    w = Writer()
    body = Writer()
    for name, shape, eps in FUNCTIONAL_CASES:
        functional_case(body, name, shape, eps)
    running_case(body, "bn1d_run", torch.nn.BatchNorm1d, [6, 3])
    running_case(body, "bn2d_run", torch.nn.BatchNorm2d, [4, 3, 3, 4])

    w.comment("Batch normalisation reference values from PyTorch %s (float32, seed %d)." %
              (torch.__version__, SEED))
    w.comment("GENERATED FILE, do not edit. Regenerate from the repository root with:")
    w.comment("    /usr/bin/python3 tests/reference/gen_batchnorm.py")
    w.comment("Format: 'tensor <name> <rank> <d0> ...' then one line of values (row-major, %.9g).")
    w.comment("Largest deviation of the functional y/dx/dgamma/dbeta from a float64 computation,")
    w.comment("|f32 - f64| / max(1, |f64|): %.3g" % body.max_dev)
    w.comment("")
    w.comment(NAMING)
    lines = w.lines + body.lines

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                       "batchnorm.txt")
    out = os.path.normpath(out)
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s: %d tensors, max f32-vs-f64 deviation %.3g" %
          (out, len(body.names), body.max_dev))


if __name__ == "__main__":
    sys.exit(main())
