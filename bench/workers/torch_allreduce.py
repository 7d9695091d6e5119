# torch_allreduce.py - bench/allreduce's torch.distributed (gloo, CPU) peer
# of bench/models/allreduce_bench.c: the same recipe (one checked
# all-reduce, warm-up, a barrier, then `iters` back-to-back in-place
# dist.all_reduce(SUM) of an f32 tensor timed one by one), the same options
# and the same output line from rank 0.
#
# The script starts one process per rank itself (no torchrun: its start-up
# is seconds and it needs --redirects/--tee on Python 3.11); they meet
# through a FileStore:
#
#   RANK=r WORLD_SIZE=n LTB_STORE=/tmp/dir/store python3 torch_allreduce.py \
#       [--sizes B,B,...] [--max-iters N] [--min-iters N] [--bytes-per-size B]
#       [--recipe timed|stream|gap]
#
#   allreduce_bench: ranks=N bytes=S count=C iters=I median_ms=X mean_ms=Y min_ms=Z
import argparse
import os
import statistics
import time

import torch
import torch.distributed as dist


GAP_MS = 5.0


def compute(ms):
    """Busy arithmetic for ms milliseconds (bench/timing.h's gap)."""
    end = time.perf_counter() + ms / 1e3
    x = 1.0
    while time.perf_counter() < end:
        for _ in range(100):
            x = x * 1.0000001 + 1e-9
    return x


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="4096,65536,1048576,16777216,67108864,268435456")
    p.add_argument("--max-iters", type=int, default=100)
    p.add_argument("--min-iters", type=int, default=3)
    p.add_argument("--bytes-per-size", type=float, default=float(1 << 30))
    p.add_argument("--recipe", choices=["timed", "stream", "gap"], default="timed")
    a = p.parse_args()
    rank, n = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="file://" + os.environ["LTB_STORE"],
                            rank=rank, world_size=n)
    sizes = [int(s) for s in a.sizes.split(",")]
    buf = torch.empty(max(sizes) // 4, dtype=torch.float32)
    want = n * (n + 1) / 2
    for size in sizes:
        count = size // 4
        iters = min(max(int(a.bytes_per_size / size), a.min_iters), a.max_iters)
        warm = min(max(iters // 5, 1), 5)
        t = buf[:count]
        t.fill_(rank + 1)
        dist.all_reduce(t)
        if t[0].item() != want or t[-1].item() != want or t[count // 2].item() != want:
            raise SystemExit(f"torch_allreduce: {size} bytes: wrong sum")
        t.zero_()
        for _ in range(warm):
            dist.all_reduce(t)
        dist.barrier()
        times = []
        if a.recipe == "stream":
            t0 = time.perf_counter()
            for _ in range(iters):
                dist.all_reduce(t)
            times = [(time.perf_counter() - t0) * 1e3 / iters] * iters
        else:
            for _ in range(iters):
                if a.recipe == "gap":
                    compute(GAP_MS)
                t0 = time.perf_counter()
                dist.all_reduce(t)
                times.append((time.perf_counter() - t0) * 1e3)
        if rank == 0:
            print(f"allreduce_bench: ranks={n} bytes={size} count={count} iters={iters} "
                  f"median_ms={statistics.median(times):.6f} "
                  f"mean_ms={statistics.fmean(times):.6f} min_ms={min(times):.6f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
