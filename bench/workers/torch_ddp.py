# torch_ddp.py - bench/ddp's PyTorch peer of examples/wide, the same
# network: L residual ReLU layers of width W, h_{l+1} = h_l + alpha *
# relu(h_l W_l^T + b_l) with alpha = 1/sqrt(L), L = round(--params /
# (W*W + W)), MSE loss against a synthetic target, plain SGD (ltrun's
# default optimizer), on the CPU.  With WORLD_SIZE 1 the model is plain
# (no DDP: the 1-rank baseline); otherwise it is wrapped in
# DistributedDataParallel over gloo, the ranks meeting through a FileStore:
#
#   RANK=r WORLD_SIZE=n LTB_STORE=/tmp/dir/store python3 torch_ddp.py \
#       --params 10M [--width 1024] [--batch-size 8] [--steps 20] [--warmup 3]
#
# Each rank computes with one thread (torch.set_num_threads(1)), with
# denormals flushed to zero (torch.set_flush_denormal(True)).
#
# Timing, on rank 0, each step from zero_grad to optimizer.step: after the
# warm-up, --steps synchronised steps alternate with --steps steps whose
# backward runs under ddp.no_sync() (no gradient all-reduce, everything
# else the same).  step_ms is the median synchronised step; the
# communication wait is what synchronisation adds to it,
# comm_wait_ms = step_ms - nosync_ms (all-reduce time that backward did
# not hide).  Rank 0 prints
#
#   torch_ddp: ranks=N params=P layers=L batch=B steps=S step_ms=X nosync_ms=Y comm_wait_ms=Z
import argparse
import contextlib
import math
import os
import statistics
import time

import torch
import torch.distributed as dist
import torch.nn as nn


class Wide(nn.Module):
    """examples/wide's network: h = h + alpha * relu(linear(h)), L times."""

    def __init__(self, width, layers):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))
        self.alpha = 1.0 / math.sqrt(layers)

    def forward(self, h):
        for lin in self.layers:
            h = h + self.alpha * torch.relu(lin(h))
        return h


def count(s):
    m = {"K": 1e3, "M": 1e6, "G": 1e9}
    return int(float(s[:-1]) * m[s[-1].upper()]) if s[-1].upper() in m else int(s)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--params", type=count, default=10_000_000)
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()
    rank, n = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    w = a.width
    layers = max(1, round(a.params / (w * w + w)))
    model = Wide(w, layers)
    nparams = sum(t.numel() for t in model.parameters())
    if n > 1:
        dist.init_process_group("gloo", init_method="file://" + os.environ["LTB_STORE"],
                                rank=rank, world_size=n)
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(rank)
    x = torch.randn(a.batch_size, w, generator=g)
    y = torch.randn(a.batch_size, w, generator=g)
    loss_fn = nn.MSELoss()

    def step(sync):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        ctx = model.no_sync() if (n > 1 and not sync) else contextlib.nullcontext()
        with ctx:
            loss = loss_fn(model(x), y)
            loss.backward()
        opt.step()
        return (time.perf_counter() - t0) * 1e3

    for _ in range(a.warmup):
        step(True)
    synced, unsynced = [], []
    for _ in range(a.steps):
        synced.append(step(True))
        if n > 1:
            unsynced.append(step(False))
    if n > 1:
        dist.barrier()
    if rank == 0:
        ms = statistics.median(synced)
        nosync = statistics.median(unsynced) if unsynced else ms
        print(f"torch_ddp: ranks={n} params={nparams} layers={layers} batch={a.batch_size} "
              f"steps={a.steps} step_ms={ms:.3f} nosync_ms={nosync:.3f} "
              f"comm_wait_ms={max(ms - nosync, 0.0):.3f}", flush=True)
    if n > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
