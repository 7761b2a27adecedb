"""A parameter that gets no gradient (without find_unused_parameters): the next forward raises,
naming it. Prints the message for the test to check."""

import _common as c

import chainrule as torch
import chainrule.distributed as dist
from chainrule.nn.parallel import DistributedDataParallel as DDP

rank, size = c.setup()
model = DDP(c.make_model(unused=True))
x, y = c.batches(1)[0]
x, y = torch.tensor(c.shard(x, rank, size)), torch.tensor(c.shard(y, rank, size))
torch.nn.functional.cross_entropy(model(x), y).backward()
try:
    model(x)
except RuntimeError as e:
    message = str(e)
else:
    message = None
c.check(message is not None, "the second forward did not raise")
if rank == 0:
    print(message)
dist.destroy_process_group()
