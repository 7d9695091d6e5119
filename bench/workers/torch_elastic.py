# torch_elastic.py - bench/recovery's torchrun peer of
# tests/models/elastic_lin.c: one parameter pulled toward 1, each step
# sleeps --step-ms, its gradient all-reduced over gloo, a checkpoint every
# step (rank 0 writes it whole, then renames it into place), and every
# attempt resumes from the last checkpoint.  Rank 0 prints what
# elastic_lin prints, so that one parser reads both:
#
#   elastic_lin: restart R world W first step S
#   elastic_lin: step S
#
#   torchrun --nnodes 1:3 ... bench/workers/torch_elastic.py --ckpt DIR [--step-ms MS]
import argparse
import os
import sys
import time

import torch
import torch.distributed as dist


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--step-ms", type=float, default=100)
    ap.add_argument("--steps", type=int, default=100000)
    args = ap.parse_args()

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    path = os.path.join(args.ckpt, "last.pt")
    w = torch.zeros(1)
    step = 0
    if os.path.exists(path):
        state = torch.load(path)
        w, step = state["w"], state["step"]
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    said = False
    while step < args.steps:
        if rank == 0:
            if not said:
                print(f"elastic_lin: restart {restart} world {world} first step {step}",
                      file=sys.stderr, flush=True)
                said = True
            print(f"elastic_lin: step {step}", file=sys.stderr, flush=True)
        time.sleep(args.step_ms / 1000.0)
        grad = 2.0 * (w - 1.0)
        dist.all_reduce(grad)
        w -= 0.01 * grad / world
        step += 1
        if rank == 0:
            tmp = path + ".tmp"
            torch.save({"w": w, "step": step}, tmp)
            os.replace(tmp, path)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
