#!/usr/bin/env python3
"""PyTorch reference trajectories for the optimizers -> tests/fixtures/optim.txt.

Regenerate (from the repository root):

    /usr/bin/python3 tests/reference/gen_optim.py

Deterministic: fixed seed, float32, single thread. The output is committed; the C++ tests
(tests/test_optim.cpp) read it with normgrad::testing::Fixture (tests/fixture.hpp).

File format: as tests/reference/gen_batchnorm.py (lines starting with '#' are comments; each
tensor is 'tensor <name> <rank> <d0> ...' then one line of values, row-major, %.9g).

Every case starts from the same two parameters, a weight [3,4] and a bias [4] (the bias flagged
"is bias or norm"), and replays the same five stored gradients, one optimizer.step() each. The
hyper-parameters of each case are in CASES below and in the fixture header; tests/test_optim.cpp
has the same table.
"""

import os
import sys

import torch

SEED = 20240611
STEPS = 5

# name, optimizer, options, bias excluded from weight decay, bias gradient missing in some steps
CASES = [
    ("sgd_plain", "SGD", dict(lr=0.1), False, False),
    ("sgd_momentum", "SGD", dict(lr=0.1, momentum=0.9), False, False),
    ("sgd_dampening", "SGD", dict(lr=0.1, momentum=0.9, dampening=0.1), False, False),
    ("sgd_nesterov", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True), False, False),
    ("sgd_wd_momentum", "SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01), False, False),
    ("sgd_wd_nobias", "SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01), True, False),
    ("sgd_skip", "SGD", dict(lr=0.1, momentum=0.9), False, True),
    ("adam", "Adam", dict(lr=0.01), False, False),
    ("adam_custom", "Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=0.01), False, False),
    ("adam_l2", "Adam", dict(lr=0.01, weight_decay=0.01), False, False),
    ("adamw", "AdamW", dict(lr=0.01, weight_decay=0.1), False, False),
    ("adamw_nobias", "AdamW", dict(lr=0.01, weight_decay=0.1), True, False),
    ("adam_skip", "Adam", dict(lr=0.01), False, True),
]
# In the *_skip cases the bias has no gradient (grad None) in these steps (1-based).
BIAS_MISSING_STEPS = (1, 3)

NAMING = """\
Naming. Parameters: weight [3,4] and bias [4] (the bias is "is_bias_or_norm").
  init.weight, init.bias                    values before the first step (every case)
  grad<k>.weight, grad<k>.bias              gradient used by step k, k = 1..5 (every case)
  <case>.after<k>.weight, .bias             values after k calls of step(), k = 1..5
  <case>.final.<param>.<buffer>             optimizer state after step 5: SGD momentum_buffer;
                                            Adam exp_avg, exp_avg_sq, step (rank 0)
  bias_has_grad                             [5] 1/0 per step: in the *_skip cases the bias has no
                                            gradient (grad None) in the steps where it is 0
Cases (torch.optim options; *_nobias: the bias in a second param group with weight_decay 0):
%s
Gradient clipping (torch.nn.utils.clip_grad_norm_, norm_type 2):
  clip.max_norm                             rank 0
  clip.grad.weight, clip.grad.bias          gradients before clipping
  clip.total_norm                           rank 0, the returned pre-clip norm
  clip.clipped.weight, clip.clipped.bias    gradients after clipping
Learning-rate schedulers (lr of param group 0 before scheduler.step() number k, k = 0..n-1):
  cosine.{base_lr,eta_min,t_max}, cosine.lrs   CosineAnnealingLR, steps 0..t_max
  steplr.{base_lr,step_size,gamma}, steplr.lrs StepLR, steps 0..11"""


class Writer:
    def __init__(self):
        self.lines = []
        self.names = set()

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


def case_line(name, kind, options, nobias, skip):
    opts = ", ".join("%s=%s" % (k, v) for k, v in options.items())
    extra = (", bias excluded from decay" if nobias else "") + \
            (", bias grad missing in steps %s" % (BIAS_MISSING_STEPS,) if skip else "")
    return "  %-16s %s(%s)%s" % (name, kind, opts, extra)


def make_optimizer(kind, options, weight, bias, nobias):
    cls = getattr(torch.optim, kind)
    if nobias:
        groups = [{"params": [weight]}, {"params": [bias], "weight_decay": 0.0}]
    else:
        groups = [{"params": [weight, bias]}]
    return cls(groups, **options)


def run_case(w, name, kind, options, nobias, skip, init, grads):
    weight = init["weight"].clone().requires_grad_(True)
    bias = init["bias"].clone().requires_grad_(True)
    opt = make_optimizer(kind, options, weight, bias, nobias)
    for k in range(1, STEPS + 1):
        opt.zero_grad(set_to_none=True)
        weight.grad = grads[k]["weight"].clone()
        if not (skip and k in BIAS_MISSING_STEPS):
            bias.grad = grads[k]["bias"].clone()
        opt.step()
        w.tensor("%s.after%d.weight" % (name, k), weight)
        w.tensor("%s.after%d.bias" % (name, k), bias)
    for pname, p in (("weight", weight), ("bias", bias)):
        for buf, value in sorted(opt.state[p].items()):
            if value is None:
                continue
            w.tensor("%s.final.%s.%s" % (name, pname, buf), value)


def clip_case(w):
    weight_grad = torch.randn(3, 4) * 2.0
    bias_grad = torch.randn(4) * 2.0
    max_norm = 1.5
    weight = torch.zeros(3, 4, requires_grad=True)
    bias = torch.zeros(4, requires_grad=True)
    weight.grad = weight_grad.clone()
    bias.grad = bias_grad.clone()
    total = torch.nn.utils.clip_grad_norm_([weight, bias], max_norm)
    assert total.item() > max_norm
    w.scalar("clip.max_norm", max_norm)
    w.tensor("clip.grad.weight", weight_grad)
    w.tensor("clip.grad.bias", bias_grad)
    w.tensor("clip.total_norm", total)
    w.tensor("clip.clipped.weight", weight.grad)
    w.tensor("clip.clipped.bias", bias.grad)


def scheduler_lrs(make_scheduler, base_lr, steps):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return torch.tensor(lrs, dtype=torch.float64)


def schedule_cases(w):
    base_lr, eta_min, t_max = 0.1, 0.001, 10
    lrs = scheduler_lrs(
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=t_max, eta_min=eta_min),
        base_lr, t_max + 1)
    w.scalar("cosine.base_lr", base_lr)
    w.scalar("cosine.eta_min", eta_min)
    w.scalar("cosine.t_max", t_max)
    w.tensor("cosine.lrs", lrs)

    base_lr, step_size, gamma = 0.1, 3, 0.5
    lrs = scheduler_lrs(
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=step_size, gamma=gamma),
        base_lr, 12)
    w.scalar("steplr.base_lr", base_lr)
    w.scalar("steplr.step_size", step_size)
    w.scalar("steplr.gamma", gamma)
    w.tensor("steplr.lrs", lrs)


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)

    body = Writer()
    init = {"weight": torch.randn(3, 4), "bias": torch.randn(4)}
    # Gradients of varying scale (so that Adam's moments do not simply track one magnitude).
    grads = {k: {"weight": torch.randn(3, 4) * (0.5 + 0.5 * k), "bias": torch.randn(4) * 0.3}
             for k in range(1, STEPS + 1)}
    body.comment("")
    body.comment("Shared inputs")
    body.tensor("init.weight", init["weight"])
    body.tensor("init.bias", init["bias"])
    for k in range(1, STEPS + 1):
        body.tensor("grad%d.weight" % k, grads[k]["weight"])
        body.tensor("grad%d.bias" % k, grads[k]["bias"])
    body.tensor("bias_has_grad",
                torch.tensor([0.0 if k in BIAS_MISSING_STEPS else 1.0
                              for k in range(1, STEPS + 1)]))
    for name, kind, options, nobias, skip in CASES:
        body.comment("")
        body.comment(case_line(name, kind, options, nobias, skip).strip())
        run_case(body, name, kind, options, nobias, skip, init, grads)
    body.comment("")
    body.comment("Gradient clipping")
    clip_case(body)
    body.comment("")
    body.comment("Learning-rate schedulers")
    schedule_cases(body)

    w = Writer()
    w.comment("Optimizer reference trajectories from PyTorch %s (float32, seed %d)." %
              (torch.__version__, SEED))
    w.comment("GENERATED FILE, do not edit. Regenerate from the repository root with:")
    w.comment("    /usr/bin/python3 tests/reference/gen_optim.py")
    w.comment("Format: 'tensor <name> <rank> <d0> ...' then one line of values (row-major, %.9g).")
    w.comment("")
    w.comment(NAMING % "\n".join(case_line(*c) for c in CASES))
    lines = w.lines + body.lines

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "optim.txt")
    out = os.path.normpath(out)
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s: %d tensors" % (out, len(body.names)))


if __name__ == "__main__":
    sys.exit(main())
