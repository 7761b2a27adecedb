"""Rank 1 raises while the others wait in a collective: the job must end, not hang."""

import time

import _common as c

import chainrule as torch
import chainrule.distributed as dist

rank, size = c.setup()
if rank == 1:
    time.sleep(0.2)
    raise ValueError("boom on rank 1")
dist.all_reduce(torch.ones(3))  # never completes: rank 1 is gone
time.sleep(60)
