"""ckpt_torch.py - bench/ckpt's PyTorch peer: torch.save of T tensors of
M MB of f32 (a dict, like a state_dict) to a file, flushed and fsynced,
then torch.load of it after dropping the page cache (as root) and from
the page cache, ITERS times each; prints one line:

  ckpt_torch: bytes=B iters=N save_ms=S first_save_ms=F load_ms=L load_warm_ms=W dropped=0|1

(medians; save_ms of the saves after the first, each rewriting the file
the one before wrote, as a training run saving to one path does;
first_save_ms the first, into a new file).  Usage: ckpt_torch.py DIR
TENSORS MB ITERS
"""
import os
import statistics
import sys
import time

import torch


def drop_caches():
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return 1
    except OSError:
        return 0


def main():
    d, tensors, mb, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    n = (mb << 20) // 4
    state = {f"layer{i}.weight": torch.arange(n, dtype=torch.float32).reshape(-1, 256) + i
             for i in range(tensors)}
    path = os.path.join(d, "model.pt")
    save, load, warm, dropped = [], [], [], 1
    for _ in range(iters):
        t0 = time.perf_counter()
        with open(path, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        save.append((time.perf_counter() - t0) * 1e3)
    for _ in range(iters):
        dropped &= drop_caches()
        t0 = time.perf_counter()
        back = torch.load(path, map_location="cpu")
        load.append((time.perf_counter() - t0) * 1e3)
        del back
    for _ in range(iters):
        t0 = time.perf_counter()
        back = torch.load(path, map_location="cpu")
        warm.append((time.perf_counter() - t0) * 1e3)
        del back
    print(f"ckpt_torch: bytes={tensors * (mb << 20)} iters={iters} "
          f"save_ms={statistics.median(save[1:]):.3f} first_save_ms={save[0]:.3f} "
          f"load_ms={statistics.median(load):.3f} load_warm_ms={statistics.median(warm):.3f} "
          f"dropped={dropped}")


main()
