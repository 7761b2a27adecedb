"""DDP on N ranks for 10 steps equals one process on the concatenated batch (float64, 1e-10),
with default buckets, many tiny buckets, no_sync accumulation, find_unused_parameters and
the plain all-reduce communication hook;
the float16 and bfloat16 compression hooks stay within their rounding."""

import _common as c

import chainrule as torch
import chainrule.distributed as dist
from chainrule.distributed.algorithms.ddp_comm_hooks import default_hooks
from chainrule.nn.parallel import DistributedDataParallel as DDP

rank, size = c.setup()
STEPS = 10
data = c.batches(STEPS)
reference = c.train_single(c.make_model(), data)


def run(variant: str):
    # every rank but 0 starts from different weights: DDP must copy rank 0's
    model = c.make_model(seed=0 if rank == 0 else 100 + rank, unused=variant == "unused")
    kwargs = {"bucket_cap_mb": 0.0005} if variant == "buckets" else {}
    ddp = DDP(model, find_unused_parameters=variant == "unused", **kwargs)
    if variant == "buckets":
        c.check(len(ddp._buckets) >= 3, f"expected several buckets, got {len(ddp._buckets)}")
    if variant in ("fp16", "bf16"):
        ddp.register_comm_hook(None, getattr(default_hooks, f"{variant}_compress_hook"))
    if variant == "allreduce_hook":
        ddp.register_comm_hook(None, default_hooks.allreduce_hook)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    loss_fn = torch.nn.functional.cross_entropy
    for x, y in data:
        x, y = c.shard(x, rank, size), c.shard(y, rank, size)
        opt.zero_grad()
        if variant == "no_sync":
            half = len(x) // 2
            with ddp.no_sync():
                (loss_fn(ddp(torch.tensor(x[:half])), torch.tensor(y[:half])) / 2).backward()
            (loss_fn(ddp(torch.tensor(x[half:])), torch.tensor(y[half:])) / 2).backward()
        else:
            loss_fn(ddp(torch.tensor(x)), torch.tensor(y)).backward()
        opt.step()
    if variant == "unused":
        c.check(model.spare.weight.grad is None, "the unused parameter got a gradient")
        del model.spare
    diff = c.max_diff(model, reference)
    tolerance = {"fp16": 2e-3, "bf16": 2e-2}.get(variant, 1e-10)
    c.check(diff <= tolerance, f"{variant}: max |DDP - single| = {diff:.3g} > {tolerance}")
    if variant in ("fp16", "bf16"):
        c.check(diff > 0, f"{variant} compression changed nothing: was the hook used?")
    return diff


VARIANTS = ("plain", "buckets", "no_sync", "unused", "allreduce_hook", "fp16", "bf16")
for variant in VARIANTS:
    diff = run(variant)
    if rank == 0:
        print(f"{variant}: max diff {diff:.3g}")
dist.barrier()
if rank == 0:
    print("PASS")
dist.destroy_process_group()
