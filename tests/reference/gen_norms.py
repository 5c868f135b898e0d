#!/usr/bin/env python3
"""PyTorch reference values for LayerNorm, GroupNorm and RMSNorm -> tests/fixtures/norms.txt.

Regenerate (from the repository root):

    /usr/bin/python3 tests/reference/gen_norms.py

Deterministic: fixed seed, float32, single thread. The output is committed; the C++ tests
(tests/test_norms_reference.cpp) read it with normgrad::testing::Fixture (tests/fixture.hpp).
The file format is that of tests/reference/gen_batchnorm.py (see its docstring).

RMSNorm: torch.nn.RMSNorm exists from PyTorch 2.4 on; with an older torch (Debian's 1.13) the
reference is the formula x * rsqrt(mean(x^2 over the last dims) + eps) * weight, differentiated
by torch's autograd. The fixture's header says which one made it.
"""

import os
import sys

import torch
import torch.nn.functional as F

SEED = 20241114

NAMING = """\
Naming. Every case <case> has
  <case>.eps                                  rank 0
  <case>.{x,dy}                               input and the upstream gradient of y.backward(dy)
  <case>.{weight,bias}                        non-trivial affine parameters (RMSNorm: no bias)
  <case>.{y,dx,dweight,dbias}                 output and gradients (RMSNorm: no dbias)
The 3-D cases (ln_3d_last2, gn_3d_g2, rms_3d_last2) have small inputs and eps 1e-2, of the order
of their variance or mean square, so that where eps is added matters.
LayerNorm cases, <case> = ln_<input>_last<k>: F.layer_norm over the last k dims of x, weight and
bias of shape x.shape[-k:]; ln_4d_last3_noaffine has no weight, bias, dweight, dbias.
  <case>.normalized_shape                     rank 1, the dims as floats
GroupNorm cases, <case> = gn_<input>_g<groups>: F.group_norm(x, groups), weight and bias [C].
  <case>.groups                               rank 0
  gn_4d_g1.layer_norm_y                       F.layer_norm(x, x.shape[1:]) without affine: what
                                              GroupNorm(1, C) without affine must give
  gn_4d_g4.instance_norm_y                    F.instance_norm(x) without affine: what
                                              GroupNorm(C, C) without affine must give
RMSNorm cases, <case> = rms_<input>_last<k>: normalised over the last k dims, weight x.shape[-k:].
  <case>.normalized_shape                     rank 1"""


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


def shifted_input(shape):
    """randn with a random scale and shift per example and channel (dims 0 and 1), so that no
    normalised group has mean 0 or variance 1 to begin with."""
    view = [shape[0], shape[1]] + [1] * (len(shape) - 2)
    scale = torch.rand(view) * 2.5 + 0.5
    shift = torch.rand(view) * 8.0 - 4.0
    return torch.randn(shape) * scale + shift


def affine(shape):
    return torch.randn(shape) * 0.5 + 1.0, torch.randn(shape) * 0.5


def rms_norm(x, normalized_shape, weight, eps):
    if hasattr(F, "rms_norm"):
        return F.rms_norm(x, normalized_shape, weight, eps)
    dims = list(range(-len(normalized_shape), 0))
    y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)
    return y if weight is None else y * weight


def run(fn, x, weight, bias, dy, dtype):
    """fn(x, weight, bias) forward and backward(dy) in `dtype`: y, dx, dweight, dbias."""
    xx = x.to(dtype).clone().requires_grad_(True)
    ww = None if weight is None else weight.to(dtype).clone().requires_grad_(True)
    bb = None if bias is None else bias.to(dtype).clone().requires_grad_(True)
    y = fn(xx, ww, bb)
    y.backward(dy.to(dtype))
    return (y.detach(), xx.grad, None if ww is None else ww.grad, None if bb is None else bb.grad)


def case(w, name, description, fn, x, weight, bias, eps, settings):
    """Writes the case's settings (name suffix -> value), inputs, output and gradients; returns
    the float32 output."""
    w.comment("")
    w.comment("%s: %s, input %s, eps %g" % (name, description, list(x.shape), eps))
    dy = torch.randn(x.shape)
    w.scalar(name + ".eps", eps)
    for suffix, value in settings.items():
        w.tensor(name + "." + suffix, torch.tensor(value, dtype=torch.float32))
    w.tensor(name + ".x", x)
    w.tensor(name + ".dy", dy)
    if weight is not None:
        w.tensor(name + ".weight", weight)
    if bias is not None:
        w.tensor(name + ".bias", bias)
    outs32 = run(fn, x, weight, bias, dy, torch.float32)
    outs64 = run(fn, x, weight, bias, dy, torch.float64)
    for suffix, r32, r64 in zip(("y", "dx", "dweight", "dbias"), outs32, outs64):
        if r32 is not None:
            w.tensor(name + "." + suffix, r32)
            w.check(r32, r64)
    return outs32[0]


