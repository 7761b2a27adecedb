"""Ranks that build different models: DDP's constructor says which parameters differ."""

import _common as c

import chainrule as torch
import chainrule.distributed as dist
from chainrule.nn.parallel import DistributedDataParallel as DDP

rank, size = c.setup()
model = c.make_model(unused=rank == size - 1)  # the last rank has an extra layer
if rank == 1:
    model.fc2 = torch.nn.Linear(16, 16, bias=False).double()  # rank 1: no fc2.bias
    model.head = torch.nn.Linear(16, 4).double()  # rank 1: a different shape
try:
    DDP(model)
except RuntimeError as e:
    message = str(e)
else:
    message = None
c.check(message is not None, "DDP accepted different models")
if rank == 0:
    print(message)
dist.destroy_process_group()
