# torch_barrier.py - bench/launch's torchrun peer of examples/models/hello.c:
# each rank joins the job (init_process_group over gloo, from the variables
# torchrun sets), meets the others at one barrier and exits, so torchrun's
# launch-to-exit time compares with ltrun's.
#
#   torchrun --standalone --nproc_per_node N bench/workers/torch_barrier.py
import torch.distributed as dist

dist.init_process_group("gloo")
dist.barrier()
dist.destroy_process_group()
