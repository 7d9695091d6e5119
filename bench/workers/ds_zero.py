# ds_zero.py - bench/zero's DeepSpeed peer: torch_fsdp.py's models (the
# same network and parameter count as examples/wide and examples/gpt)
# under DeepSpeed's ZeRO stage --stage (0 = its data parallelism, 1, 2,
# 3), with DeepSpeed's CPU accelerator over gloo, torch's AdamW as the
# client optimizer (DeepSpeed's own Adam kernels need a compiler step or a
# GPU), one rank a process started by torchrun:
#
#   torchrun --standalone --nproc-per-node N ds_zero.py --stage 2 \
#       --model wide --params 100M [--batch-size 8] [--steps 5] [--warmup 1]
#
# Every rank prints, after the timed steps (median, rank 0's clock),
#
#   ds_zero: rank=R ranks=N stage=S params=P step_ms=X peak_rss_mb=Y
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_fsdp import make, parser, timed  # noqa: E402


def main():
    p = parser()
    p.add_argument("--stage", type=int, choices=(0, 1, 2, 3), default=2)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    import deepspeed
    deepspeed.init_distributed(dist_backend="gloo")
    cfg = {"train_micro_batch_size_per_gpu": a.batch_size, "gradient_accumulation_steps": 1,
           "zero_optimization": {"stage": a.stage}, "zero_allow_untested_optimizer": True,
           "steps_per_print": 1 << 30}
    if a.stage == 3:
        model_ctx = deepspeed.zero.Init(config_dict_or_path=cfg)
    else:
        import contextlib
        model_ctx = contextlib.nullcontext()
    with model_ctx:
        model, _, loss_of = make(a)
    nparams = sum(getattr(t, "ds_numel", t.numel()) for t in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=opt, config=cfg)

    def step():
        engine.backward(loss_of(engine))
        engine.step()

    timed(a, step, "ds_zero", stage=a.stage, params=nparams)


if __name__ == "__main__":
    main()
