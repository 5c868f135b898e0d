#!/usr/bin/env python3
"""PyTorch's DistributedDataParallel on CPU with the Gloo backend: the peer of
`mpirun -np N normgrad train` for bench/distributed.py.

  /usr/bin/python3 bench/torch_ddp.py --ranks 2 --model mlp --batchnorm on

N processes on this machine (torch.multiprocessing), one thread each by default; every rank draws
the same permutation and takes its contiguous slice of each global batch of --batch images, as
normgrad does; gradients are averaged by DDP's bucketed all-reduce. BatchNorm is each rank's own
(PyTorch's SyncBatchNorm runs on GPUs only). Prints one JSON line from rank 0: the wall time of
rank 0's training loop per epoch, the test accuracy, the peak resident memory of rank 0.
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train import build, evaluate, load  # noqa: E402


def run(rank, args, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", rank=rank, world_size=args.ranks)
    torch.manual_seed(args.seed)  # the same weights and permutation on every rank
    xtr, ytr = load(args.data, "train")
    xte, yte = load(args.data, "t10k")
    model = build(args.model, batchnorm=args.batchnorm == "on")
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=args.momentum)
    n = xtr.shape[0]
    epochs = []
    for epoch in range(args.epochs):
        ddp.train()
        perm = torch.randperm(n)
        dist.barrier()
        start = time.perf_counter()
        for first in range(0, n, args.batch):
            idx = perm[first:first + args.batch]
            size = idx.shape[0]
            lo = first_of(size, rank, args.ranks)
            hi = first_of(size, rank + 1, args.ranks)
            mine = idx[lo:hi]
            loss = F.cross_entropy(ddp(xtr[mine]), ytr[mine])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
        epochs.append({"epoch": epoch + 1, "train_seconds": seconds,
                       "test_accuracy": evaluate(model, xte, yte) if rank == 0 else None})
    if rank == 0:
        print(json.dumps({"framework": "pytorch-ddp-gloo", "torch": torch.__version__,
                          "ranks": args.ranks, "threads": args.threads, "model": args.model,
                          "batchnorm": args.batchnorm, "epochs": epochs,
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}),
              flush=True)
    dist.destroy_process_group()


def first_of(n, rank, ranks):
    """normgrad's rank_slice: slices whose sizes differ by at most one, the larger first."""
    base, extra = divmod(n, ranks)
    return rank * base + min(rank, extra)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--batchnorm", choices=["on", "off"], default="off")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--port", type=int, default=29517)
    args = ap.parse_args()
    mp.spawn(run, args=(args, args.port), nprocs=args.ranks, join=True)


if __name__ == "__main__":
    main()
