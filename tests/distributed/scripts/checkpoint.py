"""Train with DDP, save from rank 0 only, resume with another number of ranks: the result
equals one process trained for all the steps on the global batch.

usage: checkpoint.py save PATH STEPS  |  checkpoint.py resume PATH STEPS_BEFORE STEPS_AFTER
"""

import sys

import _common as c

import chainrule as torch
import chainrule.distributed as dist
from chainrule.nn.parallel import DistributedDataParallel as DDP

rank, size = c.setup()
mode, path = sys.argv[1], sys.argv[2]
before = int(sys.argv[3])
after = int(sys.argv[4]) if mode == "resume" else 0
data = c.batches(before + after)

model = c.make_model(seed=0 if mode == "save" else 7)  # resume: weights come from the file
ddp = DDP(model)
opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
if mode == "resume":
    state = torch.load(path)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    c.check(state["step"] == before, f"checkpoint step {state['step']} != {before}")
steps = range(before) if mode == "save" else range(before, before + after)
for step in steps:
    x, y = data[step]
    opt.zero_grad()
    out = ddp(torch.tensor(c.shard(x, rank, size)))
    torch.nn.functional.cross_entropy(out, torch.tensor(c.shard(y, rank, size))).backward()
    opt.step()
if mode == "save":
    if rank == 0:
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": before}
        torch.save(state, path)
    dist.barrier()  # nobody goes on before the file exists
else:
    reference = c.train_single(c.make_model(), data)
    diff = c.max_diff(model, reference)
    c.check(diff <= 1e-10, f"resumed on {size} ranks: max diff {diff:.3g}")
    if rank == 0:
        print(f"PASS resumed on {size} ranks, max diff {diff:.3g}")
dist.destroy_process_group()