def layer_norm_case(w, shape, k, with_affine=True, eps=1e-5, input_scale=1.0):
    name = "ln_%dd_last%d%s" % (len(shape), k, "" if with_affine else "_noaffine")
    normalized = shape[-k:]
    x = shifted_input(shape) * input_scale
    weight, bias = affine(normalized) if with_affine else (None, None)
    case(w, name, "F.layer_norm over %s" % normalized,
         lambda xx, ww, bb: F.layer_norm(xx, normalized, ww, bb, eps), x, weight, bias, eps,
         {"normalized_shape": normalized})


def group_norm_case(w, shape, groups, eps=1e-5, input_scale=1.0):
    name = "gn_%dd_g%d" % (len(shape), groups)
    c = shape[1]
    x = shifted_input(shape) * input_scale
    weight, bias = affine([c])
    case(w, name, "F.group_norm, groups=%d of %d channels each" % (groups, c // groups),
         lambda xx, ww, bb: F.group_norm(xx, groups, ww, bb, eps), x, weight, bias, eps,
         {"groups": groups})
    # The two ends of GroupNorm, as PyTorch's own layers compute them (no affine).
    plain = F.group_norm(x, groups, None, None, eps)
    if groups == 1:
        other = F.layer_norm(x, shape[1:], None, None, eps)
        w.tensor(name + ".layer_norm_y", other)
    elif groups == c:
        other = F.instance_norm(x, eps=eps)
        w.tensor(name + ".instance_norm_y", other)
    else:
        return
    assert torch.allclose(plain, other, atol=1e-5), name


def rms_norm_case(w, shape, k, eps=1e-6, input_scale=1.0):
    name = "rms_%dd_last%d" % (len(shape), k)
    normalized = shape[-k:]
    x = shifted_input(shape) * input_scale
    weight, _ = affine(normalized)
    case(w, name, "RMSNorm over %s" % normalized,
         lambda xx, ww, bb: rms_norm(xx, normalized, ww, eps), x, weight, None, eps,
         {"normalized_shape": normalized})


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)

    body = Writer()
    layer_norm_case(body, [4, 6], 1)
    layer_norm_case(body, [2, 3, 4, 5], 1)
    layer_norm_case(body, [2, 3, 4, 5], 3)
    layer_norm_case(body, [2, 3, 4, 5], 3, with_affine=False)
    for groups in (1, 2, 4):
        group_norm_case(body, [3, 4, 3, 2], groups)
    group_norm_case(body, [5, 6], 3)
    rms_norm_case(body, [4, 6], 1)
    rms_norm_case(body, [2, 3, 4, 5], 3)
    # Small inputs with a large eps: the variance (mean square) is of the order of eps, so a
    # misplaced or missing eps shows. Also the 3-D inputs.
    layer_norm_case(body, [2, 3, 4], 2, eps=1e-2, input_scale=0.05)
    group_norm_case(body, [2, 4, 5], 2, eps=1e-2, input_scale=0.05)
    rms_norm_case(body, [2, 3, 4], 2, eps=1e-2, input_scale=0.05)

    rms_source = ("F.rms_norm" if hasattr(F, "rms_norm") else
                  "the formula x * rsqrt(mean(x^2) + eps) * weight (this torch has no nn.RMSNorm)")
    w = Writer()
    w.comment("LayerNorm, GroupNorm and RMSNorm reference values from PyTorch %s (float32, seed %d)."
              % (torch.__version__, SEED))
    w.comment("GENERATED FILE, do not edit. Regenerate from the repository root with:")
    w.comment("    /usr/bin/python3 tests/reference/gen_norms.py")
    w.comment("Format: 'tensor <name> <rank> <d0> ...' then one line of values (row-major, %.9g).")
    w.comment("RMSNorm reference: %s." % rms_source)
    w.comment("Largest deviation of y/dx/dweight/dbias from a float64 computation,")
    w.comment("|f32 - f64| / max(1, |f64|): %.3g" % body.max_dev)
    w.comment("")
    w.comment(NAMING)

    out = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "fixtures", "norms.txt"))
    with open(out, "w") as f:
        f.write("\n".join(w.lines + body.lines) + "\n")
    print("wrote %s: %d tensors, max f32-vs-f64 deviation %.3g" %
          (out, len(body.names), body.max_dev))


if __name__ == "__main__":
    sys.exit(main())
