# torch_fsdp.py - bench/zero's PyTorch peer: examples/wide's or
# examples/gpt's network with the same parameter count, AdamW, on the CPU
# over gloo, one rank a process started by torchrun, under
#
#   --mode ddp            DistributedDataParallel (nothing sharded)
#   --mode full_shard     FSDP ShardingStrategy.FULL_SHARD (ZeRO-3)
#   --mode shard_grad_op  FSDP ShardingStrategy.SHARD_GRAD_OP (ZeRO-2)
#
# Each FSDP unit is one layer (wide: a Linear; gpt: a block), as ltrun's
# units are.  Each rank computes with one thread.
#
#   torchrun --standalone --nproc-per-node N torch_fsdp.py --mode full_shard \
#       --model wide --params 100M [--width 1024] [--batch-size 8] [--steps 5] [--warmup 1]
#   ... --model gpt --layers 14 --dim 768 --heads 12 --ctx 32 [--vocab 84]
#
# Every rank prints, after the timed steps (median over them, from
# zero_grad to optimizer.step, rank 0's clock),
#
#   torch_fsdp: rank=R ranks=N mode=M params=P step_ms=X peak_rss_mb=Y
#
# peak_rss_mb: the process's VmHWM (/proc/self/status) in MiB, as ltrun
# --verbose reports its ranks'.
import argparse
import functools
import math
import os
import statistics
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F


class Wide(nn.Module):
    """examples/wide: h = h + alpha relu(h W^T + b), L layers, alpha = 1/L."""

    def __init__(self, width, layers):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))
        self.alpha = 1.0 / layers

    def forward(self, h):
        for lin in self.layers:
            h = h + self.alpha * torch.relu(lin(h))
        return h


class Block(nn.Module):
    """examples/gpt's block (llm.c's): pre-layernorm attention, GELU MLP."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.attproj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, 4 * dim)
        self.fcproj = nn.Linear(4 * dim, dim)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attproj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    """examples/gpt: token + position embeddings, blocks, final layernorm,
    the head tied to the token embedding (16 tensors in ltrun's model, the
    same parameter count)."""

    def __init__(self, vocab, ctx, dim, heads, layers):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(ctx, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.lnf = nn.LayerNorm(dim)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.blocks:
            x = blk(x)
        return self.lnf(x) @ self.wte.weight.t()


def count(s):
    m = {"K": 1e3, "M": 1e6, "G": 1e9}
    return int(float(s[:-1]) * m[s[-1].upper()]) if s[-1].upper() in m else int(s)


def vmhwm_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def make(a):
    """The model of --model, the module class of its units, and a function
    of the (wrapped) model giving the loss of one fixed batch."""
    if a.model == "wide":
        w = a.width
        model = Wide(w, max(1, round(a.params / (w * w + w))))
        x = torch.rand(a.batch_size, w) * 2 - 1
        y = torch.roll(x, -1, dims=1) / 2
        return model, nn.Linear, lambda m: F.mse_loss(m(x), y)
    model = GPT(a.vocab, a.ctx, a.dim, a.heads, a.layers)
    tok = torch.randint(0, a.vocab, (a.batch_size, a.ctx + 1))
    return model, Block, lambda m: F.cross_entropy(
        m(tok[:, :-1]).reshape(-1, a.vocab), tok[:, 1:].reshape(-1))


def parser():
    """The options of the model and the run (every peer's)."""
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=("wide", "gpt"), default="wide")
    p.add_argument("--params", type=count, default=100_000_000)
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--layers", type=int, default=14)
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--ctx", type=int, default=32)
    p.add_argument("--vocab", type=int, default=84)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    return p


def timed(a, step, who, **facts):
    """Runs step() --warmup times, then --steps times timed; prints who's
    line (rank, ranks, facts, the median ms, the peak RSS) on every rank."""
    for _ in range(a.warmup):
        step()
    ms = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1e3)
    dist.barrier()
    said = " ".join(f"{k}={v}" for k, v in facts.items())
    print(f"{who}: rank={dist.get_rank()} ranks={dist.get_world_size()} {said} "
          f"step_ms={statistics.median(ms):.3f} peak_rss_mb={vmhwm_mb():.1f}", flush=True)


def main():
    p = parser()
    p.add_argument("--mode", choices=("ddp", "full_shard", "shard_grad_op"), default="full_shard")
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    dist.init_process_group("gloo")
    model, unit, loss_of = make(a)
    nparams = sum(t.numel() for t in model.parameters())
    if a.mode == "ddp":
        model = nn.parallel.DistributedDataParallel(model)
    else:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        from torch.distributed.fsdp import ShardingStrategy
        from torch.distributed.fsdp.wrap import ModuleWrapPolicy
        strategy = ShardingStrategy.FULL_SHARD if a.mode == "full_shard" else ShardingStrategy.SHARD_GRAD_OP
        model = FSDP(model, sharding_strategy=strategy, auto_wrap_policy=ModuleWrapPolicy({unit}),
                     device_id=torch.device("cpu"), use_orig_params=False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=False)
        loss_of(model).backward()
        opt.step()

    timed(a, step, "torch_fsdp", mode=a.mode, params=nparams)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
